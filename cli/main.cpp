// `reds`: the command-line front end of the planner. `reds --help` lists the commands.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "reds/version.h"

namespace {

using reds::cli::Command;
using reds::cli::CommandLine;
using reds::cli::Streams;

const Command* find_command(const std::string& name) {
  const std::vector<Command>& all = reds::cli::commands();
  const auto found =
      std::find_if(all.begin(), all.end(), [&](const Command& command) { return command.name == name; });
  return found == all.end() ? nullptr : &*found;
}

std::string describe_commands() {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const Command& command : reds::cli::commands()) rows.emplace_back(command.name, command.summary);
  rows.emplace_back("help", "show this help, or a command's help: reds help COMMAND");
  return "Exact nested subnetwork planning (plan contract v1).\n\nCommands:\n" +
         reds::cli::two_columns(rows, "  ");
}

int run_reds(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line("reds", "reds COMMAND [ARGS...]", describe_commands());
  command_line.add_options()("version", "print the version and exit");

  if (!args.empty() && args[0] == "help") {
    if (args.size() == 1) {
      command_line.print_help(streams.out);
      return reds::cli::kExitSuccess;
    }
    const Command* command = find_command(args[1]);
    if (!command) return command_line.usage_error_with_help(streams.err, "unknown command '" + args[1] + "'");
    if (args.size() > 2) return command_line.usage_error(streams.err, "help takes one COMMAND");
    return command->run({"--help"}, streams);
  }
  if (!args.empty() && !args[0].starts_with('-')) {
    const Command* command = find_command(args[0]);
    if (!command) return command_line.usage_error_with_help(streams.err, "unknown command '" + args[0] + "'");
    return command->run(std::vector<std::string>(args.begin() + 1, args.end()), streams);
  }

  // No command: only the global options remain.
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  if (parsed.options->count("version")) {
    streams.out << "reds " << reds::kVersion << '\n';
    return reds::cli::kExitSuccess;
  }
  return command_line.usage_error_with_help(streams.err, "missing COMMAND");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_reds(std::vector<std::string>(argv + 1, argv + argc), Streams{std::cin, std::cout, std::cerr});
  } catch (const std::exception& error) {
    std::cerr << "reds: internal error: " << error.what() << '\n';
    return reds::cli::kExitFailure;
  }
}
