#include "knapsack_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <istream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <sstream>

#include "reds/knapsack.h"
#include "reds/knapsack_format.h"
#include "reds/knapsack_generator.h"

namespace reds::cli {

namespace po = boost::program_options;

namespace {

std::string class_names() {
  std::string names;
  for (const knapsack::InstanceClass instance_class : knapsack::instance_classes())
    names += (names.empty() ? "" : ", ") + std::string(knapsack::to_string(instance_class));
  return names;
}

// The whole of a file, or of `in` for "-". C stdio, because it says why a read failed (a missing file, a
// directory) through errno.
Result<std::string> read_text(const std::string& path, std::istream& in) {
  if (path == "-") {
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return invalid_argument("cannot read standard input");
    return text;
  }
  const auto unreadable = [&] { return invalid_argument("cannot read '" + path + "': " + std::strerror(errno)); };
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return unreadable();
  std::string text;
  char buffer[1 << 16];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, count);
  if (std::ferror(file.get())) return unreadable();
  return text;
}

int write(const CommandLine& command_line, Streams streams, const std::string& text) {
  streams.out << text << std::flush;
  if (streams.out) return kExitSuccess;
  command_line.print_error(streams.err, "cannot write to standard output");
  return kExitFailure;
}

// One JSON line per instance: its name, our optimum, whether it equals the file's z, the solve time.
int solve_file(const CommandLine& command_line, Streams streams, const std::string& path) {
  const Result<std::string> text = read_text(path, streams.in);
  if (!text) return command_line.report(streams.err, text.error());
  const Result<std::vector<knapsack::TextInstance>> instances = knapsack::parse_instances(*text);
  if (!instances) return command_line.report(streams.err, instances.error());
  std::string lines;
  for (const knapsack::TextInstance& instance : *instances) {
    const auto solution = knapsack::solve(instance.problem);
    if (!solution) {
      Error error = solution.error();
      error.message = "instance '" + instance.name + "': " + error.message;
      return command_line.report(streams.err, error);
    }
    nlohmann::ordered_json line = {{"name", instance.name},
                           {"optimum", solution->profit},
                           {"matches", nullptr},
                           {"seconds", solution->statistics.seconds}};
    if (instance.optimum) line["matches"] = *instance.optimum == solution->profit;
    lines += line.dump() + "\n";
  }
  return write(command_line, streams, lines);
}

// A generated instance in the text format, with our optimum as its z and x and the solve time.
int generate(const CommandLine& command_line, Streams streams, const po::variables_map& options) {
  const std::string name = options["generate"].as<std::string>();
  const std::optional<knapsack::InstanceClass> instance_class = knapsack::parse_instance_class(name);
  if (!instance_class)
    return command_line.report(streams.err,
                               invalid_argument("unknown instance class '" + name + "'; valid: " + class_names()));
  knapsack::GeneratorOptions generator;
  generator.instance_class = *instance_class;
  generator.items = options["n"].as<std::int64_t>();
  generator.range = options["range"].as<std::int64_t>();
  generator.instance = options["instance"].as<std::int64_t>();
  generator.series = options["series"].as<std::int64_t>();
  generator.seed = options["seed"].as<std::uint64_t>();
  const Result<knapsack::GeneratedInstance> generated = knapsack::generate(generator);
  if (!generated) return command_line.report(streams.err, generated.error());
  const auto solution = knapsack::solve(generated->problem);
  if (!solution) return command_line.report(streams.err, solution.error());
  knapsack::TextInstance instance;
  instance.name = generated->name;
  instance.problem = generated->problem;
  instance.optimum = solution->profit;
  instance.seconds = solution->statistics.seconds;
  instance.solution.assign(instance.problem.items.size(), false);
  for (const std::size_t j : solution->items) instance.solution[j] = true;
  return write(command_line, streams, knapsack::format_instance(instance));
}

}  // namespace

int run_knapsack(const std::vector<std::string>& args, Streams streams) {
  const knapsack::GeneratorOptions defaults;
  CommandLine command_line(
      "reds knapsack", "reds knapsack FILE|- | reds knapsack --generate CLASS [OPTIONS]",
      "Solves the 0-1 knapsack instances of FILE (or standard input for '-') in the\n"
      "literature's text format (a name line; lines n, c, z, time; rows index,profit,weight,x;\n"
      "a line of dashes) exactly and prints one JSON line per instance:\n"
      "  {\"name\": ..., \"optimum\": ..., \"matches\": optimum == the file's z (null without z),\n"
      "   \"seconds\": solve time}\n"
      "With --generate, prints an instance of a class of the literature (Pisinger 2005) in that\n"
      "format instead, solved: its z, x and time are ours. Classes: " +
          class_names() + ".\nInvalid input: one line on standard error, nothing on standard output, exit 2.");
  command_line.add_options()                                                                     //
      ("generate", po::value<std::string>()->value_name("CLASS"), "generate an instance of CLASS")  //
      ("n", po::value<std::int64_t>()->value_name("N")->default_value(defaults.items), "number of items")  //
      ("range", po::value<std::int64_t>()->value_name("R")->default_value(defaults.range),
       "coefficients in [1, R]")  //
      ("seed", po::value<std::uint64_t>()->value_name("S")->default_value(defaults.seed), "random seed")  //
      ("instance", po::value<std::int64_t>()->value_name("H")->default_value(defaults.instance),
       "capacity floor(H * total weight / (SERIES + 1))")  //
      ("series", po::value<std::int64_t>()->value_name("SERIES")->default_value(defaults.series),
       "length of the capacity series");
  command_line.add_positional("file", 1, po::value<std::string>());
  const std::optional<po::variables_map> options = command_line.parse(args, streams.err);
  if (!options) return kExitUsageError;
  if (options->count("help")) {
    command_line.print_help(streams.out);
    return kExitSuccess;
  }
  const bool generating = options->count("generate") > 0;
  const bool solving = options->count("file") > 0;
  if (generating == solving)
    return command_line.usage_error(streams.err, generating ? "give either FILE or --generate, not both"
                                                            : "missing the instance FILE (or '-', or --generate)");
  if (generating) return generate(command_line, streams, *options);
  return solve_file(command_line, streams, (*options)["file"].as<std::string>());
}

}  // namespace reds::cli
