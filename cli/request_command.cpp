#include "request_command.h"

#include <fstream>
#include <optional>

#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/json.h"

namespace reds::cli {

namespace po = boost::program_options;

namespace {

// "a,b,c" -> {"a", "b", "c"}; empty words are dropped.
std::vector<std::string> split_names(const std::string& text) {
  std::vector<std::string> names;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    if (end > begin) names.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return names;
}

}  // namespace

int run_request(const std::vector<std::string>& args, Streams streams) {
  const engine::RequestOptions defaults;
  CommandLine command_line(
      "reds request", "reds request MODEL [OPTIONS] [-o REQUEST.json]",
      "Prints the plan request (plan contract v1) of MODEL (a Keras HDF5 file or a native .reds\n"
      "model): one layer per Conv2D, DepthwiseConv2D (tied to the layer before it) and Dense\n"
      "layer, importance per unit = the L1 magnitude of its weights (sum of |w| over the weights\n"
      "that compute it, bias excluded), exact costs from the model's shapes (macs, params,\n"
      "activation, output_activation) and one level per fraction of the full network's --resource.\n"
      "The last layer (the classifier) keeps its width. Plan it with 'reds plan', then make the\n"
      "model run the plan with 'reds apply'.");
  command_line.add_options()  //
      ("output,o", po::value<std::string>()->value_name("FILE"),
       "write the request to FILE instead of standard output")  //
      ("levels",
       po::value<std::string>()->value_name("LIST")->default_value(join_fractions(defaults.fractions)),
       "one level per fraction of the full network's resource, smallest first")  //
      ("resource", po::value<std::string>()->value_name("R")->default_value(defaults.resource),
       "the resource the levels limit: macs, params, activation or output_activation")  //
      ("min-width-fraction", po::value<double>()->value_name("F")->default_value(defaults.min_width_fraction),
       "prunable layers keep >= ceil(F * units) units")  //
      ("block", po::value<std::int64_t>()->value_name("N")->default_value(defaults.block),
       "prunable layers keep multiples of N units (or all of them)")  //
      ("fixed", po::value<std::string>()->value_name("LAYERS"),
       "comma-separated Conv2D or Dense layers that keep their full width")  //
      ("strategy", po::value<std::string>()->value_name("S")->default_value(to_string(defaults.strategy)),
       "independent, bottom_up, top_down or joint")  //
      ("compact", "print the request on one line instead of indented");
  command_line.add_positional("model", 1, po::value<std::string>());
  const std::optional<po::variables_map> options = command_line.parse(args, streams.err);
  if (!options) return kExitUsageError;
  if (options->count("help")) {
    command_line.print_help(streams.out);
    return kExitSuccess;
  }
  if (!options->count("model")) return command_line.usage_error(streams.err, "missing the MODEL file");

  engine::RequestOptions request_options;
  Result<std::vector<double>> fractions = parse_fractions((*options)["levels"].as<std::string>(), "--levels");
  if (!fractions) return command_line.report(streams.err, fractions.error());
  request_options.fractions = std::move(fractions).value();
  request_options.resource = (*options)["resource"].as<std::string>();
  request_options.min_width_fraction = (*options)["min-width-fraction"].as<double>();
  request_options.block = (*options)["block"].as<std::int64_t>();
  if (options->count("fixed")) request_options.fixed = split_names((*options)["fixed"].as<std::string>());
  const std::string strategy = (*options)["strategy"].as<std::string>();
  const std::optional<Strategy> parsed_strategy = strategy_from_string(strategy);
  if (!parsed_strategy)
    return command_line.report(streams.err,
                               invalid_argument("--strategy: unknown strategy '" + strategy +
                                                "'; use independent, bottom_up, top_down or joint"));
  request_options.strategy = *parsed_strategy;

  const Result<engine::Model> model = engine::load_model((*options)["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  const Result<PlanRequest> request = engine::plan_request(model.value(), request_options);
  if (!request) return command_line.report(streams.err, request.error());
  const std::string text = to_json(request.value(), options->count("compact") ? -1 : 2);

  if (!options->count("output")) return print_output(command_line, streams, text);
  const std::string path = (*options)["output"].as<std::string>();
  std::ofstream file(path, std::ios::binary);
  file << text << '\n';
  file.close();
  if (!file) return command_line.report(streams.err, invalid_argument("cannot write '" + path + "'"));
  return kExitSuccess;
}

}  // namespace reds::cli
