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
                                                 const Distillation& distillation,
                                                 std::span<const LevelCalibration> calibrations) {
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
    PassOptions level_options = options;
    if (!calibrations.empty()) level_options.calibration = &calibrations[level];
    const Result<std::span<const Real>> logits =
        pass.forward(network, levels[level], images, count, level_options);
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

namespace {

// Per-channel mean and standard deviation of `values` (rows x channels).
void channel_statistics(std::span<const float> values, std::int64_t channels, std::vector<double>& mean,
                        std::vector<double>& deviation) {
  std::vector<double> sum(static_cast<std::size_t>(channels), 0.0), squares(sum);
  const std::int64_t rows = static_cast<std::int64_t>(values.size()) / channels;
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t c = 0; c < channels; ++c) {
      const double value = values[static_cast<std::size_t>(row * channels + c)];
      sum[static_cast<std::size_t>(c)] += value;
      squares[static_cast<std::size_t>(c)] += value * value;
    }
  mean.resize(sum.size());
  deviation.resize(sum.size());
  for (std::size_t c = 0; c < sum.size(); ++c) {
    mean[c] = sum[c] / static_cast<double>(rows);
    deviation[c] = std::sqrt(std::max(squares[c] / static_cast<double>(rows) - mean[c] * mean[c], 0.0));
  }
}

void channel_statistics(std::span<const double> values, std::int64_t channels, std::vector<double>& mean,
                        std::vector<double>& deviation) {
  std::vector<float> rounded(values.begin(), values.end());
  channel_statistics(std::span<const float>(rounded), channels, mean, deviation);
}

}  // namespace

template <class Real>
Result<LevelCalibration> calibrate_level(Network<Real>& network, const Widths& reference, const Widths& level,
                                         std::type_identity_t<std::span<const Real>> images,
                                         std::int64_t count, Pass<Real>& pass, bool deviations) {
  const std::vector<std::size_t>& units = network.unit_layers();
  const auto channels_of = [&](const Widths& widths, std::size_t unit) {
    const std::int64_t full = network.shapes()[network.layers()[units[unit]].model_layer].channels;
    return widths[unit] < 0 ? full : widths[unit];
  };
  if (reference.size() != units.size() || level.size() != units.size())
    return invalid_argument("widths of the wrong count");
  std::vector<std::vector<double>> reference_mean(units.size()), reference_deviation(units.size());
  if (const Result<std::span<const Real>> logits = pass.forward(network, reference, images, count); !logits)
    return logits.error();
  for (std::size_t unit = 0; unit + 1 < units.size(); ++unit)
    channel_statistics(pass.output(units[unit]), channels_of(reference, unit), reference_mean[unit],
                       reference_deviation[unit]);
  LevelCalibration calibration;
  calibration.scale.resize(network.layers().size());
  calibration.shift.resize(network.layers().size());
  PassOptions options;
  options.calibration = &calibration;
  std::vector<double> mean, deviation;
  for (std::size_t unit = 0; unit + 1 < units.size(); ++unit) {
    const Result<std::span<const Real>> logits = pass.forward(network, level, images, count, options);
    if (!logits) return logits.error();
    const std::int64_t channels = channels_of(level, unit);
    channel_statistics(pass.output(units[unit]), channels, mean, deviation);
    const std::size_t full = reference_mean[unit].size();
    std::vector<double> scale(full, 1.0), shift(full, 0.0);
    for (std::size_t c = 0; c < static_cast<std::size_t>(channels) && c < full; ++c) {
      if (deviations && deviation[c] > 1e-3 * reference_deviation[unit][c] && deviation[c] > 1e-12)
        scale[c] = reference_deviation[unit][c] / deviation[c];
      shift[c] = reference_mean[unit][c] - scale[c] * mean[c];
    }
    calibration.scale[units[unit]] = std::move(scale);
    calibration.shift[units[unit]] = std::move(shift);
  }
  return calibration;
}

template Result<LevelCalibration> calibrate_level(Network<float>&, const Widths&, const Widths&,
                                                  std::span<const float>, std::int64_t, Pass<float>&, bool);
template Result<LevelCalibration> calibrate_level(Network<double>&, const Widths&, const Widths&,
                                                  std::span<const double>, std::int64_t, Pass<double>&, bool);

template Result<std::vector<double>> reference_level_weights(const Network<float>&,
                                                             const std::vector<Widths>&);
template Result<std::vector<double>> reference_level_weights(const Network<double>&,
                                                             const std::vector<Widths>&);
template Result<std::vector<LevelResult>> joint_gradients(Network<float>&, const std::vector<Widths>&,
                                                          const std::vector<double>&, std::span<const float>,
                                                          std::span<const std::int64_t>, const PassOptions&,
                                                          Pass<float>&, const Distillation&,
                                                          std::span<const LevelCalibration>);
template Result<std::vector<LevelResult>> joint_gradients(Network<double>&, const std::vector<Widths>&,
                                                          const std::vector<double>&, std::span<const double>,
                                                          std::span<const std::int64_t>, const PassOptions&,
                                                          Pass<double>&, const Distillation&,
                                                          std::span<const LevelCalibration>);

}  // namespace reds::engine::training
