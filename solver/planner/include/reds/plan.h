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

#include <cstddef>
#include <functional>
#include <limits>

#include "reds/contract.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds {

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
