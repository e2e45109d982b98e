#include "request_command.h"

#include <optional>
#include <sstream>

#include "batch_limits.h"
#include "input_normalization_options.h"
#include "reds/engine/dataset.h"
#include "reds/engine/kernel_views.h"
#include "reds/engine/latency.h"
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
// --data (training_importance.h), for RequestOptions::importance. A progress bar on a terminal.
Result<std::map<std::string, std::vector<double>>> gradient_importance(
    const po::variables_map& options, const engine::InputNormalization& normalization, Streams streams) {
  const Result<std::int64_t> minibatches = integer_value(options, "importance-batches", 1);
  if (!minibatches) return minibatches.error();
  const Result<std::int64_t> batch_size = integer_value(options, "batch-size", 1);
  if (!batch_size) return batch_size.error();
  const Result<std::int64_t> seed = integer_value(options, "seed", 0);
  if (!seed) return seed.error();
  Result<engine::training::Network<float>> network =
      engine::training::Network<float>::load(options["model"].as<std::string>());
  if (!network) return network.error();
  const std::string directory = options["data"].as<std::string>();
  ProgressBar progress(streams.err, is_terminal(streams.err));
  progress.show("loading the training images", 0, 1);
  const Result<engine::ImageSet> images = engine::load_training_set(directory, normalization);
  progress.clear();
  if (!images)
    return invalid_argument(
        "--data: gradient importance needs the training split (train-images-idx3-ubyte and "
        "train-labels-idx1-ubyte, or .gz) in '" +
        directory + "': " + images.error().message);
  if (auto error = engine::check_image_shape(images.value(), network->input_shape()))
    return invalid_argument("--data " + directory + ": " + error->message);
  if (auto error = check_batch_size(network.value(), options["batch-size"].as<std::string>(), *batch_size,
                                    images->count, directory))
    return *error;
  engine::training::ImportanceOptions importance;
  importance.minibatches = *minibatches;
  importance.batch_size = *batch_size;
  importance.seed = static_cast<std::uint64_t>(*seed);
  importance.on_minibatch = [&](std::int64_t done, std::int64_t total) {
    progress.show("gradient importance, minibatch " + std::to_string(done) + "/" + std::to_string(total),
                  done, total);
  };
  Result<std::map<std::string, std::vector<double>>> scores =
      engine::training::gradient_importance(network.value(), images.value(), importance);
  progress.clear();
  return scores;
}

// The widths the engine runs best: its kernels compute 8 output channels per vector, so a width between
// multiples of 8 costs the next multiple's time (docs/engine.md, "Plans of reds request").
constexpr std::int64_t kEngineBlock = engine::kernels::kVectorLanes;

}  // namespace

int run_request(const std::vector<std::string>& args, Streams streams) {
  const engine::RequestOptions defaults;
  CommandLine command_line(
      "reds request", "reds request MODEL [OPTIONS] [-o REQUEST.json]",
      "Prints the plan request (plan contract v1) of MODEL (a Keras HDF5, ONNX or native .reds\n"
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
      "With --profile (from 'reds profile MODEL'), every layer also costs its measured `latency`\n"
      "(picoseconds), and --latency-us gives one level per time budget instead of --levels.\n"
      "The last layer (the classifier) keeps its width. Plan it with 'reds plan', then make the\n"
      "model run the plan with 'reds apply'.");
  std::ostringstream min_width_fraction;
  min_width_fraction << defaults.min_width_fraction;
  command_line.add_options()                                                   //
      ("output,o", po::value<std::string>()->value_name("FILE"), kOutputHelp)  //
      ("levels", number_option("LIST", join_fractions(defaults.fractions)),
       "one level per fraction of the full network's resource, smallest first")  //
      ("resource", po::value<std::string>()->value_name("R")->default_value(defaults.resource),
       "the resource the levels limit: macs, params, activation, output_activation, or latency with "
       "--profile")  //
      ("profile", po::value<std::string>()->value_name("FILE"),
       "a latency profile of the model ('reds profile'): adds the resource latency, in picoseconds")  //
      ("latency-us", number_option("LIST"),
       "with --profile: one level per latency budget in microseconds, smallest first (instead of "
       "--levels)")  //
      ("min-width-fraction", number_option("F", min_width_fraction.str()),
       "prunable layers keep >= ceil(F * units) units")  //
      ("block", number_option("N", std::to_string(kEngineBlock)),
       "prunable layers keep multiples of N units (or all of them); the default is the engine's vector "
       "width (a width between its multiples runs at the next multiple's cost); 1 plans unit by unit; "
       "with --profile the default is the profile's block")  //
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
       "(or .gz) as Fashion-MNIST ships them; colour images as train-images-idx4-ubyte")  //
      ("importance-batches", number_option("N", "100"),
       "minibatches the gradient is summed over (the reference: 100)")  //
      ("batch-size", number_option("N", "128"),
       "images per minibatch (the reference: 128 for Fashion-MNIST); at most the training images of "
       "--data, and refused when a pass over it would not fit in memory")                   //
      ("seed", number_option("S", "1"), "seed of the minibatches' order and augmentation")  //
      ("compact", "print the request on one line instead of indented");
  add_input_normalization_options(command_line);
  command_line.add_positional("model", 1, po::value<std::string>(), "missing the MODEL file");
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;

  engine::RequestOptions request_options;
  Result<std::vector<double>> fractions = fractions_value(options, "levels", kMaxLevels);
  if (!fractions) return command_line.report(streams.err, fractions.error());
  request_options.fractions = std::move(fractions).value();
  const std::string resource = options["resource"].as<std::string>();
  const bool profiled = options.count("profile") > 0;
  if (resource != "macs" && resource != "params" && resource != "activation" &&
      resource != "output_activation" && !(resource == "latency" && profiled))
    return command_line.report(
        streams.err,
        value_error("resource", resource,
                    resource == "latency"
                        ? "latency needs --profile FILE"
                        : "use macs, params, activation, output_activation, or latency with --profile"));
  // Latency levels are set once the profile has priced the layers.
  if (resource != "latency") request_options.resource = resource;
  std::optional<engine::LatencyProfile> profile;
  if (profiled) {
    const Result<std::string> text = read_input(options["profile"].as<std::string>(), streams.in);
    if (!text) return command_line.report(streams.err, text.error());
    Result<engine::LatencyProfile> parsed_profile = engine::parse_latency_profile(text.value());
    if (!parsed_profile)
      return command_line.report(streams.err,
                                 invalid_argument("--profile " + options["profile"].as<std::string>() + ": " +
                                                      parsed_profile.error().message,
                                                  parsed_profile.error().path));
    profile = std::move(parsed_profile).value();
  }
  std::vector<std::int64_t> latency_limits;
  if (options.count("latency-us")) {
    if (!profiled) return command_line.usage_error(streams.err, "--latency-us needs --profile FILE");
    if (!options["levels"].defaulted())
      return command_line.usage_error(streams.err, "give --levels or --latency-us, not both");
    const Result<std::vector<double>> budgets = numbers_value(options, "latency-us", true);
    if (!budgets) return command_line.report(streams.err, budgets.error());
    const std::string text = options["latency-us"].as<std::string>();
    if (budgets->size() > kMaxLevels)
      return command_line.report(streams.err, value_error("latency-us", text, "at most 64 levels"));
    for (const double budget : budgets.value()) {
      if (!(budget <= 1e9))
        return command_line.report(streams.err, value_error("latency-us", text, "at most 1e9 us per level"));
      latency_limits.push_back(
          std::llround(budget * static_cast<double>(engine::kPicosecondsPerMicrosecond)));
      if (latency_limits.size() > 1 && latency_limits.back() < latency_limits[latency_limits.size() - 2])
        return command_line.report(streams.err, value_error("latency-us", text, "budgets must not decrease"));
    }
  }
  const Result<double> fraction = number_value(options, "min-width-fraction", 0.0, 1.0);
  if (!fraction) return command_line.report(streams.err, fraction.error());
  request_options.min_width_fraction = *fraction;
  const Result<std::int64_t> block = integer_value(options, "block", 1);
  if (!block) return command_line.report(streams.err, block.error());
  request_options.block = profile && options["block"].defaulted() ? profile->options.block : *block;
  if (options.count("fixed")) request_options.fixed = split_names(options["fixed"].as<std::string>());
  const Result<Strategy> strategy = strategy_value(options);
  if (!strategy) return command_line.report(streams.err, strategy.error());
  request_options.strategy = *strategy;
  const Result<Objective> objective = objective_value(options);
  if (!objective) return command_line.report(streams.err, objective.error());
  request_options.objective = *objective;

  const Result<engine::Model> model = engine::load_model(options["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  const Result<engine::InputNormalization> normalization = input_normalization(options, model.value());
  if (!normalization) return command_line.report(streams.err, normalization.error());
  const std::string importance = options.count("importance")
                                     ? options["importance"].as<std::string>()
                                     : (options.count("data") ? "gradient" : "magnitude");
  if (importance == "gradient") {
    if (!options.count("data"))
      return command_line.usage_error(streams.err, "--importance gradient needs --data DIR");
    Result<std::map<std::string, std::vector<double>>> scores =
        gradient_importance(options, normalization.value(), streams);
    if (!scores) return command_line.report(streams.err, scores.error());
    request_options.importance = std::move(scores).value();
  } else if (importance != "magnitude") {
    return command_line.report(
        streams.err, value_error("importance", importance, "unknown method; use magnitude or gradient"));
  }

  Result<PlanRequest> request = engine::plan_request(model.value(), request_options);
  if (!request) return command_line.report(streams.err, request.error());
  if (profile) {
    if (auto error = engine::add_latency(request.value(), profile.value()))
      return command_line.report(
          streams.err,
          invalid_argument("--profile " + options["profile"].as<std::string>() + ": " + error->message));
    if (!latency_limits.empty() || resource == engine::kLatencyResource) {
      request.value().levels.clear();
      for (const std::int64_t limit : latency_limits)
        request.value().levels.push_back(Level{{{engine::kLatencyResource, Limit::of_max(limit)}}});
      if (latency_limits.empty())
        for (const double level : request_options.fractions)
          request.value().levels.push_back(Level{{{engine::kLatencyResource, Limit::of_fraction(level)}}});
    }
    if (auto error = validate(request.value())) return command_line.report(streams.err, *error);
  }
  const int status = write_output(command_line, streams, options,
                                  to_json(request.value(), options.count("compact") ? -1 : 2));
  if (status == kExitSuccess && !profile && options["block"].defaulted())
    command_line.print_error(streams.err, "note: prunable layers keep multiples of " +
                                              std::to_string(kEngineBlock) +
                                              " units, the engine's vector width (--block 1 plans unit "
                                              "by unit)");
  // Widths between the profile's timed multiples run at about the next multiple's cost, above the
  // interpolated prediction (docs/latency.md measures 13-33 % on DS-CNN S with --block 1).
  if (status == kExitSuccess && profile && request_options.block % profile->options.block != 0)
    command_line.print_error(streams.err, "note: the profile timed widths in multiples of " +
                                              std::to_string(profile->options.block) + "; with --block " +
                                              std::to_string(request_options.block) +
                                              " levels may run over their predicted latency");
  return status;
}

}  // namespace reds::cli
