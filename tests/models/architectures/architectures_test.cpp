// The bundled architectures against the paper's own figures (reds-paper section 9 and test T6).
//
// Costs are recomputed here from the plan contract's formula, c(k_in, k) = fixed + unit*k + input*k_in +
// unit_input*k*k_in, so a wrong coefficient shows up as a wrong total; the expected totals are the paper's.
#include "reds/models/architectures.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reds/plan.h"

namespace reds::models {
namespace {

// The paper's totals for the full network; params are absent where the paper gives none.
struct PaperFigures {
  std::int64_t macs;
  std::optional<std::int64_t> params;
};

// MobileNetV1 1.0 MACs from its block list alone (section 9.5): conv 3x3/2 to 32 channels, then per block a
// 3x3 depthwise at the block's stride and a pointwise to the block's filters, then Dense(classes). Maps
// halve (rounding up) at every stride 2.
std::int64_t mobilenet_v1_macs(std::int64_t resolution, std::int64_t classes) {
  const std::vector<std::pair<std::int64_t, std::int64_t>> blocks = {
      {64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2}, {512, 1},
      {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  std::int64_t side = (resolution + 1) / 2;
  std::int64_t channels = 32;
  std::int64_t macs = side * side * 3 * 3 * 3 * channels;
  for (const auto& [filters, stride] : blocks) {
    side = (side + stride - 1) / stride;
    macs += side * side * 3 * 3 * channels + side * side * channels * filters;
    channels = filters;
  }
  return macs + channels * classes;
}

const std::map<std::string, PaperFigures>& paper_figures() {
  static const std::map<std::string, PaperFigures> kFigures = {
      {"dnn_s", {79'200, 79'644}},
      {"dnn_m", {198'144, 198'924}},
      {"dnn_l", {494'424, 495'744}},
      {"cnn_s", {2'498'304, 69'238}},
      {"cnn_m", {8'633'856, 178'444}},
      {"cnn_l", {12'636'672, 476'206}},
      {"ds_cnn_s", {2'656'768, 22'604}},
      {"ds_cnn_m", {9'816'384, 135'032}},
      {"ds_cnn_l", {28'327'812, 410'700}},
      {"ds_cnn_s_fmnist", {3'788'544, 32'650}},
      {"ds_cnn_s_cifar10", {5'234'176, 28'682}},
      {"mobilenet_v1_96", {104'276'480, 3'187'138}},
      // The paper gives "568.7 M" MACs (see MobileNetAt224CountsTwoClasses) and no params; params do not
      // depend on the resolution, so they equal the 96x96 model's.
      {"mobilenet_v1_224", {mobilenet_v1_macs(224, 2), 3'187'138}},
  };
  return kFigures;
}

// Cost of `network` at `widths` for one resource, straight from the contract's formula.
std::int64_t cost_at(const Network& network, const std::string& resource,
                     const std::vector<std::int64_t>& widths) {
  const bool is_max = network.resources.at(resource) == Aggregation::max;
  std::int64_t total = 0;
  std::int64_t input_width = network.inputs;
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    const Layer& layer = network.layers[index];
    const std::int64_t width = widths[index];
    std::int64_t cost = 0;
    if (const auto terms = layer.cost.find(resource); terms != layer.cost.end()) {
      const CostTerms& c = terms->second;
      cost = c.fixed + c.unit * width + c.input * input_width + c.unit_input * width * input_width;
      if (!c.table.empty()) cost += c.table[static_cast<std::size_t>(width - 1)];
    }
    total = is_max ? std::max(total, cost) : total + cost;
    input_width = width;
  }
  return total;
}

std::vector<std::int64_t> full_widths(const Network& network) {
  std::vector<std::int64_t> widths;
  for (const Layer& layer : network.layers) widths.push_back(layer.units);
  return widths;
}

Network build(const std::string& name, const ExampleOptions& options = {}) {
  Result<Network> network = build_network(name, options);
  EXPECT_TRUE(network.ok()) << name << ": " << (network.ok() ? "" : network.error().message);
  return network.ok() ? network.value() : Network{};
}

bool is_depthwise(const Layer& layer) { return layer.name.rfind("dw", 0) == 0; }

std::vector<std::string> all_names() {
  std::vector<std::string> names;
  for (const ArchitectureInfo& info : architectures()) names.push_back(info.name);
  return names;
}

// The REDS paper's chains (section 9), in the catalogue's order.
std::vector<std::string> paper_names() {
  std::vector<std::string> names;
  for (const std::string& name : all_names())
    if (paper_figures().contains(name)) names.push_back(name);
  return names;
}

class ArchitectureTest : public testing::TestWithParam<std::string> {};

TEST_P(ArchitectureTest, FullMacsMatchThePaper) {
  const Network network = build(GetParam());
  ASSERT_EQ(paper_figures().count(GetParam()), 1u) << "no paper figures for " << GetParam();
  EXPECT_EQ(cost_at(network, "macs", full_widths(network)), paper_figures().at(GetParam()).macs);
}

TEST_P(ArchitectureTest, FullParamsMatchThePaper) {
  const Network network = build(GetParam());
  const std::optional<std::int64_t> params = paper_figures().at(GetParam()).params;
  if (!params) GTEST_SKIP() << "the paper gives no params for " << GetParam();
  EXPECT_EQ(cost_at(network, "params", full_widths(network)), *params);
}

TEST_P(ArchitectureTest, LibraryFullCostAgreesWithTheFormula) {
  const Network network = build(GetParam());
  const std::map<std::string, std::int64_t> full = full_network_cost(network);
  for (const char* resource : {"macs", "params", "activation"}) {
    ASSERT_EQ(full.count(resource), 1u) << resource;
    EXPECT_EQ(full.at(resource), cost_at(network, resource, full_widths(network))) << resource;
  }
}

TEST_P(ArchitectureTest, ExampleRequestIsValid) {
  Result<PlanRequest> request = example_request(GetParam());
  ASSERT_TRUE(request.ok()) << request.error().message;
  const std::optional<Error> error = validate(request.value());
  EXPECT_FALSE(error.has_value()) << error->path << ": " << error->message;
}

TEST_P(ArchitectureTest, ResourcesAggregateAsTheHeaderSays) {
  const Network network = build(GetParam());
  const std::map<std::string, Aggregation> expected = {{"macs", Aggregation::sum},
                                                       {"params", Aggregation::sum},
                                                       {"activation", Aggregation::max},
                                                       {"output_activation", Aggregation::max}};
  EXPECT_EQ(network.resources, expected);
  EXPECT_EQ(network.name, GetParam());
}

TEST_P(ArchitectureTest, DepthwiseLayersAndOnlyThemAreTied) {
  const Network network = build(GetParam());
  ASSERT_FALSE(network.layers.empty());
  EXPECT_FALSE(network.layers.front().tied);
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    const Layer& layer = network.layers[index];
    EXPECT_EQ(layer.tied, is_depthwise(layer)) << layer.name;
    if (!layer.tied) continue;
    ASSERT_GT(index, 0u);
    EXPECT_EQ(layer.units, network.layers[index - 1].units) << layer.name;
    // The contract forbids these on tied layers: they come from the layer followed.
    EXPECT_EQ(layer.min_units, 1) << layer.name;
    EXPECT_EQ(layer.block, 1) << layer.name;
    EXPECT_TRUE(layer.prunable) << layer.name;
  }
}

TEST_P(ArchitectureTest, OnlyTheLayersThePaperPrunesArePrunable) {
  const Network network = build(GetParam());
  ASSERT_FALSE(network.layers.empty());
  const Layer& head = network.layers.back();
  EXPECT_EQ(head.name, "head");
  EXPECT_FALSE(head.prunable);
  const bool cnn = GetParam().rfind("cnn_", 0) == 0;
  for (std::size_t index = 0; index + 1 < network.layers.size(); ++index) {
    const Layer& layer = network.layers[index];
    // The paper's CNN knapsack prunes only conv filters: its Dense layers keep their width.
    const bool pinned = cnn && layer.name.rfind("fc", 0) == 0;
    EXPECT_EQ(layer.prunable, !pinned) << layer.name;
  }
}

TEST_P(ArchitectureTest, StandInImportanceIsPositiveAndSeeded) {
  ExampleOptions options;
  options.seed = 7;
  const Network first = build(GetParam(), options);
  const Network again = build(GetParam(), options);
  options.seed = 8;
  const Network reseeded = build(GetParam(), options);
  ASSERT_EQ(first.layers.size(), reseeded.layers.size());
  for (std::size_t index = 0; index < first.layers.size(); ++index) {
    const Layer& layer = first.layers[index];
    ASSERT_EQ(layer.importance.size(), static_cast<std::size_t>(layer.units)) << layer.name;
    for (const double importance : layer.importance) {
      EXPECT_TRUE(std::isfinite(importance) && importance > 0.0) << layer.name << ": " << importance;
    }
    EXPECT_EQ(layer.importance, again.layers[index].importance) << layer.name;
    EXPECT_NE(layer.importance, reseeded.layers[index].importance) << layer.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Paper, ArchitectureTest, testing::ValuesIn(paper_names()),
                         [](const testing::TestParamInfo<std::string>& param) { return param.param; });

TEST(Architectures, ListsEveryArchitectureOnceInTheDocumentedOrder) {
  const std::vector<std::string> expected = {"dnn_s",
                                             "dnn_m",
                                             "dnn_l",
                                             "cnn_s",
                                             "cnn_m",
                                             "cnn_l",
                                             "ds_cnn_s",
                                             "ds_cnn_m",
                                             "ds_cnn_l",
                                             "ds_cnn_s_fmnist",
                                             "ds_cnn_s_cifar10",
                                             "mobilenet_v1_96",
                                             "mobilenet_v1_224",
                                             "resnet8",
                                             "resnet18",
                                             "mobilenet_v2_224",
                                             "mobilenet_v2_96",
                                             "mobilenet_v2_035_96"};
  EXPECT_EQ(all_names(), expected);
  for (const ArchitectureInfo& info : architectures()) {
    EXPECT_FALSE(info.description.empty()) << info.name;
    EXPECT_EQ(info.description.find('\n'), std::string::npos) << info.name;
  }
}

TEST(Architectures, MobileNetClosedFormReproducesThePaperAt96) {
  // Checks the test's own closed form before it is trusted for the 224x224 model.
  EXPECT_EQ(mobilenet_v1_macs(96, 2), 104'276'480);
}

TEST(Architectures, MobileNetAt224CountsTwoClasses) {
  // Section 9.5's "568.7 M" counts a 1000-class head (Keras' ImageNet MobileNet): the 2-class model has
  // 998 * 1024 MACs fewer, 567,718,400.
  const Network network = build("mobilenet_v1_224");
  const std::int64_t macs = cost_at(network, "macs", full_widths(network));
  EXPECT_EQ(macs, 567'718'400);
  const std::int64_t imagenet_macs = macs + 1024 * (1000 - 2);
  EXPECT_EQ(std::llround(static_cast<double>(imagenet_macs) / 1e5), 5687);
}

TEST(Architectures, SlicedDnnSMacsAreExact) {
  // Section 13.2 T6: widths [15, 75, 33] (+ the 12-class head) over 250 inputs.
  const Network network = build("dnn_s");
  EXPECT_EQ(cost_at(network, "macs", {15, 75, 33, 12}), 250 * 15 + 15 * 75 + 75 * 33 + 33 * 12);
  EXPECT_EQ(cost_at(network, "macs", {15, 75, 33, 12}), 7'746);
}

TEST(Architectures, DsCnnLMapsFollowTheStrides) {
  // Section 9.3: first conv stride (2,1) 'same' gives 25x10; the first depthwise, stride 2, gives 13x5.
  const Network network = build("ds_cnn_l");
  ASSERT_GE(network.layers.size(), 3u);
  EXPECT_EQ(network.layers[0].cost.at("macs").unit_input, 10 * 4 * 25 * 10);
  EXPECT_EQ(network.layers[1].cost.at("macs").unit, 3 * 3 * 13 * 5);
  EXPECT_EQ(network.layers[2].cost.at("macs").unit_input, 13 * 5);
  EXPECT_EQ(network.layers[1].cost.at("activation").input, 4 * 25 * 10);
  EXPECT_EQ(network.layers[1].cost.at("activation").unit, 4 * 13 * 5);
}

TEST(Architectures, CnnFlattenFeedsPositionsPerChannel) {
  // Section 9.2: conv2's 16x4 map is flattened, so each kept conv2 filter feeds 64 inputs of fc1.
  const Network network = build("cnn_s");
  ASSERT_GE(network.layers.size(), 3u);
  EXPECT_EQ(network.layers[2].cost.at("macs").unit_input, 16 * 4);
  EXPECT_EQ(network.layers[2].cost.at("params").unit_input, 16 * 4);
}

TEST(Architectures, PeakActivationOfMobileNet96IsTheFirstPointwise) {
  // Section 9.5: a 48x48 map holds 9,216 bytes per channel; pw1 reads 32 channels and writes 64 there.
  const Network network = build("mobilenet_v1_96");
  EXPECT_EQ(cost_at(network, "activation", full_widths(network)), (32 + 64) * 9'216);
}

TEST(Architectures, OutputActivationOfMobileNet96IsTheWidestMap) {
  // The reference's peak memory: the largest single output map, pw1's 64 channels of 48x48 floats.
  const Network network = build("mobilenet_v1_96");
  EXPECT_EQ(cost_at(network, "output_activation", full_widths(network)), 64 * 9'216);
}

TEST(Architectures, PeakActivationOfDnnSIsTheFirstLayer) {
  const Network network = build("dnn_s");
  EXPECT_EQ(cost_at(network, "activation", full_widths(network)), 4 * (250 + 144));
}

TEST(Architectures, MinUnitsAndBlockApplyToPrunableLayers) {
  ExampleOptions options;
  options.block = 8;
  options.min_width_fraction = 0.25;
  for (const std::string& name : all_names()) {
    const Network network = build(name, options);
    for (const Layer& layer : network.layers) {
      // A stream's first member (the stream's name) states min_units and block for all of them.
      if (layer.tied || !layer.prunable || (layer.stream && *layer.stream != layer.name)) {
        EXPECT_EQ(layer.min_units, 1) << name << "/" << layer.name;
        EXPECT_EQ(layer.block, 1) << name << "/" << layer.name;
        continue;
      }
      EXPECT_EQ(layer.min_units, std::max<std::int64_t>(1, (layer.units + 3) / 4))
          << name << "/" << layer.name;
      EXPECT_EQ(layer.block, std::min<std::int64_t>(8, layer.units)) << name << "/" << layer.name;
    }
  }
}

TEST(Architectures, DefaultMinWidthIsAQuarter) {
  const Network network = build("dnn_s");
  EXPECT_EQ(network.layers[0].min_units, 36);  // ceil(144 / 4)
  EXPECT_EQ(network.layers[0].block, 1);
}

TEST(Architectures, BlockWiderThanALayerIsTheLayersWidth) {
  ExampleOptions options;
  options.block = 100;
  const Network network = build("cnn_s", options);
  EXPECT_EQ(network.layers[0].block, 28);
  EXPECT_EQ(network.layers[1].block, 30);
  Result<PlanRequest> request = example_request("cnn_s", options);
  ASSERT_TRUE(request.ok());
  EXPECT_FALSE(validate(request.value()).has_value());
}

TEST(Architectures, ZeroMinWidthFractionStillKeepsOneUnit) {
  ExampleOptions options;
  options.min_width_fraction = 0.0;
  const Network network = build("ds_cnn_s", options);
  EXPECT_EQ(network.layers[0].min_units, 1);
}

TEST(Architectures, ExampleRequestHasOneMacLevelPerFraction) {
  ExampleOptions options;
  options.mac_fractions = {0.1, 0.4, 0.4, 1.0};
  Result<PlanRequest> request = example_request("ds_cnn_s", options);
  ASSERT_TRUE(request.ok()) << request.error().message;
  EXPECT_EQ(request->strategy, Strategy::bottom_up);
  EXPECT_EQ(request->network.name, "ds_cnn_s");
  ASSERT_EQ(request->levels.size(), options.mac_fractions.size());
  for (std::size_t index = 0; index < options.mac_fractions.size(); ++index) {
    const Level& level = request->levels[index];
    ASSERT_EQ(level.limits.size(), 1u);
    ASSERT_EQ(level.limits.count("macs"), 1u);
    EXPECT_EQ(level.limits.at("macs").kind, Limit::Kind::fraction);
    EXPECT_EQ(level.limits.at("macs").fraction, options.mac_fractions[index]);
  }
}

TEST(Architectures, DifferentLayersGetDifferentImportance) {
  const Network network = build("ds_cnn_s");
  // Same width, same seed: only the layer's name tells their streams apart.
  EXPECT_NE(network.layers[1].importance, network.layers[2].importance);
  EXPECT_NE(network.layers[2].importance, network.layers[4].importance);
}

TEST(Architectures, UnknownNameListsTheValidNames) {
  for (const std::string& name : {std::string("dnn_xl"), std::string(""), std::string("DNN_S")}) {
    Result<Network> network = build_network(name);
    ASSERT_FALSE(network.ok()) << name;
    EXPECT_EQ(network.error().code, ErrorCode::invalid_argument);
    for (const std::string& valid : all_names()) {
      EXPECT_NE(network.error().message.find(valid), std::string::npos) << valid;
    }
    EXPECT_FALSE(example_request(name).ok()) << name;
  }
}

TEST(Architectures, BadOptionsAreInvalidArguments) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<ExampleOptions> bad(11);
  bad[0].block = 0;
  bad[1].block = -3;
  bad[2].min_width_fraction = 1.5;
  bad[3].min_width_fraction = -0.1;
  bad[4].min_width_fraction = nan;
  bad[5].mac_fractions = {};
  bad[6].mac_fractions = {0.0};
  bad[7].mac_fractions = {0.5, 1.25};
  bad[8].mac_fractions = {0.5, 0.25};
  bad[9].mac_fractions = {nan};
  bad[10].mac_fractions = std::vector<double>(65, 0.5);
  for (std::size_t index = 0; index < bad.size(); ++index) {
    Result<PlanRequest> request = example_request("dnn_s", bad[index]);
    ASSERT_FALSE(request.ok()) << "options #" << index;
    EXPECT_EQ(request.error().code, ErrorCode::invalid_argument) << "options #" << index;
    EXPECT_FALSE(request.error().message.empty()) << "options #" << index;
  }
  // The network alone does not depend on the MAC fractions.
  EXPECT_TRUE(build_network("dnn_s", bad[5]).ok());
  EXPECT_FALSE(build_network("dnn_s", bad[0]).ok());
  EXPECT_FALSE(build_network("dnn_s", bad[4]).ok());
}

}  // namespace
}  // namespace reds::models
