// Instances with known answers from the REDS paper (its extended appendix): the tightness instances of
// Theorems 1 and 2 and the layered knapsack T3. Every expected value is the paper's and is
// also checked against the brute-force oracle.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reds/plan.h"
#include "support/brute_force.h"

namespace reds::test {
namespace {

struct Item {
  std::int64_t weight;
  double profit;
};

// A 0-1 knapsack as a network. A layer keeps at least one unit, so item i becomes a layer of two units of
// importance p_i each costing nothing at width 1 and w_i at width 2 on resource "weight": width 2 packs the
// item. Every plan's importance is then the packed profit plus the offset sum_i p_i.
PlanRequest knapsack_request(const std::vector<Item>& items, std::int64_t capacity, Strategy strategy) {
  PlanRequest request;
  request.network.name = "knapsack";
  for (std::size_t i = 0; i < items.size(); ++i) {
    Layer item;
    item.name = "item" + std::to_string(i + 1);
    item.units = 2;
    item.importance = {items[i].profit, items[i].profit};
    item.cost["weight"].table = {0, items[i].weight};
    request.network.layers.push_back(item);
  }
  // The theorems' two nested capacities, c/2 and c.
  for (std::int64_t limit : {capacity / 2, capacity}) {
    request.levels.push_back(Level{{{"weight", Limit::of_max(limit)}}});
  }
  request.strategy = strategy;
  return request;
}

double offset(const std::vector<Item>& items) {
  double total = 0.0;
  for (const Item& item : items) total += item.profit;
  return total;
}

// The items a level packs: the layers kept at width 2, numbered from 1 as in the paper.
std::vector<std::size_t> packed(const LevelPlan& level) {
  std::vector<std::size_t> items;
  for (std::size_t i = 0; i < level.widths.size(); ++i) {
    if (level.widths[i] == 2) items.push_back(i + 1);
  }
  return items;
}

// T1: weights (11, 10, 10, 10), profits (101, 100, 100, 100), c = 30.
const std::vector<Item> kTheorem1 = {{11, 101}, {10, 100}, {10, 100}, {10, 100}};

TEST(Theorem1Tightness, BottomUpKeepsTheSmallKnapsackOptimalAndReachesTwoThirdsAtTheLarge) {
  const PlanRequest request = knapsack_request(kTheorem1, 30, Strategy::bottom_up);
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->levels.size(), 2u);
  const double base = offset(kTheorem1);
  const LevelPlan& half = plan->levels[0];
  const LevelPlan& whole = plan->levels[1];

  // Opt_15 = {1} (P = 101); A_30 = {1} plus one more item (P = 201); Opt_30 = {2, 3, 4} (P = 300).
  EXPECT_EQ(packed(half), std::vector<std::size_t>{1});
  EXPECT_DOUBLE_EQ(half.importance - base, 101);
  EXPECT_DOUBLE_EQ(whole.importance - base, 201);
  EXPECT_EQ(packed(whole).size(), 2u);
  EXPECT_EQ(packed(whole).front(), 1u);
  EXPECT_EQ(whole.cost.at("weight"), 21);
  ASSERT_TRUE(whole.independent_importance.has_value());
  EXPECT_DOUBLE_EQ(*whole.independent_importance - base, 300);
  EXPECT_GE((whole.importance - base) / (*whole.independent_importance - base), 2.0 / 3.0);

  const BruteForce oracle(request);
  const std::vector<LevelOptimum> bottom_up = oracle.solve(Strategy::bottom_up);
  EXPECT_DOUBLE_EQ(bottom_up[0].importance - base, 101);
  EXPECT_DOUBLE_EQ(bottom_up[1].importance - base, 201);
  EXPECT_DOUBLE_EQ(oracle.best(1).importance - base, 300);
}

// T2: weights (10, 10, 10, 15), profits (101, 101, 101, 200), c = 30.
const std::vector<Item> kTheorem2 = {{10, 101}, {10, 101}, {10, 101}, {15, 200}};

TEST(Theorem2Tightness, TopDownKeepsTheLargeKnapsackOptimalAndReachesHalfAtTheSmall) {
  const PlanRequest request = knapsack_request(kTheorem2, 30, Strategy::top_down);
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->levels.size(), 2u);
  const double base = offset(kTheorem2);
  const LevelPlan& half = plan->levels[0];
  const LevelPlan& whole = plan->levels[1];

  // Opt_30 = {1, 2, 3} (303); D_15 = one of them (101); Opt_15 = {4} (200).
  EXPECT_EQ(packed(whole), (std::vector<std::size_t>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(whole.importance - base, 303);
  EXPECT_DOUBLE_EQ(half.importance - base, 101);
  ASSERT_EQ(packed(half).size(), 1u);
  EXPECT_LE(packed(half).front(), 3u);
  ASSERT_TRUE(half.independent_importance.has_value());
  EXPECT_DOUBLE_EQ(*half.independent_importance - base, 200);
  EXPECT_GE((half.importance - base) / (*half.independent_importance - base), 1.0 / 2.0);

  const BruteForce oracle(request);
  const std::vector<LevelOptimum> top_down = oracle.solve(Strategy::top_down);
  EXPECT_DOUBLE_EQ(top_down[1].importance - base, 303);
  EXPECT_DOUBLE_EQ(top_down[0].importance - base, 101);
  EXPECT_DOUBLE_EQ(oracle.best(0).importance - base, 200);
}

// T3: two layers of 4 units with unit costs 3 and 5 (no coupling), sorted values L1 = [22, 14, 3, 2] and
// L2 = [26, 25, 19, 18], given here out of order; capacities 8, 16, 24 of a full cost of 32.
PlanRequest layered_knapsack(Strategy strategy) {
  PlanRequest request;
  request.network.name = "layered_knapsack";
  Layer first;
  first.name = "first";
  first.units = 4;
  first.importance = {3, 22, 2, 14};
  first.cost["macs"].unit = 3;
  Layer second;
  second.name = "second";
  second.units = 4;
  second.importance = {18, 26, 19, 25};
  second.cost["macs"].unit = 5;
  request.network.layers = {first, second};
  for (std::int64_t capacity : {8, 16, 24})
    request.levels.push_back(Level{{{"macs", Limit::of_max(capacity)}}});
  request.strategy = strategy;
  return request;
}

struct Expected {
  Widths widths;
  double importance;
};

void expect_chain(Strategy strategy, const std::vector<Expected>& expected) {
  SCOPED_TRACE(to_string(strategy));
  const PlanRequest request = layered_knapsack(strategy);
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->full_cost.at("macs"), 32);
  EXPECT_EQ(plan->order, (std::vector<Widths>{{1, 3, 0, 2}, {1, 3, 2, 0}}));
  ASSERT_EQ(plan->levels.size(), expected.size());

  const std::vector<LevelOptimum> oracle = BruteForce(request).solve(strategy);
  const double independent[] = {48, 87, 110};
  for (std::size_t j = 0; j < expected.size(); ++j) {
    SCOPED_TRACE("level " + std::to_string(j));
    EXPECT_EQ(plan->levels[j].status, PlanStatus::optimal);
    EXPECT_EQ(plan->levels[j].widths, expected[j].widths);
    EXPECT_DOUBLE_EQ(plan->levels[j].importance, expected[j].importance);
    ASSERT_TRUE(plan->levels[j].independent_importance.has_value());
    EXPECT_DOUBLE_EQ(*plan->levels[j].independent_importance, independent[j]);
    EXPECT_EQ(oracle[j].optimal_widths, std::vector<Widths>{expected[j].widths});
    EXPECT_DOUBLE_EQ(oracle[j].importance, expected[j].importance);
  }
}

TEST(LayeredKnapsack, IndependentOptimaAreNotNested) {
  expect_chain(Strategy::independent, {{{1, 1}, 48}, {{2, 2}, 87}, {{1, 4}, 110}});
}

TEST(LayeredKnapsack, BottomUpPaysForNestingAtTheLargestBudget) {
  expect_chain(Strategy::bottom_up, {{{1, 1}, 48}, {{2, 2}, 87}, {{3, 3}, 109}});
}

TEST(LayeredKnapsack, TopDownPaysForNestingAtTheMiddleBudget) {
  expect_chain(Strategy::top_down, {{{1, 1}, 48}, {{1, 2}, 73}, {{1, 4}, 110}});
}

}  // namespace
}  // namespace reds::test
