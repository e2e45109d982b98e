// libFuzzer target for the plan request parser (reds::parse_plan_request), built with -DREDS_FUZZ=ON by
// clang, with AddressSanitizer and UndefinedBehaviorSanitizer. Beyond "no crash, no undefined behaviour",
// it checks what the contract promises of every input:
//   * a rejected request is the caller's fault (never `internal`), explained, and points into the
//     document with a JSON Pointer (or nowhere);
//   * an accepted request survives the round trip: its JSON form reads back to the same JSON form;
//   * an accepted small request plans without failing (a short time limit keeps every run fast);
//   * the fast reader (simdjson) answers as the checked reader (nlohmann/json) does, or leaves the answer to
//     it: the same request, or the same error.
// Seeds: tests/fuzz/corpus; dictionary: tests/fuzz/plan_request.dict.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "reds/contract.h"
#include "reds/json.h"
#include "reds/plan.h"

namespace {

[[noreturn]] void broken_promise(const char* promise, const std::string& detail) {
  std::fprintf(stderr, "broken promise: %s\n%s\n", promise, detail.c_str());
  std::abort();
}

// What a reader answered, to compare: the request's JSON form, or the error.
std::string answer(const reds::Result<reds::PlanRequest>& result) {
  return result ? "accepted " + reds::to_json(result.value()) : "rejected " + reds::to_json(result.error());
}

// Small enough that planning a few levels takes microseconds to milliseconds.
bool small(const reds::PlanRequest& request) {
  std::int64_t units = 0;
  for (const reds::Layer& layer : request.network.layers) units += layer.units;
  return units <= 64 && request.levels.size() <= 4;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<reds::Result<reds::PlanRequest>> fast = reds::detail::parse_plan_request_fast(text);
  reds::Result<reds::PlanRequest> request = reds::detail::parse_plan_request_checked(text);
  if (fast && answer(*fast) != answer(request))
    broken_promise("the fast reader answers as the checked reader does",
                   answer(*fast) + "\n" + answer(request));
  if (!request) {
    const reds::Error& error = request.error();
    if (error.code == reds::ErrorCode::internal)
      broken_promise("bad input is never an internal error", error.message);
    if (error.message.empty()) broken_promise("every rejection says why", reds::to_json(error));
    if (!error.path.empty() && error.path.front() != '/')
      broken_promise("path is a JSON Pointer", error.path);
    return 0;
  }

  const std::string once = reds::to_json(request.value());
  const reds::Result<reds::PlanRequest> again = reds::parse_plan_request(once);
  if (!again)
    broken_promise("an accepted request's JSON form is accepted", once + "\n" + again.error().message);
  if (reds::to_json(again.value()) != once) broken_promise("the JSON form reads back to itself", once);

  if (!small(request.value())) return 0;
  // The planner refuses residual networks (contract 1.1) until it plans them, at their first new field.
  if (const std::optional<std::string> field = reds::first_residual_field(request.value().network)) {
    const reds::Result<reds::PlanResult> refused = reds::plan(request.value());
    if (refused || refused.error().code != reds::ErrorCode::invalid_argument ||
        refused.error().path != *field)
      broken_promise("the planner refuses residual networks at their first new field", once);
    return 0;
  }
  request.value().time_limit_ms = 20;
  const reds::Result<reds::PlanResult> plan = reds::plan(request.value());
  if (!plan && plan.error().code != reds::ErrorCode::deadline_exceeded)
    broken_promise("a valid request plans", once + "\n" + plan.error().message);
  return 0;
}
