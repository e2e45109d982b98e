// reds/plan.h: exact nested subnetwork planning.
//
// The problem (plan contract v1). Sort every layer's units by importance; a subnetwork keeps the k_l most
// important units of layer l, so it is a prefix of every layer and is described by its widths k. Its
// importance is V(k) = sum_l S_l(k_l), S_l(k) being the sum of the k largest importances of layer l (tied
// layers share one order with the layer they follow). Given budget levels, smallest first, find widths per
// level that maximise V under each level's budget, nested according to the strategy:
//
//   independent  each level on its own (not nested);
//   bottom_up    level 1 optimal, level j optimal subject to k(j) >= k(j-1) component-wise;
//   top_down     last level optimal, level j optimal subject to k(j) <= k(j+1);
//   joint        the nested chain k(1) <= ... <= k(m) maximising sum_j w_j V(k(j)) (branch and bound over
//                the nesting, each node's levels solved exactly within boxes of widths).
//
// Every level is solved exactly: a dynamic program over the chain of layers whose state is the kept width
// of the previous layer, with Pareto labels (cost, importance), pruned by Lagrangian bounds (computed with
// a convex-hull max-plus transform in O(n log n) per layer) and by the cheapest completion's cost. The
// answer of every level carries an upper bound; `optimal` means the bound equals the importance.
//
// Example:
//
//   reds::PlanRequest request;
//   request.network.inputs = 250;
//   reds::Layer fc1{.name = "fc1", .units = 144, .importance = scores_fc1};
//   fc1.cost["macs"].unit_input = 1;                  // MACs = k * k_in
//   request.network.layers = {fc1, fc2, fc3, head};
//   for (double f : {0.25, 0.5, 0.75})
//     request.levels.push_back({{{"macs", reds::Limit::of_fraction(f)}}});
//   reds::Result<reds::PlanResult> plan = reds::plan(request);
//   if (!plan) { std::cerr << plan.error().message; return 2; }
//   for (const auto& level : plan->levels) use(level.widths);
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
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

// The importances that make the contract's sum equal `objective` (reds/network.h), per layer, in the
// network's unit order; the unit order of every width group (by the sum over the group, ties by the lower
// index) is unchanged. `sum`: the importances as given. `normalized`: a group's importances divided by
// their total (unchanged if it is 0). `product`: the group's leader takes the logarithmic worth of each
// unit, ln(C(r) / C(r-1)) for the unit of rank r >= 2 (C(r): the sum of the r largest unit sums; at most
// ln 2) and ln(2 C(n) / C(1)) for the first unit, which every plan keeps (min_units >= 1), so that it stays
// first; a group of width k is then worth ln(2 C(n) / C(1)) + ln(C(k) / C(1)). The tied layers take 0, and
// so does every unit of a group without importance.
// Precondition: the network is valid.
std::vector<std::vector<double>> objective_importance(const Network& network, Objective objective);

// Progress of a running plan, reported through PlanOptions::on_progress.
struct PlanProgress {
  std::size_t level = 0;     // the level being solved (index into request.levels)
  bool independent = false;  // true while the level is solved alone, for its independent_importance
  double best_importance = -std::numeric_limits<double>::infinity();  // best plan so far (-inf: none yet)
  double upper_bound = std::numeric_limits<double>::infinity();       // bound on the level's optimum
  double elapsed_seconds = 0.0;                                       // since plan() was called
};

struct PlanOptions {
  // Called on the planning thread whenever a level's best plan or bound improves. Keep it cheap; it must
  // not throw.
  std::function<void(const PlanProgress&)> on_progress;
};

// Validates and plans. Never throws; invalid input gives invalid_argument. Every importance of the result
// (levels, full network, bounds) is in units of request.objective. With request.time_limit_ms,
// returns shortly after the limit: every level then carries the best plan found (status `feasible`, with
// an upper bound and gap) or, if the limit passed before any plan was found, the call fails with
// deadline_exceeded.
Result<PlanResult> plan(const PlanRequest& request, const PlanOptions& options = {});

}  // namespace reds
