#include "apply_command.h"

#include <algorithm>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>

#include "input_normalization_options.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/plan.h"

namespace reds::cli {

namespace po = boost::program_options;

std::optional<Error> check_plan_matches_model(const engine::Model& model, const PlanResult& plan) {
  // The layers, units and full cost the model's own request states.
  const Result<PlanRequest> request = engine::plan_request(model);
  if (!request) return std::nullopt;  // a model the contract cannot describe: apply_plan reports it
  const std::vector<Layer>& layers = request->network.layers;
  const auto mismatch = [](const std::string& message, const std::string& path) {
    return invalid_argument("the plan is for another model: " + message, path);
  };

  for (std::size_t entry = 0; entry < plan.layer_names.size(); ++entry) {
    const std::string& name = plan.layer_names[entry];
    const auto layer = std::find_if(layers.begin(), layers.end(),
                                    [&](const Layer& candidate) { return candidate.name == name; });
    if (layer == layers.end())
      return mismatch("its layer '" + name + "' is not a layer of the model", "/order/" + name);
    const std::size_t units = entry < plan.order.size() ? plan.order[entry].size() : 0;
    if (static_cast<std::int64_t>(units) != layer->units)
      return mismatch("its layer '" + name + "' has " + std::to_string(units) + " units, the model's " +
                          std::to_string(layer->units),
                      "/order/" + name);
  }
  for (const Layer& layer : layers)
    if (std::find(plan.layer_names.begin(), plan.layer_names.end(), layer.name) == plan.layer_names.end())
      return mismatch("it has no order for the model's layer '" + layer.name + "'", "/order");

  const std::map<std::string, std::int64_t> full = full_network_cost(request->network);
  for (const auto& [resource, cost] : plan.full_cost) {
    const auto model_cost = full.find(resource);
    if (model_cost == full.end()) continue;  // a resource the model does not price
    if (cost != model_cost->second)
      return mismatch("the full network's " + resource + " is " + std::to_string(cost) + " in the plan, " +
                          std::to_string(model_cost->second) + " in the model",
                      "/full/cost/" + resource);
  }
  return std::nullopt;
}

int run_apply(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds apply", "reds apply MODEL PLAN|- -o OUT",
      "Permutes the units of MODEL (a Keras HDF5, ONNX or native .reds model) into the order of\n"
      "PLAN (the response of 'reds plan' to 'reds request MODEL', or '-' for standard input), so\n"
      "that every level of the plan keeps a prefix of every layer while the full network computes\n"
      "the same function, and writes a native model with the plan embedded to OUT ('reds run'\n"
      "runs its levels). Prints one line per level: its MACs, their share of the full network's,\n"
      "and its widths. A plan made for another model (other layers, units or full cost) is refused.\n"
      "--input-scale, --input-mean and --input-std state how the model's training normalised its\n"
      "images; OUT keeps them, and the commands that feed it images use them.");
  command_line.add_options()  //
      ("output,o", po::value<std::string>()->value_name("OUT"), "the native model file to write");
  add_input_normalization_options(command_line);
  command_line.add_positional("model", 1, po::value<std::string>(), "missing the MODEL file");
  command_line.add_positional("plan", 1, po::value<std::string>(),
                              "missing the PLAN file (or '-' for standard input)");
  command_line.require("output", "missing -o OUT");
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;

  const Result<engine::Model> model = engine::load_model(options["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  const Result<PlanResult> plan = read_plan(options["plan"].as<std::string>(), streams.in);
  if (!plan) return command_line.report(streams.err, plan.error());
  if (auto error = check_plan_matches_model(model.value(), plan.value()))
    return command_line.report(streams.err, *error);
  const Result<engine::InputNormalization> normalization = input_normalization(options, model.value());
  if (!normalization) return command_line.report(streams.err, normalization.error());
  Result<engine::Model> planned = engine::apply_plan(model.value(), plan.value());
  if (!planned) return command_line.report(streams.err, planned.error());
  if (has_input_normalization_options(options)) planned.value().input_normalization = normalization.value();
  const Result<engine::Session> session = engine::Session::create(planned.value());
  if (!session) return command_line.report(streams.err, session.error());
  if (auto error = engine::save_native(planned.value(), options["output"].as<std::string>()))
    return command_line.report(streams.err, *error);

  engine::Model unplanned = planned.value();
  unplanned.plan.reset();
  const Result<engine::Session> full = engine::Session::create(unplanned);
  const double full_macs = full ? static_cast<double>(full->level_info(0).macs) : 0.0;
  std::ostringstream summary;
  for (std::size_t level = 0; level < session->level_count(); ++level) {
    const engine::LevelInfo& info = session->level_info(level);
    summary << (level == 0 ? "" : "\n") << "level " << level + 1 << "  macs " << info.macs << " ("
            << std::fixed << std::setprecision(1) << 100.0 * static_cast<double>(info.macs) / full_macs
            << " %)  widths";
    for (const auto& [name, width] : info.widths) summary << ' ' << name << '=' << width;
  }
  return print_output(command_line, streams, summary.str());
}

}  // namespace reds::cli
