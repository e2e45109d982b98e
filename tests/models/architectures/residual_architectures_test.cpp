// The residual architectures (ResNet-8, ResNet-18, MobileNetV2) against counts made here from their block
// lists alone and against published figures, and the contract 1.1 structure of their requests: streams for
// the layers whose outputs are added, `input` on shortcut projections, `held` skip tensors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "reds/contract.h"
#include "reds/models/architectures.h"
#include "reds/plan.h"
#include "support/brute_force.h"

namespace reds::models {
namespace {

const std::vector<std::string> kResidual = {"resnet8", "resnet18", "mobilenet_v2_224", "mobilenet_v2_96",
                                            "mobilenet_v2_035_96"};

Network build(const std::string& name) {
  Result<Network> network = build_network(name);
  EXPECT_TRUE(network.ok()) << name << ": " << (network.ok() ? "" : network.error().message);
  return network.ok() ? network.value() : Network{};
}

std::vector<std::int64_t> full_widths(const Network& network) {
  std::vector<std::int64_t> widths;
  for (const Layer& layer : network.layers) widths.push_back(layer.units);
  return widths;
}

std::map<std::string, std::int64_t> full_cost(const std::string& name) {
  const Network network = build(name);
  return network_cost(network, full_widths(network));
}

const Layer& layer_named(const Network& network, const std::string& name) {
  const std::optional<std::size_t> index = layer_index(network, name);
  EXPECT_TRUE(index.has_value()) << name;
  return network.layers[index.value_or(0)];
}

struct Counts {
  std::int64_t macs = 0;
  std::int64_t params = 0;
};

// A k x k convolution from `in` to `out` channels over an `side` x `side` output map.
void conv(Counts& counts, std::int64_t side, std::int64_t k, std::int64_t in, std::int64_t out, bool bias) {
  counts.macs += side * side * k * k * in * out;
  counts.params += k * k * in * out + (bias ? out : 0);
}

// torchvision's resnet18: the stem, four stages of two basic blocks, projections at stages 2-4, fc.
Counts resnet18_counts() {
  Counts counts;
  conv(counts, 112, 7, 3, 64, false);
  std::int64_t side = 56, channels = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t filters = 64 << stage;
    for (int block = 0; block < 2; ++block) {
      const bool down = stage > 0 && block == 0;
      if (down) side /= 2;
      conv(counts, side, 3, channels, filters, false);
      conv(counts, side, 3, filters, filters, false);
      if (down) conv(counts, side, 1, channels, filters, false);
      channels = filters;
    }
  }
  counts.macs += 512 * 1000;
  counts.params += 512 * 1000 + 1000;
  return counts;
}

// MobileNetV2 from its (expansion, channels, blocks, stride) table (Sandler et al., table 2) with Keras'
// channel rounding, at `resolution`; batch norm excluded.
Counts mobilenet_v2_counts(double alpha, std::int64_t resolution) {
  const auto divisible = [](double v) {
    std::int64_t rounded = std::max<std::int64_t>(8, static_cast<std::int64_t>(v + 4) / 8 * 8);
    if (static_cast<double>(rounded) < 0.9 * v) rounded += 8;
    return rounded;
  };
  struct Row {
    std::int64_t t, c, n, s;
  };
  const Row rows[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  Counts counts;
  std::int64_t side = (resolution + 1) / 2;
  std::int64_t channels = divisible(32 * alpha);
  conv(counts, side, 3, 3, channels, false);
  for (const Row& row : rows) {
    for (std::int64_t block = 0; block < row.n; ++block) {
      const std::int64_t hidden = channels * row.t;
      if (row.t != 1) conv(counts, side, 1, channels, hidden, false);
      if (block == 0) side = (side + row.s - 1) / row.s;
      counts.macs += side * side * 9 * hidden;  // depthwise
      counts.params += 9 * hidden;
      const std::int64_t out = divisible(std::floor(static_cast<double>(row.c) * alpha));
      conv(counts, side, 1, hidden, out, false);
      channels = out;
    }
  }
  conv(counts, side, 1, channels, 1280, false);
  counts.macs += 1280 * 1000;
  counts.params += 1280 * 1000 + 1000;
  return counts;
}

TEST(ResidualArchitectures, ExampleRequestsAreValidContract11Requests) {
  for (const std::string& name : kResidual) {
    Result<PlanRequest> request = example_request(name);
    ASSERT_TRUE(request.ok()) << name << ": " << request.error().message;
    const std::optional<Error> error = validate(request.value());
    EXPECT_FALSE(error.has_value()) << name << ": " << error->path << ": " << error->message;
    ASSERT_TRUE(first_residual_field(request->network).has_value()) << name;
  }
}

TEST(ResidualArchitectures, ResNet8CountsAreMlperfTinys) {
  // 9 convolutions and Dense(10), every one with a bias (the reference's 77,706 params + 960 of BN).
  const std::map<std::string, std::int64_t> cost = full_cost("resnet8");
  EXPECT_EQ(cost.at("macs"), 12'501'632);
  EXPECT_EQ(cost.at("params"), 77'706);
}

TEST(ResidualArchitectures, ResNet18CountsAreTorchvisions) {
  const Counts counts = resnet18_counts();
  EXPECT_EQ(counts.macs, 1'814'073'344);  // torchvision: 1.81 GFLOPS (multiply-adds)
  // torchvision counts 11,689,512 parameters, 9,600 of them in batch norm (2 per channel).
  EXPECT_EQ(counts.params, 11'689'512 - 9'600);
  const std::map<std::string, std::int64_t> cost = full_cost("resnet18");
  EXPECT_EQ(cost.at("macs"), counts.macs);
  EXPECT_EQ(cost.at("params"), counts.params);
}

TEST(ResidualArchitectures, MobileNetV2CountsFollowItsTable) {
  // Keras' and TF-slim's table: 1.0 at 224 is 300 M MACs. Keras' model has 3,504,872 trainable
  // parameters, batch norm's gamma and beta among them, and 34,112 others: batch norm's mean and variance,
  // so 17,056 channels of batch norm.
  const Counts full = mobilenet_v2_counts(1.0, 224);
  EXPECT_EQ(full.macs / 1'000'000, 300);
  EXPECT_EQ(full.params + 34'112, 3'504'872);
  const std::vector<std::pair<std::string, Counts>> cases = {
      {"mobilenet_v2_224", full},
      {"mobilenet_v2_96", mobilenet_v2_counts(1.0, 96)},
      {"mobilenet_v2_035_96", mobilenet_v2_counts(0.35, 96)}};
  for (const auto& [name, counts] : cases) {
    const std::map<std::string, std::int64_t> cost = full_cost(name);
    EXPECT_EQ(cost.at("macs"), counts.macs) << name;
    EXPECT_EQ(cost.at("params"), counts.params) << name;
  }
}

TEST(ResidualArchitectures, MobileNetV2WidthsRoundToEights) {
  const Network slim = build("mobilenet_v2_035_96");
  EXPECT_EQ(layer_named(slim, "conv1").units, 16);  // 32 * 0.35 = 11.2: 8 would lose over 10 %
  EXPECT_EQ(layer_named(slim, "b0_project").units, 8);
  EXPECT_EQ(layer_named(slim, "b3_project").units, 16);
  EXPECT_EQ(layer_named(slim, "b16_project").units, 112);
  EXPECT_EQ(layer_named(slim, "conv_last").units, 1280);  // widths up to 1.0 keep 1280
  const Network wide = build("mobilenet_v2_224");
  EXPECT_EQ(layer_named(wide, "conv1").units, 32);
  EXPECT_EQ(layer_named(wide, "b16_expand").units, 960);
  EXPECT_EQ(layer_named(wide, "b16_project").units, 320);
  EXPECT_EQ(layer_named(wide, "head").units, 1000);
}

TEST(ResidualArchitectures, ResNet8StreamsProjectionsAndHeldSkips) {
  const Network network = build("resnet8");
  std::map<std::string, std::vector<std::string>> streams;
  std::map<std::string, std::string> inputs;
  for (const Layer& layer : network.layers) {
    if (layer.stream) streams[*layer.stream].push_back(layer.name);
    if (layer.input) inputs[layer.name] = *layer.input;
  }
  const std::map<std::string, std::vector<std::string>> expected_streams = {
      {"conv1", {"conv1", "block1_conv2"}},
      {"block2_conv2", {"block2_conv2", "block2_shortcut"}},
      {"block3_conv2", {"block3_conv2", "block3_shortcut"}}};
  EXPECT_EQ(streams, expected_streams);
  const std::map<std::string, std::string> expected_inputs = {{"block2_shortcut", "block1_conv2"},
                                                              {"block3_shortcut", "block2_shortcut"}};
  EXPECT_EQ(inputs, expected_inputs);
  EXPECT_FALSE(layer_named(network, "head").prunable);
  EXPECT_EQ(layer_named(network, "block2_shortcut").min_units, 1);  // the stream's first member states it
  EXPECT_EQ(layer_named(network, "block2_conv2").min_units, 8);
  // The block's input (16 channels of 32x32) stays live through the block for the addition; the projection
  // runs after the block's second convolution, whose output waits for the addition.
  // The addition is fused into the convolution computed just before it, which adds its sums onto the other
  // operand in place: that convolution holds the other operand and writes no map of its own.
  const CostTerms& conv2 = layer_named(network, "block1_conv2").cost.at("activation");
  EXPECT_EQ(conv2.held, (std::map<std::string, std::int64_t>{{"conv1", 4 * 32 * 32}}));
  EXPECT_EQ(conv2.input, 4 * 32 * 32);
  EXPECT_EQ(conv2.unit, 0);
  const CostTerms& second = layer_named(network, "block2_conv2").cost.at("activation");
  EXPECT_EQ(second.held, (std::map<std::string, std::int64_t>{{"block1_conv2", 4 * 32 * 32}}));
  EXPECT_EQ(second.unit, 4 * 16 * 16);
  const CostTerms& shortcut = layer_named(network, "block2_shortcut").cost.at("activation");
  EXPECT_EQ(shortcut.input, 4 * 32 * 32);
  EXPECT_EQ(shortcut.unit, 0);
  EXPECT_EQ(shortcut.held, (std::map<std::string, std::int64_t>{{"block2_conv2", 4 * 16 * 16}}));
}

TEST(ResidualArchitectures, PeakActivationIsTheLargestLiveSet) {
  // ResNet-8: 16 channels of 32x32 in and out, in the first stage's convolutions; the identity block's second
  // convolution reads 16 and adds its sums onto the block's input (16), kept for the addition.
  EXPECT_EQ(full_cost("resnet8").at("activation"), 2 * 16 * 32 * 32 * 4);
  // ResNet-18: the zero padding before the max pool, 64 channels of 112x112 and of 114x114 (a max pool
  // reads its padding; the convolutions read theirs as part of their window).
  EXPECT_EQ(full_cost("resnet18").at("activation"), 4 * 64 * (112 * 112 + 114 * 114));
  // MobileNetV2 1.0 at 96: block 1's expanded map (96 channels of 48x48), which its stride-2 depthwise layer
  // reads unpadded, and the depthwise layer's output (24x24).
  EXPECT_EQ(full_cost("mobilenet_v2_96").at("activation"), 4 * 96 * (48 * 48 + 24 * 24));
  EXPECT_EQ(full_cost("mobilenet_v2_224").at("activation"), 4 * 96 * (112 * 112 + 56 * 56));
  EXPECT_EQ(full_cost("mobilenet_v2_035_96").at("activation"), 4 * 48 * (48 * 48 + 24 * 24));
}

TEST(ResidualArchitectures, EveryStreamIsAddedAndTiedLayersAreDepthwise) {
  for (const std::string& name : kResidual) {
    const Network network = build(name);
    std::map<std::string, std::set<std::int64_t>> stream_units;
    std::map<std::string, int> members;
    for (std::size_t index = 0; index < network.layers.size(); ++index) {
      const Layer& layer = network.layers[index];
      EXPECT_EQ(layer.tied, layer.name.ends_with("_dw")) << name << "/" << layer.name;
      if (!layer.stream) continue;
      stream_units[*layer.stream].insert(layer.units);
      ++members[*layer.stream];
      EXPECT_FALSE(layer.tied) << name << "/" << layer.name;
      EXPECT_TRUE(layer_index(network, *layer.stream).has_value()) << "named after its first member";
    }
    EXPECT_FALSE(members.empty()) << name;
    for (const auto& [stream, count] : members) {
      EXPECT_GE(count, 2) << name << "/" << stream;
      EXPECT_EQ(stream_units[stream].size(), 1u) << name << "/" << stream;
    }
    EXPECT_FALSE(network.layers.back().prunable) << name;
  }
}

TEST(ResidualArchitectures, ResNet8PlansEqualBruteForceUnderAPeakActivationLimit) {
  // Widths in blocks of 8: 3,136 width vectors. The limit on peak activation binds through the held skip
  // maps: at full width the identity block holds 131,072 bytes.
  ExampleOptions options;
  options.block = 8;
  Result<PlanRequest> example = example_request("resnet8", options);
  ASSERT_TRUE(example.ok()) << example.error().message;
  PlanRequest request = std::move(example).value();
  for (Level& level : request.levels) level.limits["activation"] = Limit::of_max(100'000);
  const test::BruteForce oracle(request);
  EXPECT_EQ(oracle.all_widths().size(), 3'136u);
  const Result<PlanResult> plan = reds::plan(request);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  const std::vector<test::LevelOptimum> expected = oracle.solve(Strategy::bottom_up);
  ASSERT_EQ(plan->levels.size(), expected.size());
  for (std::size_t level = 0; level < expected.size(); ++level) {
    const LevelPlan& planned = plan->levels[level];
    ASSERT_EQ(planned.status != PlanStatus::infeasible, expected[level].feasible) << "level " << level;
    if (!expected[level].feasible) continue;
    EXPECT_EQ(planned.status, PlanStatus::optimal) << "level " << level;
    EXPECT_TRUE(test::same_importance(planned.importance, expected[level].importance)) << "level " << level;
    EXPECT_EQ(planned.cost, oracle.cost(planned.widths)) << "level " << level;
    EXPECT_LE(planned.cost.at("activation"), 100'000) << "level " << level;
  }
}

}  // namespace
}  // namespace reds::models
