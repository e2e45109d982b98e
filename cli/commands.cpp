#include "commands.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <istream>
#include <iterator>
#include <memory>
#include <ostream>
#include <sstream>
#include <utility>

#include "apply_command.h"
#include "finetune_command.h"
#include "knapsack_command.h"
#include "plot_command.h"
#include "reds/json.h"
#include "reds/models/architectures.h"
#include "reds/plan.h"
#include "request_command.h"
#include "run_command.h"

namespace reds::cli {

namespace po = boost::program_options;

int exit_status(ErrorCode code) { return code == ErrorCode::internal ? kExitFailure : kExitUsageError; }

CommandLine::CommandLine(std::string name, std::string synopsis, std::string description)
    : name_(std::move(name)),
      synopsis_(std::move(synopsis)),
      description_(std::move(description)),
      options_("Options") {
  options_.add_options()("help,h", "show this help and exit");
}

po::options_description_easy_init CommandLine::add_options() { return options_.add_options(); }

void CommandLine::add_positional(const char* name, int max_count, const po::value_semantic* value) {
  positional_options_.add_options()(name, value);
  positional_.add(name, max_count);
}

std::optional<po::variables_map> CommandLine::parse(const std::vector<std::string>& args,
                                                    std::ostream& err) const {
  po::options_description all;
  all.add(options_).add(positional_options_);
  po::variables_map values;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional_).run(), values);
    po::notify(values);
  } catch (const po::error& error) {
    usage_error(err, error.what());
    return std::nullopt;
  }
  return values;
}

void CommandLine::print_help(std::ostream& out) const {
  out << "Usage: " << synopsis_ << "\n\n" << description_ << "\n\n" << options_;
}

void CommandLine::print_error(std::ostream& err, const std::string& message) const {
  err << name_ << ": " << message << '\n';
}

int CommandLine::usage_error(std::ostream& err, const std::string& message) const {
  print_error(err, message);
  print_help(err);
  return kExitUsageError;
}

int CommandLine::report(std::ostream& err, const Error& error) const {
  err << name_ << ": " << to_string(error.code);
  if (!error.path.empty()) err << " at " << error.path;
  err << ": " << error.message << '\n';
  return exit_status(error.code);
}

std::string two_columns(const std::vector<std::pair<std::string, std::string>>& rows,
                        const std::string& indent) {
  std::size_t name_width = 0;
  for (const auto& [name, text] : rows) name_width = std::max(name_width, name.size());
  std::string table;
  for (const auto& [name, text] : rows) {
    if (!table.empty()) table += '\n';
    table += indent + name + std::string(name_width + 2 - name.size(), ' ') + text;
  }
  return table;
}

int print_output(const CommandLine& command_line, Streams streams, const std::string& text) {
  streams.out << text << '\n' << std::flush;
  if (streams.out) return kExitSuccess;
  command_line.print_error(streams.err, "cannot write to standard output");
  return kExitFailure;
}

// C stdio, because it reports why a read failed (a missing file, a directory) through errno instead of
// throwing from deep inside a stream buffer.
Result<std::string> read_input(const std::string& path, std::istream& in) {
  if (path == "-") {
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return invalid_argument("cannot read standard input");
    return text;
  }
  const auto unreadable = [&] {
    return invalid_argument("cannot read '" + path + "': " + std::strerror(errno));
  };
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return unreadable();
  std::string text;
  char buffer[1 << 16];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, count);
  if (std::ferror(file.get())) return unreadable();
  return text;
}

std::string join_fractions(const std::vector<double>& fractions) {
  std::ostringstream joined;
  for (std::size_t i = 0; i < fractions.size(); ++i) joined << (i == 0 ? "" : ",") << fractions[i];
  return joined.str();
}

Result<std::vector<double>> parse_fractions(const std::string& text, const std::string& option) {
  std::vector<double> fractions;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string_view word(text.data() + begin, end - begin);
    double fraction = 0.0;
    const auto [stop, error] = std::from_chars(word.data(), word.data() + word.size(), fraction);
    if (word.empty() || error != std::errc() || stop != word.data() + word.size())
      return invalid_argument(option + ": '" + std::string(word) + "' is not a number (e.g. 0.25,0.5,0.75)");
    fractions.push_back(fraction);
    if (end == text.size()) return fractions;
    begin = end + 1;
  }
}

namespace {

std::string architecture_names() {
  std::string names;
  for (const models::ArchitectureInfo& architecture : models::architectures())
    names += (names.empty() ? "" : ", ") + architecture.name;
  return names;
}

bool is_architecture(const std::string& name) {
  const std::vector<models::ArchitectureInfo>& all = models::architectures();
  return std::any_of(all.begin(), all.end(),
                     [&](const models::ArchitectureInfo& architecture) { return architecture.name == name; });
}

int list_architectures(const CommandLine& command_line, Streams streams) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const models::ArchitectureInfo& architecture : models::architectures())
    rows.emplace_back(architecture.name, architecture.description);
  return print_output(command_line, streams, two_columns(rows, ""));
}

}  // namespace

int run_plan(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds plan", "reds plan [--compact] FILE|-",
      "Plans the nested subnetworks of a JSON request (plan contract v1) read from FILE,\n"
      "or from standard input when FILE is '-', and prints the JSON response.\n"
      "Invalid input: one line on standard error, nothing on standard output, exit 2.");
  command_line.add_options()("compact", "print the response on one line instead of indented");
  command_line.add_positional("file", 1, po::value<std::string>());
  const std::optional<po::variables_map> options = command_line.parse(args, streams.err);
  if (!options) return kExitUsageError;
  if (options->count("help")) {
    command_line.print_help(streams.out);
    return kExitSuccess;
  }
  if (!options->count("file")) {
    return command_line.usage_error(streams.err, "missing the request FILE (or '-' for standard input)");
  }

  const Result<std::string> text = read_input((*options)["file"].as<std::string>(), streams.in);
  if (!text) return command_line.report(streams.err, text.error());
  const Result<PlanRequest> request = parse_plan_request(text.value());
  if (!request) return command_line.report(streams.err, request.error());
  const Result<PlanResult> result = plan(request.value());
  if (!result) return command_line.report(streams.err, result.error());
  return print_output(command_line, streams, to_json(result.value(), options->count("compact") ? -1 : 2));
}

int run_example(const std::vector<std::string>& args, Streams streams) {
  const models::ExampleOptions defaults;
  CommandLine command_line(
      "reds example", "reds example [OPTIONS] NAME | reds example --list",
      "Prints the plan request (plan contract v1) of a bundled architecture: its layers\n"
      "with exact cost coefficients, stand-in importance and one budget level per MAC\n"
      "fraction. Pipe it into 'reds plan -'.");
  command_line.add_options()                       //
      ("list", "list the architectures and exit")  //
      ("block", po::value<std::int64_t>()->value_name("N")->default_value(defaults.block),
       "prunable layers keep multiples of N units")  //
      ("min-width-fraction", po::value<double>()->value_name("F")->default_value(defaults.min_width_fraction),
       "prunable layers keep >= ceil(F * units) units")  //
      ("seed", po::value<std::uint64_t>()->value_name("S")->default_value(defaults.seed),
       "seed of the stand-in importance")  //
      ("fractions",
       po::value<std::string>()->value_name("LIST")->default_value(join_fractions(defaults.mac_fractions)),
       "one level per fraction of the full MACs");
  command_line.add_positional("name", 1, po::value<std::string>());
  const std::optional<po::variables_map> options = command_line.parse(args, streams.err);
  if (!options) return kExitUsageError;
  if (options->count("help")) {
    command_line.print_help(streams.out);
    return kExitSuccess;
  }
  const bool list = options->count("list") > 0;
  const bool named = options->count("name") > 0;
  if (list == named) {
    return command_line.usage_error(streams.err, list ? "give either NAME or --list, not both"
                                                      : "missing the architecture NAME (or --list)");
  }
  if (list) return list_architectures(command_line, streams);

  const std::string name = (*options)["name"].as<std::string>();
  if (!is_architecture(name)) {
    return command_line.report(streams.err, invalid_argument("unknown architecture '" + name +
                                                             "'; valid names: " + architecture_names()));
  }
  models::ExampleOptions example;
  example.block = (*options)["block"].as<std::int64_t>();
  example.min_width_fraction = (*options)["min-width-fraction"].as<double>();
  example.seed = (*options)["seed"].as<std::uint64_t>();
  Result<std::vector<double>> fractions =
      parse_fractions((*options)["fractions"].as<std::string>(), "--fractions");
  if (!fractions) return command_line.report(streams.err, fractions.error());
  example.mac_fractions = std::move(fractions).value();
  const Result<PlanRequest> request = models::example_request(name, example);
  if (!request) return command_line.report(streams.err, request.error());
  return print_output(command_line, streams, to_json(request.value(), 2));
}

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"plan", "plan nested subnetworks for a JSON request (FILE, or - for standard input)", &run_plan},
      {"example", "print the plan request of a bundled architecture (--list shows them)", &run_example},
      {"run", "accuracy and latency of a model's levels on a test set (reds run MODEL --data DIR)", &run_run},
      {"request", "the plan request of a model: L1 importance and costs from its weights and shapes",
       &run_request},
      {"apply", "permute a model into a plan's order and embed the plan (reds apply MODEL PLAN -o OUT)",
       &run_apply},
      {"finetune", "fine-tune every level of a plan jointly (reds finetune MODEL PLAN --data DIR -o OUT)",
       &run_finetune},
      {"knapsack", "solve 0-1 knapsack instances in the literature's text format, or generate one",
       &run_knapsack},
      {"plot", "SVG figures: a plan's widths per layer and level, or accuracy and latency per level",
       &run_plot},
  };
  return all;
}

}  // namespace reds::cli
