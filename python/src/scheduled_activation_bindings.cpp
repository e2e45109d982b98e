// Peak activation for reds.torch: a request's `activation` costs from the layer graph its model runs,
// scheduled and priced by the engine's own code (reds/models/layer_schedule.h), the code `reds request`
// prices a model with, so that a torch module's request prices its peak memory exactly as `reds request`
// does for its ONNX export.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.h"
#include "reds/json.h"
#include "reds/models/layer_schedule.h"

namespace py = pybind11;

namespace reds::python {
namespace {

// (kind, the tensors it reads, the request layer it computes or None)
using GraphLayer = std::tuple<std::string, std::vector<std::size_t>, std::optional<std::size_t>>;
// (the request layer whose kept width is its channel count or None, bytes per kept channel or in all)
using GraphMap = std::tuple<std::optional<std::size_t>, std::int64_t>;

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

py::bytes scheduled_activation_json(const std::string& request_json, const std::vector<GraphLayer>& graph,
                                    const std::vector<GraphMap>& graph_maps, const std::string& resource) {
  Result<std::string> priced = [&]() -> Result<std::string> {
    const py::gil_scoped_release release;
    Result<PlanRequest> request = parse_plan_request(request_json);
    if (!request) return request.error();
    std::vector<models::ScheduledLayer> layers;
    for (const auto& [kind_name, inputs, request_layer] : graph) {
      const Result<models::ScheduledKind> kind = scheduled_kind(kind_name);
      if (!kind) return kind.error();
      layers.push_back({kind.value(), inputs, request_layer});
    }
    std::vector<models::LiveMap> maps;
    for (const auto& [layer, bytes] : graph_maps) maps.push_back({layer, bytes});
    Network& network = request.value().network;
    if (std::optional<Error> error = models::set_scheduled_activation(network, layers, maps, resource))
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
  module.def("scheduled_activation_json", &scheduled_activation_json, py::arg("request_json"),
             py::arg("layers"), py::arg("maps"), py::arg("resource"),
             "The max resource `resource` of every layer of a request (JSON text) as the engine runs the "
             "model's layer graph: layers as (kind, tensors read, request layer or None), where tensor 0 is "
             "the input and i + 1 layer i's output; maps as (request layer or None, bytes per kept channel "
             "or in all), one per tensor. Returns each layer's cost terms as a JSON array (bytes).");
}

}  // namespace reds::python
