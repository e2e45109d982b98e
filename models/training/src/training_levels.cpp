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

template <class Real>
Result<std::vector<LevelResult>> joint_gradients(Network<Real>& network, const std::vector<Widths>& levels,
                                                 const std::vector<double>& weights,
                                                 std::type_identity_t<std::span<const Real>> images,
                                                 std::span<const std::int64_t> labels,
                                                 const PassOptions& options, Pass<Real>& pass) {
  if (weights.size() != levels.size())
    return invalid_argument("got " + std::to_string(weights.size()) + " weights for " +
                            std::to_string(levels.size()) + " levels");
  network.zero_gradients();
  const std::int64_t count = static_cast<std::int64_t>(labels.size());
  std::vector<LevelResult> results;
  for (std::size_t level = 0; level < levels.size(); ++level) {
    const Result<std::span<const Real>> logits = pass.forward(network, levels[level], images, count, options);
    if (!logits) return logits.error();
    const Result<double> loss = pass.backward(network, labels, static_cast<Real>(weights[level]));
    if (!loss) return loss.error();
    results.push_back({loss.value(), pass.correct()});
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
                                                          Pass<float>&);
template Result<std::vector<LevelResult>> joint_gradients(Network<double>&, const std::vector<Widths>&,
                                                          const std::vector<double>&, std::span<const double>,
                                                          std::span<const std::int64_t>, const PassOptions&,
                                                          Pass<double>&);

}  // namespace reds::engine::training
