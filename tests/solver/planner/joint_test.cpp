// The joint strategy against an exhaustive search over nested chains of width vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "reds/plan.h"
#include "support/brute_force.h"
#include "support/random_network.h"

namespace reds::test {
namespace {

constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

struct JointOptimum {
  std::vector<bool> feasible_alone;  // per level
  bool chain_exists = false;
  double objective = 0.0;
};

// max sum_j w_j V(k(j)) over chains k(1) <= ... <= k(m) of the levels feasible alone, each within its
// budget: a dynamic program over levels whose state is the whole width vector of the level before.
JointOptimum joint_optimum(const BruteForce& oracle, const std::vector<double>& weights) {
  const std::vector<Widths>& candidates = oracle.all_widths();
  JointOptimum optimum;
  std::vector<double> best_before;  // per candidate: best chain ending there at the previous active level
  for (std::size_t level = 0; level < weights.size(); ++level) {
    std::vector<bool> fits(candidates.size());
    bool any = false;
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      fits[c] = oracle.within_budget(level, oracle.cost(candidates[c]));
      any = any || fits[c];
    }
    optimum.feasible_alone.push_back(any);
    if (!any) continue;
    std::vector<double> best(candidates.size(), kMinusInfinity);
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      if (!fits[c]) continue;
      double before = best_before.empty() ? 0.0 : kMinusInfinity;
      for (std::size_t p = 0; p < best_before.size(); ++p) {
        if (best_before[p] > before && component_wise_at_most(candidates[p], candidates[c]))
          before = best_before[p];
      }
      if (before != kMinusInfinity) best[c] = before + weights[level] * oracle.importance(candidates[c]);
    }
    best_before = std::move(best);
  }
  double objective = kMinusInfinity;
  for (double value : best_before) objective = std::max(objective, value);
  optimum.chain_exists = objective != kMinusInfinity;
  optimum.objective = optimum.chain_exists ? objective : 0.0;
  return optimum;
}

void expect_joint_optimal(const PlanRequest& request) {
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  const BruteForce oracle(request);
  std::vector<double> weights = request.weights;
  weights.resize(request.levels.size(), 1.0);
  const JointOptimum optimum = joint_optimum(oracle, weights);

  ASSERT_TRUE(plan->objective.has_value());
  ASSERT_TRUE(plan->objective_upper_bound.has_value());
  ASSERT_TRUE(plan->objective_gap.has_value());
  EXPECT_TRUE(same_importance(*plan->objective, optimum.objective))
      << "objective " << *plan->objective << ", optimum " << optimum.objective;
  EXPECT_GE(*plan->objective_upper_bound, *plan->objective);

  double objective = 0.0;
  const Widths* below = nullptr;
  for (std::size_t j = 0; j < plan->levels.size(); ++j) {
    SCOPED_TRACE("level " + std::to_string(j));
    const LevelPlan& level = plan->levels[j];
    const bool in_chain = optimum.feasible_alone[j] && optimum.chain_exists;
    ASSERT_EQ(level.status != PlanStatus::infeasible, in_chain);
    if (!in_chain) {
      EXPECT_TRUE(level.widths.empty());
      continue;
    }
    EXPECT_EQ(level.status, PlanStatus::optimal);
    EXPECT_TRUE(oracle.allowed(level.widths));
    EXPECT_EQ(level.cost, oracle.cost(level.widths));
    EXPECT_TRUE(oracle.within_budget(j, level.cost));
    EXPECT_TRUE(same_importance(level.importance, oracle.importance(level.widths)));
    // A level's bound covers its importance over every nested chain: the independent optimum's does.
    EXPECT_GE(level.upper_bound, level.importance);
    const LevelOptimum alone = oracle.best(j);
    EXPECT_TRUE(level.upper_bound >= alone.importance ||
                same_importance(level.upper_bound, alone.importance));
    if (below != nullptr) {
      EXPECT_TRUE(component_wise_at_most(*below, level.widths)) << "not nested";
    }
    below = &level.widths;
    objective += weights[j] * level.importance;
  }
  EXPECT_TRUE(same_importance(objective, *plan->objective));
}

TEST(PlanJoint, FindsTheBestNestedChain) {
  for (std::uint64_t seed = 7'000'000; seed < 7'001'500; ++seed) {
    SCOPED_TRACE("joint, random_plan_request(" + std::to_string(seed) + ", 300)");
    PlanRequest request = random_plan_request(seed, 300);
    request.strategy = Strategy::joint;
    if (seed % 3 == 0) {
      for (std::size_t j = 0; j < request.levels.size(); ++j)
        request.weights.push_back(0.5 + double((seed + j) % 4));
    }
    expect_joint_optimal(request);
    if (HasFatalFailure()) return;
  }
}

TEST(PlanJoint, FindsTheBestNestedChainOfResidualNetworks) {
  for (std::uint64_t seed = 7'100'000; seed < 7'101'000; ++seed) {
    SCOPED_TRACE("joint, random_residual_plan_request(" + std::to_string(seed) + ", 300)");
    PlanRequest request = random_residual_plan_request(seed, 300);
    request.strategy = Strategy::joint;
    if (seed % 3 == 0) {
      for (std::size_t j = 0; j < request.levels.size(); ++j)
        request.weights.push_back(0.5 + double((seed + j) % 4));
    }
    expect_joint_optimal(request);
    if (HasFatalFailure()) return;
  }
}

TEST(PlanJoint, BeatsOrMatchesBothIterativeChains) {
  // The paper's layered example (reference section 13.2, T3): bottom-up 48 + 87 + 109, top-down
  // 48 + 73 + 110; the best chain is at least as good as either.
  PlanRequest request;
  request.network.inputs = 1;
  Layer a, b;
  a.name = "a";
  a.units = 4;
  a.importance = {22, 14, 3, 2};
  a.cost["w"].unit = 3;
  b.name = "b";
  b.units = 4;
  b.importance = {26, 25, 19, 18};
  b.cost["w"].unit = 5;
  request.network.layers = {a, b};
  for (std::int64_t capacity : {8, 16, 24}) request.levels.push_back(Level{{{"w", Limit::of_max(capacity)}}});
  request.strategy = Strategy::joint;
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_GE(*plan->objective, 48.0 + 87.0 + 109.0);
  EXPECT_GE(*plan->objective, 48.0 + 73.0 + 110.0);
  EXPECT_DOUBLE_EQ(*plan->objective, 244.0);  // (1,1), (2,2), (3,3): checked by hand over all chains
  expect_joint_optimal(request);
}

}  // namespace
}  // namespace reds::test
