// libFuzzer target for the latency profile reader (reds::engine::parse_latency_profile, the file `reds
// request --profile` reads), and what `reds request` does with an accepted profile: price a network's
// layers with it (add_latency), check the request, and plan levels under latency budgets. Beyond "no
// crash, no undefined behaviour, no leak", it checks what the reader promises:
//   * a rejected profile is invalid_argument, explained, with a JSON Pointer into the file (or none);
//   * an accepted profile survives the round trip: its JSON form reads back to the same JSON form;
//   * a profile that prices the network (its layers' names, units and input widths) yields a request that
//     is valid or refused as the caller's fault, and a valid one plans (a short time limit keeps every run
//     fast).
// The network is fixed: three layers, conv (16 units reading 8 inputs), dw (tied to conv) and head (4
// units, not prunable), which the seeds price. Seeds: tests/fuzz/corpus/latency_profile; dictionary:
// tests/fuzz/latency_profile.dict.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_promise.h"
#include "reds/contract.h"
#include "reds/engine/latency.h"
#include "reds/json.h"
#include "reds/plan.h"

namespace {

using reds::fuzz::broken_promise;

constexpr const char* kNetwork = R"({"network": {"name": "fuzz", "inputs": 8, "resources": {"macs": "sum"},
  "layers": [
    {"name": "conv", "units": 16, "importance": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
     "min_units": 4, "cost": {"macs": {"unit_input": 9}}},
    {"name": "dw", "units": 16, "tied": true, "importance": [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
     "cost": {"macs": {"unit": 9}}},
    {"name": "head", "units": 4, "importance": [1, 1, 1, 1], "prunable": false,
     "cost": {"macs": {"unit_input": 1}}}]},
 "levels": [{"macs": {"fraction": 0.5}}]})";

const reds::PlanRequest& network_request() {
  static const reds::PlanRequest request = [] {
    reds::Result<reds::PlanRequest> parsed = reds::parse_plan_request(kNetwork);
    if (!parsed) broken_promise("the fuzzer's own network is valid", parsed.error().message);
    return std::move(parsed).value();
  }();
  return request;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const reds::Result<reds::engine::LatencyProfile> profile = reds::engine::parse_latency_profile(text);
  if (!profile) {
    const reds::Error& error = profile.error();
    if (error.code != reds::ErrorCode::invalid_argument)
      broken_promise("a rejected profile is invalid_argument", reds::to_json(error));
    if (error.message.empty()) broken_promise("every rejection says why", reds::to_json(error));
    if (!error.path.empty() && error.path.front() != '/')
      broken_promise("path is a JSON Pointer", error.path);
    return 0;
  }

  const std::string once = reds::engine::to_json(profile.value());
  const reds::Result<reds::engine::LatencyProfile> again = reds::engine::parse_latency_profile(once);
  if (!again)
    broken_promise("an accepted profile's JSON form is accepted", once + "\n" + again.error().message);
  if (reds::engine::to_json(again.value()) != once)
    broken_promise("the JSON form reads back to itself", once);

  // As `reds request --profile` does: the profile's block, its costs as the resource latency, then levels
  // under budgets of the full network's latency.
  reds::PlanRequest request = network_request();
  for (reds::Layer& layer : request.network.layers)
    if (!layer.tied && layer.prunable) layer.block = std::min(profile.value().options.block, layer.units);
  if (std::optional<reds::Error> refused = reds::engine::add_latency(request, profile.value())) {
    if (refused->code != reds::ErrorCode::invalid_argument || refused->message.empty())
      broken_promise("a profile of another network is refused as invalid_argument", reds::to_json(*refused));
    return 0;
  }
  if (std::optional<reds::Error> invalid = reds::validate(request)) {
    if (invalid->code != reds::ErrorCode::invalid_argument)
      broken_promise("a priced request is valid or invalid_argument", reds::to_json(*invalid));
    return 0;
  }
  const std::int64_t full = reds::full_network_cost(request.network).at(reds::engine::kLatencyResource);
  request.levels.clear();
  request.levels.push_back(reds::Level{{{reds::engine::kLatencyResource, reds::Limit::of_max(full / 3)}}});
  request.levels.push_back(reds::Level{{{reds::engine::kLatencyResource, reds::Limit::of_fraction(0.7)}}});
  request.time_limit_ms = 20;
  if (std::optional<reds::Error> invalid = reds::validate(request))
    broken_promise("latency levels of a valid priced request are valid", reds::to_json(*invalid));
  const reds::Result<reds::PlanResult> plan = reds::plan(request);
  if (!plan && plan.error().code != reds::ErrorCode::deadline_exceeded)
    broken_promise("a valid priced request plans", plan.error().message);
  return 0;
}
