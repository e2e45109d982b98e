#include "request_command.h"

#include <fstream>
#include <optional>

#include "reds/engine/dataset.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/json.h"
#include "reds/training/importance.h"

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

// --importance gradient: the reference's gradient importance of every unit over training minibatches of
// --data (training_importance.h), for RequestOptions::importance.
Result<std::map<std::string, std::vector<double>>> gradient_importance(const po::variables_map& options) {
  Result<engine::training::Network<float>> network =
      engine::training::Network<float>::load(options["model"].as<std::string>());
  if (!network) return network.error();
  const std::string directory = options["data"].as<std::string>();
  const Result<engine::ImageSet> images = engine::load_training_set(directory);
  if (!images)
    return invalid_argument(
        "--data: gradient importance needs the training split (train-images-idx3-ubyte and "
        "train-labels-idx1-ubyte, or .gz) in '" +
        directory + "': " + images.error().message);
  engine::training::ImportanceOptions importance;
  importance.minibatches = options["importance-batches"].as<std::int64_t>();
  importance.batch_size = options["batch-size"].as<std::int64_t>();
  importance.seed = options["seed"].as<std::uint64_t>();
  return engine::training::gradient_importance(network.value(), images.value(), importance);
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
      "With --data DIR, importance per unit = the REDS reference's gradient saliency instead: the sum\n"
      "over the unit's weights of |w * G|, G = the loss gradient summed over --importance-batches\n"
      "augmented minibatches of DIR's training images (batch norm on batch statistics).\n"
      "--objective says what the plan maximises (the request's \"objective\"): product (the default)\n"
      "the product over layers of the kept share of importance, which avoids one-unit bottlenecks;\n"
      "sum the sum of the kept units' importance (the paper's); normalized that sum with every\n"
      "layer's importance scaled to sum 1.\n"
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
      ("objective",
       po::value<std::string>()->value_name("O")->default_value(std::string(to_string(defaults.objective))),
       "what the plan maximises: sum (of the units' importance, the paper's), normalized (every layer's "
       "importance sums to 1) or product (of the layers' kept shares of importance: no bottlenecks)")  //
      ("importance", po::value<std::string>()->value_name("METHOD"),
       "magnitude (L1 of the weights) or gradient (needs --data); default: gradient with --data, "
       "magnitude without")  //
      ("data", po::value<std::string>()->value_name("DIR"),
       "training images for gradient importance: train-images-idx3-ubyte and train-labels-idx1-ubyte "
       "(or .gz) as Fashion-MNIST ships them")  //
      ("importance-batches", po::value<std::int64_t>()->value_name("N")->default_value(100),
       "minibatches the gradient is summed over (the reference: 100)")  //
      ("batch-size", po::value<std::int64_t>()->value_name("N")->default_value(128),
       "images per minibatch (the reference: 128 for Fashion-MNIST)")  //
      ("seed", po::value<std::uint64_t>()->value_name("S")->default_value(0),
       "seed of the minibatches' order and augmentation")  //
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
  const std::string objective = (*options)["objective"].as<std::string>();
  const std::optional<Objective> parsed_objective = objective_from_string(objective);
  if (!parsed_objective)
    return command_line.report(streams.err, invalid_argument("--objective: unknown objective '" + objective +
                                                             "'; use sum, normalized or product"));
  request_options.objective = *parsed_objective;

  const std::string importance = options->count("importance")
                                     ? (*options)["importance"].as<std::string>()
                                     : (options->count("data") ? "gradient" : "magnitude");
  if (importance == "gradient") {
    if (!options->count("data"))
      return command_line.usage_error(streams.err, "--importance gradient needs --data DIR");
    Result<std::map<std::string, std::vector<double>>> scores = gradient_importance(*options);
    if (!scores) return command_line.report(streams.err, scores.error());
    request_options.importance = std::move(scores).value();
  } else if (importance != "magnitude") {
    return command_line.report(streams.err, invalid_argument("--importance: unknown method '" + importance +
                                                             "'; use magnitude or gradient"));
  }

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
