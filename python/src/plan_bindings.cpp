// The planner for Python: JSON text in, JSON text out, through the same calls as `reds plan`
// (parse_plan_request, plan, to_json), so that reds.plan() answers exactly what the command prints.
#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <utility>

#include "bindings.h"
#include "reds/contract.h"
#include "reds/json.h"
#include "reds/plan.h"

namespace py = pybind11;

namespace reds::python {
namespace {

// Every call works on its own copies, without the GIL, so that other Python threads run (and plan) meanwhile.
py::bytes plan_json(const std::string& request_json) {
  Result<std::string> answer = [&]() -> Result<std::string> {
    const py::gil_scoped_release release;
    const Result<PlanRequest> request = parse_plan_request(request_json);
    if (!request) return request.error();
    const Result<PlanResult> result = plan(request.value());
    if (!result) return result.error();
    return to_json(result.value());
  }();
  return py::bytes(value_or_throw(std::move(answer)));
}

void validate_json(const std::string& request_json) {
  std::optional<Error> error;
  {
    const py::gil_scoped_release release;
    const Result<PlanRequest> request = parse_plan_request(request_json);
    if (!request) error = request.error();
  }
  if (error) throw ErrorException{*error};
}

}  // namespace

void register_plan(py::module_& module) {
  module.def("plan_json", &plan_json, py::arg("request_json"),
             "Plans a request given as JSON text; returns the response as compact JSON (bytes).");
  module.def("validate_json", &validate_json, py::arg("request_json"),
             "Parses and validates a request given as JSON text; raises on the first violation.");
}

}  // namespace reds::python
