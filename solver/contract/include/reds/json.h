// reds/json.h: the plan contract's JSON form (request in, response and errors out, response read back).
//
// Parsing is strict: unknown fields, wrong types, non-integers where integers are required, numbers out of
// range and every rule checked by validate() are errors whose `path` is a JSON Pointer into the document.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "reds/contract.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds {

// Limits against hostile input. Deeper nesting or more elements than this are invalid_argument.
inline constexpr int kMaxJsonDepth = 64;

// Parses and validates a plan request (validate() included).
Result<PlanRequest> parse_plan_request(std::string_view json_text);

// The request as JSON (pretty with indent >= 0, compact with -1). parse_plan_request(to_json(r)) == r.
std::string to_json(const PlanRequest& request, int indent = -1);

// The response of the plan contract.
std::string to_json(const PlanResult& result, int indent = -1);

// Reads a response back: to_json(*parse_plan_result(to_json(r))) == to_json(r). Fields the contract does
// not list are skipped (later versions may add some); a missing or mistyped field is invalid_argument
// with its JSON Pointer. Layer names come from `order`; each level's `widths` must list the same layers.
Result<PlanResult> parse_plan_result(std::string_view json_text);

// {"error": {"code": ..., "message": ..., "path": ...}} ("path" omitted when empty).
std::string to_json(const Error& error, int indent = -1);

// The two readers behind parse_plan_request(), public for its differential tests and fuzzer only.
namespace detail {

// The reference reader (nlohmann/json): the contract's every error, with its message and path.
Result<PlanRequest> parse_plan_request_checked(std::string_view json_text);

// The fast reader (simdjson): the reference reader's answer, or nothing when it cannot vouch for it (any
// syntax or reading error: the reference reader then says what is wrong). A request it reads is validated,
// so a validate() error is an answer too.
std::optional<Result<PlanRequest>> parse_plan_request_fast(std::string_view json_text);

}  // namespace detail

}  // namespace reds
