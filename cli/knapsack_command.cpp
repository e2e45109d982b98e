#include "knapsack_command.h"

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

// The generator's ranges (reds/knapsack_generator.h).
constexpr std::int64_t kMaxItems = 10'000'000;
constexpr std::int64_t kMaxRange = 1'000'000'000;

std::string class_names() {
  std::string names;
  for (const knapsack::InstanceClass instance_class : knapsack::instance_classes())
    names += (names.empty() ? "" : ", ") + std::string(knapsack::to_string(instance_class));
  return names;
}

// The command's lines (each ending in a newline) on standard output or in the -o file.
int write(const CommandLine& command_line, Streams streams, const po::variables_map& options,
          std::string text) {
  if (text.ends_with('\n')) text.pop_back();
  return write_output(command_line, streams, options, text);
}

// One JSON line per instance: its name, our optimum, whether it equals the file's z, the solve time.
int solve_file(const CommandLine& command_line, Streams streams, const po::variables_map& options) {
  const Result<std::string> text = read_input(options["file"].as<std::string>(), streams.in);
  if (!text) return command_line.report(streams.err, text.error());
  const Result<std::vector<knapsack::TextInstance>> instances = knapsack::parse_instances(*text);
  if (!instances) return command_line.report(streams.err, instances.error());
  std::string lines;
  knapsack::Workspace workspace;  // a file holds many instances: their solves share the per-item arrays
  for (const knapsack::TextInstance& instance : *instances) {
    const auto solution = knapsack::solve(instance.problem, {}, workspace);
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
  return write(command_line, streams, options, lines);
}

// A generated instance in the text format, with our optimum as its z and x and the solve time.
int generate(const CommandLine& command_line, Streams streams, const po::variables_map& options) {
  const std::string name = options["generate"].as<std::string>();
  const std::optional<knapsack::InstanceClass> instance_class = knapsack::parse_instance_class(name);
  if (!instance_class)
    return command_line.report(
        streams.err, invalid_argument("unknown instance class '" + name + "'; valid: " + class_names()));
  knapsack::GeneratorOptions generator;
  generator.instance_class = *instance_class;
  const Result<std::int64_t> items = integer_value(options, "n", 1, kMaxItems);
  if (!items) return command_line.report(streams.err, items.error());
  const Result<std::int64_t> range = integer_value(options, "range", 10, kMaxRange);
  if (!range) return command_line.report(streams.err, range.error());
  const Result<std::int64_t> series = integer_value(options, "series", 1);
  if (!series) return command_line.report(streams.err, series.error());
  const Result<std::int64_t> instance_number = integer_value(options, "instance", 1, *series);
  if (!instance_number) return command_line.report(streams.err, instance_number.error());
  const Result<std::int64_t> seed = integer_value(options, "seed", 0);
  if (!seed) return command_line.report(streams.err, seed.error());
  generator.items = *items;
  generator.range = *range;
  generator.instance = *instance_number;
  generator.series = *series;
  generator.seed = static_cast<std::uint64_t>(*seed);
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
  return write(command_line, streams, options, knapsack::format_instance(instance));
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
          class_names() +
          ".\nInvalid input: one line on standard error, nothing on standard output, exit 2.");
  command_line.add_options()                                                                            //
      ("generate", po::value<std::string>()->value_name("CLASS"), "generate an instance of CLASS")      //
      ("n", number_option("N", std::to_string(defaults.items)), "number of items (1 to 10,000,000)")    //
      ("range", number_option("R", std::to_string(defaults.range)), "coefficients in [1, R], R >= 10")  //
      ("seed", number_option("S", std::to_string(defaults.seed)), "random seed")                        //
      ("instance", number_option("H", std::to_string(defaults.instance)),
       "capacity floor(H * total weight / (SERIES + 1)), 1 <= H <= SERIES")  //
      ("series", number_option("SERIES", std::to_string(defaults.series)),
       "length of the capacity series")  //
      ("output,o", po::value<std::string>()->value_name("FILE"), kOutputHelp);
  command_line.add_positional("file", 1, po::value<std::string>());
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;
  const bool generating = options.count("generate") > 0;
  const bool solving = options.count("file") > 0;
  if (generating == solving)
    return command_line.usage_error(streams.err, generating
                                                     ? "give either FILE or --generate, not both"
                                                     : "missing the instance FILE (or '-', or --generate)");
  if (generating) return generate(command_line, streams, options);
  return solve_file(command_line, streams, options);
}

}  // namespace reds::cli
