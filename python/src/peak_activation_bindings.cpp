// Peak activation for reds.torch: a request's `activation` costs from the steps its model runs, priced by
// the same code as the engine's and the bundled architectures' requests (reds/models/peak_activation.h), so
// that a torch module's request prices its peak memory exactly as `reds request` does for its ONNX export.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "reds/json.h"
#include "reds/models/peak_activation.h"

namespace py = pybind11;

namespace reds::python {
namespace {

// [layer or null, bytes]
models::LiveMap live_map(const nlohmann::json& pair) {
  models::LiveMap map;
  if (!pair.at(0).is_null()) map.layer = pair.at(0).get<std::size_t>();
  map.bytes = pair.at(1).get<std::int64_t>();
  return map;
}

Result<std::vector<models::ScheduleStep>> parse_steps(const std::string& steps_json) {
  try {
    std::vector<models::ScheduleStep> steps;
    for (const nlohmann::json& entry : nlohmann::json::parse(steps_json)) {
      models::ScheduleStep& step = steps.emplace_back();
      if (!entry.at("layer").is_null()) step.layer = entry.at("layer").get<std::size_t>();
      step.layers_before = entry.at("layers_before").get<std::size_t>();
      if (!entry.at("input").is_null()) step.input = live_map(entry.at("input"));
      for (const nlohmann::json& map : entry.at("live")) step.live.push_back(live_map(map));
    }
    return steps;
  } catch (const nlohmann::json::exception& error) {
    return Error{ErrorCode::internal, std::string("malformed schedule steps: ") + error.what(), {}};
  }
}

py::bytes peak_activation_json(const std::string& request_json, const std::string& steps_json,
                               const std::string& resource) {
  Result<std::string> priced = [&]() -> Result<std::string> {
    const py::gil_scoped_release release;
    Result<PlanRequest> request = parse_plan_request(request_json);
    if (!request) return request.error();
    const Result<std::vector<models::ScheduleStep>> steps = parse_steps(steps_json);
    if (!steps) return steps.error();
    PlanRequest& priced_request = request.value();
    if (std::optional<Error> error =
            models::set_peak_activation(priced_request.network, steps.value(), resource))
      return *error;
    return to_json(priced_request);
  }();
  return py::bytes(value_or_throw(std::move(priced)));
}

}  // namespace

void register_peak_activation(py::module_& module) {
  module.def("peak_activation_json", &peak_activation_json, py::arg("request_json"), py::arg("steps_json"),
             py::arg("resource"),
             "Sets the max resource `resource` of every layer of a request (JSON text) from the steps its "
             "model runs (JSON: [{layer, layers_before, input, live}], maps as [layer or null, bytes]); "
             "returns the request as compact JSON (bytes).");
}

}  // namespace reds::python
