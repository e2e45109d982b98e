// Joint fine-tuning of all levels: parameter counts per level (against the paper's DS-CNN S count and a
// hand count), the reference's level weights, and one joint step's gradients against separate passes.
#include <gtest/gtest.h>

#include <cmath>

#include "models/test_data.h"
#include "reds/training/levels.h"
#include "training_test_models.h"

namespace reds::engine::training {
namespace {

using testing::ModelBuilder;

const Widths kSmallLevel = {16, 16, 32, 32, 24, 24, 40, 40, 48, 10};

TEST(TrainingLevels, ParameterCountsOfTheFashionMnistModel) {
  const Result<Network<float>> network =
      Network<float>::load_keras(testing::pretrained_model("fashion_mnist"));
  ASSERT_TRUE(network) << network.error().message;
  // reds-paper section 9.4: 32,650 parameters (batch norm excluded).
  EXPECT_EQ(network->parameter_count(network->full_widths()).value(), 32650);
  // By hand: conv 9*1*16+16, dw 9*16+16, pw 16*32+32, dw 9*32+32, pw 32*24+24, dw 9*24+24, pw 24*40+40,
  // dw 9*40+40, pw 40*48+48, dense (2*10 pixels * 48 channels)*10+10.
  EXPECT_EQ(network->parameter_count(kSmallLevel).value(),
            160 + 160 + 544 + 320 + 792 + 240 + 1000 + 400 + 1968 + 9610);
  EXPECT_FALSE(network->parameter_count({16, 17, 32, 32, 24, 24, 40, 40, 48, 10}));

  const Result<std::vector<double>> weights =
      reference_level_weights(network.value(), {kSmallLevel, network->full_widths()});
  ASSERT_TRUE(weights) << weights.error().message;
  const double root = std::sqrt(15194.0 / 32650.0);
  EXPECT_NEAR((*weights)[0], root / (root + 1.0), 1e-15);
  EXPECT_NEAR((*weights)[1], 1.0 / (root + 1.0), 1e-15);
}

TEST(TrainingLevels, JointGradientsAreTheWeightedSumOfEveryLevelsGradients) {
  ModelBuilder builder({7, 6, 1}, 50);
  builder.conv("conv", 6, 3, 3, 2).rectifier("relu", Rectifier{0.3f});
  builder.depthwise("depthwise", 3, 3).conv("pointwise", 5, 1, 1, 1, Padding::valid);
  builder.plain("flatten", LayerKind::flatten).dense("head", 3);
  Network<double> network = Network<double>::from_model(builder.model()).value();
  testing::TestRandom random(51);
  ASSERT_FALSE(network.add_batch_norm("conv", "bn", testing::random_batch_norm(random, 6)));
  const testing::TestBatch batch = testing::random_batch(random, network.input_shape(), 3, 5);
  const std::vector<Widths> levels = {{2, -1, 1, 3}, {4, -1, 3, 3}, network.full_widths()};
  const std::vector<double> weights = reference_level_weights(network, levels).value();
  PassOptions options;
  options.batch_norm = BatchNormMode::batch_statistics;

  Pass<double> pass;
  const Result<std::vector<LevelResult>> results =
      joint_gradients(network, levels, weights, batch.images, batch.labels, options, pass);
  ASSERT_TRUE(results) << results.error().message;
  ASSERT_EQ(results->size(), 3u);
  std::vector<std::vector<double>> joint;
  for (Parameter<double>* parameter : network.parameters()) joint.push_back(parameter->gradient);

  std::vector<std::vector<double>> expected(joint.size());
  for (std::size_t level = 0; level < levels.size(); ++level) {
    network.zero_gradients();
    ASSERT_TRUE(pass.forward(network, levels[level], batch.images, batch.count, options));
    EXPECT_DOUBLE_EQ(pass.backward(network, batch.labels).value(), (*results)[level].loss);
    EXPECT_EQ(pass.correct(), (*results)[level].correct);
    const std::vector<Parameter<double>*> parameters = network.parameters();
    for (std::size_t index = 0; index < parameters.size(); ++index) {
      expected[index].resize(parameters[index]->gradient.size());
      for (std::size_t at = 0; at < expected[index].size(); ++at)
        expected[index][at] += weights[level] * parameters[index]->gradient[at];
    }
  }
  for (std::size_t index = 0; index < joint.size(); ++index)
    for (std::size_t at = 0; at < joint[index].size(); ++at)
      EXPECT_NEAR(joint[index][at], expected[index][at], 1e-14) << index << " " << at;
  EXPECT_LT((*results)[0].loss, 10.0);
  EXPECT_FALSE(joint_gradients(network, levels, {0.5, 0.5}, batch.images, batch.labels, options, pass));
}

}  // namespace
}  // namespace reds::engine::training
