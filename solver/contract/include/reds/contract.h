// reds/contract.h: the plan contract's result types and the rules every plan obeys, without the planner.
//
// The request is reds/network.h's PlanRequest; this header adds the response (PlanResult, one LevelPlan per
// level), validate() and the contract's arithmetic that a reader of plans needs as much as the planner:
// resolving fractions, the full network's cost and the importances behind each objective. reds/json.h
// reads and writes both documents; reds/plan.h computes the PlanResult of a PlanRequest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reds/network.h"
#include "reds/status.h"

namespace reds {

enum class PlanStatus { optimal, feasible, infeasible };  // ordered from best to worst
const char* to_string(PlanStatus status);

struct LevelPlan {
  PlanStatus status = PlanStatus::infeasible;
  std::map<std::string, std::int64_t> limits;  // the level's budget resolved to absolute numbers
  // Present only for feasible levels (status optimal or feasible):
  std::vector<std::int64_t> widths;          // kept width per layer, in layer order
  std::map<std::string, std::int64_t> cost;  // every resource the network mentions
  double importance = 0.0;
  double upper_bound = 0.0;  // >= the optimum under the strategy's definition
  double gap = 0.0;          // (upper_bound - importance) / upper_bound, 0 when upper_bound is 0
  std::optional<double> independent_importance;  // the independent optimum at this level's budget
};

struct PlanResult {
  PlanStatus status = PlanStatus::optimal;  // the worst of the levels
  Strategy strategy = Strategy::bottom_up;
  std::vector<std::string> layer_names;  // layer order of `order` and of every level's `widths`
  std::map<std::string, std::int64_t> full_cost;
  double full_importance = 0.0;
  // Per layer: original unit indices, most important first (ties by lower index). Every level keeps the
  // first widths[l] of them. Tied layers repeat the order of the layer they follow; layers that are not
  // prunable keep the identity order.
  std::vector<std::vector<std::int64_t>> order;
  std::vector<LevelPlan> levels;
  // joint only: sum_j w_j importance_j over the feasible levels, a bound on it, and the relative gap.
  std::optional<double> objective;
  std::optional<double> objective_upper_bound;
  std::optional<double> objective_gap;
  double solve_seconds = 0.0;
};

// Checks every rule of the plan contract. Returns the first violation (code invalid_argument, with a JSON
// Pointer path into the request) or nothing when the request is valid.
std::optional<Error> validate(const PlanRequest& request);

// Resolves a level's limits to absolute numbers: a fraction f of a resource whose full network cost is
// `full` becomes the largest integer m <= f * full, with the product computed exactly.
std::int64_t resolve_fraction(double fraction, std::int64_t full);

// Cost of the full network (every layer at its full width) per resource the network mentions.
// Precondition: the network is valid.
std::map<std::string, std::int64_t> full_network_cost(const Network& network);

// Cost per resource the network mentions of the plan keeping widths[l] units of every layer l: each layer's
// k_in is the width of its `input` layer (the previous layer's, or the network's inputs for the first
// layer), and every `held` entry adds its coefficient times the named layer's width (contract, rule 11).
// Sums saturate at INT64_MAX. Preconditions: the network is valid, widths has one entry per layer, and
// 1 <= widths[l] <= units (layers sharing a width are not checked to agree).
std::map<std::string, std::int64_t> network_cost(const Network& network,
                                                 const std::vector<std::int64_t>& widths);

// A set of layers that keep one width: a stream (its members and the tied layers following any of them),
// or a layer that is in no stream with the tied layers following it.
struct WidthGroup {
  std::vector<std::size_t> layers;  // in list order; the first gives the group's min_units, block, prunable
  bool pinned = false;              // the first layer is not prunable: always full width, no variable
};

// The width structure of a network (contract 1.1, "Width variables and open widths"). Every unpinned group
// is one width variable of a plan. The cut after layer i opens a variable when a layer at or before i has
// its width and a layer after i has it as its width, reads it as k_in or names one of its layers in `held`
// (whatever the coefficient). Version 1 networks have one group per untied layer, and every cut of a chain
// opens at most the width of the layer before it.
struct WidthVariables {
  static constexpr std::size_t kNetworkInputs = static_cast<std::size_t>(-1);

  std::vector<WidthGroup> groups;           // in the order of their first layers
  std::vector<std::size_t> group_of_layer;  // per layer: index into groups
  // Per layer: the layer whose kept width is its k_in, or kNetworkInputs for the network's inputs.
  std::vector<std::size_t> input_of_layer;
  // Per layer: the unpinned groups open across the cut right after it, ascending (none after the last).
  std::vector<std::vector<std::size_t>> open_after;
};

// Precondition: names are unique, and every `input` and `held` name and every tied layer's predecessor is
// an earlier layer (rule 9; validate() checks every rule, and a name that does not resolve is ignored).
WidthVariables width_variables(const Network& network);

// The index of the first layer named `name`, or nothing.
std::optional<std::size_t> layer_index(const Network& network, const std::string& name);

// The JSON Pointer of the first version 1.1 field the network uses (a layer's `stream` or `input`, or a
// non-empty `held`), in the order to_json() writes them; nothing for a version 1 network.
std::optional<std::string> first_residual_field(const Network& network);

// Per layer, the contract's unit order: original unit indices, most important first by the importances
// of the layer's width group summed unit by unit in list order (ties by the lower index); the identity for
// a pinned group. Every layer of a group has the group's order.
// Precondition: the network is valid.
std::vector<std::vector<std::int64_t>> unit_orders(const Network& network);

// The importances that make the contract's sum equal `objective` (reds/network.h), per layer, in the
// network's unit order; the unit order of every width group (WidthGroup: by the sum over the group, ties by
// the lower index) is unchanged. `sum`: the importances as given. `normalized`: a group's importances
// divided by their total (unchanged if it is 0). `product`: the group's first layer takes the logarithmic
// worth of each unit, ln(C(r) / C(r-1)) for the unit of rank r >= 2 (C(r): the sum of the r largest unit
// sums; at most ln 2) and ln(2 C(n) / C(1)) for the first unit, which every plan keeps (min_units >= 1), so
// that it stays first; a group of width k is then worth ln(2 C(n) / C(1)) + ln(C(k) / C(1)). The group's
// other layers take 0, and so does every unit of a group without importance.
// Precondition: the network is valid.
std::vector<std::vector<double>> objective_importance(const Network& network, Objective objective);

}  // namespace reds
