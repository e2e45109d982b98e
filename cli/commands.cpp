#include "commands.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <istream>
#include <iterator>
#include <limits>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <utility>

#include "apply_command.h"
#include "export_command.h"
#include "finetune_command.h"
#include "knapsack_command.h"
#include "plan_summary.h"
#include "plot_command.h"
#include "profile_command.h"
#include "reds/json.h"
#include "reds/models/architectures.h"
#include "reds/plan.h"
#include "request_command.h"
#include "run_command.h"
#include "train_command.h"

namespace reds::cli {

namespace po = boost::program_options;

int exit_status(ErrorCode code) { return code == ErrorCode::internal ? kExitFailure : kExitUsageError; }

bool is_terminal(const std::ostream& err) { return &err == &std::cerr && isatty(STDERR_FILENO); }

CommandLine::CommandLine(std::string name, std::string synopsis, std::string description)
    : name_(std::move(name)),
      synopsis_(std::move(synopsis)),
      description_(std::move(description)),
      options_("Options") {
  options_.add_options()("help,h", "show this help and exit");
}

po::options_description_easy_init CommandLine::add_options() { return options_.add_options(); }

po::options_description_easy_init CommandLine::add_hidden_options() { return hidden_options_.add_options(); }

void CommandLine::add_positional(const char* name, int max_count, const po::value_semantic* value,
                                 std::string missing) {
  positional_options_.add_options()(name, value);
  positional_.add(name, max_count);
  if (!missing.empty()) required_.emplace_back(name, std::move(missing));
}

void CommandLine::require(const char* name, std::string missing) {
  required_.emplace_back(name, std::move(missing));
}

CommandLine::Parsed CommandLine::parse(const std::vector<std::string>& args, Streams streams) const {
  po::options_description all;
  all.add(options_).add(hidden_options_).add(positional_options_);
  po::variables_map values;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional_).run(), values);
    po::notify(values);
  } catch (const po::error& error) {
    return {std::nullopt, usage_error(streams.err, error.what())};
  }
  if (values.count("help")) {
    print_help(streams.out);
    return {std::nullopt, kExitSuccess};
  }
  for (const auto& [name, missing] : required_)
    if (!values.count(name)) return {std::nullopt, usage_error(streams.err, missing)};
  return {std::move(values), kExitSuccess};
}

void CommandLine::print_help(std::ostream& out) const {
  out << "Usage: " << synopsis_ << "\n\n" << description_ << "\n\n" << options_;
}

void CommandLine::print_error(std::ostream& err, const std::string& message) const {
  err << name_ << ": " << message << '\n';
}

int CommandLine::usage_error(std::ostream& err, const std::string& message) const {
  print_error(err, message);
  err << "Try '" << name_ << " --help'.\n";
  return kExitUsageError;
}

int CommandLine::usage_error_with_help(std::ostream& err, const std::string& message) const {
  print_error(err, message);
  print_help(err);
  return kExitUsageError;
}

int CommandLine::report(std::ostream& err, const Error& error) const {
  err << name_ << ": ";
  if (!(error.code == ErrorCode::invalid_argument && error.path.empty() && error.message.starts_with("--"))) {
    err << to_string(error.code);
    if (!error.path.empty()) err << " at " << error.path;
    err << ": ";
  }
  err << error.message << '\n';
  return exit_status(error.code);
}

po::typed_value<std::string>* number_option(const char* value_name, const std::string& default_value) {
  po::typed_value<std::string>* value = po::value<std::string>()->value_name(value_name);
  if (!default_value.empty()) value->default_value(default_value);
  return value;
}

Error value_error(const std::string& name, const std::string& value, const std::string& reason) {
  return invalid_argument("--" + name + ' ' + value + ": " + reason);
}

namespace {

// The whole word as a number of type T, or nothing.
template <class T>
std::optional<T> whole_number(std::string_view word) {
  if (!word.empty() && word.front() == '+') word.remove_prefix(1);
  T value{};
  const auto [stop, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (word.empty() || error != std::errc() || stop != word.data() + word.size()) return std::nullopt;
  return value;
}

}  // namespace

Result<std::int64_t> integer_value(const po::variables_map& options, const std::string& name,
                                   std::int64_t min, std::int64_t max) {
  const std::string text = options[name].as<std::string>();
  const std::optional<std::int64_t> value = whole_number<std::int64_t>(text);
  if (!value) {
    const bool digits = !text.empty() && text.find_first_not_of("+-0123456789") == std::string::npos;
    return value_error(name, text, digits ? "out of range" : "not an integer");
  }
  if (*value < min) return value_error(name, text, "must be at least " + std::to_string(min));
  if (*value > max) return value_error(name, text, "must be at most " + std::to_string(max));
  return *value;
}

Result<double> number_value(const po::variables_map& options, const std::string& name, double min,
                            double max) {
  const std::string text = options[name].as<std::string>();
  const std::optional<double> value = whole_number<double>(text);
  if (!value || !std::isfinite(*value)) return value_error(name, text, "not a number");
  std::ostringstream range;
  if (max == std::numeric_limits<double>::infinity())
    range << "must be at least " << min;
  else
    range << "must be between " << min << " and " << max;
  if (*value < min || *value > max) return value_error(name, text, range.str());
  return *value;
}

Result<std::vector<double>> numbers_value(const po::variables_map& options, const std::string& name,
                                          bool positive) {
  const std::string text = options[name].as<std::string>();
  std::vector<double> numbers;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string word = text.substr(begin, end - begin);
    const std::optional<double> number = whole_number<double>(word);
    if (!number || !std::isfinite(*number))
      return value_error(name, text, "'" + word + "' is not a number (give numbers separated by commas)");
    if (positive && !(*number > 0)) return value_error(name, text, "'" + word + "' is not positive");
    numbers.push_back(*number);
    if (end == text.size()) break;
    begin = end + 1;
  }
  return numbers;
}

Result<std::vector<double>> fractions_value(const po::variables_map& options, const std::string& name,
                                            std::size_t max_count, FractionRange range) {
  const std::string text = options[name].as<std::string>();
  std::vector<double> fractions;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string word = text.substr(begin, end - begin);
    const std::optional<double> fraction = whole_number<double>(word);
    if (!fraction || !std::isfinite(*fraction))
      return value_error(name, text, "'" + word + "' is not a number (e.g. 0.25,0.5,0.75)");
    if (range == FractionRange::positive_to_one && !(*fraction > 0.0 && *fraction <= 1.0))
      return value_error(name, text, word + " is not in (0, 1]");
    if (range == FractionRange::non_negative && *fraction < 0.0)
      return value_error(name, text, word + " is negative");
    if (!fractions.empty() && *fraction < fractions.back())
      return value_error(name, text, word + " is smaller than the fraction before it (smallest first)");
    fractions.push_back(*fraction);
    if (fractions.size() > max_count)
      return value_error(name, text, "at most " + std::to_string(max_count) + " fractions");
    if (end == text.size()) return fractions;
    begin = end + 1;
  }
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

std::string thousands(std::int64_t value) {
  const std::string digits =
      std::to_string(value < 0 ? -static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value));
  std::string grouped;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return value < 0 ? "-" + grouped : grouped;
}

int print_output(const CommandLine& command_line, Streams streams, const std::string& text) {
  streams.out << text << '\n' << std::flush;
  if (streams.out) return kExitSuccess;
  command_line.print_error(streams.err, "cannot write to standard output");
  return kExitFailure;
}

int write_output(const CommandLine& command_line, Streams streams, const po::variables_map& options,
                 const std::string& text) {
  if (!options.count("output")) return print_output(command_line, streams, text);
  const std::string path = options["output"].as<std::string>();
  // Beside the target, so that the rename stays within one file system and is atomic.
  const std::string temporary = path + ".tmp-" + std::to_string(getpid());
  const auto failed = [&](const std::string& why) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    command_line.print_error(streams.err, "cannot write '" + path + "': " + why);
    return kExitUsageError;
  };
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) return failed(std::strerror(errno));
    file << text << '\n';
    file.close();
    if (!file) return failed(std::strerror(errno));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) return failed(error.message());
  return kExitSuccess;
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

Result<PlanResult> read_plan(const std::string& path, std::istream& in) {
  const Result<std::string> text = read_input(path, in);
  if (!text) return text.error();
  Result<PlanResult> plan = parse_plan_result(text.value());
  if (plan) return plan;
  Error error = plan.error();
  error.message = "'" + (path == "-" ? std::string("standard input") : path) + "': " + error.message;
  return error;
}

std::string join_fractions(const std::vector<double>& fractions) {
  std::ostringstream joined;
  for (std::size_t i = 0; i < fractions.size(); ++i) joined << (i == 0 ? "" : ",") << fractions[i];
  return joined.str();
}

void ProgressBar::show(const std::string& label, std::int64_t done, std::int64_t total) {
  if (!enabled_) return;
  constexpr std::int64_t kWidth = 30;
  total = std::max<std::int64_t>(total, 1);
  const std::int64_t percent = 100 * done / total;
  if (percent == shown_percent_ && label == shown_label_) return;
  shown_percent_ = percent;
  shown_label_ = label;
  const std::int64_t filled = kWidth * done / total;
  err_ << '\r' << label << " [" << std::string(static_cast<std::size_t>(filled), '#')
       << std::string(static_cast<std::size_t>(kWidth - filled), '.') << "] " << percent << '%' << "\x1b[K"
       << std::flush;
}

void ProgressBar::clear() {
  if (enabled_ && shown_percent_ >= 0) err_ << "\r\x1b[K" << std::flush;
  shown_percent_ = -1;
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

// One line: the network's layers (tied ones and streams among them) and its full cost per resource.
std::string network_summary(const Network& network) {
  std::size_t tied = 0;
  std::set<std::string> streams;
  for (const Layer& layer : network.layers) {
    tied += layer.tied ? 1 : 0;
    if (layer.stream) streams.insert(*layer.stream);
  }
  std::string line = network.name + "  layers " + std::to_string(network.layers.size()) + " (tied " +
                     std::to_string(tied) + ", streams " + std::to_string(streams.size()) + ")";
  for (const auto& [resource, cost] : full_network_cost(network))
    line += "  " + resource + " " + thousands(cost);
  return line;
}

int list_architectures(const CommandLine& command_line, Streams streams, const po::variables_map& options) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const models::ArchitectureInfo& architecture : models::architectures())
    rows.emplace_back(architecture.name, architecture.description);
  return write_output(command_line, streams, options, two_columns(rows, ""));
}

}  // namespace

int run_plan(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds plan", "reds plan [--compact | --summary] [-o FILE] FILE|-",
      "Plans the nested subnetworks of a JSON request (plan contract v1) read from FILE,\n"
      "or from standard input when FILE is '-', and prints the JSON response; with --summary,\n"
      "one line per level for people instead: its status, cost against limit per limited\n"
      "resource, importance, gap and kept width per layer.\n"
      "Invalid input: one line on standard error, nothing on standard output, exit 2.");
  command_line.add_options()                                                //
      ("compact", "print the response on one line instead of indented")     //
      ("summary", "print one line per level instead of the JSON response")  //
      ("output,o", po::value<std::string>()->value_name("FILE"), kOutputHelp);
  command_line.add_positional("file", 1, po::value<std::string>(),
                              "missing the request FILE (or '-' for standard input)");
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;
  if (options.count("compact") && options.count("summary"))
    return command_line.usage_error(streams.err, "give --compact or --summary, not both");

  const Result<std::string> text = read_input(options["file"].as<std::string>(), streams.in);
  if (!text) return command_line.report(streams.err, text.error());
  const Result<PlanRequest> request = parse_plan_request(text.value());
  if (!request) return command_line.report(streams.err, request.error());
  const Result<PlanResult> result = plan(request.value());
  if (!result) return command_line.report(streams.err, result.error());
  return write_output(command_line, streams, options,
                      options.count("summary") ? plan_summary(result.value())
                                               : to_json(result.value(), options.count("compact") ? -1 : 2));
}

int run_example(const std::vector<std::string>& args, Streams streams) {
  const models::ExampleOptions defaults;
  std::ostringstream min_width_fraction;
  min_width_fraction << defaults.min_width_fraction;
  CommandLine command_line(
      "reds example", "reds example [OPTIONS] NAME | reds example --list",
      "Prints the plan request (plan contract v1) of a bundled architecture: its layers\n"
      "with exact cost coefficients, stand-in importance and one budget level per MAC\n"
      "fraction. Pipe it into 'reds plan -'. With --summary, one line instead: the\n"
      "number of layers, tied layers and streams, and the full network's cost per resource.");
  command_line.add_options()                                                        //
      ("list", "list the architectures and exit")                                   //
      ("summary", "print the network's size and full cost instead of the request")  //
      ("block", number_option("N", std::to_string(defaults.block)),
       "prunable layers keep multiples of N units")  //
      ("min-width-fraction", number_option("F", min_width_fraction.str()),
       "prunable layers keep >= ceil(F * units) units")                                               //
      ("seed", number_option("S", std::to_string(defaults.seed)), "seed of the stand-in importance")  //
      ("levels", number_option("LIST", join_fractions(defaults.mac_fractions)),
       "one level per fraction of the full MACs, smallest first")  //
      ("strategy", po::value<std::string>()->value_name("S")->default_value(to_string(Strategy::bottom_up)),
       "independent, bottom_up, top_down or joint")  //
      ("objective", po::value<std::string>()->value_name("O")->default_value(to_string(Objective::sum)),
       "what the plan maximises: sum, normalized or product (see 'reds request --help')")  //
      ("output,o", po::value<std::string>()->value_name("FILE"), kOutputHelp);
  command_line.add_hidden_options()("fractions", po::value<std::string>());  // the old name of --levels
  command_line.add_positional("name", 1, po::value<std::string>());
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;
  const bool list = options.count("list") > 0;
  const bool named = options.count("name") > 0;
  if (list == named) {
    return command_line.usage_error(streams.err, list ? "give either NAME or --list, not both"
                                                      : "missing the architecture NAME (or --list)");
  }
  if (list) return list_architectures(command_line, streams, options);
  if (options.count("fractions") && !options["levels"].defaulted())
    return command_line.usage_error(streams.err, "give --levels only (--fractions is its old name)");

  const std::string name = options["name"].as<std::string>();
  if (!is_architecture(name)) {
    return command_line.report(streams.err, invalid_argument("unknown architecture '" + name +
                                                             "'; valid names: " + architecture_names()));
  }
  models::ExampleOptions example;
  const Result<std::int64_t> block = integer_value(options, "block", 1);
  if (!block) return command_line.report(streams.err, block.error());
  example.block = *block;
  const Result<double> fraction = number_value(options, "min-width-fraction", 0.0, 1.0);
  if (!fraction) return command_line.report(streams.err, fraction.error());
  example.min_width_fraction = *fraction;
  const Result<std::int64_t> seed = integer_value(options, "seed", 0);
  if (!seed) return command_line.report(streams.err, seed.error());
  example.seed = static_cast<std::uint64_t>(*seed);
  Result<std::vector<double>> fractions =
      fractions_value(options, options.count("fractions") ? "fractions" : "levels", kMaxLevels);
  if (!fractions) return command_line.report(streams.err, fractions.error());
  example.mac_fractions = std::move(fractions).value();
  const Result<Strategy> strategy = strategy_value(options);
  if (!strategy) return command_line.report(streams.err, strategy.error());
  const Result<Objective> objective = objective_value(options);
  if (!objective) return command_line.report(streams.err, objective.error());

  Result<PlanRequest> request = models::example_request(name, example);
  if (!request) return command_line.report(streams.err, request.error());
  PlanRequest shaped = std::move(request).value();
  shaped.strategy = *strategy;
  shaped.objective = *objective;
  if (options.count("summary"))
    return write_output(command_line, streams, options, network_summary(shaped.network));
  return write_output(command_line, streams, options, to_json(shaped, 2));
}

Result<Strategy> strategy_value(const po::variables_map& options) {
  const std::string text = options["strategy"].as<std::string>();
  const std::optional<Strategy> strategy = strategy_from_string(text);
  if (!strategy) return value_error("strategy", text, "use independent, bottom_up, top_down or joint");
  return *strategy;
}

Result<Objective> objective_value(const po::variables_map& options) {
  const std::string text = options["objective"].as<std::string>();
  const std::optional<Objective> objective = objective_from_string(text);
  if (!objective) return value_error("objective", text, "use sum, normalized or product");
  return *objective;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"plan", "plan nested subnetworks for a JSON request (FILE, or - for standard input)", &run_plan},
      {"example", "print the plan request of a bundled architecture (--list shows them)", &run_example},
      {"run", "accuracy and latency of a model's levels on a test set (reds run MODEL --data DIR)", &run_run},
      {"request", "the plan request of a model: L1 importance and costs from its weights and shapes",
       &run_request},
      {"profile", "time a model's layers on this machine for latency budgets (reds profile MODEL -o P.json)",
       &run_profile},
      {"apply", "permute a model into a plan's order and embed the plan (reds apply MODEL PLAN -o OUT)",
       &run_apply},
      {"export", "levels of a model as standalone ONNX models (reds export MODEL --all-levels -o DIR)",
       &run_export},
      {"finetune", "fine-tune every level of a plan jointly (reds finetune MODEL PLAN --data DIR -o OUT)",
       &run_finetune},
      {"train",
       "train a network from scratch (reds train --architecture resnet8 --data DIR --epochs N -o OUT)",
       &run_train},
      {"knapsack", "solve 0-1 knapsack instances in the literature's text format, or generate one",
       &run_knapsack},
      {"plot", "SVG figures: a plan's widths per layer and level, or accuracy and latency per level",
       &run_plot},
  };
  return all;
}

}  // namespace reds::cli
