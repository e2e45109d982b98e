#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

#include "reds/training/optimizer.h"

namespace reds::engine::training {

LearningRateSchedule LearningRateSchedule::constant(double rate) {
  LearningRateSchedule schedule;
  schedule.values_ = {rate};
  return schedule;
}

Result<LearningRateSchedule> LearningRateSchedule::piecewise_constant(std::vector<std::int64_t> boundaries,
                                                                      std::vector<double> values) {
  if (values.size() != boundaries.size() + 1)
    return invalid_argument("a piecewise constant learning rate needs one value more than boundaries, got " +
                            std::to_string(values.size()) + " values and " +
                            std::to_string(boundaries.size()) + " boundaries");
  for (std::size_t at = 1; at < boundaries.size(); ++at)
    if (boundaries[at] <= boundaries[at - 1])
      return invalid_argument("the boundaries of a piecewise constant learning rate must increase");
  for (const double value : values)
    if (!(value >= 0.0) || !std::isfinite(value))
      return invalid_argument("learning rates must be finite and >= 0");
  LearningRateSchedule schedule;
  schedule.boundaries_ = std::move(boundaries);
  schedule.values_ = std::move(values);
  return schedule;
}

Result<LearningRateSchedule> LearningRateSchedule::exponential_decay(double initial, std::int64_t decay_steps,
                                                                     double decay_rate, bool staircase) {
  if (decay_steps < 1) return invalid_argument("decay_steps must be at least 1");
  if (!(initial >= 0.0) || !std::isfinite(initial) || !(decay_rate >= 0.0) || !std::isfinite(decay_rate))
    return invalid_argument("the learning rate and its decay rate must be finite and >= 0");
  LearningRateSchedule schedule;
  schedule.kind_ = Kind::exponential_decay;
  schedule.values_ = {initial};
  schedule.decay_steps_ = decay_steps;
  schedule.decay_rate_ = decay_rate;
  schedule.staircase_ = staircase;
  return schedule;
}

Result<LearningRateSchedule> LearningRateSchedule::cosine_decay(double initial, std::int64_t decay_steps,
                                                                double alpha) {
  if (decay_steps < 1) return invalid_argument("decay_steps must be at least 1");
  if (!(initial >= 0.0) || !std::isfinite(initial))
    return invalid_argument("the learning rate must be finite and >= 0");
  if (!(alpha >= 0.0 && alpha <= 1.0)) return invalid_argument("alpha must lie in [0, 1]");
  LearningRateSchedule schedule;
  schedule.kind_ = Kind::cosine_decay;
  schedule.values_ = {initial};
  schedule.decay_steps_ = decay_steps;
  schedule.alpha_ = alpha;
  return schedule;
}

Result<LearningRateSchedule> LearningRateSchedule::with_warmup(std::int64_t warmup_steps) const {
  if (warmup_steps < 0) return invalid_argument("warm-up steps must be >= 0");
  LearningRateSchedule schedule = *this;
  schedule.warmup_steps_ = warmup_steps;
  return schedule;
}

double LearningRateSchedule::at(std::int64_t step) const {
  double rate = 0.0;
  if (kind_ == Kind::exponential_decay) {
    double exponent = static_cast<double>(step) / static_cast<double>(decay_steps_);
    if (staircase_) exponent = std::floor(exponent);
    rate = values_[0] * std::pow(decay_rate_, exponent);
  } else if (kind_ == Kind::cosine_decay) {
    const double progress =
        static_cast<double>(std::min(step, decay_steps_)) / static_cast<double>(decay_steps_);
    rate = values_[0] * ((1.0 - alpha_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress)) + alpha_);
  } else {
    std::size_t piece = 0;
    while (piece < boundaries_.size() && step > boundaries_[piece]) ++piece;
    rate = values_[piece];
  }
  if (step < warmup_steps_) rate *= static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  return rate;
}

template <class Real>
Optimizer<Real> Optimizer<Real>::adam(LearningRateSchedule schedule, AdamOptions options) {
  Optimizer optimizer(Kind::adam, std::move(schedule));
  optimizer.adam_ = options;
  return optimizer;
}

template <class Real>
Optimizer<Real> Optimizer<Real>::sgd(LearningRateSchedule schedule, SgdOptions options) {
  Optimizer optimizer(Kind::sgd, std::move(schedule));
  optimizer.sgd_ = options;
  return optimizer;
}

template <class Real>
std::optional<Error> Optimizer<Real>::step(Network<Real>& network) {
  const std::vector<Parameter<Real>*> parameters = network.parameters();
  const std::size_t slots_per_parameter = kind_ == Kind::adam ? 2 : 1;
  if (state_.slots.empty()) {
    for (const Parameter<Real>* parameter : parameters)
      for (std::size_t slot = 0; slot < slots_per_parameter; ++slot)
        state_.slots.emplace_back(parameter->value.size(), Real{0});
  }
  if (state_.slots.size() != parameters.size() * slots_per_parameter)
    return invalid_argument("the optimizer's state is for a network with other parameters");
  for (std::size_t index = 0; index < parameters.size(); ++index)
    if (state_.slots[index * slots_per_parameter].size() != parameters[index]->value.size())
      return invalid_argument("the optimizer's state is for a network with other parameters");

  const double rate = schedule_.at(state_.iterations);
  const double t = static_cast<double>(state_.iterations + 1);
  const double alpha = rate * std::sqrt(1.0 - std::pow(adam_.beta2, t)) / (1.0 - std::pow(adam_.beta1, t));
  for (std::size_t index = 0; index < parameters.size(); ++index) {
    Parameter<Real>& parameter = *parameters[index];
    if (!parameter.trainable) continue;
    Real* value = parameter.value.data();
    const Real* gradient = parameter.gradient.data();
    const std::size_t size = parameter.value.size();
    if (kind_ == Kind::adam) {
      Real* m = state_.slots[2 * index].data();
      Real* v = state_.slots[2 * index + 1].data();
      const Real keep_m = static_cast<Real>(1.0 - adam_.beta1);
      const Real keep_v = static_cast<Real>(1.0 - adam_.beta2);
      const Real step_size = static_cast<Real>(alpha);
      const Real epsilon = static_cast<Real>(adam_.epsilon);
      for (std::size_t at = 0; at < size; ++at) {
        m[at] += (gradient[at] - m[at]) * keep_m;
        v[at] += (gradient[at] * gradient[at] - v[at]) * keep_v;
        value[at] -= m[at] * step_size / (std::sqrt(v[at]) + epsilon);
      }
      continue;
    }
    const Real learning_rate = static_cast<Real>(rate);
    if (sgd_.momentum == 0.0) {
      for (std::size_t at = 0; at < size; ++at) value[at] -= learning_rate * gradient[at];
      continue;
    }
    Real* velocity = state_.slots[index].data();
    const Real momentum = static_cast<Real>(sgd_.momentum);
    for (std::size_t at = 0; at < size; ++at) {
      velocity[at] = momentum * velocity[at] - learning_rate * gradient[at];
      value[at] += sgd_.nesterov ? momentum * velocity[at] - learning_rate * gradient[at] : velocity[at];
    }
  }
  ++state_.iterations;
  return std::nullopt;
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace reds::engine::training
