#include "finetune_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <optional>
#include <ostream>
#include <sstream>
#include <thread>

#include "apply_command.h"
#include "batch_limits.h"
#include "input_normalization_options.h"
#include "reds/engine/dataset.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/training/data.h"
#include "reds/training/levels.h"
#include "reds/training/optimizer.h"
#include "reds/training/training.h"

namespace reds::cli {

namespace po = boost::program_options;
using engine::training::Network;
using engine::training::Optimizer;
using engine::training::Widths;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string duration_text(double seconds) {
  const auto total = static_cast<long long>(std::max(0.0, seconds) + 0.5);
  std::ostringstream text;
  if (total >= 3600) text << total / 3600 << 'h' << std::setw(2) << std::setfill('0');
  if (total >= 60) text << (total / 60) % 60 << 'm' << std::setw(2) << std::setfill('0');
  text << total % 60 << 's';
  return text.str();
}

struct TrainingOptions {
  std::int64_t batch_size = 128;
  std::uint64_t seed = 0;
  std::int64_t train_images = 0;  // the first N training images; 0: all
  std::int64_t total_steps = 0;
  double learning_rate = 1e-3;
  std::vector<double> decay_at = {0.5, 0.8};  // fractions of total_steps
  bool sgd = false;
};

// The learning rate drops to 1/4 and then 1/100 of the initial rate, the ratios of the reference's
// Fashion-MNIST schedule (1e-3, 2.5e-4, 1e-5), at the given fractions of the run instead of at its fixed
// steps 16406 and 30468 (35 and 65 of its 250 epochs), which a run of a few epochs never reaches.
Result<engine::training::LearningRateSchedule> schedule_of(const TrainingOptions& options) {
  const std::vector<double> factors = {1.0, 0.25, 0.01};
  std::vector<std::int64_t> boundaries;
  std::vector<double> values = {options.learning_rate};
  for (std::size_t i = 0; i < options.decay_at.size() && i + 1 < factors.size(); ++i) {
    std::int64_t boundary = std::llround(options.decay_at[i] * static_cast<double>(options.total_steps));
    if (!boundaries.empty()) boundary = std::max(boundary, boundaries.back() + 1);
    boundaries.push_back(boundary);
    values.push_back(options.learning_rate * factors[i + 1]);
  }
  return engine::training::LearningRateSchedule::piecewise_constant(boundaries, values);
}

// The checkpoint: the weights, the optimizer's state and where the minibatch stream stands, with the
// options that fix the stream (a resumed run must draw the same minibatches). Binary, native byte order:
// it is read back by the same build on the same machine, not exchanged.
constexpr char kCheckpointMagic[16] = "REDS-FINETUNE-1";

template <class T>
void put(std::ostream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof value);
}
template <class T>
void put_vector(std::ostream& out, const std::vector<T>& values) {
  put(out, static_cast<std::int64_t>(values.size()));
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(T)));
}
template <class T>
bool get(std::istream& in, T& value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&value), sizeof value));
}
template <class T>
bool get_vector(std::istream& in, std::vector<T>& values, std::int64_t expected_size) {
  std::int64_t size = 0;
  if (!get(in, size) || size != expected_size) return false;
  values.resize(static_cast<std::size_t>(size));
  return static_cast<bool>(in.read(reinterpret_cast<char*>(values.data()),
                                   static_cast<std::streamsize>(values.size() * sizeof(T))));
}

std::optional<Error> save_checkpoint(const std::string& path, Network<float>& network,
                                     const Optimizer<float>& optimizer, const TrainingOptions& options) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(kCheckpointMagic, sizeof kCheckpointMagic);
    put(out, options.batch_size);
    put(out, options.seed);
    put(out, options.train_images);
    put(out, static_cast<std::int32_t>(options.sgd));
    put(out, optimizer.state().iterations);
    const std::vector<engine::training::Parameter<float>*> parameters = network.parameters();
    put(out, static_cast<std::int64_t>(parameters.size()));
    for (const auto* parameter : parameters) put_vector(out, parameter->value);
    const auto& slots = optimizer.state().slots;
    put(out, static_cast<std::int64_t>(slots.size()));
    for (const auto& slot : slots) put_vector(out, slot);
    for (const auto& layer : network.layers()) {
      if (layer.kind != engine::training::TrainingLayerKind::batch_norm) continue;
      put_vector(out, layer.moving_mean);
      put_vector(out, layer.moving_variance);
    }
    out.flush();
    if (!out) return Error{ErrorCode::internal, "", "cannot write the checkpoint '" + temporary + "'"};
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error)
    return Error{ErrorCode::internal, "", "cannot write the checkpoint '" + path + "': " + error.message()};
  return std::nullopt;
}

// Restores the weights and the optimizer's state; the step to continue from is the optimizer's
// iteration count. invalid_argument for a file that is no checkpoint of this network or was made with
// other stream options.
std::optional<Error> load_checkpoint(const std::string& path, Network<float>& network,
                                     Optimizer<float>& optimizer, const TrainingOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument("cannot read the checkpoint '" + path + "'");
  const auto broken = [&] {
    return invalid_argument("'" + path + "' is not a checkpoint of this model and plan");
  };
  char magic[sizeof kCheckpointMagic] = {};
  if (!in.read(magic, sizeof magic) ||
      std::string(magic, sizeof magic) != std::string(kCheckpointMagic, sizeof magic))
    return broken();
  TrainingOptions saved;
  std::int32_t sgd = 0;
  Optimizer<float>::State state;
  if (!get(in, saved.batch_size) || !get(in, saved.seed) || !get(in, saved.train_images) || !get(in, sgd) ||
      !get(in, state.iterations))
    return broken();
  const auto differs = [&](const std::string& option, const auto& value) {
    std::ostringstream message;
    message << "the checkpoint '" << path << "' was made with " << option << ' ' << value
            << "; resume with the same value";
    return invalid_argument(message.str());
  };
  if (saved.batch_size != options.batch_size) return differs("--batch-size", saved.batch_size);
  if (saved.seed != options.seed) return differs("--seed", saved.seed);
  if (saved.train_images != options.train_images) return differs("--train-images", saved.train_images);
  if ((sgd != 0) != options.sgd) return differs("--optimizer", sgd != 0 ? "sgd" : "adam");

  const std::vector<engine::training::Parameter<float>*> parameters = network.parameters();
  std::int64_t count = 0;
  if (!get(in, count) || count != static_cast<std::int64_t>(parameters.size())) return broken();
  std::vector<std::vector<float>> values(parameters.size());
  for (std::size_t i = 0; i < parameters.size(); ++i)
    if (!get_vector(in, values[i], static_cast<std::int64_t>(parameters[i]->value.size()))) return broken();
  std::int64_t slot_count = 0;
  if (!get(in, slot_count) || slot_count < 0 || slot_count > 2 * count) return broken();
  state.slots.resize(static_cast<std::size_t>(slot_count));
  for (std::size_t i = 0; i < state.slots.size(); ++i) {
    // Slots follow the parameters in order, one or two per parameter (SGD's velocity, Adam's m and v).
    const std::size_t per_parameter = slot_count == count ? 1 : 2;
    if (!get_vector(in, state.slots[i],
                    static_cast<std::int64_t>(parameters[i / per_parameter]->value.size())))
      return broken();
  }
  std::vector<std::vector<float>> moving;
  for (const auto& layer : network.layers()) {
    if (layer.kind != engine::training::TrainingLayerKind::batch_norm) continue;
    for (int statistic = 0; statistic < 2; ++statistic) {
      moving.emplace_back();
      if (!get_vector(in, moving.back(), static_cast<std::int64_t>(layer.moving_mean.size())))
        return broken();
    }
  }
  char extra = 0;
  if (in.read(&extra, 1)) return broken();

  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i]->value = std::move(values[i]);
  std::size_t next = 0;
  for (auto& layer : network.layers()) {
    if (layer.kind != engine::training::TrainingLayerKind::batch_norm) continue;
    layer.moving_mean = std::move(moving[next++]);
    layer.moving_variance = std::move(moving[next++]);
  }
  optimizer.restore(std::move(state));
  return std::nullopt;
}

// One joint step's gradients with the minibatch split over `replicas.size() + 1` threads: the network
// itself takes the first share, each replica (a copy of the network, its weights refreshed here) the next.
// Every share's losses are weighted by its fraction of the minibatch, so the summed gradient is the whole
// minibatch's mean loss gradient, as one pass over it would give (up to the order of float additions).
class JointStep {
 public:
  JointStep(const Network<float>& network, std::size_t threads) : replicas_(threads - 1, network) {
    passes_.resize(threads);
    results_.resize(threads);
    errors_.resize(threads);
  }

  Result<std::vector<engine::training::LevelResult>> run(Network<float>& network,
                                                         const std::vector<Widths>& levels,
                                                         const std::vector<double>& weights,
                                                         const engine::training::Minibatch& batch) {
    const std::size_t shares =
        std::min<std::size_t>(replicas_.size() + 1, static_cast<std::size_t>(batch.count));
    const std::int64_t image_size = static_cast<std::int64_t>(batch.images.size()) / batch.count;
    const auto share = [&](std::size_t index, Network<float>& copy) {
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
          {}, passes_[index]);
      if (!result) {
        errors_[index] = result.error();
        return;
      }
      errors_[index].reset();
      results_[index] = std::move(result).value();
      for (auto& level : results_[index])
        level.loss *= static_cast<double>(end - begin) / static_cast<double>(batch.count);
    };
    const std::vector<engine::training::Parameter<float>*> parameters = network.parameters();
    std::vector<std::thread> threads;
    for (std::size_t index = 1; index < shares; ++index) {
      Network<float>& replica = replicas_[index - 1];
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
        total[level].correct += results_[index][level].correct;
      }
    }
    return total;
  }

 private:
  std::vector<Network<float>> replicas_;
  std::vector<engine::training::Pass<float>> passes_;
  std::vector<std::vector<engine::training::LevelResult>> results_;
  std::vector<std::optional<Error>> errors_;
};

// Epoch, step, loss per level, images per second and time left: rewritten in place on a terminal (the
// losses a moving average), one line every `line_every` steps otherwise (the losses the mean since the
// last line).
class TrainingProgress {
 public:
  TrainingProgress(std::ostream& err, bool terminal, std::int64_t total_steps, std::int64_t steps_per_epoch,
                   std::int64_t first_step, std::int64_t line_every, std::size_t levels)
      : err_(err),
        terminal_(terminal),
        total_steps_(total_steps),
        steps_per_epoch_(steps_per_epoch),
        first_step_(first_step),
        line_every_(std::max<std::int64_t>(line_every, 1)),
        average_(levels, 0.0),
        window_(levels, 0.0),
        start_(Clock::now()),
        shown_(start_) {}

  // After optimizer step `step` (counted from 1) of `images` images.
  void update(std::int64_t step, const std::vector<engine::training::LevelResult>& results,
              std::int64_t images) {
    images_ += images;
    ++window_steps_;
    for (std::size_t level = 0; level < results.size(); ++level) {
      average_[level] =
          step == first_step_ + 1 ? results[level].loss : 0.95 * average_[level] + 0.05 * results[level].loss;
      window_[level] += results[level].loss;
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
    const double elapsed = seconds_since(start_);
    const double left =
        elapsed / static_cast<double>(step - first_step_) * static_cast<double>(total_steps_ - step);
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
    for (const double loss : losses) text << ' ' << loss;
    text << "  " << std::setprecision(0) << images_per_second() << " images/s  left " << duration_text(left);
    return text.str();
  }

  std::ostream& err_;
  bool terminal_;
  std::int64_t total_steps_, steps_per_epoch_, first_step_, line_every_;
  std::vector<double> average_, window_;
  std::int64_t window_steps_ = 0;
  std::int64_t images_ = 0;
  Clock::time_point start_, shown_;
};

std::string describe(const engine::LevelEvaluation& evaluation) {
  std::ostringstream line;
  line << "level " << evaluation.level + 1 << "  accuracy " << std::fixed << std::setprecision(2)
       << 100.0 * evaluation.accuracy << " % (" << evaluation.correct << '/' << evaluation.total << ")  macs "
       << evaluation.info.macs << "  latency " << std::setprecision(1) << evaluation.latency_us
       << " us (median, batch 1)";
  return line.str();
}

}  // namespace

int run_finetune(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds finetune", "reds finetune MODEL [PLAN|-] --data DIR (--epochs N | --steps N) -o OUT [OPTIONS]",
      "Fine-tunes every level of a plan at once (the REDS reference's joint training): each step runs\n"
      "every level on the same augmented minibatch of DIR's training images, weights level s's\n"
      "cross-entropy by pi_s = sqrt(p_s) / sum_j sqrt(p_j) (p_s: its share of the parameters), and takes\n"
      "one Adam step on the shared weights. MODEL is a Keras HDF5, ONNX or native .reds model; PLAN is\n"
      "the response of 'reds plan' ('-' for standard input), applied as 'reds apply' does; without PLAN,\n"
      "MODEL must embed one. OUT is a native model with the plan embedded: 'reds run OUT --data DIR'\n"
      "evaluates every level. Batch normalization is folded into the layers before it and so stays\n"
      "frozen at its pretrained statistics, as in the reference's main fine-tuning: one set of\n"
      "statistics serves every level unchanged. Then every level is evaluated on DIR's test images.\n"
      "The learning rate drops to 1/4 and 1/100 of --lr at the --lr-decay fractions of the run (the\n"
      "reference's ratios). A checkpoint (weights, optimizer state, stream position) is written every\n"
      "--checkpoint-every steps and at the end; --resume continues from it bit for bit (with the same\n"
      "--threads). Progress goes to standard error: a bar on a terminal, lines otherwise.");
  command_line.add_options()  //
      ("data", po::value<std::string>()->value_name("DIR"),
       "train-images-idx3-ubyte (or -idx4- for colour images), train-labels-idx1-ubyte (and t10k-* for "
       "the evaluation)")                                                                          //
      ("output,o", po::value<std::string>()->value_name("OUT"), "the native model file to write")  //
      ("epochs", number_option("N"), "passes over the training images")                            //
      ("steps", number_option("N"), "optimizer steps (instead of --epochs)")                       //
      ("batch-size", number_option("B", "128"),
       "images per step; at most the training images (see --train-images), and refused when a pass "
       "over it would not fit in memory")                           //
      ("lr", number_option("R", "0.001"), "initial learning rate")  //
      ("lr-decay", number_option("LIST", "0.5,0.8"),
       "up to two fractions of the run where the rate drops to 1/4, then 1/100 of --lr (past 1: never)")  //
      ("optimizer", po::value<std::string>()->value_name("O")->default_value("adam"),
       "adam (Keras defaults) or sgd (momentum 0.9)")                                                  //
      ("seed", number_option("S", "1"), "seed of the minibatches")                                     //
      ("train-images", number_option("N", "0"), "train on the first N training images only (0: all)")  //
      ("test-images", number_option("N", "-1"),
       "evaluate on the first N test images (-1: all, 0: no evaluation)")     //
      ("threads", number_option("N", "2"), "threads sharing each minibatch")  //
      ("checkpoint", po::value<std::string>()->value_name("FILE"),
       "checkpoint file (default: OUT.checkpoint)")                                 //
      ("checkpoint-every", number_option("N", "500"), "steps between checkpoints")  //
      ("resume", "continue from the checkpoint");
  add_input_normalization_options(command_line);
  command_line.add_positional("model", 1, po::value<std::string>(), "missing the MODEL file");
  command_line.add_positional("plan", 1, po::value<std::string>());
  command_line.require("data", "missing --data DIR");
  command_line.require("output", "missing -o OUT");
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;
  if (options.count("epochs") == options.count("steps"))
    return command_line.usage_error(streams.err, "give either --epochs N or --steps N");
  const auto report = [&](const Error& error) { return command_line.report(streams.err, error); };
  TrainingOptions training;
  const Result<std::int64_t> batch_size = integer_value(options, "batch-size", 1);
  if (!batch_size) return report(batch_size.error());
  training.batch_size = *batch_size;
  const Result<std::int64_t> seed = integer_value(options, "seed", 0);
  if (!seed) return report(seed.error());
  training.seed = static_cast<std::uint64_t>(*seed);
  const Result<std::int64_t> train_images = integer_value(options, "train-images", 0);
  if (!train_images) return report(train_images.error());
  training.train_images = *train_images;
  const Result<double> learning_rate = number_value(options, "lr", 0.0);
  if (!learning_rate) return report(learning_rate.error());
  training.learning_rate = *learning_rate;
  const std::string optimizer_name = options["optimizer"].as<std::string>();
  if (optimizer_name != "adam" && optimizer_name != "sgd")
    return report(value_error("optimizer", optimizer_name, "use adam or sgd"));
  training.sgd = optimizer_name == "sgd";
  const Result<std::int64_t> thread_count = integer_value(options, "threads", 1, 256);
  if (!thread_count) return report(thread_count.error());
  const auto threads = static_cast<std::size_t>(*thread_count);
  const Result<std::int64_t> checkpoint_every = integer_value(options, "checkpoint-every", 1);
  if (!checkpoint_every) return report(checkpoint_every.error());
  const Result<std::int64_t> test_images = integer_value(options, "test-images", -1);
  if (!test_images) return report(test_images.error());
  Result<std::vector<double>> decay = fractions_value(options, "lr-decay", 2, FractionRange::non_negative);
  if (!decay) return report(decay.error());
  training.decay_at = std::move(decay).value();
  std::optional<std::int64_t> steps;
  std::optional<double> epochs;
  if (options.count("steps")) {
    const Result<std::int64_t> value = integer_value(options, "steps", 1);
    if (!value) return report(value.error());
    steps = *value;
  } else {
    const Result<double> value = number_value(options, "epochs", 0.0);
    if (!value) return report(value.error());
    epochs = *value;
  }
  const std::string output = options["output"].as<std::string>();
  const std::string checkpoint =
      options.count("checkpoint") ? options["checkpoint"].as<std::string>() : output + ".checkpoint";

  // The planned model and its network.
  const Result<engine::Model> model = engine::load_model(options["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  engine::Model planned = model.value();
  if (options.count("plan")) {
    const Result<PlanResult> plan = read_plan(options["plan"].as<std::string>(), streams.in);
    if (!plan) return command_line.report(streams.err, plan.error());
    if (auto error = check_plan_matches_model(model.value(), plan.value()))
      return command_line.report(streams.err, *error);
    Result<engine::Model> applied = engine::apply_plan(model.value(), plan.value());
    if (!applied) return command_line.report(streams.err, applied.error());
    planned = std::move(applied).value();
  } else if (!planned.plan) {
    return command_line.usage_error(streams.err, "MODEL embeds no plan: give the PLAN file");
  }
  // Stated once, the normalisation stays with the model: OUT keeps it.
  const Result<engine::InputNormalization> normalization = input_normalization(options, planned);
  if (!normalization) return command_line.report(streams.err, normalization.error());
  if (has_input_normalization_options(options)) planned.input_normalization = normalization.value();
  Result<Network<float>> loaded = Network<float>::from_model(planned);
  if (!loaded) return command_line.report(streams.err, loaded.error());
  Network<float> network = std::move(loaded).value();
  std::vector<Widths> levels;
  for (std::size_t level = 0; level < planned.plan->widths.size(); ++level) {
    Result<Widths> widths = network.plan_widths(level);
    if (!widths) return command_line.report(streams.err, widths.error());
    levels.push_back(std::move(widths).value());
  }
  const Result<std::vector<double>> weights = engine::training::reference_level_weights(network, levels);
  if (!weights) return command_line.report(streams.err, weights.error());

  // The training images and the run's length.
  const std::string data = options["data"].as<std::string>();
  Result<engine::ImageSet> loaded_train = engine::load_training_set(data, normalization.value());
  if (!loaded_train) return command_line.report(streams.err, loaded_train.error());
  if (auto error = engine::check_image_shape(loaded_train.value(), planned.input))
    return report(invalid_argument("--data " + data + ": " + error->message));
  engine::ImageSet train = std::move(loaded_train).value();
  if (training.train_images > 0) train.count = std::min(train.count, training.train_images);
  if (auto error = check_batch_size(network, options["batch-size"].as<std::string>(), training.batch_size,
                                    train.count, data))
    return command_line.report(streams.err, *error);
  engine::training::MinibatchStream stream(train, training.batch_size, training.seed,
                                           engine::training::Augmentation::reference());
  const std::int64_t steps_per_epoch = stream.steps_per_epoch();
  training.total_steps = steps ? *steps : std::llround(*epochs * static_cast<double>(steps_per_epoch));
  if (training.total_steps < 1)
    return report(value_error("epochs", options["epochs"].as<std::string>(),
                              "less than one step of " + std::to_string(steps_per_epoch) + " per epoch"));
  const Result<engine::training::LearningRateSchedule> schedule = schedule_of(training);
  if (!schedule) return command_line.report(streams.err, schedule.error());
  Optimizer<float> optimizer =
      training.sgd ? Optimizer<float>::sgd(schedule.value(), {.momentum = 0.9, .nesterov = false})
                   : Optimizer<float>::adam(schedule.value());
  if (options.count("resume")) {
    if (auto error = load_checkpoint(checkpoint, network, optimizer, training))
      return command_line.report(streams.err, *error);
  }
  const std::int64_t first_step = optimizer.iterations();
  if (first_step > training.total_steps) {
    return command_line.report(streams.err,
                               invalid_argument("the checkpoint is at step " + std::to_string(first_step) +
                                                ", past the run's " + std::to_string(training.total_steps)));
  }
  stream.seek(first_step / steps_per_epoch, first_step % steps_per_epoch);

  streams.err << "fine-tuning " << levels.size() << " levels, loss weights";
  for (const double weight : weights.value()) streams.err << ' ' << std::setprecision(3) << weight;
  streams.err << "; " << train.count << " training images, " << steps_per_epoch << " steps per epoch, steps "
              << first_step + 1 << ".." << training.total_steps << ", " << threads << " thread(s)\n";

  JointStep joint(network, threads);
  TrainingProgress progress(streams.err, is_terminal(streams.err), training.total_steps, steps_per_epoch,
                            first_step, std::max<std::int64_t>(steps_per_epoch / 4, 1), levels.size());
  engine::training::Minibatch batch;
  for (std::int64_t step = first_step + 1; step <= training.total_steps; ++step) {
    stream.next(batch);
    const Result<std::vector<engine::training::LevelResult>> results =
        joint.run(network, levels, weights.value(), batch);
    if (!results) return command_line.report(streams.err, results.error());
    if (auto error = optimizer.step(network)) return command_line.report(streams.err, *error);
    progress.update(step, results.value(), batch.count);
    if (step % *checkpoint_every == 0 || step == training.total_steps) {
      if (auto error = save_checkpoint(checkpoint, network, optimizer, training))
        return command_line.report(streams.err, *error);
    }
  }
  const double training_seconds = progress.seconds();

  const Result<engine::Model> trained = network.to_model();
  if (!trained) return command_line.report(streams.err, trained.error());
  if (auto error = engine::save_native(trained.value(), output))
    return command_line.report(streams.err, *error);

  std::ostringstream summary;
  summary << std::fixed << std::setprecision(1) << "trained steps " << first_step + 1 << ".."
          << training.total_steps << " ("
          << static_cast<double>(training.total_steps) / static_cast<double>(steps_per_epoch) << " epochs of "
          << train.count << " images, batch " << training.batch_size << ") in " << training_seconds << " s, "
          << std::setprecision(0) << progress.images_per_second() << " images/s; wrote " << output;
  if (*test_images != 0) {
    Result<engine::ImageSet> loaded_test = engine::load_test_set(data, normalization.value());
    if (!loaded_test) return command_line.report(streams.err, loaded_test.error());
    engine::ImageSet test = std::move(loaded_test).value();
    if (*test_images > 0) test.count = std::min(test.count, *test_images);
    Result<engine::Session> session = engine::Session::create(trained.value());
    if (!session) return command_line.report(streams.err, session.error());
    for (std::size_t level = 0; level < session->level_count(); ++level) {
      const Result<engine::LevelEvaluation> evaluation = engine::evaluate(session.value(), level, test);
      if (!evaluation) return command_line.report(streams.err, evaluation.error());
      summary << '\n' << describe(evaluation.value());
    }
  }
  return print_output(command_line, streams, summary.str());
}

}  // namespace reds::cli
