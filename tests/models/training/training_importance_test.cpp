// Gradient importance (reds-paper section 3) against a brute-force accumulation written out per weight
// index, and on the authors' Fashion-MNIST model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "models/test_data.h"
#include "reds/training/importance.h"
#include "training_test_models.h"

namespace reds::engine::training {
namespace {

using testing::ModelBuilder;

ImageSet synthetic_images(std::int64_t count) {
  ImageSet images;
  images.count = count;
  images.height = images.width = 6;
  testing::TestRandom random(1);
  images.pixels = random.floats(static_cast<std::size_t>(count * 36), 0.0, 1.0);
  for (std::int64_t image = 0; image < count; ++image) images.labels.push_back(image % 4);
  return images;
}

Network<double> small_network() {
  ModelBuilder builder({6, 6, 1}, 2);
  builder.conv("conv", 3, 3, 3, 2).rectifier("relu", Rectifier{0.3f});
  builder.depthwise("depthwise", 3, 3, 2).conv("pointwise", 4, 1, 1, 1, Padding::valid);
  builder.plain("flatten", LayerKind::flatten).dense("dense", 4);
  Network<double> network = Network<double>::from_model(builder.model()).value();
  testing::TestRandom random(3);
  EXPECT_FALSE(network.add_batch_norm("conv", "bn", testing::random_batch_norm(random, 3)));
  EXPECT_FALSE(network.add_batch_norm("depthwise", "bn_1", testing::random_batch_norm(random, 6)));
  return network;
}

TEST(GradientImportance, EqualsTheBruteForceSumOverWeightsOfTheAccumulatedGradient) {
  const Network<double> network = small_network();
  const ImageSet images = synthetic_images(20);
  ImportanceOptions options;
  options.minibatches = 4;  // 3 minibatches per epoch (8, 8, 4 images): wraps into a second epoch
  options.batch_size = 8;
  options.seed = 5;
  const auto importance = gradient_importance(network, images, options);
  ASSERT_TRUE(importance) << importance.error().message;

  // G = sum over the same minibatches of the mean-loss gradient, batch norm on batch statistics.
  MinibatchStream stream(images, 8, 5, Augmentation::reference());
  std::vector<std::vector<double>> sums(network.layers().size());
  for (int minibatch = 0; minibatch < 4; ++minibatch) {
    Minibatch batch;
    stream.next(batch);
    Network<double> copy = network;
    copy.zero_gradients();
    Pass<double> pass;
    PassOptions batch_statistics;
    batch_statistics.batch_norm = BatchNormMode::batch_statistics;
    const std::vector<double> pixels(batch.images.begin(), batch.images.end());
    ASSERT_TRUE(pass.forward(copy, copy.full_widths(), pixels, batch.count, batch_statistics));
    ASSERT_TRUE(pass.backward(copy, batch.labels));
    for (std::size_t index = 0; index < sums.size(); ++index) {
      const std::vector<double>& gradient = copy.layers()[index].kernel.gradient;
      sums[index].resize(gradient.size());
      for (std::size_t at = 0; at < gradient.size(); ++at) sums[index][at] += gradient[at];
    }
  }
  const auto saliency = [&](std::size_t layer, std::size_t at) {
    return std::abs(network.layers()[layer].kernel.value[at] * sums[layer][at]);
  };
  // Layers: conv [3][3][1][3] (index 0), bn, relu, depthwise [3][3][3][2] (3), bn_1, pointwise [1][1][6][4]
  // (5), flatten, dense [features][4] (7).
  std::map<std::string, std::vector<double>> expected;
  expected["conv"].assign(3, 0.0);
  for (std::size_t tap = 0; tap < 9; ++tap)
    for (std::size_t filter = 0; filter < 3; ++filter)
      expected["conv"][filter] += saliency(0, tap * 3 + filter);
  expected["depthwise"].assign(6, 0.0);
  for (std::size_t tap = 0; tap < 9; ++tap)
    for (std::size_t channel = 0; channel < 3; ++channel)
      for (std::size_t m = 0; m < 2; ++m)
        expected["depthwise"][channel * 2 + m] += saliency(3, (tap * 3 + channel) * 2 + m);
  expected["pointwise"].assign(4, 0.0);
  for (std::size_t input = 0; input < 6; ++input)
    for (std::size_t filter = 0; filter < 4; ++filter)
      expected["pointwise"][filter] += saliency(5, input * 4 + filter);
  expected["dense"].assign(4, 0.0);
  const std::size_t features = network.layers()[7].kernel.value.size() / 4;
  for (std::size_t feature = 0; feature < features; ++feature)
    for (std::size_t unit = 0; unit < 4; ++unit) expected["dense"][unit] += saliency(7, feature * 4 + unit);

  ASSERT_EQ(network.layers()[5].name, "pointwise");
  ASSERT_EQ(network.layers()[7].name, "dense");
  ASSERT_EQ(importance->size(), expected.size());
  for (const auto& [name, scores] : expected) {
    const std::vector<double>& actual = importance->at(name);
    ASSERT_EQ(actual.size(), scores.size()) << name;
    for (std::size_t unit = 0; unit < scores.size(); ++unit) {
      EXPECT_GT(scores[unit], 0.0) << name << unit;
      EXPECT_NEAR(actual[unit], scores[unit], 1e-12 * scores[unit]) << name << " " << unit;
    }
  }
}

TEST(GradientImportance, PretrainedFashionMnistModel) {
  Result<Network<float>> network = Network<float>::load_keras(testing::pretrained_model("fashion_mnist"));
  ASSERT_TRUE(network) << network.error().message;
  // conv2d_1's filter 5 contributes nothing once its weights are zero.
  TrainingLayer<float>& pointwise = network.value().layers()[6];
  ASSERT_EQ(pointwise.name, "conv2d_1");
  for (std::size_t at = 5; at < pointwise.kernel.value.size(); at += 64) pointwise.kernel.value[at] = 0.0f;
  Result<ImageSet> images = load_test_set(testing::kFashionMnistDir);
  ASSERT_TRUE(images) << images.error().message;
  images.value().count = 64;
  ImportanceOptions options;
  options.minibatches = 2;
  options.batch_size = 32;
  const auto importance = gradient_importance(network.value(), images.value(), options);
  ASSERT_TRUE(importance) << importance.error().message;
  EXPECT_EQ(importance->size(), 10u);
  for (const auto& [name, scores] : importance.value()) {
    EXPECT_EQ(scores.size(), name == "dense" ? 10u : 64u) << name;
    for (std::size_t unit = 0; unit < scores.size(); ++unit) {
      if (name == "conv2d_1" && unit == 5) {
        EXPECT_EQ(scores[unit], 0.0);
      } else {
        EXPECT_GT(scores[unit], 0.0) << name << " " << unit;
      }
    }
  }
}

TEST(GradientImportance, RejectsImagesAndOptionsThatDoNotFit) {
  const Network<double> network = small_network();
  ImageSet images = synthetic_images(4);
  ImportanceOptions options;
  options.minibatches = 0;
  EXPECT_FALSE(gradient_importance(network, images, options));
  options.minibatches = 1;
  images.width = 5;
  EXPECT_FALSE(gradient_importance(network, images, options));
  images = synthetic_images(4);
  images.labels[2] = 9;  // no such class
  EXPECT_FALSE(gradient_importance(network, images, options));
}

}  // namespace
}  // namespace reds::engine::training
