// reds/training/optimizer.h: the optimizers and learning-rate schedules of the REDS reference
// training (reds-paper section 7.2), with Keras' update rules and defaults, so that its hyper-parameters mean
// the same here.
//
//   LearningRateSchedule schedule =
//       LearningRateSchedule::piecewise_constant({16406, 30468}, {1e-3, 2.5e-4, 1e-5}).value();
//   Optimizer<float> adam = Optimizer<float>::adam(schedule);
//   network.zero_gradients();  ... pass.backward(network, labels) ...  // training.h
//   adam.step(network);
//
// Deterministic: an update depends only on the gradients, the parameters and the optimizer's own state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reds/status.h"
#include "reds/training/training.h"

namespace reds::engine::training {

// A learning rate per optimizer step, the step counted from 0 before the first update (Keras'
// optimizer.iterations).
class LearningRateSchedule {
 public:
  static LearningRateSchedule constant(double rate);
  // Keras' PiecewiseConstantDecay: values[0] while step <= boundaries[0], values[i] while
  // boundaries[i - 1] < step <= boundaries[i], the last value after the last boundary. invalid_argument
  // unless there is one value more than boundaries, the boundaries increase and the values are >= 0.
  static Result<LearningRateSchedule> piecewise_constant(std::vector<std::int64_t> boundaries,
                                                         std::vector<double> values);
  // Keras' ExponentialDecay: initial * decay_rate^(step / decay_steps), the exponent rounded down when
  // `staircase`. invalid_argument for decay_steps < 1 or a negative rate.
  static Result<LearningRateSchedule> exponential_decay(double initial, std::int64_t decay_steps,
                                                        double decay_rate, bool staircase);
  // Keras' CosineDecay: initial * ((1 - alpha) * (1 + cos(pi * min(step, decay_steps) / decay_steps)) / 2
  // + alpha), from `initial` down to alpha * initial at decay_steps and after. invalid_argument for
  // decay_steps < 1, a negative rate or alpha outside [0, 1].
  static Result<LearningRateSchedule> cosine_decay(double initial, std::int64_t decay_steps, double alpha);

  // The same schedule with a linear warm-up: at step s < warmup_steps the rate is (s + 1) / warmup_steps
  // times this schedule's, so that the first steps, whose Adam moments rest on few gradients, move the
  // weights less. Steps from warmup_steps on are unchanged; 0 adds none. invalid_argument when negative.
  Result<LearningRateSchedule> with_warmup(std::int64_t warmup_steps) const;

  double at(std::int64_t step) const;

 private:
  enum class Kind { piecewise_constant, exponential_decay, cosine_decay };
  Kind kind_ = Kind::piecewise_constant;
  std::int64_t warmup_steps_ = 0;
  double alpha_ = 0.0;
  std::vector<std::int64_t> boundaries_;
  std::vector<double> values_ = {0.0};
  std::int64_t decay_steps_ = 1;
  double decay_rate_ = 1.0;
  bool staircase_ = false;
};

// Keras' Adam defaults (the reference builds tf.keras.optimizers.experimental.Adam with them).
struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;
};

// Keras' SGD: with momentum m, velocity = m * velocity - rate * gradient and parameter += velocity
// (Nesterov: parameter += m * velocity - rate * gradient).
struct SgdOptions {
  double momentum = 0.0;
  bool nesterov = false;
};

template <class Real>
class Optimizer {
 public:
  // Keras' Adam: t = step + 1, alpha = rate * sqrt(1 - beta2^t) / (1 - beta1^t), m += (1 - beta1) (g - m),
  // v += (1 - beta2) (g^2 - v), parameter -= alpha * m / (sqrt(v) + epsilon).
  static Optimizer adam(LearningRateSchedule schedule, AdamOptions options = {});
  static Optimizer sgd(LearningRateSchedule schedule, SgdOptions options = {});

  // Updates every trainable parameter of the network with its gradient (the gradients stay as they are)
  // and counts the step. The first step sizes the optimizer's state for the network; invalid_argument when
  // a later step gets a network whose parameters have other sizes.
  std::optional<Error> step(Network<Real>& network);

  std::int64_t iterations() const { return state_.iterations; }
  // The learning rate of the next step.
  double learning_rate() const { return schedule_.at(state_.iterations); }

  // The state a checkpoint needs besides the network: the step count and, per parameter of
  // Network::parameters() (in that order), Adam's m and v or SGD's velocity, one after the other.
  struct State {
    std::int64_t iterations = 0;
    std::vector<std::vector<Real>> slots;
  };
  const State& state() const { return state_; }
  void restore(State state) { state_ = std::move(state); }

 private:
  enum class Kind { adam, sgd };
  Optimizer(Kind kind, LearningRateSchedule schedule) : kind_(kind), schedule_(std::move(schedule)) {}

  Kind kind_;
  LearningRateSchedule schedule_;
  AdamOptions adam_;
  SgdOptions sgd_;
  State state_;
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace reds::engine::training
