// The plan response read back (plan contract v1, "Response"): every field to_json(const PlanResult&)
// writes, with the request reader's error messages and JSON Pointers.
//
// Responses may gain fields in later contract versions (precise rule 8), so unknown fields are skipped;
// everything the contract lists is checked for presence and type. The writer prints a non-finite double
// as null; it reads back as NaN.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json_reading.h"
#include "reds/contract.h"
#include "reds/json.h"
#include "reds/status.h"
#include "request_field.h"

namespace reds {
namespace {

using detail::describe;
using detail::expect_array;
using detail::fail;
using detail::Json;
using detail::read_integer;
using detail::read_integers;
using detail::read_number;
using detail::read_string;
using detail::RequestField;

const Json& member(const Json& object, const RequestField& field, const char* name) {
  if (!object.contains(name)) fail(field, "missing field '" + std::string(name) + "' in " + field.name());
  return object[name];
}

const Json& expect_object(const Json& value, const RequestField& field) {
  if (!value.is_object()) fail(field, field.name() + " must be an object, got " + describe(value));
  return value;
}

double read_double(const Json& value, const RequestField& field) {
  if (value.is_null()) return std::numeric_limits<double>::quiet_NaN();
  return read_number(value, field);
}

PlanStatus read_status(const Json& value, const RequestField& field) {
  const std::string name = read_string(value, field);
  for (PlanStatus status : {PlanStatus::optimal, PlanStatus::feasible, PlanStatus::infeasible}) {
    if (name == to_string(status)) return status;
  }
  fail(field, field.name() + " must be \"optimal\", \"feasible\" or \"infeasible\", got \"" + name + "\"");
}

Strategy read_strategy(const Json& value, const RequestField& field) {
  const std::string name = read_string(value, field);
  if (const std::optional<Strategy> strategy = strategy_from_string(name)) return *strategy;
  fail(field, "unknown strategy '" + name + "' (expected independent, bottom_up, top_down or joint)");
}

std::map<std::string, std::int64_t> read_costs(const Json& value, const RequestField& field) {
  std::map<std::string, std::int64_t> costs;
  for (const auto& [resource, cost] : expect_object(value, field).items()) {
    costs[resource] = read_integer(cost, field.key(resource));
  }
  return costs;
}

// `widths` lists every layer by name; the plan holds them in layer order.
std::vector<std::int64_t> read_widths(const Json& value, const RequestField& field,
                                      const std::vector<std::string>& layer_names) {
  expect_object(value, field);
  for (const auto& [name, width] : value.items()) {
    bool known = false;
    for (const std::string& layer : layer_names) known = known || layer == name;
    if (!known) fail(field.key(name), field.name() + " names layer '" + name + "', which `order` does not");
  }
  std::vector<std::int64_t> widths;
  widths.reserve(layer_names.size());
  for (const std::string& layer : layer_names) {
    widths.push_back(read_integer(member(value, field, layer.c_str()), field.key(layer)));
  }
  return widths;
}

LevelPlan read_level(const Json& value, const RequestField& field,
                     const std::vector<std::string>& layer_names) {
  expect_object(value, field);
  LevelPlan level;
  level.status = read_status(member(value, field, "status"), field.key("status"));
  level.limits = read_costs(member(value, field, "limits"), field.key("limits"));
  // Precise rule 5: an infeasible level has none of these, a feasible one all of them.
  if (level.status == PlanStatus::infeasible) {
    for (const char* name : {"widths", "cost", "importance", "upper_bound", "gap"}) {
      if (value.contains(name)) {
        fail(field.key(name), field.name() + " is infeasible and cannot have '" + name + "'");
      }
    }
  } else {
    level.widths = read_widths(member(value, field, "widths"), field.key("widths"), layer_names);
    level.cost = read_costs(member(value, field, "cost"), field.key("cost"));
    level.importance = read_double(member(value, field, "importance"), field.key("importance"));
    level.upper_bound = read_double(member(value, field, "upper_bound"), field.key("upper_bound"));
    level.gap = read_double(member(value, field, "gap"), field.key("gap"));
  }
  if (value.contains("independent_importance")) {
    level.independent_importance =
        read_double(value["independent_importance"], field.key("independent_importance"));
  }
  return level;
}

PlanResult read_result(const Json& value) {
  const RequestField root = RequestField::root("response");
  expect_object(value, root);
  PlanResult result;
  result.status = read_status(member(value, root, "status"), root.key("status"));
  result.strategy = read_strategy(member(value, root, "strategy"), root.key("strategy"));

  const RequestField full_field = root.key("full");
  const Json& full = expect_object(member(value, root, "full"), full_field);
  result.full_cost = read_costs(member(full, full_field, "cost"), full_field.key("cost"));
  result.full_importance = read_double(member(full, full_field, "importance"), full_field.key("importance"));

  // `order` names the layers, in layer order.
  const RequestField order_field = root.key("order");
  for (const auto& [name, units] : expect_object(member(value, root, "order"), order_field).items()) {
    result.layer_names.push_back(name);
    result.order.push_back(read_integers(units, order_field.key(name)));
  }

  const RequestField levels_field = root.key("levels");
  const Json& levels = expect_array(member(value, root, "levels"), levels_field);
  result.levels.reserve(levels.size());
  for (std::size_t index = 0; index < levels.size(); ++index) {
    result.levels.push_back(read_level(levels[index], levels_field.index(index), result.layer_names));
  }

  // The joint strategy's three objective fields come together.
  const bool has_objective = value.contains("objective");
  for (const char* name : {"objective_upper_bound", "objective_gap"}) {
    if (value.contains(name) != has_objective) {
      fail(root.key(has_objective ? "objective" : name),
           "objective, objective_upper_bound and objective_gap come together; got only some of them");
    }
  }
  if (has_objective) {
    result.objective = read_double(value["objective"], root.key("objective"));
    result.objective_upper_bound =
        read_double(value["objective_upper_bound"], root.key("objective_upper_bound"));
    result.objective_gap = read_double(value["objective_gap"], root.key("objective_gap"));
  }
  result.solve_seconds = read_double(member(value, root, "solve_seconds"), root.key("solve_seconds"));
  return result;
}

}  // namespace

Result<PlanResult> parse_plan_result(std::string_view json_text) {
  return detail::read_document<PlanResult>(json_text, RequestField::root("response"), read_result);
}

}  // namespace reds
