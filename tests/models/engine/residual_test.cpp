// Models that are graphs: MLPerf Tiny's trained ResNet-8 and MobileNetV1 (tests/data/mlperf-tiny) against
// an independent NumPy implementation (keras_reference.py), a hand-built graph against a direct
// computation, the native file's graph information and the plan request of a residual model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "keras_config.h"
#include "models/test_data.h"
#include "models/test_plans.h"
#include "native_format.h"
#include "reds/engine/dataset.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "reds/splitmix64.h"
#include "support/command_runner.h"
#include "support/engine/models.h"
#include "support/engine/reference.h"
#include "support/source_tree.h"

namespace reds::engine {
namespace {

using test::mlperf_model;
using test::named_layer;

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
  Layer a = named_layer("a", LayerKind::conv2d);
  a.units = 2;
  a.kernel = {0.5f, -1.0f, 1.5f, 0.25f};
  a.bias = {0.1f, -0.2f};
  Layer pad = named_layer("pad", LayerKind::zero_padding2d);
  pad.pad_top = 1;
  pad.pad_right = 1;
  Layer pool = named_layer("pool", LayerKind::average_pool2d);
  pool.kernel_height = pool.kernel_width = 2;
  Layer dense = named_layer("dense", LayerKind::dense);
  dense.units = 2;
  for (int i = 0; i < 36; ++i) dense.kernel.push_back(static_cast<float>((i * 7) % 11 - 5) * 0.125f);
  dense.bias = {0.5f, -0.5f};
  model.layers = {a,
                  named_layer("r", LayerKind::rectifier),
                  pad,
                  pool,
                  named_layer("sum", LayerKind::add, {4, 1}),
                  named_layer("relu", LayerKind::rectifier),
                  named_layer("flatten", LayerKind::flatten),
                  dense};
  return model;
}

std::vector<double> hand_built_reference(const std::vector<float>& input) {
  const Model model = hand_built_graph();
  const std::vector<double> conv =
      test::convolve(std::vector<double>(input.begin(), input.end()), 3, 2, model.layers[0], 0, 0, 3);
  std::vector<double> padded(4 * 4 * 2, 0.0), pooled(18), flat(18);
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
  return test::dense(flat, model.layers[7]);
}

TEST(ResidualModel, HandBuiltGraphMatchesADirectComputation) {
  const Model model = hand_built_graph();
  ASSERT_FALSE(validate(model));
  Result<Session> created = Session::create(model);
  ASSERT_TRUE(created) << created.error().message;
  Session session = std::move(created).value();
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const std::vector<float> input = test::random_floats(18, seed);
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
  const Result<Model> old = detail::decode_native("old.reds", testing::with_native_version(bytes, 1));
  ASSERT_FALSE(old);
  EXPECT_NE(old.error().message.find("lists inputs in a version 1 file"), std::string::npos)
      << old.error().message;
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

TEST_F(ResidualCommand, RequestPlanApplyRunsEveryLevelAtItsPlannedCost) {
  const reds::test::Outcome request = run({"request", mlperf_model("pretrainedResnet.h5"), "--block", "4"});
  ASSERT_EQ(request.exit_status, 0) << request.err;
  const reds::test::Outcome planned = run({"plan", "-"}, request.out);
  ASSERT_EQ(planned.exit_status, 0) << planned.err;
  const std::filesystem::path plan_file = scratch_file("plan.json", planned.out);
  const std::filesystem::path model_file = scratch_file("resnet8.reds", "");
  const reds::test::Outcome applied =
      run({"apply", mlperf_model("pretrainedResnet.h5"), plan_file.string(), "-o", model_file.string()});
  ASSERT_EQ(applied.exit_status, 0) << applied.err;
  const Result<PlanResult> plan = parse_plan_result(planned.out);
  ASSERT_TRUE(plan) << plan.error().message;
  const Result<Model> model = load_model(model_file.string());
  ASSERT_TRUE(model) << model.error().message;
  const Result<Session> session = Session::create(model.value());
  ASSERT_TRUE(session) << session.error().message;
  ASSERT_EQ(session->level_count(), plan->levels.size());
  for (std::size_t level = 0; level < plan->levels.size(); ++level)
    EXPECT_EQ(session->level_info(level).macs, plan->levels[level].cost.at("macs")) << "level " << level;
}

// MLPerf's ResNet-8 through `reds run` on colour IDX images written here: smooth synthetic 32x32x3
// pictures (two colours blended along a wave), labelled with the class the independent NumPy reference
// (keras_reference.py) gives them on raw pixels, the input the model was trained on.
class Resnet8Images : public reds::test::CommandTest {
 protected:
  static constexpr std::size_t kCount = 24;

  void SetUp() override {
    CommandTest::SetUp();
    SplitMix64 random(77);
    const auto uniform = [&random] { return random.uniform(); };
    for (std::size_t image = 0; image < kCount; ++image) {
      double from[3], to[3];
      for (int c = 0; c < 3; ++c) from[c] = std::floor(uniform() * 256), to[c] = std::floor(uniform() * 256);
      const double fx = 6 * uniform(), fy = 6 * uniform(), phase = 6 * uniform();
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) {
          const double t = (std::sin(x / 31.0 * fx + y / 31.0 * fy + phase) + 1) / 2;
          for (int c = 0; c < 3; ++c)
            bytes_.push_back(static_cast<char>(std::lround(from[c] * (1 - t) + to[c] * t)));
        }
    }
    std::vector<float> raw(bytes_.size());
    for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<unsigned char>(bytes_[i]);
    std::string floats(raw.size() * sizeof(float), '\0');
    std::memcpy(floats.data(), raw.data(), floats.size());
    const reds::test::Outcome reference = run_program(
        "/usr/bin/python3", {reds::test::source_path("tests/models/engine/keras_reference.py").string(),
                             mlperf_model("pretrainedResnet.h5"), scratch_file("raw.f32", floats).string(),
                             std::to_string(kCount)});
    ASSERT_EQ(reference.exit_status, 0) << reference.err;
    std::istringstream values(reference.out);
    std::string labels_bytes;
    for (std::size_t image = 0; image < kCount; ++image) {
      std::vector<double> outputs(10);
      for (double& value : outputs) ASSERT_TRUE(values >> value);
      labels_.push_back(std::max_element(outputs.begin(), outputs.end()) - outputs.begin());
      labels_bytes.push_back(static_cast<char>(labels_.back()));
    }
    data_ = scratch_ / "colour";
    std::filesystem::create_directories(data_);
    reds::test::write_file(data_ / "t10k-images-idx4-ubyte",
                           testing::idx_header(4, {kCount, 32, 32, 3}) + bytes_);
    reds::test::write_file(data_ / "t10k-labels-idx1-ubyte", testing::idx_header(1, {kCount}) + labels_bytes);
  }

  // The classes the engine gives the images loaded from the IDX file with `normalization`.
  std::vector<std::int64_t> engine_classes(const InputNormalization& normalization) {
    const Result<ImageSet> images = load_test_set(data_.string(), normalization);
    EXPECT_TRUE(images) << images.error().message;
    Session session = Session::create(load_model(mlperf_model("pretrainedResnet.h5")).value()).value();
    std::vector<std::int64_t> classes;
    for (std::int64_t image = 0; images && image < images->count; ++image) {
      const std::span<const float> outputs = session.run(images->image(image));
      classes.push_back(std::max_element(outputs.begin(), outputs.end()) - outputs.begin());
    }
    return classes;
  }

  static std::set<std::int64_t> distinct(const std::vector<std::int64_t>& classes) {
    return {classes.begin(), classes.end()};
  }

  std::string bytes_;
  std::vector<std::int64_t> labels_;
  std::filesystem::path data_;
};

TEST_F(Resnet8Images, RawPixelsGiveTheReferenceClassesAndUnitPixelsCollapse) {
  ASSERT_GE(distinct(labels_).size(), 4u) << "the images should show several classes";
  EXPECT_EQ(engine_classes(InputNormalization{1.0, {}, {}}), labels_);
  // At the default 1/255 the model sees nearly black images and answers one class for all of them.
  const std::vector<std::int64_t> unit = engine_classes(InputNormalization{});
  EXPECT_EQ(distinct(unit).size(), 1u);

  const reds::test::Outcome raw =
      run({"run", mlperf_model("pretrainedResnet.h5"), "--data", data_.string(), "--input-scale", "1"});
  ASSERT_EQ(raw.exit_status, 0) << raw.err;
  EXPECT_NE(raw.out.find("accuracy 100.00 % (24/24)"), std::string::npos) << raw.out;
  const reds::test::Outcome scaled =
      run({"run", mlperf_model("pretrainedResnet.h5"), "--data", data_.string()});
  ASSERT_EQ(scaled.exit_status, 0) << scaled.err;
  const auto agreeing = static_cast<std::size_t>(std::count(labels_.begin(), labels_.end(), unit[0]));
  EXPECT_NE(scaled.out.find("(" + std::to_string(agreeing) + "/24)"), std::string::npos) << scaled.out;
  // The same scale as a fraction, and a mean and deviation that undo it: (x - 0) / (1/255) after 1/255.
  const reds::test::Outcome fraction =
      run({"run", mlperf_model("pretrainedResnet.h5"), "--data", data_.string(), "--input-scale", "1/255",
           "--input-std", "0.00392156862745098"});
  ASSERT_EQ(fraction.exit_status, 0) << fraction.err;
  EXPECT_NE(fraction.out.find("accuracy 100.00 % (24/24)"), std::string::npos) << fraction.out;
}

TEST_F(Resnet8Images, AnAppliedModelKeepsItsNormalisation) {
  const Result<Model> model = load_model(mlperf_model("pretrainedResnet.h5"));
  ASSERT_TRUE(model);
  const PlanResult plan = testing::random_group_plan(model.value(), test::kResnet8Groups, 3, 12);
  const std::filesystem::path plan_file = scratch_file("plan.json", to_json(plan));
  const std::string planned = (scratch_ / "resnet8.reds").string();
  const reds::test::Outcome applied = run({"apply", mlperf_model("pretrainedResnet.h5"), plan_file.string(),
                                           "-o", planned, "--input-scale", "1"});
  ASSERT_EQ(applied.exit_status, 0) << applied.err;
  EXPECT_EQ(reds::test::count_lines(applied.out), 3u) << applied.out;
  // 3x3 and 1x1 convolutions at 32x32, 16x16 and 8x8 plus the 64x10 classifier: 12,501,632 MACs.
  EXPECT_NE(applied.out.find("level 3  macs 12501632 (100.0 %)"), std::string::npos) << applied.out;
  const Result<Model> stored = load_model(planned);
  ASSERT_TRUE(stored) << stored.error().message;
  ASSERT_TRUE(stored->input_normalization);
  EXPECT_EQ(stored->input_normalization->scale, 1.0);

  // No option: the stored scale; the full level reproduces the reference, every level runs.
  const reds::test::Outcome run_all = run({"run", planned, "--data", data_.string(), "--json"});
  ASSERT_EQ(run_all.exit_status, 0) << run_all.err;
  const std::vector<nlohmann::json> levels = reds::test::json_lines(run_all.out);
  ASSERT_EQ(levels.size(), 3u);
  EXPECT_EQ(levels[2]["correct"], 24);
  EXPECT_LT(levels[0]["macs"].get<std::int64_t>(), levels[2]["macs"].get<std::int64_t>());
  // An option given replaces the stored part.
  const reds::test::Outcome unit =
      run({"run", planned, "--data", data_.string(), "--level", "3", "--input-scale", "1/255"});
  ASSERT_EQ(unit.exit_status, 0) << unit.err;
  EXPECT_EQ(unit.out.find("(24/24)"), std::string::npos) << unit.out;
}

TEST_F(Resnet8Images, ImagesOfAnotherShapeAndBadNormalisationsAreExplained) {
  const std::filesystem::path gray = scratch_ / "gray";
  std::filesystem::create_directories(gray);
  reds::test::write_file(gray / "t10k-images-idx3-ubyte",
                         testing::idx_header(3, {2, 28, 28}) + std::string(1568, 'x'));
  reds::test::write_file(gray / "t10k-labels-idx1-ubyte", testing::idx_header(1, {2}) + std::string{1, 2});
  const reds::test::Outcome shape =
      run({"run", mlperf_model("pretrainedResnet.h5"), "--data", gray.string()});
  EXPECT_EQ(shape.exit_status, 2);
  EXPECT_EQ(shape.out, "");
  EXPECT_NE(shape.err.find("--data " + gray.string() + ": the images are 28x28x1, the model reads 32x32x3"),
            std::string::npos)
      << shape.err;

  const auto error_of = [&](const std::vector<std::string>& options) {
    std::vector<std::string> args = {"run", mlperf_model("pretrainedResnet.h5"), "--data", data_.string()};
    args.insert(args.end(), options.begin(), options.end());
    const reds::test::Outcome outcome = run(args);
    EXPECT_EQ(outcome.exit_status, 2) << outcome.out;
    return outcome.err;
  };
  EXPECT_NE(
      error_of({"--input-mean", "1,2"})
          .find("--input-mean 1,2: 2 values for the model's 3 input channels: give one per channel, or one "
                "for all"),
      std::string::npos);
  EXPECT_NE(error_of({"--input-std", "1,0,1"}).find("--input-std 1,0,1: '0' is not positive"),
            std::string::npos);
  EXPECT_NE(error_of({"--input-scale", "1/0"}).find("--input-scale 1/0: give a positive number"),
            std::string::npos);
  EXPECT_NE(error_of({"--input-scale", "x"}).find("--input-scale x:"), std::string::npos);
  EXPECT_NE(error_of({"--input-mean", "a"}).find("--input-mean a: 'a' is not a number"), std::string::npos);
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
