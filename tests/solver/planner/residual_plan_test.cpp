// The planner on hand-built residual networks (contract 1.1) against the brute-force oracle, and the graph
// of open widths against the chain solver on version 1 networks restated with streams of one member.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reds/contract.h"
#include "reds/plan.h"
#include "reds/splitmix64.h"
#include "support/brute_force.h"
#include "support/random_network.h"

namespace reds::test {
namespace {

Layer conv(const std::string& name, std::int64_t units, std::int64_t macs_per_pair, SplitMix64& random,
           std::optional<std::string> stream = {}, std::optional<std::string> input = {}) {
  Layer layer;
  layer.name = name;
  layer.units = units;
  for (std::int64_t u = 0; u < units; ++u) layer.importance.push_back(random.uniform());
  layer.cost["macs"].unit_input = macs_per_pair;
  layer.stream = std::move(stream);
  layer.input = std::move(input);
  return layer;
}

// Every level of `request` under its strategy is the oracle's optimum under the nesting the planner chose.
void expect_oracle_optimum(const PlanRequest& request) {
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok()) << plan.error().message << " at " << plan.error().path;
  const BruteForce oracle(request);
  EXPECT_EQ(plan->order, expected_order(request.network));
  EXPECT_EQ(plan->full_cost, oracle.full_cost());
  std::optional<Widths> nest;
  const std::size_t levels = request.levels.size();
  for (std::size_t step = 0; step < levels; ++step) {
    const std::size_t j = request.strategy == Strategy::top_down ? levels - 1 - step : step;
    SCOPED_TRACE("level " + std::to_string(j));
    const LevelPlan& level = plan->levels[j];
    const LevelOptimum optimum = request.strategy == Strategy::bottom_up  ? oracle.best(j, nest, std::nullopt)
                                 : request.strategy == Strategy::top_down ? oracle.best(j, std::nullopt, nest)
                                                                          : oracle.best(j);
    ASSERT_EQ(level.status != PlanStatus::infeasible, optimum.feasible);
    if (!optimum.feasible) continue;
    EXPECT_EQ(level.status, PlanStatus::optimal);
    ASSERT_TRUE(oracle.allowed(level.widths));
    EXPECT_EQ(level.cost, oracle.cost(level.widths));
    EXPECT_TRUE(oracle.within_budget(j, level.cost));
    EXPECT_TRUE(same_importance(level.importance, optimum.importance))
        << level.importance << " against the optimum " << optimum.importance;
    EXPECT_TRUE(same_importance(level.upper_bound, level.importance));
    if (request.strategy != Strategy::independent) nest = level.widths;
  }
}

// MLPerf Tiny's ResNet-8 (contract docs' example): three streams, two projections, the skip tensor held
// during the downsampling blocks' second convolutions; block 8, so that the oracle enumerates 4096 plans.
PlanRequest resnet8() {
  SplitMix64 random(8);
  PlanRequest request;
  request.network.name = "resnet8";
  request.network.inputs = 3;
  request.network.resources = {{"macs", Aggregation::sum}, {"activation", Aggregation::max}};
  std::vector<Layer>& layers = request.network.layers;
  layers.push_back(conv("conv2d", 16, 9216, random, "s1"));
  layers.back().cost["activation"] = CostTerms{.unit = 4096, .input = 4096, .table = {}, .held = {}};
  layers.push_back(conv("conv2d_1", 16, 9216, random));
  layers.push_back(conv("conv2d_2", 16, 9216, random, "s1"));
  layers.push_back(conv("conv2d_3", 32, 2304, random));
  layers.push_back(conv("conv2d_4", 32, 2304, random, "s2"));
  layers.back().cost["activation"] =
      CostTerms{.unit = 1024, .input = 1024, .table = {}, .held = {{"conv2d_2", 4096}}};
  layers.push_back(conv("conv2d_5", 32, 256, random, "s2", "conv2d_2"));
  layers.push_back(conv("conv2d_6", 64, 576, random));
  layers.push_back(conv("conv2d_7", 64, 576, random, "s3"));
  layers.back().cost["activation"] =
      CostTerms{.unit = 256, .input = 256, .table = {}, .held = {{"conv2d_5", 1024}}};
  layers.push_back(conv("conv2d_8", 64, 64, random, "s3", "conv2d_5"));
  layers.push_back(conv("dense", 10, 1, random));
  layers.back().prunable = false;
  for (Layer& layer : layers) {
    if (layer.prunable &&
        (layer.name == "conv2d" || !layer.stream || layer.name == "conv2d_4" || layer.name == "conv2d_7")) {
      layer.block = 8;
      layer.min_units = 8;
    }
  }
  for (const double fraction : {0.25, 0.5, 0.75})
    request.levels.push_back(Level{{{"macs", Limit::of_fraction(fraction)}}});
  request.levels[0].limits["activation"] = Limit::of_max(200000);
  request.levels[1].limits["activation"] = Limit::of_max(300000);
  return request;
}

TEST(PlanResidual, ResNet8UnderEveryIterativeStrategy) {
  PlanRequest request = resnet8();
  ASSERT_FALSE(validate(request).has_value());
  ASSERT_EQ(count_width_vectors(request.network), 4096u);
  for (const Strategy strategy : {Strategy::independent, Strategy::bottom_up, Strategy::top_down}) {
    SCOPED_TRACE(to_string(strategy));
    request.strategy = strategy;
    expect_oracle_optimum(request);
  }
}

TEST(PlanResidual, MembersRepeatTheStreamsWidthAndOrder) {
  PlanRequest request = resnet8();
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->status, PlanStatus::optimal);
  for (const LevelPlan& level : plan->levels) {
    ASSERT_EQ(level.widths.size(), 10u);
    EXPECT_EQ(level.widths[0], level.widths[2]);  // s1
    EXPECT_EQ(level.widths[4], level.widths[5]);  // s2
    EXPECT_EQ(level.widths[7], level.widths[8]);  // s3
    EXPECT_EQ(level.widths[9], 10);               // the classifier is pinned
  }
  EXPECT_EQ(plan->order[0], plan->order[2]);
  EXPECT_EQ(plan->order[7], plan->order[8]);
}

// A pinned stream keeps full width and the identity order at every level; a held term of coefficient 0
// opens a width without costing anything.
TEST(PlanResidual, PinnedStreamAndHeldTermOfCoefficientZero) {
  PlanRequest request = resnet8();
  request.network.layers[0].prunable = false;
  request.network.layers[0].block = 1;
  request.network.layers[0].min_units = 1;
  request.network.layers[9].cost["macs"].held["conv2d_5"] = 0;  // s2 open up to the classifier
  ASSERT_FALSE(validate(request).has_value());
  request.strategy = Strategy::bottom_up;
  expect_oracle_optimum(request);
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok());
  for (const LevelPlan& level : plan->levels) {
    if (level.status == PlanStatus::infeasible) continue;
    EXPECT_EQ(level.widths[0], 16);
    EXPECT_EQ(level.widths[2], 16);
  }
  std::vector<std::int64_t> identity(16);
  for (std::int64_t u = 0; u < 16; ++u) identity[static_cast<std::size_t>(u)] = u;
  EXPECT_EQ(plan->order[2], identity);
}

// A version 1 network whose every untied layer is a stream of one member means the same: the graph of open
// widths must find the optima the chain solver finds, level by level (independent) and over the chain
// (joint). The iterative strategies may break ties otherwise and then nest differently.
TEST(PlanResidual, StreamsOfOneMemberAnswerAsTheChain) {
  for (std::uint64_t seed = 9'000'000; seed < 9'001'000; ++seed) {
    SCOPED_TRACE("random_plan_request(" + std::to_string(seed) + ")");
    for (const Strategy strategy : {Strategy::independent, Strategy::joint}) {
      SCOPED_TRACE(to_string(strategy));
      PlanRequest chain = random_plan_request(seed);
      chain.strategy = strategy;
      PlanRequest streams = chain;
      for (Layer& layer : streams.network.layers) {
        if (!layer.tied) layer.stream = layer.name;
      }
      ASSERT_FALSE(validate(streams).has_value());
      const Result<PlanResult> expected = reds::plan(chain);
      const Result<PlanResult> actual = reds::plan(streams);
      ASSERT_TRUE(expected.ok() && actual.ok());
      EXPECT_EQ(actual->status, expected->status);
      EXPECT_EQ(actual->order, expected->order);
      ASSERT_EQ(actual->levels.size(), expected->levels.size());
      for (std::size_t j = 0; j < expected->levels.size(); ++j) {
        const LevelPlan& want = expected->levels[j];
        const LevelPlan& got = actual->levels[j];
        EXPECT_EQ(got.status, want.status) << "level " << j;
        if (want.status == PlanStatus::infeasible) continue;
        EXPECT_TRUE(same_importance(got.importance, want.importance))
            << "level " << j << ": " << got.importance << " against the chain's " << want.importance;
      }
      if (strategy == Strategy::joint) {
        EXPECT_TRUE(same_importance(*actual->objective, *expected->objective));
      }
      if (HasFailure()) return;
    }
  }
}

}  // namespace
}  // namespace reds::test
