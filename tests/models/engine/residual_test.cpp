// Models that are graphs: MLPerf Tiny's trained ResNet-8 and MobileNetV1 (tests/data/mlperf-tiny) against
// an independent NumPy implementation (keras_reference.py), a hand-built graph against a direct
// computation, the native file's graph information, the request of a residual model and the refusal to
// apply plans to one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "keras_config.h"
#include "native_format.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "reds/splitmix64.h"
#include "support/command_runner.h"
#include "support/source_tree.h"

namespace reds::engine {
namespace {

std::string mlperf_model(const std::string& file) {
  return reds::test::source_path("tests/data/mlperf-tiny/" + file).string();
}

// Deterministic images: pixel values 0..255 (integers, as a camera gives them) times `scale`.
std::vector<float> synthetic_images(std::size_t count, std::int64_t image_size, float scale) {
  SplitMix64 random(20240611);
  std::vector<float> images(count * static_cast<std::size_t>(image_size));
  for (float& value : images) value = static_cast<float>(random.next() % 256) * scale;
  return images;
}

class MlperfTinyGolden : public reds::test::CommandTest {
 protected:
  // The engine's outputs for `count` synthetic images against keras_reference.py's, to 1e-4 relative,
  // one image at a time and as a batch.
  void expect_matches_reference(const std::string& file, std::size_t count, float scale) {
    const Result<Model> model = load_model(mlperf_model(file));
    ASSERT_TRUE(model) << model.error().message;
    Result<Session> created = Session::create(model.value());
    ASSERT_TRUE(created) << created.error().message;
    Session session = std::move(created).value();
    const std::vector<float> images = synthetic_images(count, session.input_size(), scale);

    std::string bytes(images.size() * sizeof(float), '\0');
    std::memcpy(bytes.data(), images.data(), bytes.size());  // little-endian float32, as the script reads
    const std::filesystem::path images_file = scratch_file("images.f32", bytes);
    const reds::test::Outcome reference = run_program(
        "/usr/bin/python3", {reds::test::source_path("tests/models/engine/keras_reference.py").string(),
                             mlperf_model(file), images_file.string(), std::to_string(count)});
    ASSERT_EQ(reference.exit_status, 0)
        << "the NumPy reference needs python3-numpy and python3-h5py (scripts/install-deps): "
        << reference.err;
    std::vector<double> expected;
    std::istringstream lines(reference.out);
    for (double value = 0; lines >> value;) expected.push_back(value);
    const auto outputs = static_cast<std::size_t>(session.output_size());
    ASSERT_EQ(expected.size(), count * outputs);

    std::vector<float> batch(count * outputs);
    ASSERT_TRUE(session.run_batch(images, batch));
    const auto input_size = static_cast<std::size_t>(session.input_size());
    for (std::size_t image = 0; image < count; ++image) {
      const std::span<const float> result =
          session.run(std::span<const float>(images).subspan(image * input_size, input_size));
      ASSERT_EQ(result.size(), outputs);
      for (std::size_t k = 0; k < outputs; ++k) {
        const double want = expected[image * outputs + k];
        EXPECT_NEAR(result[k], want, 1e-4 * std::abs(want) + 1e-12)
            << file << " image " << image << " output " << k;
        EXPECT_EQ(batch[image * outputs + k], result[k]) << "the batch differs from one image at a time";
      }
    }
  }
};

TEST_F(MlperfTinyGolden, ResNet8OnRawPixels) {
  // MLPerf's ResNet-8 was trained on raw pixel values 0..255.
  expect_matches_reference("pretrainedResnet.h5", 4, 1.0f);
}

TEST_F(MlperfTinyGolden, MobileNetV1VisualWakeWordsOnUnitPixels) {
  expect_matches_reference("vww_96.h5", 2, 1.0f / 255.0f);
}

TEST(ResidualModel, ResNet8IsReadAsAGraph) {
  const Result<Model> model = load_model(mlperf_model("pretrainedResnet.h5"));
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_FALSE(is_chain(model.value()));
  EXPECT_EQ(model->input, (Shape{32, 32, 3, false}));
  std::vector<std::string> adds, shortcuts;
  for (std::size_t index = 0; index < model->layers.size(); ++index) {
    const Layer& layer = model->layers[index];
    if (layer.kind == LayerKind::add) {
      adds.push_back(layer.name);
      EXPECT_EQ(layer.inputs.size(), 2u) << layer.name;
      // The Activation('relu') after the addition reads it.
      ASSERT_LT(index + 1, model->layers.size());
      EXPECT_EQ(model->layers[index + 1].kind, LayerKind::rectifier);
      EXPECT_TRUE(model->layers[index + 1].inputs.empty());
    }
    if (layer.kind == LayerKind::conv2d && layer.kernel_height == 1) {
      shortcuts.push_back(layer.name);
      EXPECT_EQ(layer.inputs.size(), 1u) << layer.name << " reads the block's input, not the layer before";
      EXPECT_EQ(layer.bias.size(), static_cast<std::size_t>(layer.units));
    }
  }
  EXPECT_EQ(adds, (std::vector<std::string>{"add", "add_1", "add_2"}));
  EXPECT_EQ(shortcuts, (std::vector<std::string>{"conv2d_5", "conv2d_8"}));
  // Every batch norm is folded: 9 convolutions, 3 additions, 7 rectifiers, pool, flatten, dense, softmax.
  EXPECT_EQ(model->layers.size(), 23u);

  const Result<Model> vww = load_model(mlperf_model("vww_96.h5"));
  ASSERT_TRUE(vww) << vww.error().message;
  EXPECT_TRUE(is_chain(vww.value()));
}

// input 3x3x2 -> a: Conv2D 1x1 (2 filters) -> r: ReLU (a is read again later, so r cannot overwrite it)
// -> pad: ZeroPadding2D ((1, 0), (0, 1)) -> pool: AveragePooling2D 2x2 stride 1 (3x3) -> sum: Add(pool, a)
// -> relu -> flatten -> dense (18 -> 2).
Model hand_built_graph() {
  Model model;
  model.name = "graph";
  model.input = {3, 3, 2, false};
  Layer a;
  a.name = "a";
  a.kind = LayerKind::conv2d;
  a.units = 2;
  a.kernel = {0.5f, -1.0f, 1.5f, 0.25f};
  a.bias = {0.1f, -0.2f};
  Layer r;
  r.name = "r";
  r.kind = LayerKind::rectifier;
  Layer pad;
  pad.name = "pad";
  pad.kind = LayerKind::zero_padding2d;
  pad.pad_top = 1;
  pad.pad_right = 1;
  Layer pool;
  pool.name = "pool";
  pool.kind = LayerKind::average_pool2d;
  pool.kernel_height = pool.kernel_width = 2;
  Layer sum;
  sum.name = "sum";
  sum.kind = LayerKind::add;
  sum.inputs = {4, 1};
  Layer relu;
  relu.name = "relu";
  relu.kind = LayerKind::rectifier;
  Layer flatten;
  flatten.name = "flatten";
  flatten.kind = LayerKind::flatten;
  Layer dense;
  dense.name = "dense";
  dense.kind = LayerKind::dense;
  dense.units = 2;
  for (int i = 0; i < 36; ++i) dense.kernel.push_back(static_cast<float>((i * 7) % 11 - 5) * 0.125f);
  dense.bias = {0.5f, -0.5f};
  model.layers = {a, r, pad, pool, sum, relu, flatten, dense};
  return model;
}

std::vector<double> hand_built_reference(const std::vector<float>& input) {
  const Model model = hand_built_graph();
  const Layer& a = model.layers[0];
  std::vector<double> conv(18), padded(4 * 4 * 2, 0.0), pooled(18), flat(18), out(2);
  for (int p = 0; p < 9; ++p)
    for (int o = 0; o < 2; ++o)
      conv[p * 2 + o] = a.bias[o] + input[p * 2] * a.kernel[o] + input[p * 2 + 1] * a.kernel[2 + o];
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 2; ++c)
        padded[((y + 1) * 4 + x) * 2 + c] = std::max(conv[(y * 3 + x) * 2 + c], 0.0);
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x)
      for (int c = 0; c < 2; ++c) {
        double total = 0;
        for (int dy = 0; dy < 2; ++dy)
          for (int dx = 0; dx < 2; ++dx) total += padded[((y + dy) * 4 + x + dx) * 2 + c];
        pooled[(y * 3 + x) * 2 + c] = total / 4;
      }
  for (int i = 0; i < 18; ++i) flat[i] = std::max(pooled[i] + conv[i], 0.0);
  const Layer& dense = model.layers[7];
  for (int o = 0; o < 2; ++o) {
    out[o] = dense.bias[o];
    for (int i = 0; i < 18; ++i) out[o] += flat[i] * dense.kernel[i * 2 + o];
  }
  return out;
}

TEST(ResidualModel, HandBuiltGraphMatchesADirectComputation) {
  const Model model = hand_built_graph();
  ASSERT_FALSE(validate(model));
  Result<Session> created = Session::create(model);
  ASSERT_TRUE(created) << created.error().message;
  Session session = std::move(created).value();
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    SplitMix64 random(seed);
    std::vector<float> input(18);
    for (float& value : input) value = static_cast<float>(random.next() % 2001) / 1000.0f - 1.0f;
    const std::vector<double> expected = hand_built_reference(input);
    const std::span<const float> result = session.run(input);
    ASSERT_EQ(result.size(), 2u);
    for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(result[k], expected[k], 1e-5) << "seed " << seed;
  }
}

TEST(ResidualModel, InvalidGraphsAreNamed) {
  const auto error_of = [](const Model& model) {
    const std::optional<Error> error = validate(model);
    return error ? error->message : std::string();
  };
  Model later = hand_built_graph();
  later.layers[4].inputs = {4, 6};
  EXPECT_NE(error_of(later).find("reads tensor 6, which is not computed before it"), std::string::npos);
  Model single = hand_built_graph();
  single.layers[4].inputs = {4};
  EXPECT_NE(error_of(single).find("an addition needs at least two"), std::string::npos);
  Model shapes = hand_built_graph();
  shapes.layers[4].inputs = {4, 0};  // 3x3x2 both, but then {4, 3}: 4x4x2
  EXPECT_EQ(error_of(shapes), "");
  shapes.layers[4].inputs = {4, 3};
  EXPECT_NE(error_of(shapes).find("adds maps of different shapes"), std::string::npos);
  Model two = hand_built_graph();
  two.layers[1].inputs = {0, 1};
  EXPECT_NE(error_of(two).find("this kind of layer reads one"), std::string::npos);
}

TEST(ResidualModel, NativeFilesKeepTheGraph) {
  const Result<Model> model = load_model(mlperf_model("pretrainedResnet.h5"));
  ASSERT_TRUE(model) << model.error().message;
  const std::string bytes = detail::encode_native(model.value());
  EXPECT_EQ(bytes[8], 2) << "a graph needs format version 2";
  const Result<Model> loaded = detail::decode_native("resnet.reds", bytes);
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_EQ(loaded->layers.size(), model->layers.size());
  for (std::size_t index = 0; index < model->layers.size(); ++index) {
    EXPECT_EQ(loaded->layers[index].inputs, model->layers[index].inputs);
    EXPECT_EQ(loaded->layers[index].kind, model->layers[index].kind);
  }
  Session original = Session::create(model.value()).value();
  Session reloaded = Session::create(loaded.value()).value();
  const std::vector<float> image = synthetic_images(1, original.input_size(), 1.0f);
  const std::vector<float> expected(original.run(image).begin(), original.run(image).end());
  const std::span<const float> result = reloaded.run(image);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), result.begin(), result.end()));

  const Model padded = hand_built_graph();
  const Result<Model> padded_back = detail::decode_native("graph.reds", detail::encode_native(padded));
  ASSERT_TRUE(padded_back) << padded_back.error().message;
  EXPECT_EQ(padded_back->layers[2].pad_top, 1);
  EXPECT_EQ(padded_back->layers[2].pad_bottom, 0);
  EXPECT_EQ(padded_back->layers[2].pad_right, 1);

  // A chain stays version 1, readable by readers of version 1.
  const Result<Model> chain = load_model(mlperf_model("vww_96.h5"));
  ASSERT_TRUE(chain) << chain.error().message;
  EXPECT_EQ(detail::encode_native(chain.value())[8], 1);
  // A version 1 file cannot carry inputs.
  std::string relabelled = bytes;
  relabelled[8] = 1;
  const Result<Model> old = detail::decode_native("old.reds", relabelled);
  EXPECT_FALSE(old);
}

TEST(ResidualModel, ApplyingAPlanIsRefusedWithAClearError) {
  const Result<Model> model = load_model(mlperf_model("pretrainedResnet.h5"));
  ASSERT_TRUE(model) << model.error().message;
  const std::string expected = "residual models cannot be planned yet";
  const Result<Model> permuted = permute_units(model.value(), {});
  ASSERT_FALSE(permuted);
  EXPECT_NE(permuted.error().message.find(expected), std::string::npos);
  PlanResult plan;
  plan.layer_names = {"dense"};
  plan.order = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}};
  plan.levels.resize(1);
  plan.levels[0].widths = {10};
  const Result<Model> applied = apply_plan(model.value(), plan);
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find(expected), std::string::npos);
  Model attached = model.value();
  const std::optional<Error> error = attach_plan(attached, plan);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find(expected), std::string::npos);
}

class ResidualCommand : public reds::test::CommandTest {};

TEST_F(ResidualCommand, RequestWritesStreamsProjectionsAndHeldSkips) {
  const reds::test::Outcome request = run({"request", mlperf_model("pretrainedResnet.h5")});
  ASSERT_EQ(request.exit_status, 0) << request.err;
  const Result<PlanRequest> parsed = parse_plan_request(request.out);
  ASSERT_TRUE(parsed) << parsed.error().message;
  const std::vector<reds::Layer>& layers = parsed->network.layers;
  ASSERT_EQ(layers.size(), 10u);
  EXPECT_EQ(layers[2].stream, std::optional<std::string>("conv2d"));
  EXPECT_EQ(layers[5].input, std::optional<std::string>("conv2d_2"));  // the first projection
  EXPECT_EQ(layers[2].cost.at("activation").held.at("conv2d"), 4 * 32 * 32);
}

// The configuration reader alone (as the fuzz target drives it): functional graphs in any listed order.
TEST(KerasGraphConfig, TopologicalOrderAddAndZeroPadding) {
  const std::string config = R"({"class_name": "Functional", "config": {"name": "g", "layers": [
    {"class_name": "Add", "config": {"name": "sum"},
     "inbound_nodes": [[["pad", 0, 0, {}], ["input", 0, 0, {}]]]},
    {"class_name": "InputLayer", "config": {"name": "input", "batch_input_shape": [null, 2, 2, 1]},
     "inbound_nodes": []},
    {"class_name": "ZeroPadding2D", "config": {"name": "pad", "padding": [[1, 0], [0, 1]]},
     "inbound_nodes": [[["crop", 0, 0, {}]]]},
    {"class_name": "AveragePooling2D", "config": {"name": "crop", "pool_size": [2, 2], "strides": [1, 1],
     "padding": "valid"}, "inbound_nodes": [[["input", 0, 0, {}]]]}],
    "input_layers": [["input", 0, 0]], "output_layers": [["sum", 0, 0]]}})";
  const auto no_weights = [](const std::string&) -> Result<detail::KerasLayerWeights> {
    return detail::KerasLayerWeights{};
  };
  const Result<Model> model = detail::build_model_from_keras_config("graph", config, no_weights);
  ASSERT_TRUE(model) << model.error().message;
  ASSERT_EQ(model->layers.size(), 3u);
  EXPECT_EQ(model->layers[0].name, "crop");
  EXPECT_EQ(model->layers[1].name, "pad");
  EXPECT_EQ(model->layers[2].name, "sum");
  EXPECT_EQ(model->layers[2].inputs, (std::vector<std::size_t>{2, 0}));
  Session session = Session::create(model.value()).value();
  const std::vector<float> input = {1, 2, 3, 4};
  const std::span<const float> result = session.run(input);
  // crop: the mean 2.5 of the 2x2 map; pad puts it at row 1, column 0 of a 2x2 map of zeros.
  EXPECT_EQ(std::vector<float>(result.begin(), result.end()), (std::vector<float>{1, 2, 5.5f, 4}));

  std::string cycle = config;
  const std::string crop_reads_input = R"([["input", 0, 0, {}]]]}])";
  cycle.replace(cycle.find(crop_reads_input), crop_reads_input.size(), R"([["sum", 0, 0, {}]]]}])");
  const Result<Model> cyclic = detail::build_model_from_keras_config("cycle", cycle, no_weights);
  ASSERT_FALSE(cyclic);
  EXPECT_NE(cyclic.error().message.find("cycle"), std::string::npos) << cyclic.error().message;
}

}  // namespace
}  // namespace reds::engine
