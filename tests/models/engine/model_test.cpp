// Loading models (the REDS authors' Keras files, the native file) and running them level by level.
#include "reds/engine/model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "models/test_plans.h"
#include "reds/engine/dataset.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "reds/models/architectures.h"
#include "reds/plan.h"
#include "support/command_runner.h"
#include "support/engine/models.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;
using test::load_or_fail;
using test::named_layer;

Session session_or_fail(const Model& model) {
  Result<Session> session = Session::create(model);
  EXPECT_TRUE(session) << session.error().message;
  return std::move(session).value();
}

const Layer& layer_named(const Model& model, const std::string& name) {
  for (const Layer& layer : model.layers)
    if (layer.name == name) return layer;
  ADD_FAILURE() << "no layer " << name;
  return model.layers.front();
}

// --- The Keras reader ---------------------------------------------------------------------------------

TEST(Keras, FashionMnistModelFoldsBatchNormAndKeepsTheChain) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  EXPECT_EQ(model.input, (Shape{28, 28, 1, false}));
  // Keras: conv, 4 x (depthwise, pointwise), each followed by BatchNormalization and LeakyReLU; then pool,
  // flatten, dense. The 9 batch norms are folded away.
  ASSERT_EQ(model.layers.size(), 21u);
  std::vector<std::string> unit_layers;
  for (const Layer& layer : model.layers) {
    if (layer.kind == LayerKind::conv2d || layer.kind == LayerKind::depthwise_conv2d ||
        layer.kind == LayerKind::dense)
      unit_layers.push_back(layer.name);
    if (layer.kind == LayerKind::rectifier) {
      EXPECT_EQ(layer.rectifier.negative_slope, 0.3f) << layer.name;  // the config's 0.30000001192092896
      EXPECT_EQ(layer.rectifier.threshold, 0.0f);
      EXPECT_TRUE(std::isinf(layer.rectifier.max_value));
    }
  }
  EXPECT_EQ(unit_layers, (std::vector<std::string>{"conv2d", "depthwise_conv2d", "conv2d_1",
                                                   "depthwise_conv2d_1", "conv2d_2", "depthwise_conv2d_2",
                                                   "conv2d_3", "depthwise_conv2d_3", "conv2d_4", "dense"}));
  const Layer& first = layer_named(model, "conv2d");
  EXPECT_EQ(first.padding, Padding::same);
  EXPECT_EQ(first.stride_height, 2);
  EXPECT_EQ(first.units, 64);
  EXPECT_EQ(first.kernel.size(), 3u * 3u * 1u * 64u);
  EXPECT_EQ(first.bias.size(), 64u);
  const Layer& pool = layer_named(model, "average_pooling2d");
  EXPECT_EQ(pool.kernel_height, 13);
  EXPECT_EQ(pool.kernel_width, 5);
  EXPECT_EQ(pool.stride_height, 1);

  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  ASSERT_TRUE(shapes);
  EXPECT_EQ(shapes->front(), (Shape{14, 14, 64, false}));  // 'same' with stride 2: ceil(28 / 2)
  EXPECT_EQ((*shapes)[18], (Shape{2, 10, 64, false}));     // the 13x5 pool over 14x14
  EXPECT_EQ((*shapes)[19], (Shape{1, 1, 1280, true}));
  EXPECT_EQ(shapes->back(), (Shape{1, 1, 10, true}));
}

TEST(Keras, MacsMatchTheBundledArchitecture) {
  const Session session = session_or_fail(load_or_fail(testing::pretrained_model("fashion_mnist")));
  const Result<Network> network = models::build_network("ds_cnn_s_fmnist");
  ASSERT_TRUE(network) << network.error().message;
  EXPECT_EQ(session.level_info(0).macs, full_network_cost(*network).at("macs"));
  ASSERT_EQ(session.level_info(0).widths.size(), 10u);
  EXPECT_EQ(session.level_info(0).widths.front(), (std::pair<std::string, std::int64_t>{"conv2d", 64}));
  EXPECT_EQ(session.level_info(0).widths.back(), (std::pair<std::string, std::int64_t>{"dense", 10}));
}

TEST(Keras, CifarAndMnistModelsLoadAndRun) {
  for (const auto& [data_set, input] :
       {std::pair{"cifar10", Shape{32, 32, 3, false}}, std::pair{"mnist", Shape{28, 28, 1, false}}}) {
    const Model model = load_or_fail(testing::pretrained_model(data_set));
    EXPECT_EQ(model.input, input) << data_set;
    Session session = session_or_fail(model);
    const std::vector<float> gray(static_cast<std::size_t>(input.size()), 0.5f);
    const std::span<const float> logits = session.run(gray);
    ASSERT_EQ(logits.size(), 10u) << data_set;
    for (const float logit : logits) EXPECT_TRUE(std::isfinite(logit)) << data_set;
  }
}

// A copy of the Fashion-MNIST model with `from` replaced by `to` (same length) in its JSON configuration.
std::string patched_model(const test::ScratchDirectory& dir, const std::string& from, const std::string& to) {
  std::string bytes = test::read_file(testing::pretrained_model("fashion_mnist"));
  const std::size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) bytes.replace(at, from.size(), to);
  const fs::path path = dir.path() / "patched.keras";
  test::write_file(path, bytes);
  return path.string();
}

TEST(Keras, UnsupportedLayerIsNamedWithItsClass) {
  const test::ScratchDirectory dir;
  const Result<Model> model = load_model(
      patched_model(dir, R"("class_name": "AveragePooling2D")", R"("class_name": "AveragePooling3D")"));
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(model.error().message.find("layer 'average_pooling2d' (AveragePooling3D)"), std::string::npos)
      << model.error().message;
}

TEST(Keras, UnknownPaddingIsAnError) {
  const test::ScratchDirectory dir;
  const Result<Model> model =
      load_model(patched_model(dir, R"("padding": "valid")", R"("padding": "vaLid")"));
  ASSERT_FALSE(model);
  EXPECT_NE(model.error().message.find("padding 'vaLid'"), std::string::npos) << model.error().message;
}

TEST(Keras, FilesThatAreNotModels) {
  const test::ScratchDirectory dir;
  const Result<Model> missing = load_model((dir.path() / "missing.keras").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot read"), std::string::npos);
  test::write_file(dir.path() / "text.keras", "just some text, long enough");
  const Result<Model> text = load_model((dir.path() / "text.keras").string());
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message.find("neither"), std::string::npos) << text.error().message;
  const Result<Model> not_hdf5 = load_keras((dir.path() / "text.keras").string());
  ASSERT_FALSE(not_hdf5);
  EXPECT_NE(not_hdf5.error().message.find("HDF5"), std::string::npos) << not_hdf5.error().message;
}

// --- The native file ----------------------------------------------------------------------------------

TEST(Native, RoundTripKeepsEveryWeightAndOutput) {
  const test::ScratchDirectory dir;
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const std::string path = (dir.path() / "model.reds").string();
  const std::optional<Error> saved = save_native(model, path);
  ASSERT_FALSE(saved) << saved->message;
  EXPECT_FALSE(fs::exists(path + ".partial"));
  const Model loaded = load_or_fail(path);  // through load_model: told apart by its magic
  EXPECT_EQ(loaded.name, model.name);
  EXPECT_EQ(loaded.input, model.input);
  ASSERT_EQ(loaded.layers.size(), model.layers.size());
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& a = model.layers[i];
    const Layer& b = loaded.layers[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.kernel, b.kernel) << a.name;  // bit for bit
    EXPECT_EQ(a.bias, b.bias) << a.name;
    EXPECT_EQ(a.rectifier, b.rectifier) << a.name;
    EXPECT_EQ(std::tie(a.kernel_height, a.kernel_width, a.stride_height, a.stride_width, a.padding, a.units),
              std::tie(b.kernel_height, b.kernel_width, b.stride_height, b.stride_width, b.padding, b.units));
  }
  Session original = session_or_fail(model);
  Session reloaded = session_or_fail(loaded);
  for (std::int64_t image = 0; image < 20; ++image) {
    const std::vector<float> expected(original.run(test::fashion_mnist_test_images().image(image)).begin(),
                                      original.run(test::fashion_mnist_test_images().image(image)).end());
    const std::span<const float> actual = reloaded.run(test::fashion_mnist_test_images().image(image));
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), actual.begin(), actual.end())) << image;
  }
}

TEST(Native, DamagedFilesAreRejected) {
  const test::ScratchDirectory dir;
  const std::string path = (dir.path() / "model.reds").string();
  ASSERT_FALSE(save_native(load_or_fail(testing::pretrained_model("fashion_mnist")), path));
  const std::string bytes = test::read_file(path);
  const auto load_variant = [&](const std::string& variant) {
    test::write_file(dir.path() / "variant.reds", variant);
    const Result<Model> model = load_native((dir.path() / "variant.reds").string());
    EXPECT_FALSE(model);
    return model ? std::string() : model.error().message;
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] = static_cast<char>(flipped[bytes.size() / 2] ^ 0x10);
  EXPECT_NE(load_variant(flipped).find("checksum"), std::string::npos);
  EXPECT_NE(load_variant(bytes.substr(0, bytes.size() - 9)).find("size does not match"), std::string::npos);
  EXPECT_NE(load_variant(bytes.substr(0, 10)).find("not a REDS model file"), std::string::npos);
  std::string newer = bytes;
  newer[8] = static_cast<char>(kNativeFormatVersion + 1);  // the format version, after the magic
  EXPECT_NE(load_variant(newer).find("format version " + std::to_string(kNativeFormatVersion + 1)),
            std::string::npos);
  EXPECT_NE(load_variant("REDSMODX" + bytes.substr(8)).find("magic"), std::string::npos);
}

TEST(Native, TheInputNormalisationIsKeptOnceStated) {
  const test::ScratchDirectory dir;
  Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const std::string plain = (dir.path() / "plain.reds").string();
  ASSERT_FALSE(save_native(model, plain));
  EXPECT_EQ(test::read_file(plain)[8], 1) << "a chain without a stated normalisation stays version 1";
  EXPECT_FALSE(load_or_fail(plain).input_normalization);

  model.input_normalization = InputNormalization{1.0, {127.5}, {63.75}};
  const std::string stated = (dir.path() / "stated.reds").string();
  ASSERT_FALSE(save_native(model, stated));
  const std::string bytes = test::read_file(stated);
  EXPECT_EQ(bytes[8], 3);
  const Model loaded = load_or_fail(stated);
  ASSERT_TRUE(loaded.input_normalization);
  EXPECT_EQ(*loaded.input_normalization, *model.input_normalization);
  // 1/255 as a double survives the JSON text exactly.
  model.input_normalization = InputNormalization{};
  ASSERT_FALSE(save_native(model, stated));
  EXPECT_EQ(load_or_fail(stated).input_normalization, InputNormalization{});

  // Readers of version 2 files do not know the field: it is refused in one.
  test::write_file(dir.path() / "relabelled.reds", testing::with_native_version(bytes, 2));
  const Result<Model> old = load_native((dir.path() / "relabelled.reds").string());
  ASSERT_FALSE(old);
  EXPECT_NE(old.error().message.find("input normalisation in a version 2 file"), std::string::npos)
      << old.error().message;

  // The model reads one channel: three means are refused, on saving and in validate().
  model.input_normalization = InputNormalization{1.0, {1, 2, 3}, {}};
  const std::optional<Error> error = save_native(model, stated);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("the input mean has 3 values for 1 channel ("), std::string::npos)
      << error->message;
}

TEST(Native, InvalidModelIsNotSaved) {
  const test::ScratchDirectory dir;
  Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  model.layers.front().bias.pop_back();
  const std::string path = (dir.path() / "model.reds").string();
  const std::optional<Error> error = save_native(model, path);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("layer 'conv2d' (Conv2D): has 63 biases, expected 64"), std::string::npos)
      << error->message;
  EXPECT_FALSE(fs::exists(path));
}

// Padding within its bounds can still make a map whose element count overflows 64 bits: it is too large,
// found without overflowing (the ONNX fuzzer's case).
TEST(Shapes, AMapPaddedPastSixtyFourBitsIsTooLarge) {
  Model model;
  model.input = Shape{1, 1, 1, false};
  Layer padding = named_layer("pad", LayerKind::zero_padding2d);
  // 2^32 x 2^32 x 1: 2^64 elements, which a wrapping product would take for 0.
  padding.pad_top = padding.pad_left = std::int64_t{1} << 31;
  padding.pad_bottom = padding.pad_right = (std::int64_t{1} << 31) - 1;
  model.layers.push_back(padding);
  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  ASSERT_FALSE(shapes);
  EXPECT_NE(shapes.error().message.find("its output is too large"), std::string::npos)
      << shapes.error().message;
}

// --- Plans: levels as prefixes of every unit layer ----------------------------------------------------

// Widths of the smaller level of the test plan; the depthwise layers are tied to the layer before them.
const std::map<std::string, std::int64_t> kSmallLevel = {{"conv2d", 16},   {"depthwise_conv2d", 16},
                                                         {"conv2d_1", 32}, {"depthwise_conv2d_1", 32},
                                                         {"conv2d_2", 24}, {"depthwise_conv2d_2", 24},
                                                         {"conv2d_3", 40}, {"depthwise_conv2d_3", 40},
                                                         {"conv2d_4", 48}, {"dense", 10}};

std::map<std::string, std::int64_t> full_widths() {
  std::map<std::string, std::int64_t> widths = kSmallLevel;
  for (auto& [name, width] : widths) width = name == "dense" ? 10 : 64;
  return widths;
}

// The model cut down to the given widths by hand, from Keras' weight layouts: every unit layer keeps its
// first `width` units and the input channels its input keeps; the dense layer after Flatten keeps, of each
// pixel's rows, those of the kept channels.
Model cut_to(const Model& model, const std::map<std::string, std::int64_t>& widths) {
  Model cut = model;
  cut.plan.reset();
  std::int64_t channels = model.input.channels, kept = channels;
  std::int64_t pixels_before_flatten = 1;
  for (Layer& layer : cut.layers) {
    const std::int64_t width = widths.count(layer.name) ? widths.at(layer.name) : -1;
    if (layer.kind == LayerKind::conv2d) {
      std::vector<float> kernel;
      for (std::int64_t tap = 0; tap < layer.kernel_height * layer.kernel_width; ++tap)
        for (std::int64_t in = 0; in < kept; ++in)
          for (std::int64_t out = 0; out < width; ++out)
            kernel.push_back(
                layer.kernel[static_cast<std::size_t>((tap * channels + in) * layer.units + out)]);
      layer.kernel = kernel;
      layer.bias.resize(static_cast<std::size_t>(width));
      channels = layer.units;
      kept = layer.units = width;
    } else if (layer.kind == LayerKind::depthwise_conv2d) {
      std::vector<float> kernel;
      for (std::int64_t tap = 0; tap < layer.kernel_height * layer.kernel_width; ++tap)
        for (std::int64_t c = 0; c < kept; ++c)
          kernel.push_back(layer.kernel[static_cast<std::size_t>(tap * channels + c)]);
      layer.kernel = kernel;
      layer.bias.resize(static_cast<std::size_t>(kept));
    } else if (layer.kind == LayerKind::flatten) {
      pixels_before_flatten = 2 * 10;  // the 13x5 pool's 2x10 output
    } else if (layer.kind == LayerKind::dense) {
      std::vector<float> kernel;
      for (std::int64_t pixel = 0; pixel < pixels_before_flatten; ++pixel)
        for (std::int64_t c = 0; c < kept; ++c)
          for (std::int64_t out = 0; out < width; ++out)
            kernel.push_back(
                layer.kernel[static_cast<std::size_t>((pixel * channels + c) * layer.units + out)]);
      layer.kernel = kernel;
      layer.bias.resize(static_cast<std::size_t>(width));
      layer.units = width;
    }
  }
  return cut;
}

TEST(Plan, EveryLevelComputesItsCutDownModel) {
  Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const std::optional<Error> attached =
      attach_plan(model, testing::plan_with_widths(model, {kSmallLevel, full_widths()}));
  ASSERT_FALSE(attached) << attached->message;
  Session small = session_or_fail(cut_to(model, kSmallLevel));
  Model unplanned = model;
  unplanned.plan.reset();
  Session full = session_or_fail(unplanned);

  // Nested blocks sum a level's products in another order than the cut-down model (block by block): equal
  // to rounding. The strided layout sums the full level exactly as the unplanned model does.
  for (const WeightLayout layout : {WeightLayout::nested, WeightLayout::strided}) {
    Result<Session> created = Session::create(model, SessionOptions{layout});
    ASSERT_TRUE(created) << created.error().message;
    Session& planned = created.value();
    ASSERT_EQ(planned.level_count(), 2u);
    for (std::int64_t image = 0; image < 50; ++image) {
      const std::span<const float> input = test::fashion_mnist_test_images().image(image);
      for (std::size_t level = 0; level < 2; ++level) {
        ASSERT_TRUE(planned.set_level(level));
        const std::vector<float> actual(planned.run(input).begin(), planned.run(input).end());
        const std::span<const float> expected = (level == 0 ? small : full).run(input);
        ASSERT_EQ(actual.size(), expected.size());
        for (std::size_t i = 0; i < actual.size(); ++i)
          EXPECT_NEAR(actual[i], expected[i], 1e-5 * (1 + std::abs(expected[i])));
        if (layout == WeightLayout::strided && level == 1) {
          EXPECT_TRUE(std::equal(actual.begin(), actual.end(), expected.begin(), expected.end())) << image;
        }
      }
    }
  }
  Session planned = session_or_fail(model);

  // MACs by the layer formulas: output pixels x taps x kept inputs x kept outputs.
  const std::int64_t pixels = 14 * 14;
  const std::int64_t macs = pixels * 9 * 1 * 16 + pixels * 9 * 16 + pixels * 16 * 32 + pixels * 9 * 32 +
                            pixels * 32 * 24 + pixels * 9 * 24 + pixels * 24 * 40 + pixels * 9 * 40 +
                            pixels * 40 * 48 + 20 * 48 * 10;
  EXPECT_EQ(planned.level_info(0).macs, macs);
  EXPECT_EQ(planned.level_info(1).macs, full.level_info(0).macs);
  EXPECT_EQ(planned.level_info(0).widths[2], (std::pair<std::string, std::int64_t>{"conv2d_1", 32}));
}

TEST(Plan, EmbeddedPlanSurvivesTheNativeFile) {
  const test::ScratchDirectory dir;
  Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  ASSERT_FALSE(attach_plan(model, testing::plan_with_widths(model, {kSmallLevel, full_widths()})));
  const std::string json = model.plan->json;
  ASSERT_TRUE(parse_plan_result(json)) << json;
  const std::string path = (dir.path() / "planned.reds").string();
  ASSERT_FALSE(save_native(model, path));
  const Model loaded = load_or_fail(path);
  ASSERT_TRUE(loaded.plan);
  EXPECT_EQ(loaded.plan->json, json);
  EXPECT_EQ(loaded.plan->layer_names, model.plan->layer_names);
  EXPECT_EQ(loaded.plan->widths, model.plan->widths);
  EXPECT_EQ(session_or_fail(loaded).level_count(), 2u);
}

TEST(Plan, InconsistentPlansAreRejected) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const auto rejection = [&](const PlanResult& plan) {
    Model planned = model;
    const std::optional<Error> error = attach_plan(planned, plan);
    EXPECT_TRUE(error) << to_json(plan);
    EXPECT_FALSE(planned.plan);
    return error ? error->message : std::string();
  };
  const auto with = [&](const std::string& name, std::int64_t width) {
    std::map<std::string, std::int64_t> widths = kSmallLevel;
    widths[name] = width;
    return testing::plan_with_widths(model, {widths});
  };
  EXPECT_NE(rejection(with("conv2d_1", 65)).find("width 65 is outside 1..64"), std::string::npos);
  EXPECT_NE(rejection(with("depthwise_conv2d", 20)).find("tied to its input: its width must be 16, not 20"),
            std::string::npos);
  EXPECT_NE(rejection(with("dense", 5)).find("output keeps 5 of its 10 channels"), std::string::npos);
  EXPECT_NE(rejection(with("conv2d_9", 5)).find("'conv2d_9' is not a layer of the model"), std::string::npos);
  EXPECT_NE(rejection(with("flatten", 5)).find("has no units to keep"), std::string::npos);
  PlanResult plan = testing::plan_with_widths(model, {kSmallLevel, full_widths()});
  plan.levels[1].widths.pop_back();
  EXPECT_EQ(rejection(plan), "level 2 of the plan has 9 widths for its 10 layers");
  plan = testing::plan_with_widths(model, {kSmallLevel});
  plan.order.pop_back();
  EXPECT_EQ(rejection(plan), "the plan has 9 unit orders for its 10 layers");
  plan = testing::plan_with_widths(model, {kSmallLevel});
  plan.levels[0] = LevelPlan{};
  plan.levels[0].limits = {{"macs", 1}};
  EXPECT_NE(rejection(plan).find("infeasible"), std::string::npos);
  plan.levels.clear();
  EXPECT_EQ(rejection(plan), "the plan has no levels");
}

TEST(Session, SetLevelOutOfRangeKeepsTheLevel) {
  Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  ASSERT_FALSE(attach_plan(model, testing::plan_with_widths(model, {kSmallLevel, full_widths()})));
  Session session = session_or_fail(model);
  ASSERT_TRUE(session.set_level(1));
  EXPECT_FALSE(session.set_level(2));
  EXPECT_EQ(session.level(), 1u);
}

TEST(Session, WrongInputSizeGivesNoOutput) {
  Session session = session_or_fail(load_or_fail(testing::pretrained_model("fashion_mnist")));
  const std::vector<float> too_short(783, 0.0f);
  EXPECT_TRUE(session.run(too_short).empty());
  std::vector<float> outputs(20);
  EXPECT_FALSE(session.run_batch(too_short, outputs));
}

TEST(Session, BatchEqualsImageByImage) {
  Session session = session_or_fail(load_or_fail(testing::pretrained_model("fashion_mnist")));
  const std::int64_t count = 7;
  const std::span<const float> inputs = std::span<const float>(test::fashion_mnist_test_images().pixels)
                                            .subspan(0, static_cast<std::size_t>(count * 784));
  std::vector<float> outputs(static_cast<std::size_t>(count * 10));
  ASSERT_TRUE(session.run_batch(inputs, outputs));
  for (std::int64_t image = 0; image < count; ++image) {
    const std::span<const float> single = session.run(test::fashion_mnist_test_images().image(image));
    EXPECT_TRUE(std::equal(single.begin(), single.end(), outputs.begin() + image * 10)) << image;
  }
}

}  // namespace
}  // namespace reds::engine
