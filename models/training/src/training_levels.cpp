#include <algorithm>
#include <cmath>

#include "reds/training/levels.h"

namespace reds::engine::training {

template <class Real>
Result<std::vector<double>> reference_level_weights(const Network<Real>& network,
                                                    const std::vector<Widths>& levels) {
  if (levels.empty()) return invalid_argument("no levels to weight");
  const Result<std::int64_t> full = network.parameter_count(network.full_widths());
  if (!full) return full.error();
  std::vector<double> weights;
  double total = 0.0;
  for (const Widths& widths : levels) {
    const Result<std::int64_t> count = network.parameter_count(widths);
    if (!count) return count.error();
    weights.push_back(std::sqrt(static_cast<double>(count.value()) / static_cast<double>(full.value())));
    total += weights.back();
  }
  for (double& weight : weights) weight /= total;
  return weights;
}

std::vector<double> uniform_level_weights(std::size_t levels) {
  return std::vector<double>(levels, 1.0 / static_cast<double>(std::max<std::size_t>(levels, 1)));
}

template <class Real>
Result<std::vector<LevelResult>> joint_gradients(Network<Real>& network, const std::vector<Widths>& levels,
                                                 const std::vector<double>& weights,
                                                 std::type_identity_t<std::span<const Real>> images,
                                                 std::span<const std::int64_t> labels,
                                                 const PassOptions& options, Pass<Real>& pass,
                                                 const Distillation& distillation) {
  if (weights.size() != levels.size())
    return invalid_argument("got " + std::to_string(weights.size()) + " weights for " +
                            std::to_string(levels.size()) + " levels");
  if (!(distillation.weight >= 0.0 && distillation.weight <= 1.0))
    return invalid_argument("the distillation weight must lie in [0, 1]");
  if (!(distillation.temperature > 0.0) || !std::isfinite(distillation.temperature))
    return invalid_argument("the distillation temperature must be > 0");
  network.zero_gradients();
  const std::int64_t count = static_cast<std::int64_t>(labels.size());
  const bool distilling = distillation.weight > 0.0 && levels.size() > 1;
  // The teacher first: its predictions are the others' targets. Without distillation the levels run in
  // their order, which fixes the order in which gradients add up.
  std::vector<std::size_t> order;
  if (distilling) order.push_back(levels.size() - 1);
  for (std::size_t level = 0; level + (distilling ? 1 : 0) < levels.size(); ++level) order.push_back(level);
  std::vector<Real> targets;
  std::vector<LevelResult> results(levels.size());
  for (const std::size_t level : order) {
    const Result<std::span<const Real>> logits = pass.forward(network, levels[level], images, count, options);
    if (!logits) return logits.error();
    const Real scale = static_cast<Real>(weights[level]);
    const bool student = distilling && level + 1 < levels.size();
    if (distilling && !student)
      softened_probabilities(logits.value(), network.classes(), distillation.temperature, targets);
    const Result<double> loss =
        student ? pass.backward(network, labels, scale,
                                SoftTargets<Real>{targets, distillation.temperature, distillation.weight})
                : pass.backward(network, labels, scale);
    if (!loss) return loss.error();
    results[level] = {loss.value(), pass.correct(), student ? pass.distillation_loss() : 0.0};
  }
  return results;
}

template Result<std::vector<double>> reference_level_weights(const Network<float>&,
                                                             const std::vector<Widths>&);
template Result<std::vector<double>> reference_level_weights(const Network<double>&,
                                                             const std::vector<Widths>&);
template Result<std::vector<LevelResult>> joint_gradients(Network<float>&, const std::vector<Widths>&,
                                                          const std::vector<double>&, std::span<const float>,
                                                          std::span<const std::int64_t>, const PassOptions&,
                                                          Pass<float>&, const Distillation&);
template Result<std::vector<LevelResult>> joint_gradients(Network<double>&, const std::vector<Widths>&,
                                                          const std::vector<double>&, std::span<const double>,
                                                          std::span<const std::int64_t>, const PassOptions&,
                                                          Pass<double>&, const Distillation&);

}  // namespace reds::engine::training
