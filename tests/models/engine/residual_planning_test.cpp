// Plans of residual models: one unit order per stream (the layers whose outputs are added), permutations
// that keep the function, levels that compute the original model with the dropped channels masked out, and
// plans that split a stream, on MLPerf Tiny's ResNet-8 and hand-built inverted residual blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "models/test_plans.h"
#include "native_format.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/splitmix64.h"
#include "support/engine/models.h"

namespace reds::engine {
namespace {

using Groups = std::vector<std::vector<std::string>>;
using test::expect_close;
using test::kResnet8Groups;
using test::named_layer;
using test::outputs_of;
using test::random_inputs;

// ResNet-8 without its softmax, so that outputs are the logits (a softmax would hide differences).
Model resnet8_logits() {
  Result<Model> model = load_model(test::mlperf_model("pretrainedResnet.h5"));
  EXPECT_TRUE(model) << model.error().message;
  if (!model) return {};
  EXPECT_EQ(model->layers.back().kind, LayerKind::softmax);
  Model logits = std::move(model).value();
  logits.layers.pop_back();
  return logits;
}

// Layer builders with deterministic random weights in [-0.5, 0.5).
class Builder {
 public:
  explicit Builder(std::uint64_t seed) : random_(seed) {}

  Layer conv(const std::string& name, std::int64_t in, std::int64_t units, std::int64_t kernel,
             Padding padding, std::vector<std::size_t> inputs = {}) {
    Layer layer = named_layer(name, LayerKind::conv2d, std::move(inputs));
    layer.units = units;
    layer.kernel_height = layer.kernel_width = kernel;
    layer.padding = padding;
    layer.kernel = values(kernel * kernel * in * units);
    layer.bias = values(units);
    return layer;
  }
  Layer depthwise(const std::string& name, std::int64_t channels) {
    Layer layer = named_layer(name, LayerKind::depthwise_conv2d);
    layer.kernel_height = layer.kernel_width = 3;
    layer.padding = Padding::same;
    layer.kernel = values(9 * channels);
    layer.bias = values(channels);
    return layer;
  }
  Layer dense(const std::string& name, std::int64_t in, std::int64_t units) {
    Layer layer = named_layer(name, LayerKind::dense);
    layer.units = units;
    layer.kernel = values(in * units);
    layer.bias = values(units);
    return layer;
  }

 private:
  std::vector<float> values(std::int64_t count) {
    std::vector<float> result(static_cast<std::size_t>(count));
    for (float& value : result) value = static_cast<float>(random_.next() % 1000) / 1000.0f - 0.5f;
    return result;
  }
  SplitMix64 random_;
};

// Two MobileNetV2 inverted residual blocks on a stem, then Flatten and Dense:
//   1 stem (conv 3x3, 8) 2 relu | 3 expand (1x1, 16) 4 relu 5 dw 6 relu 7 project (1x1, 8) 8 add(7, 2)
//   | 9 expand_2 (1x1, 12) 10 relu 11 dw_2 12 relu 13 project_2 (1x1, 8) 14 add(13, 8) | 15 flatten 16 head
// (numbers are tensors: i + 1 is layers[i]'s output).
Model inverted_residuals() {
  Builder build(99);
  Model model;
  model.name = "inverted_residuals";
  model.input = {5, 5, 3, false};
  const auto relu_named = [](const std::string& name) { return named_layer(name, LayerKind::rectifier); };
  model.layers = {build.conv("stem", 3, 8, 3, Padding::same),
                  relu_named("relu"),
                  build.conv("expand", 8, 16, 1, Padding::valid),
                  relu_named("relu_1"),
                  build.depthwise("dw", 16),
                  relu_named("relu_2"),
                  build.conv("project", 16, 8, 1, Padding::valid),
                  named_layer("add", LayerKind::add, {7, 2}),
                  build.conv("expand_2", 8, 12, 1, Padding::valid),
                  relu_named("relu_3"),
                  build.depthwise("dw_2", 12),
                  relu_named("relu_4"),
                  build.conv("project_2", 12, 8, 1, Padding::valid),
                  named_layer("add_1", LayerKind::add, {13, 8}),
                  named_layer("flatten", LayerKind::flatten),
                  build.dense("head", 5 * 5 * 8, 4)};
  return model;
}
const Groups kInvertedGroups = {{"stem", "project", "project_2"}, {"expand", "dw"}, {"expand_2", "dw_2"}};

// input 4x4x3 -> conv (3x3 same, 3) -> add(conv, input) -> flatten -> head: the conv's stream holds the
// input.
Model identity_shortcut() {
  Builder build(5);
  Model model;
  model.name = "identity_shortcut";
  model.input = {4, 4, 3, false};
  model.layers = {build.conv("conv", 3, 3, 3, Padding::same), named_layer("add", LayerKind::add, {1, 0}),
                  named_layer("flatten", LayerKind::flatten), build.dense("head", 48, 2)};
  return model;
}

// The plan's unit orders by layer name.
UnitOrders orders_of(const PlanResult& plan) {
  UnitOrders orders;
  for (std::size_t entry = 0; entry < plan.layer_names.size(); ++entry)
    orders[plan.layer_names[entry]] = plan.order[entry];
  return orders;
}

struct MaskedModel {
  Model model;
  std::int64_t macs = 0;  // of the level: kept inputs x kept units x taps x output pixels, per layer
};

// The original model computing a level by masking, built from the plan's orders and widths in the original
// unit numbering, independently of permute_units and of the engine's streams: per tensor the channels
// the level keeps (a unit layer's kept units, the channels its input keeps for a depthwise layer, the
// first operand's for an addition, every pixel's for Flatten); every unit layer zeroes its weights from
// dropped inputs and its weights and bias of dropped units, so that a dropped channel is 0 and reaches
// nothing.
MaskedModel masked(const Model& model, const PlanResult& plan, std::size_t level) {
  std::map<std::string, std::vector<bool>> kept_units;
  for (std::size_t entry = 0; entry < plan.layer_names.size(); ++entry) {
    std::vector<bool> keep(plan.order[entry].size(), false);
    for (std::int64_t position = 0; position < plan.levels[level].widths[entry]; ++position)
      keep[static_cast<std::size_t>(plan.order[entry][static_cast<std::size_t>(position)])] = true;
    kept_units[plan.layer_names[entry]] = keep;
  }
  MaskedModel result{model, 0};
  const std::vector<Shape> shapes = layer_shapes(model).value();
  std::vector<std::vector<bool>> kept(model.layers.size() + 1);
  kept[0].assign(static_cast<std::size_t>(model.input.channels), true);
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    Layer& layer = result.model.layers[index];
    const std::size_t input = layer.inputs.empty() ? index : layer.inputs[0];
    const Shape& input_shape = input == 0 ? model.input : shapes[input - 1];
    const std::vector<bool>& in = kept[input];
    std::vector<bool>& out = kept[index + 1];
    const auto count = [](const std::vector<bool>& mask) {
      return std::count(mask.begin(), mask.end(), true);
    };
    switch (layer.kind) {
      case LayerKind::conv2d:
      case LayerKind::dense: {
        const auto units = static_cast<std::size_t>(layer.units);
        out = kept_units.contains(layer.name) ? kept_units[layer.name] : std::vector<bool>(units, true);
        for (std::size_t at = 0; at < layer.kernel.size(); ++at)
          if (!in[(at / units) % in.size()] || !out[at % units]) layer.kernel[at] = 0.0f;
        const std::int64_t pixels =
            layer.kind == LayerKind::dense ? 1 : shapes[index].height * shapes[index].width;
        result.macs += pixels * layer.kernel_height * layer.kernel_width * count(in) * count(out);
        break;
      }
      case LayerKind::depthwise_conv2d:
        out = in;
        for (std::size_t at = 0; at < layer.kernel.size(); ++at)
          if (!in[at % in.size()]) layer.kernel[at] = 0.0f;
        result.macs += shapes[index].height * shapes[index].width * 9 * count(in);
        break;
      case LayerKind::flatten:
        out.clear();
        for (std::int64_t pixel = 0; pixel < (input_shape.flat ? 1 : input_shape.height * input_shape.width);
             ++pixel)
          out.insert(out.end(), in.begin(), in.end());
        break;
      default:
        out = in;
        break;
    }
    if (!layer.bias.empty())
      for (std::size_t unit = 0; unit < layer.bias.size(); ++unit)
        if (!out[unit]) layer.bias[unit] = 0.0f;
  }
  return result;
}

struct Case {
  std::string name;
  Model model;
  Groups groups;
  test::InputValues input_values;  // ResNet-8 was trained on raw pixels
};

std::vector<Case> cases() {
  return {{"resnet8", resnet8_logits(), kResnet8Groups, test::InputValues::raw_pixels},
          {"inverted_residuals", inverted_residuals(), kInvertedGroups, test::InputValues::signed_unit}};
}

TEST(StreamPermutation, RandomOrdersOfEveryStreamKeepTheFunction) {
  for (const Case& test : cases()) {
    Session original = Session::create(test.model).value();
    const std::vector<std::vector<float>> inputs = random_inputs(test.model, 4, test.input_values);
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const UnitOrders orders = orders_of(testing::random_group_plan(test.model, test.groups, 1, seed));
      const Result<Model> permuted = permute_units(test.model, orders);
      ASSERT_TRUE(permuted) << test.name << ": " << permuted.error().message;
      EXPECT_NE(permuted->layers[0].kernel, test.model.layers[0].kernel) << test.name << ": nothing moved";
      Session session = Session::create(permuted.value()).value();
      for (const std::vector<float>& input : inputs)
        expect_close(outputs_of(session, input), outputs_of(original, input),
                     test.name + " seed " + std::to_string(seed), 1e-5f);
    }
  }
}

TEST(StreamPermutation, MembersNotNamedFollowTheirStream) {
  // Only the first member of every stream and group is named: the others take its order.
  const Model model = resnet8_logits();
  const UnitOrders all = orders_of(testing::random_group_plan(model, kResnet8Groups, 1, 17));
  UnitOrders first_members;
  for (const std::vector<std::string>& group : kResnet8Groups) first_members[group[0]] = all.at(group[0]);
  const Result<Model> from_all = permute_units(model, all);
  const Result<Model> from_first = permute_units(model, first_members);
  ASSERT_TRUE(from_all) << from_all.error().message;
  ASSERT_TRUE(from_first) << from_first.error().message;
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    EXPECT_EQ(from_first->layers[index].kernel, from_all->layers[index].kernel) << model.layers[index].name;
    EXPECT_EQ(from_first->layers[index].bias, from_all->layers[index].bias) << model.layers[index].name;
  }
}

TEST(StreamPlan, EveryLevelComputesTheMaskedOriginal) {
  for (const Case& test : cases()) {
    const PlanResult plan = testing::random_group_plan(test.model, test.groups, 4, 2024);
    const Result<Model> applied = apply_plan(test.model, plan);
    ASSERT_TRUE(applied) << test.name << ": " << applied.error().message;
    Session session = Session::create(applied.value()).value();
    ASSERT_EQ(session.level_count(), 4u);
    Session original = Session::create(test.model).value();
    const std::vector<std::vector<float>> inputs = random_inputs(test.model, 3, test.input_values);
    for (std::size_t level = 0; level < session.level_count(); ++level) {
      const MaskedModel reference_model = masked(test.model, plan, level);
      Session reference = Session::create(reference_model.model).value();
      ASSERT_TRUE(session.set_level(level));
      EXPECT_EQ(session.level_info(level).macs, reference_model.macs) << test.name << " level " << level + 1;
      for (const std::vector<float>& input : inputs)
        expect_close(outputs_of(session, input), outputs_of(reference, input),
                     test.name + " level " + std::to_string(level + 1), 5e-5f);
    }
    // The smallest level is narrower than the full network (the test would show little otherwise).
    const auto total_width = [&](std::size_t level) {
      std::int64_t total = 0;
      for (const auto& [name, width] : session.level_info(level).widths) total += width;
      return total;
    };
    EXPECT_LT(total_width(0), total_width(3)) << test.name;
    EXPECT_LT(session.level_info(0).macs, session.level_info(3).macs) << test.name;
    for (const std::vector<float>& input : inputs)
      expect_close(outputs_of(session, input), outputs_of(original, input), test.name + " full", 1e-5f);
  }
}

TEST(StreamPlan, SetLevelSwitchesBetweenPrecomputedLevels) {
  const Model model = resnet8_logits();
  Session session =
      Session::create(apply_plan(model, testing::random_group_plan(model, kResnet8Groups, 3, 8)).value())
          .value();
  const std::vector<float> input = random_inputs(model, 1, test::InputValues::raw_pixels)[0];
  std::vector<std::vector<float>> first;
  for (std::size_t level = 0; level < 3; ++level) {
    ASSERT_TRUE(session.set_level(level));
    first.push_back(outputs_of(session, input));
  }
  EXPECT_NE(first[0], first[2]);
  EXPECT_NE(first[1], first[2]);
  for (const std::size_t level : {2, 0, 1, 0, 2, 1}) {
    ASSERT_TRUE(session.set_level(level));
    EXPECT_EQ(session.level(), level);
    EXPECT_EQ(outputs_of(session, input), first[level]) << "level " << level + 1;
  }
  EXPECT_FALSE(session.set_level(3));
  EXPECT_EQ(session.level(), 1u);
  EXPECT_EQ(outputs_of(session, input), first[1]);
}

TEST(StreamPlan, TheNativeFileKeepsTheAppliedPlan) {
  const Model model = resnet8_logits();
  const Model applied = apply_plan(model, testing::random_group_plan(model, kResnet8Groups, 3, 31)).value();
  const Result<Model> loaded = detail::decode_native("resnet8.reds", detail::encode_native(applied));
  ASSERT_TRUE(loaded) << loaded.error().message;
  Session written = Session::create(applied).value();
  Session read = Session::create(loaded.value()).value();
  ASSERT_EQ(read.level_count(), 3u);
  const std::vector<float> input = random_inputs(model, 1, test::InputValues::raw_pixels)[0];
  for (std::size_t level = 0; level < 3; ++level) {
    written.set_level(level);
    read.set_level(level);
    EXPECT_EQ(outputs_of(read, input), outputs_of(written, input)) << "level " << level + 1;
  }
}

std::string rejection(const Result<Model>& result) {
  EXPECT_FALSE(result);
  if (result) return {};
  EXPECT_EQ(result.error().code, ErrorCode::invalid_argument);
  return result.error().message;
}

TEST(StreamPlan, PlansThatSplitAStreamAreRejectedNamingTheLayer) {
  const Model model = resnet8_logits();
  const PlanResult good = testing::random_group_plan(model, kResnet8Groups, 3, 4);
  ASSERT_TRUE(apply_plan(model, good));
  const auto entry = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(good.layer_names.begin(), good.layer_names.end(), name) -
                                    good.layer_names.begin());
  };

  // conv2d_5 (the projection) in another order than conv2d_4, whose output it is added to.
  PlanResult orders = good;
  std::reverse(orders.order[entry("conv2d_5")].begin(), orders.order[entry("conv2d_5")].end());
  const std::string split_order = rejection(apply_plan(model, orders));
  EXPECT_NE(split_order.find("layer 'conv2d_5' (Conv2D) is in one stream with 'conv2d_4'"), std::string::npos)
      << split_order;
  EXPECT_NE(split_order.find("'add_1'"), std::string::npos) << split_order;
  EXPECT_NE(rejection(permute_units(model, orders_of(orders))).find("one unit order"), std::string::npos);

  // conv2d_2 narrower than conv2d (the block's input) at level 2.
  PlanResult widths = good;
  std::int64_t& narrowed = widths.levels[1].widths[entry("conv2d_2")];
  narrowed = narrowed == 1 ? 2 : narrowed - 1;
  const std::string split_width = rejection(apply_plan(model, widths));
  EXPECT_NE(split_width.find("level 2 of the plan: layer 'conv2d_2' (Conv2D) keeps " +
                             std::to_string(narrowed) + " units and 'conv2d' "),
            std::string::npos)
      << split_width;
  EXPECT_NE(split_width.find("outputs are added ('add')"), std::string::npos) << split_width;
  Model attached = model;
  const std::optional<Error> attach_error = attach_plan(attached, widths);
  ASSERT_TRUE(attach_error);
  EXPECT_EQ(attach_error->message, split_width);
  EXPECT_EQ(attach_error->path, "/levels/1/widths");
  EXPECT_FALSE(attached.plan) << "a rejected plan leaves the model as it was";
  // validate() checks an embedded plan alike (a native file's).
  attached.plan = apply_plan(model, good).value().plan;
  attached.plan->widths[1][1 + 1] -= 1;  // the embedded plan lists the layers in the model's order: conv2d_2
  const std::optional<Error> embedded_error = validate(attached);
  ASSERT_TRUE(embedded_error);
  EXPECT_NE(embedded_error->message.find("level 2 of the embedded plan: layer 'conv2d_2' (Conv2D) keeps"),
            std::string::npos)
      << embedded_error->message;

  // A layer whose output is added to the model's input keeps the input's order and width.
  const Model shortcut = identity_shortcut();
  PlanResult reordered = testing::random_group_plan(shortcut, {{"conv"}}, 2, 3);
  const std::string input_order = rejection(apply_plan(shortcut, reordered));
  EXPECT_NE(input_order.find("layer 'conv' (Conv2D)'s output is added to the model's input ('add')"),
            std::string::npos)
      << input_order;
  reordered.order[0] = {0, 1, 2};
  reordered.levels[0].widths[0] = 2;
  const std::string input_width = rejection(apply_plan(shortcut, reordered));
  EXPECT_NE(input_width.find("layer 'conv' (Conv2D) keeps 2 of its 3 units, but 'add' adds its output to the "
                             "model's input"),
            std::string::npos)
      << input_width;
  reordered.levels[0].widths[0] = 3;
  EXPECT_TRUE(apply_plan(shortcut, reordered)) << "full width in the identity order is the input's";
}

TEST(StreamPlan, DepthwiseLayersFollowTheirInputInsideABlock) {
  const Model model = inverted_residuals();
  UnitOrders orders = orders_of(testing::random_group_plan(model, kInvertedGroups, 1, 6));
  std::vector<std::int64_t> other = orders.at("dw");
  std::rotate(other.begin(), other.begin() + 1, other.end());
  orders["dw"] = other;
  EXPECT_NE(rejection(permute_units(model, orders)).find("'dw' (DepthwiseConv2D) is tied to its input"),
            std::string::npos);
}

}  // namespace
}  // namespace reds::engine
