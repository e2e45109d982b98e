// The request's `objective` (an extension of plan contract v1, reds/network.h): the rescaled importances
// keep every width group's unit order and mean what they claim (shares, logarithms of kept shares), and
// the plans they give are optimal for the objective computed from its definition on the raw importances
// (by enumeration over every width vector, sharing nothing with objective_importance()).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "reds/contract.h"
#include "reds/network.h"
#include "reds/plan.h"
#include "support/brute_force.h"
#include "support/random_network.h"

namespace reds {
namespace {

constexpr std::uint64_t kSeeds = 400;

struct Group {
  std::size_t leader = 0, end = 0;  // the layers [leader, end)
};

std::vector<Group> width_groups(const Network& network) {
  std::vector<Group> groups;
  for (std::size_t leader = 0; leader < network.layers.size();) {
    std::size_t end = leader + 1;
    while (end < network.layers.size() && network.layers[end].tied) ++end;
    groups.push_back({leader, end});
    leader = end;
  }
  return groups;
}

// Per unit, the group's importances summed (from `importance`, per layer).
std::vector<double> unit_sums(const std::vector<std::vector<double>>& importance, const Group& group) {
  std::vector<double> sums(importance[group.leader].size(), 0.0);
  for (std::size_t member = group.leader; member < group.end; ++member)
    for (std::size_t unit = 0; unit < sums.size(); ++unit) sums[unit] += importance[member][unit];
  return sums;
}

std::vector<std::vector<double>> importances_of(const Network& network) {
  std::vector<std::vector<double>> importance;
  for (const Layer& layer : network.layers) importance.push_back(layer.importance);
  return importance;
}

// The contract's unit order: by the sum, ties by the lower index.
std::vector<std::size_t> unit_order(const std::vector<double>& sums) {
  std::vector<std::size_t> order(sums.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sums[a] > sums[b]; });
  return order;
}

// C(k): the sum of the k largest unit sums, floored at 1e-12 of the total (1 when the total is 0).
double kept_importance(const std::vector<double>& sums, std::int64_t k) {
  std::vector<double> sorted = sums;
  std::sort(sorted.rbegin(), sorted.rend());
  const double total = std::accumulate(sorted.begin(), sorted.end(), 0.0);
  const double kept = std::accumulate(sorted.begin(), sorted.begin() + k, 0.0);
  return std::max(kept, total > 0 ? 1e-12 * total : 1.0);
}

// The objective of a width vector, from its definition on the raw importances, up to a constant:
// normalized: sum over groups of C(k) / C(n); product: sum over groups of ln(C(k) / C(n)).
double objective_value(const Network& network, Objective objective, const test::Widths& widths) {
  const std::vector<std::vector<double>> raw = importances_of(network);
  double value = 0;
  // Width groups as contract 1.1 defines them (a stream and the tied layers after its members count once).
  for (const WidthGroup& group : width_variables(network).groups) {
    std::vector<double> sums(raw[group.layers.front()].size(), 0.0);
    for (const std::size_t layer : group.layers)
      for (std::size_t unit = 0; unit < sums.size(); ++unit) sums[unit] += raw[layer][unit];
    const auto units = static_cast<std::int64_t>(sums.size());
    const double share = kept_importance(sums, widths[group.layers.front()]) / kept_importance(sums, units);
    value += objective == Objective::product ? std::log(share) : share;
  }
  return value;
}

TEST(Objective, NamesRoundTrip) {
  for (const Objective objective : {Objective::sum, Objective::normalized, Objective::product})
    EXPECT_EQ(objective_from_string(to_string(objective)), objective);
  EXPECT_FALSE(objective_from_string("max").has_value());
  EXPECT_EQ(PlanRequest{}.objective, Objective::sum);
}

TEST(Objective, SumKeepsTheImportances) {
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    const PlanRequest request = test::random_plan_request(seed);
    EXPECT_EQ(objective_importance(request.network, Objective::sum), importances_of(request.network));
  }
}

TEST(Objective, NormalizedGroupsSumToOneInTheSameOrder) {
  for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
    const PlanRequest request = test::random_plan_request(seed);
    const auto raw = importances_of(request.network);
    const auto normalized = objective_importance(request.network, Objective::normalized);
    for (const Group& group : width_groups(request.network)) {
      const std::vector<double> before = unit_sums(raw, group), after = unit_sums(normalized, group);
      const double total = std::accumulate(before.begin(), before.end(), 0.0);
      EXPECT_NEAR(std::accumulate(after.begin(), after.end(), 0.0), total > 0 ? 1.0 : 0.0, 1e-12)
          << "seed " << seed << " layer " << group.leader;
      EXPECT_EQ(unit_order(after), unit_order(before)) << "seed " << seed << " layer " << group.leader;
    }
  }
}

TEST(Objective, ProductPrefixesAreLogarithmsOfKeptShares) {
  for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
    const PlanRequest request = test::random_plan_request(seed);
    const auto raw = importances_of(request.network);
    const auto product = objective_importance(request.network, Objective::product);
    for (const Group& group : width_groups(request.network)) {
      const std::string where = "seed " + std::to_string(seed) + " layer " + std::to_string(group.leader);
      for (std::size_t member = group.leader + 1; member < group.end; ++member)
        for (const double worth : product[member]) EXPECT_EQ(worth, 0.0) << where;
      const std::vector<double> sums = unit_sums(raw, group);
      const std::vector<double>& worth = product[group.leader];
      for (const double value : worth) EXPECT_GE(value, 0.0) << where;
      // Same order, and the first k units in it are worth ln(2 C(n) / C(1)) + ln(C(k) / C(1)) (0 without
      // importance).
      const std::vector<std::size_t> order = unit_order(sums);
      EXPECT_EQ(unit_order(worth), order) << where;
      const auto units = static_cast<std::int64_t>(sums.size());
      const double first = kept_importance(sums, 1);
      if (std::accumulate(sums.begin(), sums.end(), 0.0) == 0) {
        for (const double value : worth) EXPECT_EQ(value, 0.0) << where;
        continue;
      }
      double prefix = 0;
      for (std::int64_t k = 1; k <= units; ++k) {
        prefix += worth[order[static_cast<std::size_t>(k - 1)]];
        const double expected =
            std::log(2 * kept_importance(sums, units) / first) + std::log(kept_importance(sums, k) / first);
        EXPECT_NEAR(prefix, expected, 1e-9 * (1 + std::abs(expected))) << where << " k " << k;
      }
    }
  }
}

// Every level of an `independent` plan is the best width vector for the objective, found by enumeration;
// and the reported importances measure the objective: level - full = the value up to the full network's.
class ObjectivePlans : public ::testing::TestWithParam<bool> {};

// Chains, and (the parameter) residual networks.
TEST_P(ObjectivePlans, AreOptimalForTheObjective) {
  std::size_t levels_checked = 0;
  for (std::uint64_t seed = 0; seed < kSeeds; ++seed) {
    PlanRequest request =
        GetParam() ? test::random_residual_plan_request(seed) : test::random_plan_request(seed);
    request.strategy = Strategy::independent;
    const test::BruteForce oracle(request);  // widths and costs only: its importances are the raw ones
    for (const Objective objective : {Objective::normalized, Objective::product}) {
      request.objective = objective;
      const Result<PlanResult> plan = reds::plan(request);
      ASSERT_TRUE(plan.ok()) << plan.error().message;
      const std::string where = "seed " + std::to_string(seed) + " " + to_string(objective);
      test::Widths all_units;
      for (const Layer& layer : request.network.layers) all_units.push_back(layer.units);
      const double full_value = objective_value(request.network, objective, all_units);
      for (std::size_t level = 0; level < request.levels.size(); ++level) {
        double best = -HUGE_VAL;
        for (const test::Widths& widths : oracle.all_widths())
          if (oracle.within_budget(level, oracle.cost(widths)))
            best = std::max(best, objective_value(request.network, objective, widths));
        const LevelPlan& planned = plan->levels[level];
        ASSERT_EQ(planned.status == PlanStatus::infeasible, best == -HUGE_VAL) << where << " level " << level;
        if (best == -HUGE_VAL) continue;
        EXPECT_EQ(planned.status, PlanStatus::optimal) << where << " level " << level;
        const double achieved = objective_value(request.network, objective, planned.widths);
        EXPECT_NEAR(achieved, best, 1e-9 * (1 + std::abs(best))) << where << " level " << level;
        EXPECT_NEAR(planned.importance - plan->full_importance, best - full_value,
                    1e-9 * (1 + std::abs(best - full_value)))
            << where << " level " << level;
        ++levels_checked;
      }
    }
  }
  EXPECT_GT(levels_checked, kSeeds);  // most random levels are feasible
}

INSTANTIATE_TEST_SUITE_P(ChainAndResidual, ObjectivePlans, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& instance) {
                           return instance.param ? "residual" : "chain";
                         });

}  // namespace
}  // namespace reds
