// Peak activation for reds.torch: a request's `activation` costs from the layer graph its model runs,
// scheduled and priced by the engine's own code (reds/models/layer_schedule.h), the code `reds request`
// prices a model with, so that a torch module's request prices its peak memory exactly as `reds request`
// does for its ONNX export.
#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "reds/json.h"
#include "reds/models/layer_schedule.h"

namespace py = pybind11;

namespace reds::python {
namespace {

Result<models::ScheduledKind> scheduled_kind(const std::string& name) {
  static const std::map<std::string, models::ScheduledKind> kKinds = {
      {"convolution", models::ScheduledKind::convolution},
      {"depthwise_convolution", models::ScheduledKind::depthwise_convolution},
      {"grouped_convolution", models::ScheduledKind::grouped_convolution},
      {"dense", models::ScheduledKind::dense},
      {"rectifier", models::ScheduledKind::rectifier},
      {"softmax", models::ScheduledKind::softmax},
      {"addition", models::ScheduledKind::addition},
      {"pool", models::ScheduledKind::pool},
      {"zero_padding", models::ScheduledKind::zero_padding},
      {"flatten", models::ScheduledKind::flatten}};
  const auto kind = kKinds.find(name);
  if (kind == kKinds.end()) return invalid_argument("unknown layer kind '" + name + "'");
  return kind->second;
}

struct LayerGraph {
  std::vector<models::ScheduledLayer> layers;
  std::vector<models::LiveMap> maps;
};

// {"layers": [[kind, [tensors read], request layer or null]], "maps": [[request layer or null, bytes]]}
Result<LayerGraph> parse_graph(const std::string& graph_json) {
  try {
    const nlohmann::json graph = nlohmann::json::parse(graph_json);
    LayerGraph parsed;
    for (const nlohmann::json& layer : graph.at("layers")) {
      const Result<models::ScheduledKind> kind = scheduled_kind(layer.at(0).get<std::string>());
      if (!kind) return kind.error();
      models::ScheduledLayer& entry = parsed.layers.emplace_back();
      entry.kind = kind.value();
      entry.inputs = layer.at(1).get<std::vector<std::size_t>>();
      if (!layer.at(2).is_null()) entry.request_layer = layer.at(2).get<std::size_t>();
    }
    for (const nlohmann::json& map : graph.at("maps")) {
      models::LiveMap& entry = parsed.maps.emplace_back();
      if (!map.at(0).is_null()) entry.layer = map.at(0).get<std::size_t>();
      entry.bytes = map.at(1).get<std::int64_t>();
    }
    return parsed;
  } catch (const nlohmann::json::exception& error) {
    return invalid_argument(std::string("malformed layer graph: ") + error.what());
  }
}

py::bytes scheduled_activation_json(const std::string& request_json, const std::string& graph_json,
                                    const std::string& resource) {
  Result<std::string> priced = [&]() -> Result<std::string> {
    const py::gil_scoped_release release;
    Result<PlanRequest> request = parse_plan_request(request_json);
    if (!request) return request.error();
    const Result<LayerGraph> graph = parse_graph(graph_json);
    if (!graph) return graph.error();
    Network& network = request.value().network;
    if (std::optional<Error> error =
            models::set_scheduled_activation(network, graph->layers, graph->maps, resource))
      return *error;
    const nlohmann::json priced_request = nlohmann::json::parse(to_json(request.value()));
    nlohmann::json terms = nlohmann::json::array();
    for (const nlohmann::json& layer : priced_request["network"]["layers"])
      terms.push_back(layer["cost"].value(resource, nlohmann::json::object()));
    return terms.dump();
  }();
  return py::bytes(value_or_throw(std::move(priced)));
}

}  // namespace

void register_scheduled_activation(py::module_& module) {
  module.def(
      "scheduled_activation_json", &scheduled_activation_json, py::arg("request_json"), py::arg("graph_json"),
      py::arg("resource"),
      "The max resource `resource` of every layer of a request (JSON text) as the engine runs the "
      "model's layer graph (JSON: {layers: [[kind, [tensor read, ...], request layer or null]], maps: "
      "[[request layer or null, bytes per kept channel or in all]]}, tensor 0 the input and i + 1 "
      "layer i's output, one map per tensor). Returns each layer's cost terms as a JSON array (bytes).");
}

}  // namespace reds::python
