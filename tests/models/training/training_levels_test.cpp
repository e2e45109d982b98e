// Joint fine-tuning of all levels: parameter counts per level (against the paper's DS-CNN S count and a
// hand count), the reference's level weights, and one joint step's gradients against separate passes.
// In-place distillation: the mixed loss's gradient against finite differences, and the teacher detached (its
// targets are constants of the step, which finite differences of the undetached objective tell apart).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "models/test_data.h"
#include "models/test_plans.h"
#include "reds/engine/session.h"
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

// The small network of the joint test: a conv with batch norm, a depthwise, a pointwise conv and a head.
Network<double> small_network() {
  ModelBuilder builder({7, 6, 1}, 50);
  builder.conv("conv", 6, 3, 3, 2).rectifier("relu", Rectifier{0.3f});
  builder.depthwise("depthwise", 3, 3).conv("pointwise", 5, 1, 1, 1, Padding::valid);
  builder.plain("flatten", LayerKind::flatten).dense("head", 3);
  Network<double> network = Network<double>::from_model(builder.model()).value();
  testing::TestRandom random(51);
  EXPECT_FALSE(network.add_batch_norm("conv", "bn", testing::random_batch_norm(random, 6)));
  return network;
}

// Mean over the images of (1 - w) * cross-entropy + w * T^2 * KL(targets || softmax(logits / T)), written
// out independently of the pass.
double mixed_loss(std::span<const double> logits, std::span<const std::int64_t> labels,
                  std::span<const double> targets, double temperature, double weight, double* divergence) {
  const std::size_t classes = logits.size() / labels.size();
  double total = 0.0, kl_total = 0.0;
  for (std::size_t image = 0; image < labels.size(); ++image) {
    const double* z = logits.data() + image * classes;
    double sum = 0.0, soft_sum = 0.0;
    for (std::size_t j = 0; j < classes; ++j) {
      sum += std::exp(z[j]);
      soft_sum += std::exp(z[j] / temperature);
    }
    const double cross_entropy = std::log(sum) - z[labels[image]];
    double kl = 0.0;
    for (std::size_t j = 0; j < classes; ++j) {
      const double p = targets[image * classes + j];
      kl += p * (std::log(p) - (z[j] / temperature - std::log(soft_sum)));
    }
    kl_total += kl;
    total += (1.0 - weight) * cross_entropy + weight * temperature * temperature * kl;
  }
  if (divergence) *divergence = kl_total / static_cast<double>(labels.size());
  return total / static_cast<double>(labels.size());
}

// d objective / d parameter by central differences, for every trainable entry (the parameters in
// Network::parameters() order).
std::vector<std::vector<double>> numeric_gradients(Network<double>& network,
                                                   const std::function<double()>& objective) {
  std::vector<std::vector<double>> gradients;
  for (Parameter<double>* parameter : network.parameters()) {
    gradients.emplace_back(parameter->value.size(), 0.0);
    if (!parameter->trainable) continue;
    for (std::size_t at = 0; at < parameter->value.size(); ++at) {
      const double saved = parameter->value[at];
      constexpr double kStep = 1e-6;
      parameter->value[at] = saved + kStep;
      const double above = objective();
      parameter->value[at] = saved - kStep;
      const double below = objective();
      parameter->value[at] = saved;
      gradients.back()[at] = (above - below) / (2 * kStep);
    }
  }
  return gradients;
}

std::vector<std::vector<double>> analytic_gradients(Network<double>& network) {
  std::vector<std::vector<double>> gradients;
  for (Parameter<double>* parameter : network.parameters()) gradients.push_back(parameter->gradient);
  return gradients;
}

// The largest |a - b| over every entry, relative to max(1, |a|, |b|).
double largest_difference(const std::vector<std::vector<double>>& a,
                          const std::vector<std::vector<double>>& b) {
  double largest = 0.0;
  for (std::size_t index = 0; index < a.size(); ++index)
    for (std::size_t at = 0; at < a[index].size(); ++at)
      largest = std::max(largest, std::abs(a[index][at] - b[index][at]) /
                                      std::max({1.0, std::abs(a[index][at]), std::abs(b[index][at])}));
  return largest;
}

TEST(TrainingDistillation, SoftenedProbabilitiesAreATemperedSoftmax) {
  const std::vector<double> logits = {1.0, 2.0, 4.0, -3.0, 0.0, 3.0};
  std::vector<double> probabilities;
  softened_probabilities<double>(logits, 3, 2.0, probabilities);
  ASSERT_EQ(probabilities.size(), 6u);
  const double first = std::exp(0.5) + std::exp(1.0) + std::exp(2.0);
  EXPECT_NEAR(probabilities[0], std::exp(0.5) / first, 1e-15);
  EXPECT_NEAR(probabilities[2], std::exp(2.0) / first, 1e-15);
  const double second = std::exp(-1.5) + 1.0 + std::exp(1.5);
  EXPECT_NEAR(probabilities[4], 1.0 / second, 1e-15);
  // A higher temperature flattens the distribution.
  std::vector<double> flatter;
  softened_probabilities<double>(logits, 3, 8.0, flatter);
  EXPECT_LT(flatter[2], probabilities[2]);
  EXPECT_GT(flatter[0], probabilities[0]);
}

TEST(TrainingDistillation, MixedLossGradientMatchesFiniteDifferences) {
  Network<double> network = small_network();
  testing::TestRandom random(52);
  const testing::TestBatch batch = testing::random_batch(random, network.input_shape(), 3, 4);
  std::vector<double> teacher_logits;
  for (int at = 0; at < 12; ++at) teacher_logits.push_back(random.uniform(-3.0, 3.0));
  const Widths level = {2, -1, 1, 3};
  for (const double temperature : {1.0, 3.0}) {
    for (const double weight : {0.0, 0.6, 1.0}) {
      SCOPED_TRACE("T " + std::to_string(temperature) + ", w " + std::to_string(weight));
      std::vector<double> targets;
      softened_probabilities<double>(teacher_logits, 3, temperature, targets);
      const SoftTargets<double> soft{targets, temperature, weight};
      Pass<double> pass;
      network.zero_gradients();
      const Result<std::span<const double>> logits = pass.forward(network, level, batch.images, batch.count);
      ASSERT_TRUE(logits) << logits.error().message;
      double divergence = 0.0;
      mixed_loss(logits.value(), batch.labels, targets, temperature, weight, &divergence);
      const Result<double> loss = pass.backward(network, batch.labels, 0.7, soft);
      ASSERT_TRUE(loss) << loss.error().message;
      EXPECT_NEAR(pass.distillation_loss(), divergence, 1e-12);
      EXPECT_GT(pass.distillation_loss(), 0.01);
      const std::vector<std::vector<double>> analytic = analytic_gradients(network);

      Pass<double> probe;
      const auto objective = [&] {
        const std::span<const double> now = probe.forward(network, level, batch.images, batch.count).value();
        return 0.7 * mixed_loss(now, batch.labels, targets, temperature, weight, nullptr);
      };
      const std::vector<std::vector<double>> numeric = numeric_gradients(network, objective);
      EXPECT_LT(largest_difference(analytic, numeric), 1e-6);
      double largest = 0.0;
      for (const auto& gradient : analytic)
        for (const double value : gradient) largest = std::max(largest, std::abs(value));
      EXPECT_GT(largest, 1e-3);
    }
  }
  // Targets that do not fit the logits, or a weight or temperature out of range, are refused.
  Pass<double> pass;
  ASSERT_TRUE(pass.forward(network, level, batch.images, batch.count));
  const std::vector<double> short_targets(5, 0.2);
  EXPECT_FALSE(pass.backward(network, batch.labels, 1.0, SoftTargets<double>{short_targets, 1.0, 0.5}));
  std::vector<double> targets;
  softened_probabilities<double>(teacher_logits, 3, 1.0, targets);
  EXPECT_FALSE(pass.backward(network, batch.labels, 1.0, SoftTargets<double>{targets, 0.0, 0.5}));
  EXPECT_FALSE(pass.backward(network, batch.labels, 1.0, SoftTargets<double>{targets, 1.0, 1.5}));
}

TEST(TrainingDistillation, JointGradientsTeachFromADetachedLargestLevel) {
  Network<double> network = small_network();
  testing::TestRandom random(53);
  const testing::TestBatch batch = testing::random_batch(random, network.input_shape(), 3, 5);
  const std::vector<Widths> levels = {{2, -1, 1, 3}, {4, -1, 3, 3}, network.full_widths()};
  const std::vector<double> weights = reference_level_weights(network, levels).value();
  const Distillation distillation{0.7, 2.5};

  Pass<double> pass;
  const Result<std::vector<LevelResult>> results =
      joint_gradients(network, levels, weights, batch.images, batch.labels, {}, pass, distillation);
  ASSERT_TRUE(results) << results.error().message;
  ASSERT_EQ(results->size(), 3u);
  const std::vector<std::vector<double>> joint = analytic_gradients(network);
  EXPECT_EQ((*results)[2].distillation, 0.0);  // the teacher
  EXPECT_GT((*results)[0].distillation, 0.0);
  EXPECT_GT((*results)[1].distillation, 0.0);

  // The objective with the teacher's targets fixed at their current value: the students' mixed losses and
  // the teacher's cross-entropy, weighted.
  Pass<double> probe;
  std::vector<double> fixed_targets;
  softened_probabilities<double>(probe.forward(network, levels[2], batch.images, batch.count).value(), 3,
                                 distillation.temperature, fixed_targets);
  const auto objective = [&](bool detached) {
    std::vector<double> targets = fixed_targets;
    const std::span<const double> teacher =
        probe.forward(network, levels[2], batch.images, batch.count).value();
    if (!detached) softened_probabilities<double>(teacher, 3, distillation.temperature, targets);
    double total = weights[2] * probe.loss(batch.labels).value();
    for (std::size_t level = 0; level < 2; ++level) {
      const std::span<const double> logits =
          probe.forward(network, levels[level], batch.images, batch.count).value();
      total += weights[level] * mixed_loss(logits, batch.labels, targets, distillation.temperature,
                                           distillation.weight, nullptr);
    }
    return total;
  };
  const std::vector<std::vector<double>> detached =
      numeric_gradients(network, [&] { return objective(true); });
  EXPECT_LT(largest_difference(joint, detached), 1e-6);
  // Differentiating through the teacher's targets gives other gradients: the check above can fail.
  const std::vector<std::vector<double>> attached =
      numeric_gradients(network, [&] { return objective(false); });
  EXPECT_GT(largest_difference(joint, attached), 1e-3);

  // The units only the largest level keeps learn from its labels alone: their gradient is the teacher's
  // own cross-entropy gradient, nothing of the students' distillation.
  network.zero_gradients();
  ASSERT_TRUE(pass.forward(network, levels[2], batch.images, batch.count));
  ASSERT_TRUE(pass.backward(network, batch.labels, weights[2]));
  const TrainingLayer<double>& head = network.layers().back();
  const std::size_t parameter_of_head_kernel = network.parameters().size() - 2;
  ASSERT_EQ(network.parameters()[parameter_of_head_kernel], &network.layers().back().kernel);
  // Head kernel rows of the pointwise units 3 and 4 (of 5), which the smaller levels drop: rows are Keras'
  // (inputs x outputs) layout of the flattened map, the unit the fastest-varying input index.
  int checked = 0;
  const std::size_t outputs = 3, units = 5;
  for (std::size_t row = 0; row < head.kernel.value.size() / outputs; ++row) {
    if (row % units < 3) continue;
    for (std::size_t out = 0; out < outputs; ++out) {
      const std::size_t at = row * outputs + out;
      EXPECT_NEAR(joint[parameter_of_head_kernel][at], head.kernel.gradient[at], 1e-15) << at;
      if (head.kernel.gradient[at] != 0.0) ++checked;
    }
  }
  EXPECT_GT(checked, 5);

  // Weight 0 is the reference's joint step, bit for bit; weights or temperatures out of range are refused.
  const Result<std::vector<LevelResult>> plain =
      joint_gradients(network, levels, weights, batch.images, batch.labels, {}, pass);
  ASSERT_TRUE(plain);
  const std::vector<std::vector<double>> reference = analytic_gradients(network);
  ASSERT_TRUE(joint_gradients(network, levels, weights, batch.images, batch.labels, {}, pass,
                              Distillation{0.0, 4.0}));
  EXPECT_EQ(analytic_gradients(network), reference);
  EXPECT_EQ((*plain)[0].distillation, 0.0);
  EXPECT_FALSE(joint_gradients(network, levels, weights, batch.images, batch.labels, {}, pass,
                               Distillation{1.2, 1.0}));
  EXPECT_FALSE(joint_gradients(network, levels, weights, batch.images, batch.labels, {}, pass,
                               Distillation{0.5, 0.0}));
}

// Per-channel mean and (biased) standard deviation of the output of layers()[layer] in the pass's last
// forward, `channels` wide.
void output_statistics(const Pass<double>& pass, std::size_t layer, std::int64_t channels,
                       std::vector<double>& mean, std::vector<double>& deviation) {
  const std::span<const double> values = pass.output(layer);
  const std::size_t rows = values.size() / static_cast<std::size_t>(channels);
  const double count = static_cast<double>(rows);
  mean.assign(static_cast<std::size_t>(channels), 0.0);
  deviation.assign(static_cast<std::size_t>(channels), 0.0);
  for (std::size_t row = 0; row < rows; ++row)
    for (std::size_t c = 0; c < mean.size(); ++c) mean[c] += values[row * mean.size() + c] / count;
  for (std::size_t row = 0; row < rows; ++row)
    for (std::size_t c = 0; c < mean.size(); ++c)
      deviation[c] += std::pow(values[row * mean.size() + c] - mean[c], 2) / count;
  for (double& value : deviation) value = std::sqrt(value);
}

TEST(TrainingCalibration, LevelOutputsTakeTheReferenceStatistics) {
  Network<double> network = small_network();
  testing::TestRandom random(54);
  const testing::TestBatch batch = testing::random_batch(random, network.input_shape(), 3, 16);
  const Widths level = {2, -1, 1, 3};
  const Widths reference = network.full_widths();
  Pass<double> pass;
  const Result<LevelCalibration> calibration =
      calibrate_level(network, reference, level, batch.images, batch.count, pass);
  ASSERT_TRUE(calibration) << calibration.error().message;
  // The pointwise convolution (unit layer 2) is the first whose inputs the level narrows; the head (the
  // last unit layer) is left alone.
  const std::size_t pointwise = network.unit_layers()[2], head = network.unit_layers()[3];
  EXPECT_TRUE(calibration->scale[head].empty());
  ASSERT_EQ(calibration->scale[pointwise].size(), 5u);

  std::vector<double> wanted_mean, wanted_deviation, mean, deviation;
  ASSERT_TRUE(pass.forward(network, reference, batch.images, batch.count));
  output_statistics(pass, pointwise, 5, wanted_mean, wanted_deviation);
  PassOptions options;
  ASSERT_TRUE(pass.forward(network, level, batch.images, batch.count, options));
  output_statistics(pass, pointwise, 1, mean, deviation);
  EXPECT_GT(std::abs(mean[0] - wanted_mean[0]) + std::abs(deviation[0] - wanted_deviation[0]), 1e-2);
  options.calibration = &calibration.value();
  ASSERT_TRUE(pass.forward(network, level, batch.images, batch.count, options));
  output_statistics(pass, pointwise, 1, mean, deviation);
  EXPECT_NEAR(mean[0], wanted_mean[0], 1e-6);
  EXPECT_NEAR(deviation[0], wanted_deviation[0], 1e-6);
  // The reference level calibrated against itself is unchanged.
  const Result<LevelCalibration> itself =
      calibrate_level(network, reference, reference, batch.images, batch.count, pass);
  ASSERT_TRUE(itself);
  for (const std::size_t unit : network.unit_layers())
    for (std::size_t c = 0; c < itself->scale[unit].size(); ++c) {
      EXPECT_NEAR(itself->scale[unit][c], 1.0, 1e-6);
      EXPECT_NEAR(itself->shift[unit][c], 0.0, 1e-6);
    }
}

TEST(TrainingCalibration, CalibratedGradientMatchesFiniteDifferences) {
  Network<double> network = small_network();
  testing::TestRandom random(55);
  const testing::TestBatch batch = testing::random_batch(random, network.input_shape(), 3, 6);
  const std::vector<Widths> levels = {{2, -1, 1, 3}, network.full_widths()};
  Pass<double> pass;
  std::vector<LevelCalibration> calibrations;
  for (const Widths& level : levels)
    calibrations.push_back(
        calibrate_level(network, levels.back(), level, batch.images, batch.count, pass).value());
  const std::vector<double> weights = {0.4, 0.6};
  ASSERT_TRUE(
      joint_gradients(network, levels, weights, batch.images, batch.labels, {}, pass, {}, calibrations));
  const std::vector<std::vector<double>> joint = analytic_gradients(network);
  // The calibration is a constant of the step.
  Pass<double> probe;
  const auto objective = [&](bool calibrated) {
    double total = 0.0;
    for (std::size_t level = 0; level < levels.size(); ++level) {
      PassOptions options;
      if (calibrated) options.calibration = &calibrations[level];
      EXPECT_TRUE(probe.forward(network, levels[level], batch.images, batch.count, options));
      total += weights[level] * probe.loss(batch.labels).value();
    }
    return total;
  };
  EXPECT_LT(largest_difference(joint, numeric_gradients(network, [&] { return objective(true); })), 1e-6);
  // Without the calibration the gradients differ: the check above can fail.
  EXPECT_GT(largest_difference(joint, numeric_gradients(network, [&] { return objective(false); })), 1e-3);
}

TEST(TrainingCalibration, TheWrittenModelRunsEveryLevelAsTheCalibratedPass) {
  ModelBuilder builder({7, 6, 1}, 50);
  builder.conv("conv", 6, 3, 3, 2).rectifier("relu", Rectifier{0.3f});
  builder.depthwise("depthwise", 3, 3).conv("pointwise", 5, 1, 1, 1, Padding::valid);
  builder.plain("flatten", LayerKind::flatten).dense("head", 3);
  Model planned = builder.model();
  ASSERT_FALSE(attach_plan(
      planned, testing::plan_with_widths(planned, {{{"conv", 2}, {"pointwise", 1}, {"head", 3}},
                                                   {{"conv", 6}, {"pointwise", 5}, {"head", 3}}})));
  Network<double> network = Network<double>::from_model(planned).value();
  testing::TestRandom random(56);
  // A batch norm after the calibrated convolution: the maps must fold through it.
  ASSERT_FALSE(network.add_batch_norm("conv", "bn", testing::random_batch_norm(random, 6)));
  const testing::TestBatch batch = testing::random_batch(random, network.input_shape(), 3, 8);
  const std::vector<Widths> levels = {network.plan_widths(0).value(), network.plan_widths(1).value()};
  Pass<double> pass;
  std::vector<LevelCalibration> calibrations;
  for (const Widths& level : levels)
    calibrations.push_back(
        calibrate_level(network, levels.back(), level, batch.images, batch.count, pass).value());
  const Result<Model> written = network.to_model(calibrations);
  ASSERT_TRUE(written) << written.error().message;
  ASSERT_EQ(written->plan->level_maps.size(), 2u);
  const Result<Model> unmapped = network.to_model();
  ASSERT_TRUE(unmapped && unmapped->plan->level_maps.empty());
  Session session = Session::create(written.value()).value();
  Session plain = Session::create(unmapped.value()).value();
  const std::size_t image_size = static_cast<std::size_t>(network.input_shape().size());
  double unmapped_difference = 0.0;
  for (std::size_t level = 0; level < levels.size(); ++level) {
    PassOptions options;
    options.calibration = &calibrations[level];
    const Result<std::span<const double>> logits =
        pass.forward(network, levels[level], batch.images, batch.count, options);
    ASSERT_TRUE(logits);
    ASSERT_TRUE(session.set_level(level) && plain.set_level(level));
    for (std::size_t image = 0; image < static_cast<std::size_t>(batch.count); ++image) {
      const std::vector<float> input(
          batch.images.begin() + static_cast<std::ptrdiff_t>(image * image_size),
          batch.images.begin() + static_cast<std::ptrdiff_t>((image + 1) * image_size));
      const std::vector<float> engine(session.run(input).begin(), session.run(input).end());
      const std::vector<float> without(plain.run(input).begin(), plain.run(input).end());
      for (std::size_t c = 0; c < engine.size(); ++c) {
        EXPECT_NEAR(engine[c], (*logits)[image * 3 + c], 1e-4)
            << "level " << level + 1 << ", image " << image;
        unmapped_difference = std::max(unmapped_difference, std::abs(without[c] - (*logits)[image * 3 + c]));
      }
    }
  }
  // Without the maps the smaller level computes something else: the comparison can fail.
  EXPECT_GT(unmapped_difference, 1e-2);
  // One calibration per level of the plan, or none.
  EXPECT_FALSE(network.to_model(std::span<const LevelCalibration>(calibrations).first(1)));
}

}  // namespace
}  // namespace reds::engine::training
