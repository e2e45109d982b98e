// What `reds finetune` and `reds train` share: the options that fix a run's minibatch stream and learning
// rate, the resumable checkpoint, one joint step over threads and the progress display.
#pragma once

#include <algorithm>
#include <boost/program_options/variables_map.hpp>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "reds/engine/evaluation.h"
#include "reds/status.h"
#include "reds/training/data.h"
#include "reds/training/levels.h"
#include "reds/training/optimizer.h"
#include "reds/training/training.h"

namespace reds::cli {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start);
// "1h02m03s", "4m05s", "6s".
std::string duration_text(double seconds);

struct TrainingOptions {
  std::int64_t batch_size = 128;
  std::uint64_t seed = 0;
  std::int64_t train_images = 0;  // the first N training images; 0: all
  std::int64_t total_steps = 0;
  double learning_rate = 1e-3;
  std::vector<double> decay_at = {0.5, 0.8};  // fractions of total_steps (the steps schedule)
  bool cosine = false;                        // cosine decay to 0 over the run instead of the steps
  double warmup = 0.0;                        // fraction of total_steps warming the rate up linearly
  bool sgd = false;
};

// The options of a run both commands read alike: its length (--steps, or --epochs), threads, checkpointing,
// test images and output; the minibatch stream's options and the learning-rate schedule go into `training`.
struct RunOptions {
  std::size_t threads = 1;
  std::int64_t checkpoint_every = 1;
  std::int64_t test_images = -1;  // -1: the whole test set; 0: no evaluation
  std::optional<std::int64_t> steps;
  std::optional<double> epochs;  // when steps is not given
  std::string output;
  std::string checkpoint;  // --checkpoint, or the output's name with ".checkpoint" appended
};
Result<RunOptions> read_run_options(const boost::program_options::variables_map& options,
                                    TrainingOptions& training);
// Declares what both commands take alike and read_run_options reads: --train-images, --test-images,
// --threads, --checkpoint, --checkpoint-every, --resume and the input normalisation.
void add_run_options(CommandLine& command_line);

// The steps schedule: the learning rate drops to 1/4 and then 1/100 of the initial rate, the ratios of the
// reference's Fashion-MNIST schedule (1e-3, 2.5e-4, 1e-5), at the given fractions of the run instead of at
// its fixed steps 16406 and 30468 (35 and 65 of its 250 epochs), which a run of a few epochs never reaches.
// Or (cosine) Keras' cosine decay from the initial rate to 0 at the last step. A warm-up multiplies the
// first `warmup` of the run by a ramp from 1/warm-up steps to 1.
Result<engine::training::LearningRateSchedule> schedule_of(const TrainingOptions& options);

// The learning-rate options both commands take, with each command's defaults (fine-tuning a trained network
// and training from scratch start from different rates): --lr, --lr-decay, --lr-schedule (steps or cosine)
// and --lr-warmup (a fraction of the run). read_run_options reads them.
struct ScheduleDefaults {
  const char* lr;
  const char* lr_help;
  const char* schedule;  // "steps" or "cosine"
  const char* warmup;
};
void add_schedule_options(CommandLine& command_line, const ScheduleDefaults& defaults);

// The checkpoint: the weights, the optimizer's state and where the minibatch stream stands, with the
// options that fix the stream (a resumed run must draw the same minibatches). Binary, native byte order:
// it is read back by the same build on the same machine, not exchanged.
std::optional<Error> save_checkpoint(const std::string& path, engine::training::Network<float>& network,
                                     const engine::training::Optimizer<float>& optimizer,
                                     const TrainingOptions& options);
// Restores the weights and the optimizer's state; the step to continue from is the optimizer's
// iteration count. invalid_argument for a file that is no checkpoint of this network or was made with
// other stream options.
std::optional<Error> load_checkpoint(const std::string& path, engine::training::Network<float>& network,
                                     engine::training::Optimizer<float>& optimizer,
                                     const TrainingOptions& options);

// One joint step's gradients with the minibatch split over `replicas.size() + 1` threads: the network
// itself takes the first share, each replica (a copy of the network, its weights refreshed here) the next.
// Every share's losses are weighted by its fraction of the minibatch, so the summed gradient is the whole
// minibatch's mean loss gradient, as one pass over it would give (up to the order of float additions).
// Per-level statistics of every level (engine::training::calibrate_level against the last level, the
// largest) on `images` training images (at most all of them), augmented and drawn in an order set by `seed`
// apart from the minibatches'.
Result<std::vector<engine::training::LevelCalibration>> estimate_level_statistics(
    engine::training::Network<float>& network, const std::vector<engine::training::Widths>& levels,
    const engine::ImageSet& train, std::int64_t images, std::uint64_t seed);

class JointStep {
 public:
  // `options` for every pass (batch statistics: each share normalises with its own images' statistics,
  // and only the network's own share updates its moving averages).
  JointStep(const engine::training::Network<float>& network, std::size_t threads,
            const engine::training::PassOptions& options = {},
            const engine::training::Distillation& distillation = {})
      : replicas_(threads - 1, network), options_(options), distillation_(distillation) {
    passes_.resize(threads);
    results_.resize(threads);
    errors_.resize(threads);
  }

  Result<std::vector<engine::training::LevelResult>> run(engine::training::Network<float>& network,
                                                         const std::vector<engine::training::Widths>& levels,
                                                         const std::vector<double>& weights,
                                                         const engine::training::Minibatch& batch) {
    const std::size_t shares =
        std::min<std::size_t>(replicas_.size() + 1, static_cast<std::size_t>(batch.count));
    const std::int64_t image_size = static_cast<std::int64_t>(batch.images.size()) / batch.count;
    const auto share = [&](std::size_t index, engine::training::Network<float>& copy) {
      const std::int64_t begin =
          batch.count * static_cast<std::int64_t>(index) / static_cast<std::int64_t>(shares);
      const std::int64_t end =
          batch.count * static_cast<std::int64_t>(index + 1) / static_cast<std::int64_t>(shares);
      std::vector<double> scaled = weights;
      for (double& weight : scaled)
        weight *= static_cast<double>(end - begin) / static_cast<double>(batch.count);
      Result<std::vector<engine::training::LevelResult>> result = engine::training::joint_gradients(
          copy, levels, scaled,
          std::span<const float>(batch.images)
              .subspan(static_cast<std::size_t>(begin * image_size),
                       static_cast<std::size_t>((end - begin) * image_size)),
          std::span<const std::int64_t>(batch.labels)
              .subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin)),
          options_, passes_[index], distillation_, calibrations_);
      if (!result) {
        errors_[index] = result.error();
        return;
      }
      errors_[index].reset();
      results_[index] = std::move(result).value();
      for (auto& level : results_[index]) {
        level.loss *= static_cast<double>(end - begin) / static_cast<double>(batch.count);
        level.distillation *= static_cast<double>(end - begin) / static_cast<double>(batch.count);
      }
    };
    const std::vector<engine::training::Parameter<float>*> parameters = network.parameters();
    std::vector<std::thread> threads;
    for (std::size_t index = 1; index < shares; ++index) {
      engine::training::Network<float>& replica = replicas_[index - 1];
      const std::vector<engine::training::Parameter<float>*> copies = replica.parameters();
      for (std::size_t i = 0; i < parameters.size(); ++i) copies[i]->value = parameters[i]->value;
      threads.emplace_back([&, index] { share(index, replica); });
    }
    share(0, network);
    for (std::thread& thread : threads) thread.join();

    for (std::size_t index = 0; index < shares; ++index)
      if (errors_[index]) return *errors_[index];
    std::vector<engine::training::LevelResult> total = results_[0];
    for (std::size_t index = 1; index < shares; ++index) {
      const std::vector<engine::training::Parameter<float>*> copies = replicas_[index - 1].parameters();
      for (std::size_t i = 0; i < parameters.size(); ++i) {
        if (!parameters[i]->trainable) continue;
        std::vector<float>& gradient = parameters[i]->gradient;
        const std::vector<float>& other = copies[i]->gradient;
        for (std::size_t j = 0; j < gradient.size(); ++j) gradient[j] += other[j];
      }
      for (std::size_t level = 0; level < total.size(); ++level) {
        total[level].loss += results_[index][level].loss;
        total[level].distillation += results_[index][level].distillation;
        total[level].correct += results_[index][level].correct;
      }
    }
    return total;
  }

  // Per-level statistics for the passes of every level (none: empty).
  void set_calibrations(std::vector<engine::training::LevelCalibration> calibrations) {
    calibrations_ = std::move(calibrations);
  }

 private:
  std::vector<engine::training::LevelCalibration> calibrations_;
  std::vector<engine::training::Network<float>> replicas_;
  engine::training::PassOptions options_;
  engine::training::Distillation distillation_;
  std::vector<engine::training::Pass<float>> passes_;
  std::vector<std::vector<engine::training::LevelResult>> results_;
  std::vector<std::optional<Error>> errors_;
};

// Epoch, step, loss per level (and, when `distillation`, the KL term of every level it teaches), images per
// second and time left: rewritten in place on a terminal (the losses a moving average), one line every
// `line_every` steps otherwise (the losses the mean since the last line).
class TrainingProgress {
 public:
  TrainingProgress(std::ostream& err, bool terminal, std::int64_t total_steps, std::int64_t steps_per_epoch,
                   std::int64_t first_step, std::int64_t line_every, std::size_t levels,
                   bool distillation = false)
      : err_(err),
        terminal_(terminal),
        total_steps_(total_steps),
        steps_per_epoch_(steps_per_epoch),
        first_step_(first_step),
        line_every_(std::max<std::int64_t>(line_every, 1)),
        distilled_levels_(distillation && levels > 1 ? levels - 1 : 0),
        average_(levels + distilled_levels_, 0.0),
        window_(levels + distilled_levels_, 0.0),
        start_(Clock::now()),
        shown_(start_),
        last_step_(start_) {}

  // After optimizer step `step` (counted from 1) of `images` images.
  void update(std::int64_t step, const std::vector<engine::training::LevelResult>& results,
              std::int64_t images) {
    images_ += images;
    ++window_steps_;
    // The rate shown and the time left follow the recent steps, so that a slow start (a busy machine, a
    // cold cache) does not distort them for the rest of the run.
    const Clock::time_point now = Clock::now();
    const double step_seconds = std::chrono::duration<double>(now - last_step_).count();
    last_step_ = now;
    const bool first = step == first_step_ + 1;
    recent_step_seconds_ = first ? step_seconds : 0.95 * recent_step_seconds_ + 0.05 * step_seconds;
    recent_step_images_ =
        first ? static_cast<double>(images) : 0.95 * recent_step_images_ + 0.05 * static_cast<double>(images);
    // The levels' losses, then the distillation terms of the levels taught.
    std::vector<double> losses;
    for (const auto& result : results) losses.push_back(result.loss);
    for (std::size_t level = 0; level < distilled_levels_ && level < results.size(); ++level)
      losses.push_back(results[level].distillation);
    for (std::size_t at = 0; at < losses.size() && at < average_.size(); ++at) {
      average_[at] = first ? losses[at] : 0.95 * average_[at] + 0.05 * losses[at];
      window_[at] += losses[at];
    }
    const bool last = step == total_steps_;
    if (terminal_) {
      if (!last && seconds_since(shown_) < 0.25) return;
      shown_ = Clock::now();
      err_ << '\r' << line(step, average_) << "\x1b[K" << std::flush;
      if (last) err_ << '\n';
      return;
    }
    if (step % line_every_ != 0 && !last) return;
    for (double& loss : window_) loss /= static_cast<double>(window_steps_);
    err_ << line(step, window_) << '\n' << std::flush;
    std::fill(window_.begin(), window_.end(), 0.0);
    window_steps_ = 0;
  }

  double images_per_second() const {
    return static_cast<double>(images_) / std::max(seconds_since(start_), 1e-9);
  }
  double seconds() const { return seconds_since(start_); }

 private:
  std::string line(std::int64_t step, const std::vector<double>& losses) const {
    const std::int64_t epochs = (total_steps_ + steps_per_epoch_ - 1) / steps_per_epoch_;
    const double left = recent_step_seconds_ * static_cast<double>(total_steps_ - step);
    const double recent_images_per_second = recent_step_images_ / std::max(recent_step_seconds_, 1e-9);
    std::ostringstream text;
    text << "epoch " << (step - 1) / steps_per_epoch_ + 1 << '/' << epochs << "  step " << step << '/'
         << total_steps_;
    if (terminal_) {
      constexpr std::int64_t kWidth = 20;
      const std::int64_t filled = kWidth * step / total_steps_;
      text << " [" << std::string(static_cast<std::size_t>(filled), '#')
           << std::string(static_cast<std::size_t>(kWidth - filled), '.') << ']';
    }
    text << "  loss per level" << std::fixed << std::setprecision(3);
    const std::size_t levels = losses.size() - distilled_levels_;
    for (std::size_t at = 0; at < levels; ++at) text << ' ' << losses[at];
    if (distilled_levels_ > 0) {
      text << "  distillation";
      for (std::size_t at = levels; at < losses.size(); ++at) text << ' ' << losses[at];
    }
    text << "  " << std::setprecision(0) << recent_images_per_second << " images/s  left "
         << duration_text(left);
    return text.str();
  }

  std::ostream& err_;
  bool terminal_;
  std::int64_t total_steps_, steps_per_epoch_, first_step_, line_every_;
  std::size_t distilled_levels_;
  std::vector<double> average_, window_;  // per level, then per level taught
  std::int64_t window_steps_ = 0;
  std::int64_t images_ = 0;
  Clock::time_point start_, shown_, last_step_;
  double recent_step_seconds_ = 0.0, recent_step_images_ = 0.0;  // moving averages over the last steps
};

// "level 1  accuracy 91.20 % (9120/10000)  macs ...  latency ... us (median, batch 1)".
std::string describe(const engine::LevelEvaluation& evaluation);

}  // namespace reds::cli
