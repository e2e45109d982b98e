// Optimizers and learning-rate schedules: Keras' update rules worked by hand, and training that repeats
// itself bit for bit from a seed.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "reds/training/data.h"
#include "reds/training/optimizer.h"
#include "training_test_models.h"

namespace reds::engine::training {
namespace {

using testing::ModelBuilder;

TEST(LearningRateSchedule, PiecewiseConstantAsTheReferenceUsesIt) {
  const Result<LearningRateSchedule> schedule =
      LearningRateSchedule::piecewise_constant({16406, 30468}, {1e-3, 2.5e-4, 1e-5});
  ASSERT_TRUE(schedule) << schedule.error().message;
  EXPECT_EQ(schedule->at(0), 1e-3);
  EXPECT_EQ(schedule->at(16406), 1e-3);  // Keras: values[0] while step <= boundaries[0]
  EXPECT_EQ(schedule->at(16407), 2.5e-4);
  EXPECT_EQ(schedule->at(30468), 2.5e-4);
  EXPECT_EQ(schedule->at(30469), 1e-5);
  EXPECT_EQ(schedule->at(1000000), 1e-5);
  EXPECT_EQ(LearningRateSchedule::constant(0.01).at(123456), 0.01);
  EXPECT_FALSE(LearningRateSchedule::piecewise_constant({10}, {1e-3}));
  EXPECT_FALSE(LearningRateSchedule::piecewise_constant({10, 10}, {1, 2, 3}));
  EXPECT_FALSE(LearningRateSchedule::piecewise_constant({10}, {1, -2}));
}

TEST(LearningRateSchedule, ExponentialDecay) {
  const LearningRateSchedule staircase =
      LearningRateSchedule::exponential_decay(1e-3, 100000, 0.98, true).value();
  EXPECT_EQ(staircase.at(0), 1e-3);
  EXPECT_EQ(staircase.at(99999), 1e-3);
  EXPECT_DOUBLE_EQ(staircase.at(100000), 1e-3 * 0.98);
  EXPECT_DOUBLE_EQ(staircase.at(250000), 1e-3 * 0.98 * 0.98);
  const LearningRateSchedule smooth =
      LearningRateSchedule::exponential_decay(1e-3, 100000, 0.98, false).value();
  EXPECT_DOUBLE_EQ(smooth.at(50000), 1e-3 * std::sqrt(0.98));
  EXPECT_FALSE(LearningRateSchedule::exponential_decay(1e-3, 0, 0.98, true));
}

TEST(LearningRateSchedule, CosineDecayAsKerasComputesIt) {
  const LearningRateSchedule cosine = LearningRateSchedule::cosine_decay(1e-3, 400, 0.1).value();
  EXPECT_DOUBLE_EQ(cosine.at(0), 1e-3);
  // Halfway: (1 - alpha) / 2 + alpha of the initial rate.
  EXPECT_DOUBLE_EQ(cosine.at(200), 1e-3 * (0.9 * 0.5 + 0.1));
  EXPECT_DOUBLE_EQ(cosine.at(100), 1e-3 * (0.9 * 0.5 * (1 + std::cos(M_PI / 4)) + 0.1));
  EXPECT_DOUBLE_EQ(cosine.at(400), 1e-4);
  EXPECT_DOUBLE_EQ(cosine.at(5000), 1e-4);
  EXPECT_EQ(LearningRateSchedule::cosine_decay(2e-3, 10, 0.0).value().at(10), 0.0);
  EXPECT_FALSE(LearningRateSchedule::cosine_decay(1e-3, 0, 0.0));
  EXPECT_FALSE(LearningRateSchedule::cosine_decay(1e-3, 10, 1.5));
  EXPECT_FALSE(LearningRateSchedule::cosine_decay(-1.0, 10, 0.0));
}

TEST(LearningRateSchedule, WarmUpRampsTheFirstStepsOnly) {
  const LearningRateSchedule steps = LearningRateSchedule::piecewise_constant({100}, {1e-3, 1e-4}).value();
  const LearningRateSchedule warm = steps.with_warmup(4).value();
  EXPECT_DOUBLE_EQ(warm.at(0), 0.25e-3);
  EXPECT_DOUBLE_EQ(warm.at(2), 0.75e-3);
  EXPECT_EQ(warm.at(4), 1e-3);
  EXPECT_EQ(warm.at(101), 1e-4);
  const LearningRateSchedule cosine = LearningRateSchedule::cosine_decay(1e-3, 10, 0.0).value();
  const LearningRateSchedule warm_cosine = cosine.with_warmup(5).value();
  EXPECT_DOUBLE_EQ(warm_cosine.at(1), cosine.at(1) * 2.0 / 5.0);
  EXPECT_EQ(warm_cosine.at(7), cosine.at(7));
  // No warm-up leaves the schedule as it is.
  EXPECT_EQ(steps.with_warmup(0).value().at(0), 1e-3);
  EXPECT_FALSE(steps.with_warmup(-1));
}

// Dense 2 -> 3: kernel (6 numbers) and bias (3).
Network<double> tiny_network() {
  ModelBuilder builder({1, 1, 2, true}, 1);
  builder.dense("dense", 3);
  return Network<double>::from_model(builder.model()).value();
}

void set_gradients(Network<double>& network, double first) {
  for (Parameter<double>* parameter : network.parameters())
    for (std::size_t at = 0; at < parameter->gradient.size(); ++at)
      parameter->gradient[at] = first + 0.5 * static_cast<double>(at) - 1.0;
}

TEST(Optimizer, AdamFollowsKerasUpdateRule) {
  Network<double> network = tiny_network();
  const std::vector<double> start = network.layers()[0].kernel.value;
  Optimizer<double> adam = Optimizer<double>::adam(LearningRateSchedule::constant(0.01));
  // Keras: m += (1 - b1)(g - m), v += (1 - b2)(g^2 - v), w -= rate sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt v +
  // eps)
  std::vector<double> weights = start, m(start.size()), v(start.size());
  const double gradients[] = {0.3, -2.0, 0.7};
  for (int t = 1; t <= 3; ++t) {
    set_gradients(network, gradients[t - 1]);
    ASSERT_FALSE(adam.step(network));
    const double alpha = 0.01 * std::sqrt(1 - std::pow(0.999, t)) / (1 - std::pow(0.9, t));
    for (std::size_t at = 0; at < weights.size(); ++at) {
      const double g = gradients[t - 1] + 0.5 * static_cast<double>(at) - 1.0;
      m[at] = 0.9 * m[at] + 0.1 * g;
      v[at] = 0.999 * v[at] + 0.001 * g * g;
      weights[at] -= alpha * m[at] / (std::sqrt(v[at]) + 1e-7);
    }
  }
  EXPECT_EQ(adam.iterations(), 3);
  for (std::size_t at = 0; at < weights.size(); ++at)
    EXPECT_NEAR(network.layers()[0].kernel.value[at], weights[at], 1e-15) << at;
}

TEST(Optimizer, AdamFirstStepMovesEveryWeightByTheRateAgainstItsGradient) {
  Network<double> network = tiny_network();
  const std::vector<double> start = network.layers()[0].kernel.value;
  Optimizer<double> adam = Optimizer<double>::adam(LearningRateSchedule::constant(0.001));
  set_gradients(network, 0.1);  // gradients -0.9, -0.4, 0.1, 0.6, ...
  ASSERT_FALSE(adam.step(network));
  for (std::size_t at = 0; at < start.size(); ++at) {
    const double gradient = network.layers()[0].kernel.gradient[at];
    EXPECT_NEAR(network.layers()[0].kernel.value[at] - start[at], gradient > 0 ? -0.001 : 0.001, 1e-7) << at;
  }
}

TEST(Optimizer, SgdWithAndWithoutMomentum) {
  Network<double> plain = tiny_network();
  Network<double> heavy = tiny_network();
  Network<double> nesterov = tiny_network();
  const double start = plain.layers()[0].bias.value[0];
  Optimizer<double> sgd = Optimizer<double>::sgd(LearningRateSchedule::constant(0.1));
  Optimizer<double> momentum = Optimizer<double>::sgd(LearningRateSchedule::constant(0.1), {0.9, false});
  Optimizer<double> ahead = Optimizer<double>::sgd(LearningRateSchedule::constant(0.1), {0.9, true});
  for (int step = 0; step < 2; ++step) {
    set_gradients(plain, 3.0);  // bias[0]'s gradient is 2
    set_gradients(heavy, 3.0);
    set_gradients(nesterov, 3.0);
    ASSERT_FALSE(sgd.step(plain));
    ASSERT_FALSE(momentum.step(heavy));
    ASSERT_FALSE(ahead.step(nesterov));
  }
  EXPECT_NEAR(plain.layers()[0].bias.value[0], start - 0.4, 1e-15);
  // velocity -0.2, then -0.38: moved -0.58.
  EXPECT_NEAR(heavy.layers()[0].bias.value[0], start - 0.58, 1e-15);
  // Nesterov: 0.9 * v - 0.2 after each: -0.38, then -0.542: moved -0.922.
  EXPECT_NEAR(nesterov.layers()[0].bias.value[0], start - 0.922, 1e-15);
}

TEST(Optimizer, LeavesFrozenParametersAndFollowsTheSchedule) {
  Network<double> network = tiny_network();
  network.layers()[0].kernel.trainable = false;
  const std::vector<double> kernel = network.layers()[0].kernel.value;
  const std::vector<double> bias = network.layers()[0].bias.value;
  Optimizer<double> sgd =
      Optimizer<double>::sgd(LearningRateSchedule::piecewise_constant({0}, {1.0, 0.5}).value());
  EXPECT_EQ(sgd.learning_rate(), 1.0);
  set_gradients(network, 1.0);
  ASSERT_FALSE(sgd.step(network));
  EXPECT_EQ(sgd.learning_rate(), 0.5);
  ASSERT_FALSE(sgd.step(network));
  EXPECT_EQ(network.layers()[0].kernel.value, kernel);
  for (std::size_t at = 0; at < bias.size(); ++at)
    EXPECT_NEAR(network.layers()[0].bias.value[at], bias[at] - 1.5 * (0.5 * static_cast<double>(at)), 1e-15);
  Network<double> other =
      Network<double>::from_model(ModelBuilder({1, 1, 3, true}, 2).dense("dense", 3).model()).value();
  EXPECT_TRUE(sgd.step(other));  // state sized for another network
}

// A few steps of Adam on a small convolutional network with batch norm over augmented synthetic images.
std::vector<float> train(std::uint64_t seed, int steps, Optimizer<float>* resumed = nullptr,
                         Network<float>* network_state = nullptr, int first_step = 0) {
  ModelBuilder builder({8, 8, 1}, 3);
  builder.conv("conv", 4, 3, 3, 2).rectifier("relu").plain("flatten", LayerKind::flatten).dense("head", 3);
  Network<float> network = Network<float>::from_model(builder.model()).value();
  if (network_state) network = *network_state;
  ImageSet images;
  images.count = 40;
  images.height = images.width = 8;
  testing::TestRandom random(4);
  images.pixels = random.floats(40 * 64, 0.0, 1.0);
  for (int image = 0; image < 40; ++image) images.labels.push_back(image % 3);
  MinibatchStream stream(images, 16, seed, Augmentation::reference());
  stream.seek(0, first_step);
  Optimizer<float> adam = resumed ? *resumed : Optimizer<float>::adam(LearningRateSchedule::constant(0.01));
  Pass<float> pass;
  Minibatch batch;
  for (int step = first_step; step < steps; ++step) {
    stream.next(batch);
    network.zero_gradients();
    EXPECT_TRUE(pass.forward(network, network.full_widths(), batch.images, batch.count));
    EXPECT_TRUE(pass.backward(network, batch.labels));
    EXPECT_FALSE(adam.step(network));
    if (network_state && step + 1 == steps) *network_state = network;
    if (resumed && step + 1 == steps) *resumed = adam;
  }
  std::vector<float> weights;
  for (Parameter<float>* parameter : network.parameters())
    weights.insert(weights.end(), parameter->value.begin(), parameter->value.end());
  return weights;
}

TEST(Optimizer, TrainingRepeatsItselfFromASeedAndResumes) {
  const std::vector<float> first = train(7, 6);
  EXPECT_EQ(train(7, 6), first);
  EXPECT_NE(train(8, 6), first);
  // Stopping after 4 steps and resuming with the saved network and optimizer state gives the same weights.
  ModelBuilder builder({8, 8, 1}, 3);
  builder.conv("conv", 4, 3, 3, 2).rectifier("relu").plain("flatten", LayerKind::flatten).dense("head", 3);
  Network<float> saved = Network<float>::from_model(builder.model()).value();
  Optimizer<float> optimizer = Optimizer<float>::adam(LearningRateSchedule::constant(0.01));
  train(7, 4, &optimizer, &saved);
  EXPECT_EQ(optimizer.iterations(), 4);
  EXPECT_EQ(train(7, 6, &optimizer, &saved, 4), first);
}

}  // namespace
}  // namespace reds::engine::training
