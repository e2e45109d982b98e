// The brute-force oracle's own tests: tiny networks whose answers are computed by hand, so that the
// property tests comparing the planner with the oracle can be trusted.
#include "support/brute_force.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace reds::test {
namespace {

Layer make_layer(std::string name, std::vector<double> importance) {
  Layer layer;
  layer.name = std::move(name);
  layer.units = static_cast<std::int64_t>(importance.size());
  layer.importance = std::move(importance);
  return layer;
}

Layer tied_layer(std::string name, std::vector<double> importance) {
  Layer layer = make_layer(std::move(name), std::move(importance));
  layer.tied = true;
  return layer;
}

PlanRequest request_of(std::vector<Layer> layers, std::int64_t inputs = 1) {
  PlanRequest request;
  request.network.name = "hand";
  request.network.inputs = inputs;
  request.network.layers = std::move(layers);
  return request;
}

TEST(BruteForceWidths, EveryLayerTakesTheWidthsTheContractAllows) {
  Layer blocked = make_layer("blocked", {1, 1, 1, 1, 1});
  blocked.min_units = 2;
  blocked.block = 2;
  Layer pinned = make_layer("pinned", {1, 1, 1});
  pinned.prunable = false;
  const PlanRequest request =
      request_of({blocked, pinned, tied_layer("depthwise", {1, 1, 1}), make_layer("head", {1, 1})});

  // blocked: multiples of 2 in [2, 5] plus the full 5; pinned: 3 only; depthwise copies pinned.
  const BruteForce oracle(request);
  const std::vector<Widths> expected = {{2, 3, 3, 1}, {2, 3, 3, 2}, {4, 3, 3, 1},
                                        {4, 3, 3, 2}, {5, 3, 3, 1}, {5, 3, 3, 2}};
  EXPECT_EQ(oracle.all_widths(), expected);
  EXPECT_EQ(count_width_vectors(request.network), 6u);
  EXPECT_TRUE(oracle.allowed({4, 3, 3, 2}));
  EXPECT_FALSE(oracle.allowed({3, 3, 3, 1}));  // not a multiple of the block
  EXPECT_FALSE(oracle.allowed({2, 2, 2, 1}));  // the pinned layer pruned
  EXPECT_FALSE(oracle.allowed({2, 3, 2, 1}));  // tied layer off its input width
  EXPECT_FALSE(oracle.allowed({2, 3, 3}));     // a layer missing
}

TEST(BruteForceWidths, BlockAndMinimumCombine) {
  Layer layer = make_layer("layer", {1, 1, 1, 1, 1});
  layer.block = 3;
  EXPECT_EQ(layer_width_choices(request_of({layer}).network), (std::vector<Widths>{{3, 5}}));
  layer.block = 2;
  layer.min_units = 4;
  EXPECT_EQ(layer_width_choices(request_of({layer}).network), (std::vector<Widths>{{4, 5}}));
  layer.min_units = 5;
  EXPECT_EQ(layer_width_choices(request_of({layer}).network), (std::vector<Widths>{{5}}));
}

TEST(BruteForceImportance, SumsTheLargestImportancesOfEveryLayer) {
  const BruteForce oracle(request_of({make_layer("a", {1, 3, 2}), make_layer("b", {0.5, 4})}));
  EXPECT_DOUBLE_EQ(oracle.importance({1, 1}), 3 + 4);
  EXPECT_DOUBLE_EQ(oracle.importance({2, 1}), 3 + 2 + 4);
  EXPECT_DOUBLE_EQ(oracle.importance({3, 2}), 6 + 4.5);
  EXPECT_DOUBLE_EQ(oracle.full_importance(), 10.5);
}

TEST(BruteForceImportance, TiedLayersShareTheOrderOfTheirSummedImportance) {
  // Alone, `a` would keep unit 1 first (5) and `b` unit 0 (4); together the sums are [5, 5, 4], so the
  // group keeps unit 0 first (tie with unit 1, lower index wins) and width 1 is worth 5, not 5 + 4.
  const PlanRequest request = request_of({make_layer("a", {1, 5, 2}), tied_layer("b", {4, 0, 2})});
  const BruteForce oracle(request);
  EXPECT_DOUBLE_EQ(oracle.importance({1, 1}), 5);
  EXPECT_DOUBLE_EQ(oracle.importance({2, 2}), 10);
  EXPECT_DOUBLE_EQ(oracle.importance({3, 3}), 14);
  EXPECT_EQ(expected_order(request.network), (std::vector<Widths>{{0, 1, 2}, {0, 1, 2}}));
  EXPECT_EQ(oracle.all_widths(), (std::vector<Widths>{{1, 1}, {2, 2}, {3, 3}}));
}

TEST(BruteForceImportance, ChainsOfTiedLayersSumOverTheWholeGroup) {
  // Sums [1, 4]: unit 1 first, though the first layer alone prefers unit 0.
  const PlanRequest request =
      request_of({make_layer("a", {1, 0}), tied_layer("b", {0, 1}), tied_layer("c", {0, 3})});
  const BruteForce oracle(request);
  EXPECT_DOUBLE_EQ(oracle.importance({1, 1, 1}), 4);
  EXPECT_DOUBLE_EQ(oracle.importance({2, 2, 2}), 5);
  EXPECT_EQ(expected_order(request.network), (std::vector<Widths>{{1, 0}, {1, 0}, {1, 0}}));
}

TEST(BruteForceOrder, MostImportantFirstTiesByLowerIndexPinnedLayersUnchanged) {
  Layer pinned = make_layer("head", {1, 3, 2});
  pinned.prunable = false;
  const PlanRequest request =
      request_of({make_layer("a", {2, 7, 2, 7}), pinned, tied_layer("after_head", {9, 0, 0})});
  EXPECT_EQ(expected_order(request.network), (std::vector<Widths>{{1, 3, 0, 2}, {0, 1, 2}, {0, 1, 2}}));
}

TEST(BruteForceCost, FollowsTheContractFormula) {
  Layer first = make_layer("first", {1, 1, 1});
  first.cost["macs"] =
      CostTerms{.fixed = 2, .unit = 3, .input = 5, .unit_input = 7, .table = {11, 13, 17}, .held = {}};
  Layer second = make_layer("second", {1, 1});
  second.cost["macs"].unit_input = 1;
  const BruteForce oracle(request_of({first, second}, /*inputs=*/4));

  // first at width 2 over 4 inputs: 2 + 3*2 + 5*4 + 7*2*4 + 13 = 97; second: 1 * 1 * 2 (input width 2).
  EXPECT_EQ(oracle.cost({2, 1}), (Costs{{"macs", 99}}));
  // Full: 2 + 9 + 20 + 84 + 17 = 132, plus 2 * 3 = 6.
  EXPECT_EQ(oracle.full_cost(), (Costs{{"macs", 138}}));
  EXPECT_EQ(oracle.resources(), std::vector<std::string>{"macs"});
}

TEST(BruteForceCost, MaxResourcesTakeThePeakLayerAndSumResourcesAdd) {
  Layer first = make_layer("first", {1, 1, 1, 1});
  first.cost["activation"].unit = 4;
  first.cost["activation"].input = 4;
  first.cost["macs"].unit_input = 1;
  Layer second = make_layer("second", {1, 1, 1, 1});
  second.cost["activation"].unit = 4;
  second.cost["activation"].input = 4;
  second.cost["macs"].unit_input = 1;
  Layer head = make_layer("head", {1, 1});
  head.prunable = false;
  head.cost["macs"].unit_input = 1;  // no activation entry: costs 0 there
  PlanRequest request = request_of({first, second, head}, /*inputs=*/3);

  {
    // activation defaults to max: first = 4*k1 + 12, second = 4*k2 + 4*k1.
    const BruteForce oracle(request);
    EXPECT_EQ(oracle.cost({1, 4, 2}), (Costs{{"activation", 20}, {"macs", 3 + 4 + 8}}));
    EXPECT_EQ(oracle.cost({4, 1, 2}), (Costs{{"activation", 28}, {"macs", 12 + 4 + 2}}));
  }
  // Declared aggregations win over the defaults.
  request.network.resources = {{"activation", Aggregation::sum}, {"macs", Aggregation::max}};
  const BruteForce oracle(request);
  EXPECT_EQ(oracle.cost({1, 4, 2}), (Costs{{"activation", 16 + 20}, {"macs", 8}}));
}

TEST(BruteForceCost, DeclaredResourcesAreMentionedEvenWhenNoLayerCostsThem) {
  PlanRequest request = request_of({make_layer("a", {1})});
  request.network.resources["latency"] = Aggregation::sum;
  const BruteForce oracle(request);
  EXPECT_EQ(oracle.cost({1}), (Costs{{"latency", 0}}));
}

TEST(BruteForceLimits, FractionsResolveToTheFloorOfTheExactProduct) {
  EXPECT_EQ(floor_of_product(0.5, 7), 3);
  EXPECT_EQ(floor_of_product(0.1, 10), 1);  // the double nearest 0.1 is slightly above it
  EXPECT_EQ(floor_of_product(0.3, 10), 2);  // ... and the one nearest 0.3 slightly below
  EXPECT_EQ(floor_of_product(0.7, 10), 6);
  EXPECT_EQ(floor_of_product(1.0 / 3.0, 3), 0);
  EXPECT_EQ(floor_of_product(0.25, 0), 0);
  EXPECT_EQ(floor_of_product(1.0, (std::int64_t{1} << 53) - 1), (std::int64_t{1} << 53) - 1);
  EXPECT_EQ(floor_of_product(0.5, (std::int64_t{1} << 53) - 1), (std::int64_t{1} << 52) - 1);
  EXPECT_EQ(floor_of_product(5e-324, (std::int64_t{1} << 53) - 1), 0);

  Layer layer = make_layer("a", {1, 1, 1, 1, 1});
  layer.cost["macs"].unit = 2;
  PlanRequest request = request_of({layer});
  request.levels = {Level{{{"macs", Limit::of_fraction(0.3)}}}, Level{{{"macs", Limit::of_max(9)}}}};
  const BruteForce oracle(request);
  EXPECT_EQ(oracle.limits(0), (Costs{{"macs", 2}}));
  EXPECT_EQ(oracle.limits(1), (Costs{{"macs", 9}}));
  EXPECT_TRUE(oracle.within_budget(1, Costs{{"macs", 9}}));
  EXPECT_FALSE(oracle.within_budget(1, Costs{{"macs", 10}}));
}

// Two layers on one resource r whose table makes the narrow second layer dear:
//   widths  (1,1) (1,2) (2,1) (2,2)
//   cost      13    10    18    20
//   V          6     7    11    12
// with levels r <= 5, 10, 18.
PlanRequest strategies_differ() {
  Layer wide = make_layer("wide", {5, 5});
  Layer dear_when_narrow = make_layer("dear_when_narrow", {1, 1});
  dear_when_narrow.cost["r"] = CostTerms{.unit_input = 5, .table = {8, 0}, .held = {}};
  PlanRequest request = request_of({wide, dear_when_narrow});
  for (std::int64_t limit : {5, 10, 18}) request.levels.push_back(Level{{{"r", Limit::of_max(limit)}}});
  return request;
}

TEST(BruteForceStrategies, CostsAndValuesOfTheHandExample) {
  const BruteForce oracle(strategies_differ());
  const std::vector<std::pair<Widths, std::int64_t>> costs = {
      {{1, 1}, 13}, {{1, 2}, 10}, {{2, 1}, 18}, {{2, 2}, 20}};
  for (const auto& [widths, cost] : costs) EXPECT_EQ(oracle.cost(widths), (Costs{{"r", cost}}));
  EXPECT_DOUBLE_EQ(oracle.importance({2, 1}), 11);
}

TEST(BruteForceStrategies, IndependentSolvesEveryLevelAlone) {
  const std::vector<LevelOptimum> chain = BruteForce(strategies_differ()).solve(Strategy::independent);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_FALSE(chain[0].feasible);
  EXPECT_TRUE(chain[0].optimal_widths.empty());
  EXPECT_DOUBLE_EQ(chain[1].importance, 7);
  EXPECT_EQ(chain[1].optimal_widths, (std::vector<Widths>{{1, 2}}));
  EXPECT_DOUBLE_EQ(chain[2].importance, 11);
  EXPECT_EQ(chain[2].optimal_widths, (std::vector<Widths>{{2, 1}}));
}

TEST(BruteForceStrategies, BottomUpSkipsTheInfeasibleLevelThenGrowsFromTheLastFeasible) {
  const std::vector<LevelOptimum> chain = BruteForce(strategies_differ()).solve(Strategy::bottom_up);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_FALSE(chain[0].feasible);
  EXPECT_EQ(chain[1].optimal_widths, (std::vector<Widths>{{1, 2}}));
  // k >= (1, 2) leaves (1, 2) and (2, 2), and (2, 2) costs 20 > 18.
  EXPECT_DOUBLE_EQ(chain[2].importance, 7);
  EXPECT_EQ(chain[2].optimal_widths, (std::vector<Widths>{{1, 2}}));
}

TEST(BruteForceStrategies, TopDownMarksLevelsThatCannotNestInfeasible) {
  const std::vector<LevelOptimum> chain = BruteForce(strategies_differ()).solve(Strategy::top_down);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[2].optimal_widths, (std::vector<Widths>{{2, 1}}));
  // k <= (2, 1) leaves (1, 1) and (2, 1), costing 13 and 18 > 10: infeasible although (1, 2) fits alone.
  EXPECT_FALSE(chain[1].feasible);
  EXPECT_FALSE(chain[0].feasible);
}

TEST(BruteForceStrategies, BestHonoursExplicitBounds) {
  const BruteForce oracle(strategies_differ());
  EXPECT_DOUBLE_EQ(oracle.best(2, Widths{1, 1}, Widths{1, 2}).importance, 7);
  EXPECT_DOUBLE_EQ(oracle.best(2, Widths{2, 1}, std::nullopt).importance, 11);
  EXPECT_FALSE(oracle.best(2, Widths{2, 2}, std::nullopt).feasible);
}

TEST(BruteForceStrategies, ListsEveryOptimalWidthVector) {
  Layer a = make_layer("a", {1, 1});
  a.cost["r"].unit = 1;
  Layer b = make_layer("b", {1, 1});
  b.cost["r"].unit = 1;
  PlanRequest request = request_of({a, b});
  request.levels = {Level{{{"r", Limit::of_max(3)}}}};
  const LevelOptimum optimum = BruteForce(request).best(0);
  EXPECT_DOUBLE_EQ(optimum.importance, 3);
  EXPECT_EQ(optimum.optimal_widths, (std::vector<Widths>{{1, 2}, {2, 1}}));
}

TEST(BruteForceStrategies, JointIsNotDefinedHere) {
  EXPECT_THROW(BruteForce(strategies_differ()).solve(Strategy::joint), std::invalid_argument);
}

TEST(BruteForceImportanceTolerance, IsRelative) {
  EXPECT_TRUE(same_importance(0.0, 0.0));
  EXPECT_TRUE(same_importance(1e12, 1e12 + 1e2));
  EXPECT_FALSE(same_importance(1.0, 1.0 + 1e-8));
  EXPECT_FALSE(same_importance(0.0, 1e-300));
}

}  // namespace
}  // namespace reds::test
