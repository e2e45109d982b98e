// reds/training/levels.h: fine-tuning every level of a plan at once (reds-paper section 7.2): one
// step computes every level's loss on the same minibatch, weights level s by pi_s and sums the gradients
// into the shared weights before one optimizer step.
//
// The reference weights a level by the square root of its parameter fraction: p_s = parameters of level s /
// parameters of the full network, pi_s = sqrt(p_s) / sum_j sqrt(p_j). (Its code counts p_s approximately:
// kernels sliced by output width only, batch norm and the DS-CNN head left out; here p_s is the level's exact
// weight and bias count, Network::parameter_count.)
//
// In-place distillation (Yu & Huang, universally slimmable networks): the largest level (the last) learns
// from the labels alone and, in the same step, teaches the others: each smaller level's loss mixes its
// cross-entropy with the KL divergence from the largest level's predictions, both softened by a
// temperature (SoftTargets, training.h). The teacher's predictions are constants of the step: no gradient of
// a student's loss reaches the teacher through its targets (it gets its share through the shared weights
// the student uses, as any weight the student uses).
//
//   std::vector<Widths> levels = {network.plan_widths(0).value(), ..., network.full_widths()};
//   std::vector<double> weights = reference_level_weights(network, levels).value();
//   auto results = joint_gradients(network, levels, weights, batch_images, batch_labels, {}, pass);
//   optimizer.step(network);                                                 // training_optimizer.h
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "reds/status.h"
#include "reds/training/training.h"

namespace reds::engine::training {

// pi_s per level (summing to 1). invalid_argument for widths that are no level.
template <class Real>
Result<std::vector<double>> reference_level_weights(const Network<Real>& network,
                                                    const std::vector<Widths>& levels);

// Every level weighted alike, 1 / levels.
std::vector<double> uniform_level_weights(std::size_t levels);

struct LevelResult {
  double loss = 0.0;          // mean cross-entropy of the level on the minibatch (unweighted)
  std::int64_t correct = 0;   // images the level classifies right
  double distillation = 0.0;  // mean KL from the teacher's softened predictions (0: the teacher, or none)
};

// In-place distillation: the SoftTargets weight and temperature of every level but the largest. weight 0
// (the reference's training) leaves every level to its labels.
struct Distillation {
  double weight = 0.0;
  double temperature = 1.0;
};

// The gradients of one joint step: clears every gradient, then per level one forward and one backward pass
// on the same minibatch, the backward scaled by weights[s]. With distillation the largest level (the last)
// runs first, and its softened predictions are the others' soft targets. Returns every level's loss and
// correct count. invalid_argument for mismatched sizes, widths that are no level (the gradients are then
// incomplete), a distillation weight outside [0, 1] or a temperature <= 0.
template <class Real>
Result<std::vector<LevelResult>> joint_gradients(Network<Real>& network, const std::vector<Widths>& levels,
                                                 const std::vector<double>& weights,
                                                 std::type_identity_t<std::span<const Real>> images,
                                                 std::span<const std::int64_t> labels,
                                                 const PassOptions& options, Pass<Real>& pass,
                                                 const Distillation& distillation = {},
                                                 std::span<const LevelCalibration> calibrations = {});

// Per-level statistics (slimmable networks' batch-norm calibration, for a network whose batch norms are
// folded): the affine map per unit layer (all but the last) that gives `level`'s outputs, channel by
// channel, the mean and standard deviation the `reference` level's have on `images`:
// y' = (y - mean_level) / deviation_level * deviation_reference + mean_reference. Layer by layer, each
// measured with the layers before already corrected. A channel the level leaves (nearly) constant only
// moves its mean.
template <class Real>
Result<LevelCalibration> calibrate_level(Network<Real>& network, const Widths& reference, const Widths& level,
                                         std::type_identity_t<std::span<const Real>> images,
                                         std::int64_t count, Pass<Real>& pass, bool deviations = true);

}  // namespace reds::engine::training
