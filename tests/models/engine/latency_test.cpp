// Latency as a plan resource: the fit of the contract's cost form (exact on timings that follow it,
// never negative, a table where the form misses), the widths a profile times (every pair of input and
// output widths of every layer), the profile as a valid contract resource and as JSON, Session::run_timed,
// and, on a small model with generous tolerances (machines running tests are noisy), predictions that
// the engine then meets.
#include "reds/engine/latency.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "reds/contract.h"
#include "reds/engine/architectures.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/plan.h"
#include "support/engine/models.h"

namespace reds::engine {
namespace {

using test::random_or_fail;

// Few rounds: the tests check structure and rough agreement, not precision.
ProfileOptions quick_options() {
  ProfileOptions options;
  options.grid = 3;
  options.rounds = 7;
  options.warmup = 1;
  return options;
}

TEST(LatencyFitTest, ExactOnBilinearTimings) {
  std::vector<LatencySample> samples;
  for (const std::int64_t input : {8, 16, 24, 32})
    for (const std::int64_t width : {16, 32, 48, 64})
      samples.push_back(
          {input, width, static_cast<double>(5000 + 300 * width + 120 * input + 3400 * width * input)});
  const LatencyFit fit = fit_latency(samples, 64, false);
  EXPECT_EQ(fit.cost.fixed, 5000);
  EXPECT_EQ(fit.cost.unit, 300);
  EXPECT_EQ(fit.cost.input, 120);
  EXPECT_EQ(fit.cost.unit_input, 3400);
  EXPECT_TRUE(fit.cost.table.empty());
  EXPECT_EQ(fit.rms_error, 0.0);
  EXPECT_EQ(fit.max_error, 0.0);
}

TEST(LatencyFitTest, TiedLayerHasNoInputTerm) {
  std::vector<LatencySample> samples;
  for (const std::int64_t width : {8, 16, 40, 64})
    samples.push_back({width, width, 2000.0 + 900.0 * static_cast<double>(width)});
  const LatencyFit fit = fit_latency(samples, 64, true);
  EXPECT_EQ(fit.cost.fixed, 2000);
  EXPECT_EQ(fit.cost.unit, 900);
  EXPECT_EQ(fit.cost.input, 0);
  EXPECT_EQ(fit.cost.unit_input, 0);
}

TEST(LatencyFitTest, CoefficientsAreNeverNegative) {
  // Times falling with the width: the unconstrained fit would give a negative unit term.
  std::vector<LatencySample> samples;
  for (const std::int64_t width : {8, 16, 24, 32})
    samples.push_back({4, width, 100000.0 - 1000.0 * static_cast<double>(width)});
  const LatencyFit fit = fit_latency(samples, 32, false);
  for (const std::int64_t term : {fit.cost.fixed, fit.cost.unit, fit.cost.input, fit.cost.unit_input})
    EXPECT_GE(term, 0);
  for (const std::int64_t entry : fit.cost.table) EXPECT_GE(entry, 0);
  // No non-negative line follows them; the table over the width does.
  EXPECT_GT(fit.bilinear_rms_error, kTableThreshold);
  EXPECT_EQ(fit.cost.table.size(), 32u);
  EXPECT_EQ(fit.rms_error, 0.0);
}

TEST(LatencyFitTest, TableWhereTheFormMisses) {
  // Whole vectors of 16 units: a staircase in the width, which no line follows within 3 %.
  const auto staircase = [](std::int64_t width) {
    return 10000.0 + 20000.0 * static_cast<double>((width + 15) / 16);
  };
  std::vector<LatencySample> samples;
  for (const std::int64_t width : {1, 16, 17, 32, 33, 48, 49, 64})
    samples.push_back({3, width, staircase(width)});
  const LatencyFit fit = fit_latency(samples, 64, false);
  EXPECT_GT(fit.bilinear_rms_error, kTableThreshold);
  ASSERT_EQ(fit.cost.table.size(), 64u);
  EXPECT_LT(fit.rms_error, fit.bilinear_rms_error);
  for (const LatencySample& sample : samples)
    EXPECT_EQ(fit.cost.table[static_cast<std::size_t>(sample.width - 1)] + fit.cost.fixed +
                  fit.cost.unit * sample.width + fit.cost.input * 3 + fit.cost.unit_input * 3 * sample.width,
              std::llround(sample.picoseconds))
        << "width " << sample.width;
  // Between two widths timed, the table interpolates: width 24 lies 7/15 of the way from 17 to 32.
  const auto rest = [&](std::int64_t width) {
    return staircase(width) - static_cast<double>(fit.cost.input * 3 + fit.cost.unit_input * 3 * width);
  };
  EXPECT_EQ(fit.cost.table[23], std::llround(rest(17) + (rest(32) - rest(17)) * 7 / 15));
}

TEST(SessionRunTimedTest, TimesEveryCallAndComputesWhatRunDoes) {
  const Model model = random_or_fail("ds_cnn_s");
  Result<Session> session = Session::create(model);
  ASSERT_TRUE(session) << session.error().message;
  std::vector<float> image(static_cast<std::size_t>(session->input_size()), 0.25f);
  const std::vector<float> expected = [&] {
    const std::span<const float> output = session.value().run(image);
    return std::vector<float>(output.begin(), output.end());
  }();
  const std::size_t calls = session->level_calls(0).size();
  std::vector<std::int64_t> nanoseconds(calls, -1);
  const auto start = std::chrono::steady_clock::now();
  const std::span<const float> output = session.value().run_timed(image, nanoseconds);
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_EQ(std::vector<float>(output.begin(), output.end()), expected);
  std::int64_t total = 0;
  for (const std::int64_t time : nanoseconds) {
    EXPECT_GE(time, 0);
    total += time;
  }
  EXPECT_LE(total, elapsed.count());
  // Every call names the layer it computes, in the model's order.
  for (std::size_t call = 1; call < calls; ++call)
    EXPECT_GE(session->level_calls(0)[call].layer, session->level_calls(0)[call - 1].layer);
  EXPECT_EQ(session->level_calls(0).back().layer, model.layers.size() - 1);
  std::vector<std::int64_t> too_few(calls - 1);
  EXPECT_TRUE(session.value().run_timed(image, too_few).empty());
}

class LatencyProfileTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new Model(random_or_fail("ds_cnn_s"));
    Result<LatencyProfile> profile = profile_latency(*model_, quick_options());
    ASSERT_TRUE(profile) << profile.error().message;
    profile_ = new LatencyProfile(std::move(profile).value());
  }
  static void TearDownTestSuite() {
    delete model_;
    delete profile_;
  }
  static PlanRequest request() {
    RequestOptions options;
    options.block = quick_options().block;
    Result<PlanRequest> request = plan_request(*model_, options);
    EXPECT_TRUE(request) << request.error().message;
    return request ? std::move(request).value() : PlanRequest{};
  }
  static Model* model_;
  static LatencyProfile* profile_;
};
Model* LatencyProfileTest::model_ = nullptr;
LatencyProfile* LatencyProfileTest::profile_ = nullptr;

TEST_F(LatencyProfileTest, TimesEveryLayerAtEveryPairOfGridWidths) {
  const PlanRequest planned = request();
  const WidthVariables variables = width_variables(planned.network);
  ASSERT_EQ(profile_->layers.size(), planned.network.layers.size());
  for (std::size_t index = 0; index < profile_->layers.size(); ++index) {
    const LayerLatency& layer = profile_->layers[index];
    EXPECT_EQ(layer.name, planned.network.layers[index].name);
    EXPECT_EQ(layer.samples.size(), profile_->networks.size());
    std::set<std::int64_t> inputs, widths;
    std::set<std::pair<std::int64_t, std::int64_t>> pairs;
    for (const LatencySample& sample : layer.samples) {
      EXPECT_GT(sample.picoseconds, 0.0);
      EXPECT_TRUE(sample.width == layer.units || sample.width % 8 == 0) << layer.name << " " << sample.width;
      inputs.insert(sample.input_width);
      widths.insert(sample.width);
      pairs.emplace(sample.input_width, sample.width);
    }
    if (!layer.tied) {
      EXPECT_EQ(pairs.size(), inputs.size() * widths.size()) << layer.name;
    }
    const bool input_varies =
        variables.input_of_layer[index] != WidthVariables::kNetworkInputs &&
        !variables.groups[variables.group_of_layer[variables.input_of_layer[index]]].pinned;
    if (input_varies) {
      EXPECT_EQ(inputs.size(), 3u) << layer.name;
    }
  }
  // (2 * grid - 1) chains of grid levels.
  EXPECT_EQ(profile_->networks.size(), 15u);
}

// ResNet-8's shortcut makes its width variables need three colours: layers between colours 1 and 2 (and
// 0 and 2) are timed at every pair of grid widths too.
TEST(LatencyProfileResidualTest, TimesEveryPairWhenVariablesNeedThreeColours) {
  const Model model = random_or_fail("resnet8");
  ProfileOptions options = quick_options();
  options.rounds = 1;
  options.warmup = 0;
  const Result<LatencyProfile> profile = profile_latency(model, options);
  ASSERT_TRUE(profile) << profile.error().message;
  std::size_t checked = 0;
  for (const LayerLatency& layer : profile->layers) {
    std::set<std::int64_t> inputs, widths;
    std::set<std::pair<std::int64_t, std::int64_t>> pairs;
    for (const LatencySample& sample : layer.samples) {
      inputs.insert(sample.input_width);
      widths.insert(sample.width);
      pairs.emplace(sample.input_width, sample.width);
    }
    if (layer.tied || inputs.size() < 2 || widths.size() < 2) continue;
    EXPECT_EQ(pairs.size(), inputs.size() * widths.size()) << layer.name;
    ++checked;
  }
  EXPECT_EQ(checked, 8u);  // every convolution but the first, which reads the image
  // One chain unshifted, and per colour 1 and 2 the (2 * grid - 2) shifted ones, of grid levels each.
  EXPECT_EQ(profile->networks.size(), 27u);
}

TEST_F(LatencyProfileTest, IsAValidResourceOfTheContract) {
  PlanRequest priced = request();
  ASSERT_EQ(add_latency(priced, *profile_), std::nullopt);
  EXPECT_EQ(priced.network.resources.at(kLatencyResource), Aggregation::sum);
  EXPECT_EQ(validate(priced), std::nullopt);
  // Read back from its JSON, it prices the request alike.
  Result<LatencyProfile> parsed = parse_latency_profile(to_json(*profile_));
  ASSERT_TRUE(parsed) << parsed.error().message;
  PlanRequest reread = request();
  ASSERT_EQ(add_latency(reread, parsed.value()), std::nullopt);
  for (std::size_t layer = 0; layer < priced.network.layers.size(); ++layer) {
    const CostTerms& a = priced.network.layers[layer].cost.at(kLatencyResource);
    const CostTerms& b = reread.network.layers[layer].cost.at(kLatencyResource);
    EXPECT_EQ(std::tie(a.fixed, a.unit, a.input, a.unit_input, a.table),
              std::tie(b.fixed, b.unit, b.input, b.unit_input, b.table));
  }
  EXPECT_EQ(parsed->options.block, profile_->options.block);
}

TEST_F(LatencyProfileTest, PredictsItsOwnConfigurations) {
  // The fitted costs against the whole network's median times: within a factor, generously.
  for (const NetworkSample& sample : profile_->networks) {
    EXPECT_GT(sample.predicted_picoseconds, sample.measured_picoseconds / 2);
    EXPECT_LT(sample.predicted_picoseconds, sample.measured_picoseconds * 2);
  }
  EXPECT_LT(profile_->network_rms_error, 0.5);
}

TEST_F(LatencyProfileTest, LevelsPlannedUnderBudgetsRunNearTheirPrediction) {
  PlanRequest priced = request();
  ASSERT_EQ(add_latency(priced, *profile_), std::nullopt);
  const std::int64_t full = full_network_cost(priced.network).at(kLatencyResource);
  priced.levels = {Level{{{kLatencyResource, Limit::of_max(full * 6 / 10)}}},
                   Level{{{kLatencyResource, Limit::of_max(full * 8 / 10)}}}};
  Result<PlanResult> plan = reds::plan(priced);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->status, PlanStatus::optimal);
  Result<Model> planned = apply_plan(*model_, plan.value());
  ASSERT_TRUE(planned) << planned.error().message;
  Result<Session> session = Session::create(planned.value());
  ASSERT_TRUE(session) << session.error().message;
  std::vector<float> image(static_cast<std::size_t>(session->input_size()), 0.5f);
  for (std::size_t level = 0; level < 2; ++level) {
    const std::int64_t predicted = plan->levels[level].cost.at(kLatencyResource);
    EXPECT_LE(predicted, plan->levels[level].limits.at(kLatencyResource));
    session.value().set_level(level);
    std::vector<double> times;
    for (int run = 0; run < 15; ++run) {
      const auto start = std::chrono::steady_clock::now();
      session.value().run(image);
      times.push_back(
          std::chrono::duration<double, std::pico>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(times.begin(), times.begin() + 7, times.end());
    EXPECT_GT(times[7], static_cast<double>(predicted) / 2) << "level " << level + 1;
    EXPECT_LT(times[7], static_cast<double>(predicted) * 2) << "level " << level + 1;
  }
}

TEST_F(LatencyProfileTest, RefusedForAnotherModel) {
  Result<PlanRequest> other = plan_request(random_or_fail("ds_cnn_m"));
  ASSERT_TRUE(other) << other.error().message;
  const std::optional<Error> error = add_latency(other.value(), *profile_);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("it was measured on another model"), std::string::npos) << error->message;
}

// Latency budgets need a layer that costs latency; a measured layer never takes 0 ps.
TEST_F(LatencyProfileTest, RefusedWhenEveryLayerCostsNothing) {
  LatencyProfile zero = *profile_;
  for (LayerLatency& layer : zero.layers) layer.fit.cost = CostTerms{};
  zero.layers.back().fit.cost.table.assign(static_cast<std::size_t>(zero.layers.back().units), 0);
  PlanRequest priced = request();
  const std::optional<Error> error = add_latency(priced, zero);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, ErrorCode::invalid_argument);
  EXPECT_NE(error->message.find("at 0 picoseconds"), std::string::npos) << error->message;
  zero.layers.back().fit.cost.table.back() = 1;
  priced = request();
  EXPECT_FALSE(add_latency(priced, zero));
}

TEST(LatencyProfileJsonTest, ParseErrorsNameThePath) {
  const auto error_path = [](const std::string& text) {
    Result<LatencyProfile> parsed = parse_latency_profile(text);
    EXPECT_FALSE(parsed);
    return parsed ? std::string("(parsed)") : parsed.error().path;
  };
  const std::string head = R"({"format": "reds latency profile", "version": 1, "unit": "picoseconds", )";
  EXPECT_EQ(error_path("{"), "");
  EXPECT_EQ(error_path(R"({"format": "something else"})"), "/format");
  EXPECT_EQ(error_path(R"({"format": "reds latency profile", "version": 2})"), "/version");
  EXPECT_EQ(error_path(R"({"format": 7})"), "/format");
  EXPECT_EQ(error_path(R"({"format": "reds latency profile", "version": 1, "unit": 1})"), "/unit");
  EXPECT_EQ(error_path(head + R"("layers": []})"), "/layers");
  EXPECT_EQ(
      error_path(head + R"("layers": [{"name": "a", "units": 2, "input_units": 1, "tied": 1, "cost": {}}]})"),
      "/layers/0/tied");
  EXPECT_EQ(
      error_path(
          head +
          R"("measurement": {"block": 0}, "layers": [{"name": "a", "units": 2, "input_units": 1, "cost": {}}]})"),
      "/measurement/block");
  EXPECT_EQ(error_path(head + R"("layers": [{"name": "a", "units": 0, "input_units": 1, "cost": {}}]})"),
            "/layers/0/units");
  EXPECT_EQ(
      error_path(head + R"("layers": [{"name": "a", "units": 2, "input_units": 1, "cost": {"unit": -1}}]})"),
      "/layers/0/cost/unit");
  EXPECT_EQ(error_path(head +
                       R"("layers": [{"name": "a", "units": 2, "input_units": 1, "cost": {"table": [1]}}]})"),
            "/layers/0/cost/table");
  EXPECT_TRUE(parse_latency_profile(
      head + R"("layers": [{"name": "a", "units": 2, "input_units": 1, "cost": {"table": [1, 2]}}]})"));
}

TEST(LatencyProfileOptionsTest, OutOfRangeIsAnError) {
  const Model model = random_or_fail("dnn_s");
  ProfileOptions options = quick_options();
  options.grid = 0;
  EXPECT_FALSE(profile_latency(model, options));
  options = quick_options();
  options.rounds = 0;
  EXPECT_FALSE(profile_latency(model, options));
}

}  // namespace
}  // namespace reds::engine
