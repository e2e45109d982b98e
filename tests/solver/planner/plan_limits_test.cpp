// Time limits and progress reports of reds::plan.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "reds/plan.h"

namespace reds {
namespace {

// A chain of wide dense layers with coupled MACs: large enough that an exact plan takes a while.
PlanRequest wide_chain(std::int64_t width, int layers) {
  PlanRequest request;
  request.network.inputs = width;
  std::uint64_t state = 12345;
  for (int l = 0; l < layers; ++l) {
    Layer layer;
    layer.name = "fc" + std::to_string(l);
    layer.units = width;
    for (std::int64_t u = 0; u < width; ++u) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      layer.importance.push_back(1.0 + static_cast<double>(state >> 40) / static_cast<double>(1 << 24));
    }
    layer.cost["macs"].unit_input = 1;
    request.network.layers.push_back(std::move(layer));
  }
  for (double fraction : {0.2, 0.45, 0.7}) {
    request.levels.push_back(Level{{{"macs", Limit::of_fraction(fraction)}}});
  }
  return request;
}

// The same layers as residual blocks (contract 1.1): a stream of every second layer, the layers between
// them inner widths, a projection reading the stream's first member halfway.
PlanRequest wide_residual(std::int64_t width, int layers) {
  PlanRequest request = wide_chain(width, layers);
  for (int l = 0; l < layers; l += 2) request.network.layers[static_cast<std::size_t>(l)].stream = "s";
  request.network.layers[static_cast<std::size_t>(layers / 2) * 2].input = "fc0";
  return request;
}

class PlanProgressReports : public ::testing::TestWithParam<bool> {};

TEST_P(PlanProgressReports, ReportsImprovingPlansAndValidBounds) {
  const PlanRequest request = GetParam() ? wide_residual(96, 7) : wide_chain(96, 6);
  std::map<std::pair<std::size_t, bool>, std::vector<PlanProgress>> reports;
  PlanOptions options;
  options.on_progress = [&](const PlanProgress& progress) {
    reports[{progress.level, progress.independent}].push_back(progress);
  };
  const Result<PlanResult> result = plan(request, options);
  ASSERT_TRUE(result.ok()) << result.error().message;
  for (std::size_t level = 0; level < request.levels.size(); ++level) {
    const auto& alone = reports[{level, true}];
    ASSERT_FALSE(alone.empty()) << "no report for level " << level;
    const double optimum = *result->levels[level].independent_importance;
    double best = -INFINITY, elapsed = 0.0;
    for (const PlanProgress& progress : alone) {
      EXPECT_GE(progress.best_importance, best) << "best plan got worse";
      EXPECT_LE(progress.best_importance, optimum * (1 + 1e-12)) << "a plan better than the optimum";
      EXPECT_GE(progress.upper_bound, optimum * (1 - 1e-12)) << "a bound below the optimum";
      EXPECT_GE(progress.elapsed_seconds, elapsed);
      best = progress.best_importance;
      elapsed = progress.elapsed_seconds;
    }
    EXPECT_DOUBLE_EQ(alone.back().best_importance, optimum);
  }
}

INSTANTIATE_TEST_SUITE_P(ChainAndResidual, PlanProgressReports, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& instance) {
                           return instance.param ? "residual" : "chain";
                         });

class PlanTimeLimit : public ::testing::TestWithParam<bool> {};

TEST_P(PlanTimeLimit, CutShortLevelsAreFeasibleWithHonestBounds) {
  PlanRequest request = GetParam() ? wide_residual(160, 9) : wide_chain(160, 8);
  const Result<PlanResult> exact = plan(request);
  ASSERT_TRUE(exact.ok()) << exact.error().message;

  request.time_limit_ms = 1;
  const auto start = std::chrono::steady_clock::now();
  const Result<PlanResult> limited = plan(request);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(limited.ok()) << limited.error().message;
  // Not a speed measurement (bench/ does that): only a guard against ignoring the limit altogether.
  EXPECT_LT(seconds, 2.0);

  bool any_cut_short = false;
  for (std::size_t j = 0; j < limited->levels.size(); ++j) {
    const LevelPlan& level = limited->levels[j];
    ASSERT_NE(level.status, PlanStatus::infeasible) << "level " << j;
    any_cut_short |= level.status == PlanStatus::feasible;
    EXPECT_LE(level.cost.at("macs"), level.limits.at("macs"));
    EXPECT_GE(level.upper_bound, level.importance);
    EXPECT_NEAR(level.gap, (level.upper_bound - level.importance) / level.upper_bound, 1e-12);
    if (j > 0) {
      for (std::size_t l = 0; l < level.widths.size(); ++l) {
        EXPECT_GE(level.widths[l], limited->levels[j - 1].widths[l]) << "bottom_up nesting broken";
      }
    }
  }
  // The first level is nested in nothing, so its exact optimum is comparable: the bound must hold it.
  const LevelPlan& first = limited->levels[0];
  EXPECT_GE(first.upper_bound, exact->levels[0].importance * (1 - 1e-12));
  EXPECT_LE(first.importance, exact->levels[0].importance * (1 + 1e-12));
  EXPECT_TRUE(any_cut_short) << "the instance is too easy to test the limit";
  EXPECT_EQ(limited->status, any_cut_short ? PlanStatus::feasible : PlanStatus::optimal);
}

TEST_P(PlanTimeLimit, JointCutShortKeepsANestedChainAndAnHonestBound) {
  PlanRequest request = GetParam() ? wide_residual(160, 9) : wide_chain(160, 8);
  request.strategy = Strategy::joint;
  const Result<PlanResult> exact = plan(request);
  ASSERT_TRUE(exact.ok()) << exact.error().message;

  request.time_limit_ms = 1;
  const Result<PlanResult> limited = plan(request);
  ASSERT_TRUE(limited.ok()) << limited.error().message;
  ASSERT_TRUE(limited->objective && limited->objective_upper_bound && limited->objective_gap);
  EXPECT_LE(*limited->objective, *exact->objective * (1 + 1e-12));
  EXPECT_GE(*limited->objective_upper_bound, *exact->objective * (1 - 1e-12));
  for (std::size_t j = 0; j < limited->levels.size(); ++j) {
    const LevelPlan& level = limited->levels[j];
    ASSERT_NE(level.status, PlanStatus::infeasible) << "level " << j;
    EXPECT_EQ(level.status, limited->status);
    EXPECT_LE(level.cost.at("macs"), level.limits.at("macs"));
    if (j == 0) continue;
    for (std::size_t l = 0; l < level.widths.size(); ++l) {
      EXPECT_GE(level.widths[l], limited->levels[j - 1].widths[l]) << "the chain is not nested";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ChainAndResidual, PlanTimeLimit, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& instance) {
                           return instance.param ? "residual" : "chain";
                         });

}  // namespace
}  // namespace reds
