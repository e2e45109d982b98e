#include "train_command.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <optional>
#include <span>
#include <sstream>

#include "batch_limits.h"
#include "input_normalization_options.h"
#include "reds/engine/architectures.h"
#include "reds/engine/dataset.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/model.h"
#include "reds/engine/session.h"
#include "reds/splitmix64.h"
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

// He's initialisation (Keras' he_uniform): every weight uniform in +-sqrt(6 / fan_in), biases zero.
std::optional<Error> initialise(engine::Model& model, std::uint64_t seed) {
  SplitMix64 random(seed);
  engine::Shape shape;
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    engine::Layer& layer = model.layers[index];
    const bool unit = layer.kind == engine::LayerKind::conv2d || layer.kind == engine::LayerKind::dense ||
                      layer.kind == engine::LayerKind::depthwise_conv2d;
    if (unit) {
      // The layers before this one have their weights already: the shape of its input is known.
      const std::size_t tensor = engine::layer_inputs(model, index)[0];
      if (tensor == 0) {
        shape = model.input;
      } else {
        engine::Model prefix = model;
        prefix.layers.resize(tensor);
        const Result<std::vector<engine::Shape>> shapes = engine::layer_shapes(prefix);
        if (!shapes) return shapes.error();
        shape = shapes->back();
      }
      const std::int64_t taps = layer.kernel_height * layer.kernel_width;
      std::int64_t fan_in = shape.channels;
      std::int64_t outputs = layer.units;
      if (layer.kind == engine::LayerKind::conv2d) fan_in = taps * shape.channels / layer.groups;
      if (layer.kind == engine::LayerKind::dense) fan_in = shape.size();
      if (layer.kind == engine::LayerKind::depthwise_conv2d) {
        fan_in = taps;
        outputs = shape.channels * layer.depth_multiplier;
      }
      const double bound = std::sqrt(6.0 / static_cast<double>(fan_in));
      layer.kernel.resize(static_cast<std::size_t>(fan_in * outputs));
      for (float& weight : layer.kernel) weight = static_cast<float>((2.0 * random.uniform() - 1.0) * bound);
      layer.bias.assign(static_cast<std::size_t>(outputs), 0.0f);
    }
  }
  return engine::validate(model);
}

// Batch normalization (gamma 1, beta 0, statistics 0 and 1) after every convolution but the 1x1 shortcut
// projections, which ResNets leave without one.
std::optional<Error> add_batch_norms(Network<float>& network) {
  const engine::Model& model = network.architecture();
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const engine::Layer& layer = model.layers[index];
    if (layer.kind != engine::LayerKind::conv2d && layer.kind != engine::LayerKind::depthwise_conv2d)
      continue;
    const bool projection =
        layer.kernel_height == 1 && layer.kernel_width == 1 && engine::layer_inputs(model, index)[0] != index;
    if (projection) continue;
    const std::size_t channels = static_cast<std::size_t>(network.shapes()[index].channels);
    engine::training::BatchNormalization batch_norm;
    batch_norm.gamma.assign(channels, 1.0f);
    batch_norm.beta.assign(channels, 0.0f);
    batch_norm.moving_mean.assign(channels, 0.0f);
    batch_norm.moving_variance.assign(channels, 1.0f);
    if (auto error = network.add_batch_norm(layer.name, layer.name + "_bn", batch_norm)) return error;
  }
  return std::nullopt;
}

// Minibatches whose statistics set the moving averages of batch normalization.
constexpr std::int64_t kStatisticsBatches = 20;

// Sets every batch norm's moving mean and variance to the mean of its batch statistics over the first
// kStatisticsBatches minibatches of the training images (in order, not augmented), computed with the
// network's current weights: the averages then describe the network as it is, not as it was over the last
// hundred steps (Keras' momentum 0.99), which is what evaluating after a short run or at a high learning
// rate needs.
std::optional<Error> estimate_batch_statistics(Network<float>& network, const engine::ImageSet& train,
                                               std::int64_t batch_size) {
  engine::training::PassOptions options;
  options.batch_norm = engine::training::BatchNormMode::batch_statistics;
  options.update_moving_statistics = true;
  std::vector<double> momenta;
  for (auto& layer : network.layers()) momenta.push_back(layer.momentum);
  engine::training::Pass<float> pass;
  const std::int64_t size = train.image_size();
  std::optional<Error> failure;
  for (std::int64_t batch = 0; batch < kStatisticsBatches && !failure; ++batch) {
    const std::int64_t first = batch * batch_size;
    const std::int64_t count = std::min(batch_size, train.count - first);
    if (count < 1) break;
    // moving = batch / (batch + 1) * moving + 1 / (batch + 1) * statistic: the running mean.
    for (auto& layer : network.layers())
      layer.momentum = static_cast<double>(batch) / static_cast<double>(batch + 1);
    const auto images =
        std::span<const float>(train.pixels)
            .subspan(static_cast<std::size_t>(first * size), static_cast<std::size_t>(count * size));
    const auto logits = pass.forward(network, network.full_widths(), images, count, options);
    if (!logits) failure = logits.error();
  }
  for (std::size_t index = 0; index < momenta.size(); ++index)
    network.layers()[index].momentum = momenta[index];
  return failure;
}

const std::vector<std::string>& architecture_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all = {"resnet8"};
    for (const std::string& name : engine::random_model_names())
      if (std::find(all.begin(), all.end(), name) == all.end()) all.push_back(name);
    return all;
  }();
  return names;
}

// The architecture for images of `input` and `classes` classes: resnet8 is built for them (global average
// pooling before the head); the other bundled architectures keep the input they are defined for.
Result<engine::Model> architecture(const std::string& name, const engine::Shape& input,
                                   std::int64_t classes) {
  if (name == "resnet8") return engine::random_resnet8(input, classes);
  Result<engine::Model> model = engine::random_model(name);
  if (!model) {
    std::string names;
    for (const std::string& known : architecture_names()) names += (names.empty() ? "" : ", ") + known;
    return value_error("architecture", name, "use one of " + names);
  }
  const engine::Shape& expected = model->input;
  if (expected.height != input.height || expected.width != input.width || expected.channels != input.channels)
    return value_error("architecture", name,
                       "it reads " + std::to_string(expected.height) + "x" + std::to_string(expected.width) +
                           "x" + std::to_string(expected.channels) + " inputs, the data has " +
                           std::to_string(input.height) + "x" + std::to_string(input.width) + "x" +
                           std::to_string(input.channels));
  const engine::Layer& head = model->layers.back();
  if (head.kind != engine::LayerKind::dense || head.units != classes)
    return value_error("architecture", name,
                       "its output does not have " + std::to_string(classes) + " classes");
  return model;
}

Result<engine::Shape> shape_value(const po::variables_map& options) {
  const std::string text = options["input"].as<std::string>();
  engine::Shape shape;
  char x1 = 0, x2 = 0;
  std::istringstream in(text);
  if (!(in >> shape.height >> x1 >> shape.width >> x2 >> shape.channels) || x1 != 'x' || x2 != 'x' ||
      !in.eof() || shape.height < 1 || shape.width < 1 || shape.channels < 1)
    return value_error("input", text, "use HEIGHTxWIDTHxCHANNELS, e.g. 28x28x1");
  return shape;
}

std::string percent(std::int64_t correct, std::int64_t total) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2)
       << 100.0 * static_cast<double>(correct) / static_cast<double>(total) << " %";
  return text.str();
}

}  // namespace

int run_train(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds train", "reds train --architecture NAME --data DIR (--epochs N | --steps N) -o OUT [OPTIONS]",
      "Trains a network from scratch: the architecture with He-initialised weights (biases zero), trained\n"
      "on DIR's augmented training images (the reference's flip, rotation and shift) with Adam, the\n"
      "learning rate following --lr-schedule after a linear --lr-warmup: steps (the default; it drops to\n"
      "1/4 and 1/100 of --lr at the --lr-decay fractions of the run) or cosine (down to 0 at the end), as\n"
      "'reds finetune' trains. Convolutions get batch normalization (on the minibatch's statistics while\n"
      "training; for the evaluation and the written model, where it is folded into the convolution, on the\n"
      "mean statistics of 20 minibatches of training images under the final weights), except the 1x1\n"
      "shortcut projections; --no-batch-norm trains without. After every epoch the model is evaluated on\n"
      "DIR's test images. OUT is a native model: plan it ('reds request', 'reds plan'), apply it,\n"
      "fine-tune it. A checkpoint is written every --checkpoint-every steps and at the end; --resume\n"
      "continues from it.");
  command_line.add_options()  //
      ("architecture", po::value<std::string>()->value_name("NAME"),
       "resnet8 (any input size), or a bundled architecture at its own input")  //
      ("data", po::value<std::string>()->value_name("DIR"),
       "train-images-idx3-ubyte, train-labels-idx1-ubyte (and t10k-* for the evaluation)")         //
      ("output,o", po::value<std::string>()->value_name("OUT"), "the native model file to write")  //
      ("input", po::value<std::string>()->value_name("HxWxC"),
       "the input shape the network is built for (default: the images'; must match them)")         //
      ("classes", number_option("K"), "output classes (default: the largest training label + 1)")  //
      ("epochs", number_option("N"), "passes over the training images")                            //
      ("steps", number_option("N"), "optimizer steps (instead of --epochs)")                       //
      ("batch-size", number_option("B", "128"), "images per step")                                 //
      ("seed", number_option("S", "1"), "seed of the initial weights and of the minibatches")      //
      ("no-batch-norm", "train without batch normalization");
  add_schedule_options(
      command_line, {.lr = "0.001", .lr_help = "initial learning rate", .schedule = "steps", .warmup = "0"});
  add_run_options(command_line);
  command_line.require("architecture", "missing --architecture NAME");
  command_line.require("data", "missing --data DIR");
  command_line.require("output", "missing -o OUT");
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;
  if (options.count("epochs") == options.count("steps"))
    return command_line.usage_error(streams.err, "give either --epochs N or --steps N");
  const auto report = [&](const Error& error) { return command_line.report(streams.err, error); };
  TrainingOptions training;
  Result<RunOptions> run = read_run_options(options, training);
  if (!run) return report(run.error());
  const auto& [threads, checkpoint_every, test_images, steps, epochs, output, checkpoint] = *run;

  // The data fixes the input shape and the classes unless the options say otherwise (and then must agree).
  const std::string data = options["data"].as<std::string>();
  Result<engine::ImageSet> loaded_train = engine::load_training_set(data);
  if (!loaded_train) return report(loaded_train.error());
  engine::ImageSet train = std::move(loaded_train).value();
  if (training.train_images > 0) train.count = std::min(train.count, training.train_images);
  const engine::Shape images{train.height, train.width, train.channels, false};
  if (options.count("input")) {
    const Result<engine::Shape> input = shape_value(options);
    if (!input) return report(input.error());
    if (input.value() != images)
      return report(value_error("input", options["input"].as<std::string>(),
                                "the training images in '" + data + "' are " + std::to_string(images.height) +
                                    "x" + std::to_string(images.width) + "x" +
                                    std::to_string(images.channels)));
  }
  std::int64_t classes = 1 + *std::max_element(train.labels.begin(), train.labels.end());
  if (options.count("classes")) {
    const Result<std::int64_t> value = integer_value(options, "classes", 2);
    if (!value) return report(value.error());
    if (*value < classes)
      return report(value_error("classes", options["classes"].as<std::string>(),
                                "the training labels go up to " + std::to_string(classes - 1)));
    classes = *value;
  }

  // The network.
  Result<engine::Model> model = architecture(options["architecture"].as<std::string>(), images, classes);
  if (!model) return report(model.error());
  // The model keeps the normalisation it is trained with; the images are read again under it.
  const Result<engine::InputNormalization> normalization = input_normalization(options, model.value());
  if (!normalization) return report(normalization.error());
  if (has_input_normalization_options(options)) {
    model.value().input_normalization = normalization.value();
    loaded_train = engine::load_training_set(data, normalization.value());
    if (!loaded_train) return report(loaded_train.error());
    train = std::move(loaded_train).value();
    if (training.train_images > 0) train.count = std::min(train.count, training.train_images);
  }
  if (auto error = initialise(model.value(), training.seed)) return report(*error);
  Result<Network<float>> built = Network<float>::from_model(model.value());
  if (!built) return report(built.error());
  Network<float> network = std::move(built).value();
  const bool batch_norm = !options.count("no-batch-norm");
  if (batch_norm) {
    if (auto error = add_batch_norms(network)) return report(*error);
  }
  engine::training::PassOptions pass_options;
  if (batch_norm) pass_options.batch_norm = engine::training::BatchNormMode::batch_statistics;
  // The model the network is at this step, its batch norms' statistics estimated first.
  const auto current_model = [&]() -> Result<engine::Model> {
    if (batch_norm) {
      if (auto error = estimate_batch_statistics(network, train, training.batch_size)) return *error;
    }
    return network.to_model();
  };
  const std::vector<Widths> levels = {network.full_widths()};
  const std::vector<double> weights = {1.0};

  if (auto error = check_batch_size(network, options["batch-size"].as<std::string>(), training.batch_size,
                                    train.count, data))
    return report(*error);
  engine::training::MinibatchStream stream(train, training.batch_size, training.seed,
                                           engine::training::Augmentation::reference());
  const std::int64_t steps_per_epoch = stream.steps_per_epoch();
  training.total_steps = steps ? *steps : std::llround(*epochs * static_cast<double>(steps_per_epoch));
  if (training.total_steps < 1)
    return report(value_error("epochs", options["epochs"].as<std::string>(),
                              "less than one step of " + std::to_string(steps_per_epoch) + " per epoch"));
  const Result<engine::training::LearningRateSchedule> schedule = schedule_of(training);
  if (!schedule) return report(schedule.error());
  Optimizer<float> optimizer = Optimizer<float>::adam(schedule.value());
  if (options.count("resume")) {
    if (auto error = load_checkpoint(checkpoint, network, optimizer, training)) return report(*error);
  }
  const std::int64_t first_step = optimizer.iterations();
  if (first_step > training.total_steps)
    return report(invalid_argument("the checkpoint is at step " + std::to_string(first_step) +
                                   ", past the run's " + std::to_string(training.total_steps)));
  stream.seek(first_step / steps_per_epoch, first_step % steps_per_epoch);

  std::optional<engine::ImageSet> test;
  if (test_images != 0) {
    Result<engine::ImageSet> loaded_test = engine::load_test_set(data, normalization.value());
    if (!loaded_test) return report(loaded_test.error());
    test = std::move(loaded_test).value();
    if (test_images > 0) test->count = std::min(test->count, test_images);
  }
  const auto evaluate = [&](const engine::Model& trained) -> Result<engine::LevelEvaluation> {
    Result<engine::Session> session = engine::Session::create(trained);
    if (!session) return session.error();
    return engine::evaluate(session.value(), 0, *test);
  };

  streams.err << "training " << model->name << " (" << network.parameter_count(levels[0]).value()
              << " parameters" << (batch_norm ? ", batch norm" : "") << ") on " << train.count
              << " training images, " << steps_per_epoch << " steps per epoch, steps " << first_step + 1
              << ".." << training.total_steps << ", " << threads << " thread(s)\n";
  JointStep joint(network, threads, pass_options);
  TrainingProgress progress(streams.err, is_terminal(streams.err), training.total_steps, steps_per_epoch,
                            first_step, std::max<std::int64_t>(steps_per_epoch / 4, 1), levels.size());
  std::ostringstream summary;
  engine::training::Minibatch batch;
  double epoch_loss = 0.0;
  std::int64_t epoch_correct = 0, epoch_images = 0;
  Clock::time_point epoch_start = Clock::now();
  for (std::int64_t step = first_step + 1; step <= training.total_steps; ++step) {
    stream.next(batch);
    const Result<std::vector<engine::training::LevelResult>> results =
        joint.run(network, levels, weights, batch);
    if (!results) return report(results.error());
    if (auto error = optimizer.step(network)) return report(*error);
    progress.update(step, results.value(), batch.count);
    epoch_loss += results->front().loss * static_cast<double>(batch.count);
    epoch_correct += results->front().correct;
    epoch_images += batch.count;
    if (step % checkpoint_every == 0 || step == training.total_steps) {
      if (auto error = save_checkpoint(checkpoint, network, optimizer, training)) return report(*error);
    }
    if (step % steps_per_epoch != 0 && step != training.total_steps) continue;
    // The end of an epoch (or of the run): its training loss and accuracy, the test accuracy and the time.
    const double seconds = seconds_since(epoch_start);
    std::ostringstream line;
    line << "epoch " << std::fixed << std::setprecision(2)
         << static_cast<double>(step) / static_cast<double>(steps_per_epoch) << "  loss "
         << std::setprecision(4) << epoch_loss / static_cast<double>(epoch_images) << "  training accuracy "
         << percent(epoch_correct, epoch_images);
    if (test) {
      const Result<engine::Model> trained = current_model();
      if (!trained) return report(trained.error());
      const Result<engine::LevelEvaluation> evaluation = evaluate(trained.value());
      if (!evaluation) return report(evaluation.error());
      line << "  test accuracy " << percent(evaluation->correct, evaluation->total) << " ("
           << evaluation->correct << '/' << evaluation->total << ')';
    }
    line << "  " << std::setprecision(1) << seconds << " s";
    streams.err << line.str() << '\n' << std::flush;
    summary << line.str() << '\n';
    epoch_loss = 0.0;
    epoch_correct = epoch_images = 0;
    epoch_start = Clock::now();
  }

  const Result<engine::Model> trained = current_model();
  if (!trained) return report(trained.error());
  if (auto error = engine::save_native(trained.value(), output)) return report(*error);
  summary << std::fixed << std::setprecision(1) << "trained steps " << first_step + 1 << ".."
          << training.total_steps << " in " << progress.seconds() << " s, " << std::setprecision(0)
          << progress.images_per_second() << " images/s; wrote " << output;
  return print_output(command_line, streams, summary.str());
}

}  // namespace reds::cli
