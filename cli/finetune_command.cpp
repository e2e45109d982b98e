#include "finetune_command.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
#include "training_run.h"

namespace reds::cli {

namespace po = boost::program_options;
using engine::training::Network;
using engine::training::Optimizer;
using engine::training::Widths;

namespace {

// --level-weights: reference, uniform or one number per level, scaled to sum to 1.
Result<std::vector<double>> level_weights(const std::string& value, const Network<float>& network,
                                          const std::vector<Widths>& levels) {
  if (value == "reference") return engine::training::reference_level_weights(network, levels);
  if (value == "uniform") return engine::training::uniform_level_weights(levels.size());
  std::vector<double> weights;
  std::istringstream items(value);
  std::string item;
  while (std::getline(items, item, ',')) {
    char* end = nullptr;
    const double weight = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(weight) || weight < 0.0)
      return value_error("level-weights", value,
                         "use reference, uniform or numbers >= 0 separated by commas");
    weights.push_back(weight);
  }
  if (weights.size() != levels.size())
    return value_error("level-weights", value,
                       "the plan has " + std::to_string(levels.size()) + " levels, got " +
                           std::to_string(weights.size()) + " weights");
  double total = 0.0;
  for (const double weight : weights) total += weight;
  if (!(total > 0.0)) return value_error("level-weights", value, "at least one weight must be > 0");
  for (double& weight : weights) weight /= total;
  return weights;
}

}  // namespace

int run_finetune(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds finetune", "reds finetune MODEL [PLAN|-] --data DIR (--epochs N | --steps N) -o OUT [OPTIONS]",
      "Fine-tunes every level of a plan at once (the REDS reference's joint training): each step runs\n"
      "every level on the same augmented minibatch of DIR's training images, weights level s's\n"
      "cross-entropy by pi_s = sqrt(p_s) / sum_j sqrt(p_j) (p_s: its share of the parameters; see\n"
      "--level-weights), and takes one Adam step on the shared weights. MODEL is a Keras HDF5, ONNX or "
      "native .reds model; PLAN is\n"
      "the response of 'reds plan' ('-' for standard input), applied as 'reds apply' does; without PLAN,\n"
      "MODEL must embed one. OUT is a native model with the plan embedded: 'reds run OUT --data DIR'\n"
      "evaluates every level. Batch normalization is folded into the layers before it and so stays\n"
      "frozen at its pretrained statistics, as in the reference's main fine-tuning; on top of it every\n"
      "level gets its own statistics (a scale and bias per level, unit layer and channel, estimated on\n"
      "--calibrate-images N images before training, held fixed while it trains and written into OUT,\n"
      "where every level runs with them; --calibrate-images 0: one set of statistics for every level, as\n"
      "the reference). Then every level is evaluated on DIR's test images.\n"
      "With --distill-weight W > 0 the largest level also teaches the others in the same step (in-place\n"
      "distillation): each smaller level's loss is (1 - W) times its cross-entropy plus W times T^2 times\n"
      "the KL divergence of its predictions from the largest level's, both softened by the temperature\n"
      "T (--distill-temperature); the largest level learns from the labels alone. The learning rate\n"
      "follows --lr-schedule: steps (it drops to 1/4 and 1/100 of --lr at the --lr-decay fractions of the\n"
      "run, the reference's ratios) or cosine (down to 0 at the end), after a linear --lr-warmup.\n"
      "--lr 0.001 --lr-schedule steps --lr-warmup 0 --calibrate-images 0 is the reference's training (the\n"
      "defaults train faster: measured in docs/training.md). A checkpoint (weights, optimizer state, stream "
      "position)\n"
      "is written every --checkpoint-every steps and at the end; --resume continues from it bit for bit\n"
      "(with the same --threads). Progress goes to standard error: a bar on a terminal, lines otherwise.");
  command_line.add_options()  //
      ("data", po::value<std::string>()->value_name("DIR"),
       "train-images-idx3-ubyte (or -idx4- for colour images), train-labels-idx1-ubyte (and t10k-* for "
       "the evaluation)")                                                                          //
      ("output,o", po::value<std::string>()->value_name("OUT"), "the native model file to write")  //
      ("epochs", number_option("N"), "passes over the training images")                            //
      ("steps", number_option("N"), "optimizer steps (instead of --epochs)")                       //
      ("batch-size", number_option("B", "128"),
       "images per step; at most the training images (see --train-images), and refused when a pass "
       "over it would not fit in memory")  //
      ("level-weights", po::value<std::string>()->value_name("W")->default_value("reference"),
       "each level's share of the loss: reference (pi_s, see above), uniform, or one number per level "
       "(scaled to sum to 1)")  //
      ("distill-weight", number_option("W", "0"),
       "in-place distillation: weight of the largest level's soft predictions in every other level's "
       "loss, in [0, 1] (0: labels only)")  //
      ("distill-temperature", number_option("T", "1"),
       "temperature softening both the teacher's and the student's predictions")  //
      ("optimizer", po::value<std::string>()->value_name("O")->default_value("adam"),
       "adam (Keras defaults) or sgd (momentum 0.9)")  //
      ("calibrate-images", number_option("N", "512"),
       "per-level statistics: before training, map every level's unit outputs to the largest level's "
       "per-channel mean and deviation on N augmented training images, train with the maps and write "
       "them into OUT (0: none, the reference's)")  //
      ("seed", number_option("S", "1"), "seed of the minibatches");
  add_schedule_options(command_line, {.lr = "0.005",
                                      .lr_help = "initial (peak) learning rate (the reference's: 0.001)",
                                      .schedule = "cosine",
                                      .warmup = "0.05"});
  add_run_options(command_line);
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
  const std::string optimizer_name = options["optimizer"].as<std::string>();
  if (optimizer_name != "adam" && optimizer_name != "sgd")
    return report(value_error("optimizer", optimizer_name, "use adam or sgd"));
  training.sgd = optimizer_name == "sgd";
  Result<RunOptions> run = read_run_options(options, training);
  if (!run) return report(run.error());
  engine::training::Distillation distillation;
  const Result<double> distill_weight = number_value(options, "distill-weight", 0.0, 1.0);
  if (!distill_weight) return report(distill_weight.error());
  distillation.weight = *distill_weight;
  const Result<double> temperature = number_value(options, "distill-temperature", 0.0);
  if (!temperature) return report(temperature.error());
  if (!(*temperature > 0.0))
    return report(
        value_error("distill-temperature", options["distill-temperature"].as<std::string>(), "must be > 0"));
  distillation.temperature = *temperature;
  const Result<std::int64_t> calibrate_images = integer_value(options, "calibrate-images", 0);
  if (!calibrate_images) return report(calibrate_images.error());
  const auto& [threads, checkpoint_every, test_images, steps, epochs, output, checkpoint] = *run;

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
  const Result<std::vector<double>> weights =
      level_weights(options["level-weights"].as<std::string>(), network, levels);
  if (!weights) return report(weights.error());

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

  if (distillation.weight > 0.0 && levels.size() > 1)
    streams.err << "in-place distillation from level " << levels.size() << ": weight " << distillation.weight
                << ", temperature " << distillation.temperature << '\n';
  JointStep joint(network, threads, {}, distillation);
  // Per-level statistics: estimated once, on the network before fine-tuning (on --resume, the model it
  // started from, which gives the same maps), held fixed while it trains, written into OUT.
  std::vector<engine::training::LevelCalibration> calibrations;
  if (*calibrate_images > 0) {
    Result<Network<float>> initial =
        first_step == 0 ? Result<Network<float>>(network) : Network<float>::from_model(planned);
    if (!initial) return report(initial.error());
    Result<std::vector<engine::training::LevelCalibration>> estimated =
        estimate_level_statistics(initial.value(), levels, train, *calibrate_images, training.seed);
    if (!estimated) return report(estimated.error());
    calibrations = std::move(estimated).value();
    joint.set_calibrations(calibrations);
    streams.err << "per-level statistics from " << std::min(*calibrate_images, train.count)
                << " training images, held fixed\n";
  }
  TrainingProgress progress(streams.err, is_terminal(streams.err), training.total_steps, steps_per_epoch,
                            first_step, std::max<std::int64_t>(steps_per_epoch / 4, 1), levels.size(),
                            distillation.weight > 0.0);
  engine::training::Minibatch batch;
  for (std::int64_t step = first_step + 1; step <= training.total_steps; ++step) {
    stream.next(batch);
    const Result<std::vector<engine::training::LevelResult>> results =
        joint.run(network, levels, weights.value(), batch);
    if (!results) return command_line.report(streams.err, results.error());
    if (auto error = optimizer.step(network)) return command_line.report(streams.err, *error);
    progress.update(step, results.value(), batch.count);
    if (step % checkpoint_every == 0 || step == training.total_steps) {
      if (auto error = save_checkpoint(checkpoint, network, optimizer, training))
        return command_line.report(streams.err, *error);
    }
  }
  const double training_seconds = progress.seconds();
  const Result<engine::Model> trained = network.to_model(calibrations);
  if (!trained) return command_line.report(streams.err, trained.error());
  if (auto error = engine::save_native(trained.value(), output))
    return command_line.report(streams.err, *error);

  std::ostringstream summary;
  summary << std::fixed << std::setprecision(1) << "trained steps " << first_step + 1 << ".."
          << training.total_steps << " ("
          << static_cast<double>(training.total_steps) / static_cast<double>(steps_per_epoch) << " epochs of "
          << train.count << " images, batch " << training.batch_size << ") in " << training_seconds << " s, "
          << std::setprecision(0) << progress.images_per_second() << " images/s; wrote " << output;
  if (test_images != 0) {
    Result<engine::ImageSet> loaded_test = engine::load_test_set(data, normalization.value());
    if (!loaded_test) return command_line.report(streams.err, loaded_test.error());
    engine::ImageSet test = std::move(loaded_test).value();
    if (test_images > 0) test.count = std::min(test.count, test_images);
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
