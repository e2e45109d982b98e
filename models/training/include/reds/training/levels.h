// reds/training/levels.h: fine-tuning every level of a plan at once (reds-paper section 7.2): one
// step computes every level's loss on the same minibatch, weights level s by pi_s and sums the gradients
// into the shared weights before one optimizer step.
//
// The reference weights a level by the square root of its parameter fraction: p_s = parameters of level s /
// parameters of the full network, pi_s = sqrt(p_s) / sum_j sqrt(p_j). (Its code counts p_s approximately:
// kernels sliced by output width only, batch norm and the DS-CNN head left out; here p_s is the level's exact
// weight and bias count, Network::parameter_count.)
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

struct LevelResult {
  double loss = 0.0;         // mean cross-entropy of the level on the minibatch (unweighted)
  std::int64_t correct = 0;  // images the level classifies right
};

// The gradients of one joint step: clears every gradient, then per level one forward and one backward pass
// on the same minibatch, the backward scaled by weights[s]. Returns every level's loss and correct count.
// invalid_argument for mismatched sizes or widths that are no level (the gradients are then incomplete).
template <class Real>
Result<std::vector<LevelResult>> joint_gradients(Network<Real>& network, const std::vector<Widths>& levels,
                                                 const std::vector<double>& weights,
                                                 std::type_identity_t<std::span<const Real>> images,
                                                 std::span<const std::int64_t> labels,
                                                 const PassOptions& options, Pass<Real>& pass);

}  // namespace reds::engine::training
