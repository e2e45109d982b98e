// Training networks from the REDS authors' Keras files: batch norm kept as layers, exported back to the
// engine's model exactly as the engine's own loader folds it, and forward passes that compute what a
// Session computes, at the full width and at a level of a plan.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "models/test_plans.h"
#include "reds/engine/dataset.h"
#include "reds/engine/session.h"
#include "reds/splitmix64.h"
#include "reds/training/training.h"
#include "support/engine/models.h"
#include "support/source_tree.h"

namespace reds::engine::training {
namespace {

Network<float> keras_network() {
  Result<Network<float>> network = Network<float>::load_keras(testing::pretrained_model("fashion_mnist"));
  EXPECT_TRUE(network) << network.error().message;
  return std::move(network).value();
}

Model engine_model() {
  Result<Model> model = load_keras(testing::pretrained_model("fashion_mnist"));
  EXPECT_TRUE(model) << model.error().message;
  return std::move(model).value();
}

constexpr std::int64_t kImages = 24;

std::vector<float> first_images() {
  const ImageSet& images = reds::test::fashion_mnist_test_images();
  return std::vector<float>(images.pixels.begin(), images.pixels.begin() + kImages * images.image_size());
}

// The logits a Session computes for the first images at `level`.
std::vector<float> session_logits(const Model& model, std::size_t level) {
  Result<Session> session = Session::create(model);
  EXPECT_TRUE(session) << session.error().message;
  EXPECT_TRUE(session.value().set_level(level));
  std::vector<float> logits(static_cast<std::size_t>(kImages * session->output_size()));
  EXPECT_TRUE(session.value().run_batch(first_images(), logits));
  return logits;
}

void expect_logits_near(std::span<const float> actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t at = 0; at < expected.size(); ++at)
    EXPECT_NEAR(actual[at], expected[at], 2e-4 * std::max(1.0f, std::abs(expected[at]))) << at;
}

TEST(TrainingKeras, KeepsEveryBatchNormAsALayer) {
  const Network<float> network = keras_network();
  std::vector<std::string> names;
  for (const TrainingLayer<float>& layer : network.layers())
    names.push_back(layer.name + ":" + to_string(layer.kind));
  const std::vector<std::string> head(names.begin(), names.begin() + 7);
  EXPECT_EQ(head, (std::vector<std::string>{"conv2d:Conv2D", "batch_normalization:BatchNormalization",
                                            "leaky_re_lu:ReLU", "depthwise_conv2d:DepthwiseConv2D",
                                            "batch_normalization_1:BatchNormalization", "leaky_re_lu_1:ReLU",
                                            "conv2d_1:Conv2D"}));
  EXPECT_EQ(std::count_if(network.layers().begin(), network.layers().end(),
                          [](const auto& layer) { return layer.kind == TrainingLayerKind::batch_norm; }),
            9);
  EXPECT_EQ(network.unit_layers().size(), 10u);  // 5 Conv2D, 4 DepthwiseConv2D, the Dense head
  EXPECT_EQ(network.classes(), 10);
  const TrainingLayer<float>& batch_norm = network.layers()[1];
  EXPECT_EQ(batch_norm.gamma.value.size(), 64u);
  EXPECT_DOUBLE_EQ(batch_norm.epsilon, 0.001);
  EXPECT_DOUBLE_EQ(batch_norm.momentum, 0.99);
  // Unfolded: the convolution's weights as stored, not scaled by the batch norm.
  EXPECT_NE(network.layers()[0].kernel.value[0], engine_model().layers[0].kernel[0]);
}

TEST(TrainingKeras, ExportFoldsBatchNormBitForBitAsTheLoader) {
  const Result<Model> exported = keras_network().to_model();
  ASSERT_TRUE(exported) << exported.error().message;
  const Model expected = engine_model();
  ASSERT_EQ(exported->layers.size(), expected.layers.size());
  for (std::size_t index = 0; index < expected.layers.size(); ++index) {
    EXPECT_EQ(exported->layers[index].name, expected.layers[index].name);
    EXPECT_EQ(exported->layers[index].kernel, expected.layers[index].kernel) << expected.layers[index].name;
    EXPECT_EQ(exported->layers[index].bias, expected.layers[index].bias) << expected.layers[index].name;
  }
}

TEST(TrainingKeras, ForwardWithMovingStatisticsComputesWhatTheEngineComputes) {
  Network<float> network = keras_network();
  Pass<float> pass;
  const Result<std::span<const float>> logits =
      pass.forward(network, network.full_widths(), first_images(), kImages);
  ASSERT_TRUE(logits) << logits.error().message;
  expect_logits_near(logits.value(), session_logits(engine_model(), 0));
}

TEST(TrainingKeras, ForwardAtAPlanLevelComputesWhatTheEngineComputesAtThatLevel) {
  Model planned = engine_model();
  const std::map<std::string, std::int64_t> small = {{"conv2d", 16},   {"conv2d_1", 32}, {"conv2d_2", 24},
                                                     {"conv2d_3", 40}, {"conv2d_4", 48}, {"dense", 10}};
  std::map<std::string, std::int64_t> level = small;
  level.insert({{"depthwise_conv2d", 16},
                {"depthwise_conv2d_1", 32},
                {"depthwise_conv2d_2", 24},
                {"depthwise_conv2d_3", 40}});
  const std::optional<Error> attached =
      attach_plan(planned, engine::testing::plan_with_widths(planned, {level}));
  ASSERT_FALSE(attached) << attached->message;
  const std::vector<float> expected = session_logits(planned, 0);

  // The folded model with its plan...
  Result<Network<float>> folded = Network<float>::from_model(planned);
  ASSERT_TRUE(folded) << folded.error().message;
  const Result<Widths> widths = folded->plan_widths(0);
  ASSERT_TRUE(widths) << widths.error().message;
  EXPECT_EQ(widths.value(), (Widths{16, 16, 32, 32, 24, 24, 40, 40, 48, 10}));
  Pass<float> pass;
  Result<std::span<const float>> logits = pass.forward(folded.value(), *widths, first_images(), kImages);
  ASSERT_TRUE(logits) << logits.error().message;
  expect_logits_near(logits.value(), expected);

  // ...and the Keras network with its batch norms, at the same widths.
  Network<float> network = keras_network();
  logits = pass.forward(network, *widths, first_images(), kImages);
  ASSERT_TRUE(logits) << logits.error().message;
  expect_logits_near(logits.value(), expected);
  EXPECT_FALSE(network.plan_widths(0));  // the Keras file has no plan
}

TEST(TrainingKeras, ExportCarriesTrainedWeights) {
  Network<float> network = keras_network();
  // Doubling the head's weights and biases doubles the logits.
  for (float& value : network.layers().back().kernel.value) value *= 2.0f;
  for (float& value : network.layers().back().bias.value) value *= 2.0f;
  const Result<Model> exported = network.to_model();
  ASSERT_TRUE(exported) << exported.error().message;
  std::vector<float> doubled = session_logits(engine_model(), 0);
  for (float& value : doubled) value *= 2.0f;
  const std::vector<float> logits = session_logits(exported.value(), 0);
  for (std::size_t at = 0; at < logits.size(); ++at)
    EXPECT_NEAR(logits[at], doubled[at], 1e-4 * std::max(1.0f, std::abs(doubled[at]))) << at;
}

// MLPerf Tiny's ResNet-8: a functional graph with three Adds, two 1x1 projections without batch norm and
// Activation after every Add, trained on raw 0..255 pixels.
TEST(TrainingKeras, ResidualGraphKeepsItsBatchNormsAndComputesWhatTheEngineComputes) {
  const std::string path = reds::test::source_path("tests/data/mlperf-tiny/pretrainedResnet.h5").string();
  Result<Network<float>> loaded = Network<float>::load_keras(path);
  ASSERT_TRUE(loaded) << loaded.error().message;
  Network<float> network = std::move(loaded).value();
  const Result<Model> model = load_keras(path);
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ(std::count_if(network.layers().begin(), network.layers().end(),
                          [](const auto& layer) { return layer.kind == TrainingLayerKind::batch_norm; }),
            7);
  EXPECT_EQ(std::count_if(network.layers().begin(), network.layers().end(),
                          [](const auto& layer) { return layer.kind == TrainingLayerKind::add; }),
            3);
  const Result<Model> exported = network.to_model();
  ASSERT_TRUE(exported) << exported.error().message;
  for (std::size_t index = 0; index < model->layers.size(); ++index) {
    EXPECT_EQ(exported->layers[index].kernel, model->layers[index].kernel) << model->layers[index].name;
    EXPECT_EQ(exported->layers[index].inputs, model->layers[index].inputs) << model->layers[index].name;
  }

  SplitMix64 random(20);
  std::vector<float> images(static_cast<std::size_t>(4 * network.input_shape().size()));
  for (float& value : images) value = static_cast<float>(random.next() % 256);
  Pass<float> pass;
  const Result<std::span<const float>> logits = pass.forward(network, network.full_widths(), images, 4);
  ASSERT_TRUE(logits) << logits.error().message;
  Result<Session> session = Session::create(model.value());
  ASSERT_TRUE(session) << session.error().message;
  std::vector<float> expected(static_cast<std::size_t>(4 * session->output_size()));
  ASSERT_TRUE(session.value().run_batch(images, expected));
  // The engine's model ends in its Softmax; training's logits come before it.
  std::vector<float> probabilities(logits->begin(), logits->end());
  for (std::size_t image = 0; image < 4; ++image) {
    float* z = probabilities.data() + image * 10;
    const float top = *std::max_element(z, z + 10);
    float sum = 0.0f;
    for (int c = 0; c < 10; ++c) sum += z[c] = std::exp(z[c] - top);
    for (int c = 0; c < 10; ++c) z[c] /= sum;
  }
  for (std::size_t at = 0; at < expected.size(); ++at)
    EXPECT_NEAR(probabilities[at], expected[at], 1e-4) << at;
  // One backward pass reaches every weight.
  network.zero_gradients();
  ASSERT_TRUE(pass.backward(network, std::vector<std::int64_t>{0, 1, 2, 3}));
  for (const TrainingLayer<float>& layer : network.layers()) {
    if (layer.kernel.value.empty()) continue;
    EXPECT_TRUE(std::any_of(layer.kernel.gradient.begin(), layer.kernel.gradient.end(), [](float value) {
      return value != 0.0f;
    })) << layer.name;
  }
}

TEST(TrainingKeras, RejectsWhatItCannotTrain) {
  Model model = engine_model();
  Model grouped;
  grouped.input = {4, 4, 2, false};
  Layer conv;
  conv.name = "grouped";
  conv.kind = LayerKind::conv2d;
  conv.units = 2;
  conv.groups = 2;
  conv.kernel.assign(2, 0.5f);
  grouped.layers.push_back(conv);
  Layer flatten;
  flatten.name = "flatten";
  flatten.kind = LayerKind::flatten;
  grouped.layers.push_back(flatten);
  const auto rejected = Network<float>::from_model(grouped);
  ASSERT_FALSE(rejected);
  EXPECT_NE(rejected.error().message.find("grouped"), std::string::npos) << rejected.error().message;

  Model softmax_inside = model;
  Layer softmax;
  softmax.name = "softmax";
  softmax.kind = LayerKind::softmax;
  softmax_inside.layers.insert(softmax_inside.layers.end() - 1, softmax);
  EXPECT_FALSE(Network<float>::from_model(softmax_inside));
  Model softmax_last = model;
  softmax_last.layers.push_back(softmax);
  const Result<Network<float>> trained = Network<float>::from_model(softmax_last);
  ASSERT_TRUE(trained) << trained.error().message;
  EXPECT_EQ(trained->classes(), 10);
  const Result<Model> exported = trained->to_model();
  ASSERT_TRUE(exported);
  EXPECT_EQ(exported->layers.back().kind, LayerKind::softmax);  // exporting puts it back

  EXPECT_FALSE(Network<float>::load_keras("/nonexistent.keras"));
}

}  // namespace
}  // namespace reds::engine::training
