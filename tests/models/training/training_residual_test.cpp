// Training residual models: a level computes the full network with the dropped units zeroed, the trained
// network exports to the model the engine runs, and joint training of a residual model's levels lowers
// every level's loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "reds/engine/session.h"
#include "reds/training/levels.h"
#include "reds/training/optimizer.h"
#include "reds/training/training.h"
#include "training_test_models.h"

namespace reds::engine::training {
namespace {

using testing::ModelBuilder;
using testing::TestBatch;
using testing::TestRandom;

constexpr std::int64_t kClasses = 3;

// Two residual blocks (a stride-2 projection shortcut without bias, then an identity shortcut after a
// ZeroPadding2D), no batch norm: a level is exactly the full model with the dropped units' weights zeroed.
Model residual_model(std::uint64_t seed) {
  ModelBuilder builder({8, 8, 1}, seed);
  builder.conv("stem", 4, 3, 3).rectifier("stem_relu");
  const std::size_t stem = builder.tensor();
  builder.conv("conv1", 6, 3, 3, 2).rectifier("relu1").conv("conv2", 5, 3, 3);
  const std::size_t residual = builder.tensor();
  builder.from(stem).conv("projection", 5, 1, 1, 2, Padding::valid, 1, false);
  builder.sum("add1", {residual, builder.tensor()}).rectifier("add1_relu");
  const std::size_t block = builder.tensor();
  builder.zero_padding("pad", 1, 1, 1, 1).conv("conv3", 4, 3, 3, 1, Padding::valid).rectifier("relu3");
  builder.conv("conv4", 5, 3, 3);
  builder.sum("add2", {block, builder.tensor()}).rectifier("add2_relu");
  builder.plain("pool", LayerKind::global_average_pool2d).dense("head", kClasses);
  return builder.model();
}

// Units: stem, conv1, conv2, projection, conv3, conv4, head; the stream is conv2, projection, conv4.
const Widths kLevel = {2, 3, 3, 3, 2, 3, kClasses};

TEST(TrainingResidual, ALevelIsTheFullNetworkWithTheDroppedUnitsZeroed) {
  const Model model = residual_model(70);
  Network<double> network = Network<double>::from_model(model).value();
  Network<double> masked = network;
  for (std::size_t unit = 0; unit < masked.unit_layers().size(); ++unit) {
    TrainingLayer<double>& layer = masked.layers()[masked.unit_layers()[unit]];
    const std::size_t units = static_cast<std::size_t>(masked.shapes()[layer.model_layer].channels);
    for (std::size_t at = 0; at < layer.kernel.value.size(); ++at)
      if (at % units >= static_cast<std::size_t>(kLevel[unit])) layer.kernel.value[at] = 0.0;
    for (std::size_t at = static_cast<std::size_t>(kLevel[unit]); at < layer.bias.value.size(); ++at)
      layer.bias.value[at] = 0.0;
  }
  TestRandom random(71);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 4);
  Pass<double> level_pass, full_pass;
  const Result<std::span<const double>> level =
      level_pass.forward(network, kLevel, batch.images, batch.count);
  ASSERT_TRUE(level) << level.error().message;
  const Result<std::span<const double>> full =
      full_pass.forward(masked, masked.full_widths(), batch.images, batch.count);
  ASSERT_TRUE(full) << full.error().message;
  ASSERT_EQ(level->size(), full->size());
  for (std::size_t at = 0; at < level->size(); ++at) EXPECT_NEAR((*level)[at], (*full)[at], 1e-12) << at;
  // The narrow level is another function than the full network.
  Pass<double> unmasked;
  const std::span<const double> original =
      unmasked.forward(network, network.full_widths(), batch.images, batch.count).value();
  EXPECT_GT(std::abs(original[0] - (*level)[0]), 1e-6);
}

TEST(TrainingResidual, TheNetworkRunsAsTheEngineRunsItsModel) {
  const Model model = residual_model(72);
  Network<float> network = Network<float>::from_model(model).value();
  const Result<Model> exported = network.to_model();
  ASSERT_TRUE(exported) << exported.error().message;
  for (std::size_t index = 0; index < model.layers.size(); ++index)
    EXPECT_EQ(exported->layers[index].inputs, model.layers[index].inputs) << model.layers[index].name;
  Result<Session> created = Session::create(exported.value());
  ASSERT_TRUE(created) << created.error().message;
  Session session = std::move(created).value();
  TestRandom random(73);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  const std::vector<float> images(batch.images.begin(), batch.images.end());
  Pass<float> pass;
  const std::vector<float> logits = [&] {
    const std::span<const float> out =
        pass.forward(network, network.full_widths(), images, batch.count).value();
    return std::vector<float>(out.begin(), out.end());
  }();
  const std::int64_t image_size = network.input_shape().size();
  for (std::int64_t image = 0; image < batch.count; ++image) {
    const std::span<const float> engine_logits = session.run(std::span<const float>(images).subspan(
        static_cast<std::size_t>(image * image_size), static_cast<std::size_t>(image_size)));
    ASSERT_EQ(engine_logits.size(), static_cast<std::size_t>(kClasses));
    for (std::int64_t c = 0; c < kClasses; ++c)
      EXPECT_NEAR(engine_logits[static_cast<std::size_t>(c)],
                  logits[static_cast<std::size_t>(image * kClasses + c)], 1e-4);
  }
}

TEST(TrainingResidual, JointTrainingOfTheLevelsLowersEveryLevelsLoss) {
  Network<float> network = Network<float>::from_model(residual_model(74)).value();
  TestRandom random(75);
  TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 24);
  // A task every level can learn: the rows of a third of the image, the label's, are brighter.
  const Shape input = network.input_shape();
  for (std::int64_t image = 0; image < batch.count; ++image)
    for (std::int64_t row = 0; row < input.height; ++row)
      if (row * kClasses / input.height == batch.labels[static_cast<std::size_t>(image)])
        for (std::int64_t at = 0; at < input.width * input.channels; ++at)
          batch.images[static_cast<std::size_t>((image * input.height + row) * input.width * input.channels +
                                                at)] += 1.0;
  const std::vector<float> images(batch.images.begin(), batch.images.end());
  const std::vector<Widths> levels = {{1, 2, 2, 2, 1, 2, kClasses}, kLevel, network.full_widths()};
  const std::vector<double> weights = reference_level_weights(network, levels).value();
  Optimizer<float> optimizer = Optimizer<float>::adam(LearningRateSchedule::constant(1e-2));
  Pass<float> pass;
  std::vector<LevelResult> first;
  std::vector<LevelResult> last;
  for (int step = 0; step < 60; ++step) {
    const Result<std::vector<LevelResult>> results =
        joint_gradients(network, levels, weights, images, batch.labels, {}, pass);
    ASSERT_TRUE(results) << results.error().message;
    if (step == 0) first = results.value();
    last = results.value();
    ASSERT_FALSE(optimizer.step(network));
  }
  for (std::size_t level = 0; level < levels.size(); ++level) {
    SCOPED_TRACE(level);
    // Every level's loss at least halves.
    EXPECT_LT(last[level].loss, 0.5 * first[level].loss);
  }
}

}  // namespace
}  // namespace reds::engine::training
