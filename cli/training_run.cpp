#include "training_run.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "commands.h"
#include "input_normalization_options.h"

namespace reds::cli {

using engine::training::Network;
using engine::training::Optimizer;

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

Result<engine::training::LearningRateSchedule> schedule_of(const TrainingOptions& options) {
  const std::int64_t warmup_steps = std::llround(options.warmup * static_cast<double>(options.total_steps));
  if (options.cosine) {
    // Decaying over the steps after the warm-up, to 0 at the last one.
    const Result<engine::training::LearningRateSchedule> cosine =
        engine::training::LearningRateSchedule::cosine_decay(
            options.learning_rate, std::max<std::int64_t>(options.total_steps - 1, 1), 0.0);
    if (!cosine) return cosine.error();
    return cosine->with_warmup(warmup_steps);
  }
  const std::vector<double> factors = {1.0, 0.25, 0.01};
  std::vector<std::int64_t> boundaries;
  std::vector<double> values = {options.learning_rate};
  for (std::size_t i = 0; i < options.decay_at.size() && i + 1 < factors.size(); ++i) {
    std::int64_t boundary = std::llround(options.decay_at[i] * static_cast<double>(options.total_steps));
    if (!boundaries.empty()) boundary = std::max(boundary, boundaries.back() + 1);
    boundaries.push_back(boundary);
    values.push_back(options.learning_rate * factors[i + 1]);
  }
  const Result<engine::training::LearningRateSchedule> steps =
      engine::training::LearningRateSchedule::piecewise_constant(boundaries, values);
  if (!steps) return steps.error();
  return steps->with_warmup(warmup_steps);
}

void add_schedule_options(CommandLine& command_line, const ScheduleDefaults& defaults) {
  namespace po = boost::program_options;
  command_line.add_options()                                     //
      ("lr", number_option("R", defaults.lr), defaults.lr_help)  //
      ("lr-decay", number_option("LIST", "0.5,0.8"),
       "up to two fractions of the run where the rate drops to 1/4, then 1/100 of --lr (past 1: never)")  //
      ("lr-schedule", po::value<std::string>()->value_name("S")->default_value(defaults.schedule),
       "steps (the reference's drops at --lr-decay) or cosine (cosine decay to 0 over the run)")  //
      ("lr-warmup", number_option("F", defaults.warmup),
       "fraction of the run over which the rate rises linearly to the schedule's");
}

namespace {

std::optional<Error> read_schedule_options(const boost::program_options::variables_map& options,
                                           TrainingOptions& training) {
  const std::string schedule = options["lr-schedule"].as<std::string>();
  if (schedule != "steps" && schedule != "cosine")
    return value_error("lr-schedule", schedule, "use steps or cosine");
  training.cosine = schedule == "cosine";
  const Result<double> warmup = number_value(options, "lr-warmup", 0.0);
  if (!warmup) return warmup.error();
  if (*warmup >= 1.0)
    return value_error("lr-warmup", options["lr-warmup"].as<std::string>(), "must be below 1 (of the run)");
  training.warmup = *warmup;
  return std::nullopt;
}

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

}  // namespace

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

std::string describe(const engine::LevelEvaluation& evaluation) {
  std::ostringstream line;
  line << "level " << evaluation.level + 1 << "  accuracy " << std::fixed << std::setprecision(2)
       << 100.0 * evaluation.accuracy << " % (" << evaluation.correct << '/' << evaluation.total << ")  macs "
       << evaluation.info.macs << "  latency " << std::setprecision(1) << evaluation.latency_us
       << " us (median, batch 1)";
  return line.str();
}

void add_run_options(CommandLine& command_line) {
  namespace po = boost::program_options;
  command_line.add_options()                                                                           //
      ("train-images", number_option("N", "0"), "train on the first N training images only (0: all)")  //
      ("test-images", number_option("N", "-1"),
       "evaluate on the first N test images (-1: all, 0: no evaluation)")     //
      ("threads", number_option("N", "2"), "threads sharing each minibatch")  //
      ("checkpoint", po::value<std::string>()->value_name("FILE"),
       "checkpoint file (default: OUT.checkpoint)")                                 //
      ("checkpoint-every", number_option("N", "500"), "steps between checkpoints")  //
      ("resume", "continue from the checkpoint");
  add_input_normalization_options(command_line);
}

Result<std::vector<engine::training::LevelCalibration>> estimate_level_statistics(
    engine::training::Network<float>& network, const std::vector<engine::training::Widths>& levels,
    const engine::ImageSet& train, std::int64_t images, std::uint64_t seed) {
  engine::training::MinibatchStream sample(train, std::min(images, train.count), seed + 1000,
                                           engine::training::Augmentation::reference());
  engine::training::Minibatch batch;
  sample.next(batch);
  engine::training::Pass<float> pass;
  std::vector<engine::training::LevelCalibration> calibrations;
  for (const engine::training::Widths& widths : levels) {
    Result<engine::training::LevelCalibration> calibration = engine::training::calibrate_level(
        network, levels.back(), widths, std::span<const float>(batch.images), batch.count, pass);
    if (!calibration) return calibration.error();
    calibrations.push_back(std::move(calibration).value());
  }
  return calibrations;
}

Result<RunOptions> read_run_options(const boost::program_options::variables_map& options,
                                    TrainingOptions& training) {
  RunOptions run;
  const Result<std::int64_t> batch_size = integer_value(options, "batch-size", 1);
  if (!batch_size) return batch_size.error();
  training.batch_size = *batch_size;
  const Result<std::int64_t> seed = integer_value(options, "seed", 0);
  if (!seed) return seed.error();
  training.seed = static_cast<std::uint64_t>(*seed);
  const Result<std::int64_t> train_images = integer_value(options, "train-images", 0);
  if (!train_images) return train_images.error();
  training.train_images = *train_images;
  const Result<double> learning_rate = number_value(options, "lr", 0.0);
  if (!learning_rate) return learning_rate.error();
  training.learning_rate = *learning_rate;
  const Result<std::int64_t> threads = integer_value(options, "threads", 1, 256);
  if (!threads) return threads.error();
  run.threads = static_cast<std::size_t>(*threads);
  const Result<std::int64_t> checkpoint_every = integer_value(options, "checkpoint-every", 1);
  if (!checkpoint_every) return checkpoint_every.error();
  run.checkpoint_every = *checkpoint_every;
  const Result<std::int64_t> test_images = integer_value(options, "test-images", -1);
  if (!test_images) return test_images.error();
  run.test_images = *test_images;
  Result<std::vector<double>> decay = fractions_value(options, "lr-decay", 2, FractionRange::non_negative);
  if (!decay) return decay.error();
  training.decay_at = std::move(decay).value();
  if (auto error = read_schedule_options(options, training)) return *error;
  if (options.count("steps")) {
    const Result<std::int64_t> steps = integer_value(options, "steps", 1);
    if (!steps) return steps.error();
    run.steps = *steps;
  } else {
    const Result<double> epochs = number_value(options, "epochs", 0.0);
    if (!epochs) return epochs.error();
    run.epochs = *epochs;
  }
  run.output = options["output"].as<std::string>();
  run.checkpoint =
      options.count("checkpoint") ? options["checkpoint"].as<std::string>() : run.output + ".checkpoint";
  return run;
}

}  // namespace reds::cli
