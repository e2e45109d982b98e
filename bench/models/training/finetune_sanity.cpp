// A sanity run of joint fine-tuning (not a timing benchmark): plan the REDS authors' Fashion-MNIST DS-CNN S
// (L1 importance, exact bottom-up solver, levels at 25/50/75/100 % MACs), evaluate every level on the
// 10,000 test images, fine-tune all levels jointly for a few hundred Adam steps on a subset of the training
// images (the reference's augmentation, loss weights and learning rate; batch norm is folded, i.e. frozen),
// and evaluate again. Prints the per-level training loss as it goes and the images per second (one image
// through every level, forward and backward, counts once).
//
//   reds_finetune_sanity [--steps 300] [--subset 12000] [--batch 128] [--seed 1]
//                        [--model tests/data/reds-pretrained/fashion_mnist_ds_cnn_sizeS.keras]
//                        [--data /usr/share/datasets/fashion-mnist]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "reds/engine/dataset.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/planning.h"
#include "reds/json.h"
#include "reds/plan.h"
#include "reds/training/data.h"
#include "reds/training/levels.h"
#include "reds/training/optimizer.h"

namespace {

using namespace reds::engine;

template <class T>
T value_or_exit(reds::Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "%s: %s\n", what, result.error().message.c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

std::vector<double> test_accuracies(const Model& model, const ImageSet& test) {
  Session session = value_or_exit(Session::create(model), "session");
  std::vector<double> accuracies;
  for (std::size_t level = 0; level < session.level_count(); ++level)
    accuracies.push_back(value_or_exit(evaluate(session, level, test), "evaluate").accuracy);
  return accuracies;
}

void print_accuracies(const char* when, const std::vector<double>& accuracies) {
  std::printf("%-22s", when);
  for (const double accuracy : accuracies) std::printf("  %6.2f %%", 100.0 * accuracy);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path = "tests/data/reds-pretrained/fashion_mnist_ds_cnn_sizeS.keras";
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::int64_t steps = 300, subset = 12000, batch_size = 128;
  std::uint64_t seed = 1;
  for (int at = 1; at < argc; at += 2) {
    const std::string name = argv[at];
    if (name == "--help" || name == "-h") {
      std::printf(
          "Usage: reds_finetune_sanity [--steps N] [--subset N] [--batch N] [--seed S] [--model FILE]\n"
          "                            [--data DIR]\n\n"
          "Plans the pretrained Fashion-MNIST DS-CNN S at 25/50/75/100 %% MACs, evaluates every level,\n"
          "fine-tunes all levels jointly for --steps Adam steps (default 300) of --batch images (128)\n"
          "drawn from the first --subset training images (12000), and evaluates again. Defaults:\n"
          "--seed 1, --model tests/data/reds-pretrained/fashion_mnist_ds_cnn_sizeS.keras,\n"
          "--data /usr/share/datasets/fashion-mnist.\n");
      return 0;
    }
    if (at + 1 >= argc) {
      std::fprintf(stderr, "reds_finetune_sanity: %s needs a value; try --help\n", name.c_str());
      return 2;
    }
    const std::string value = argv[at + 1];
    const auto count = [&](std::int64_t& target) {
      std::size_t end = 0;
      try {
        target = std::stoll(value, &end);
      } catch (const std::exception&) {
        end = 0;
      }
      if (end == 0 || end != value.size() || target < 1) {
        std::fprintf(stderr, "reds_finetune_sanity: %s %s: not a positive integer\n", name.c_str(),
                     value.c_str());
        std::exit(2);
      }
    };
    if (name == "--steps") {
      count(steps);
    } else if (name == "--subset") {
      count(subset);
    } else if (name == "--batch") {
      count(batch_size);
    } else if (name == "--seed") {
      std::int64_t parsed = 0;
      count(parsed);
      seed = static_cast<std::uint64_t>(parsed);
    } else if (name == "--model") {
      model_path = value;
    } else if (name == "--data") {
      data = value;
    } else {
      std::fprintf(stderr, "reds_finetune_sanity: unknown option %s; try --help\n", name.c_str());
      return 2;
    }
  }

  const Model model = value_or_exit(load_model(model_path), "model");
  RequestOptions request_options;
  request_options.fractions = {0.25, 0.5, 0.75, 1.0};
  const auto start_plan = std::chrono::steady_clock::now();
  const reds::PlanRequest request = value_or_exit(plan_request(model, request_options), "request");
  const reds::PlanResult plan = value_or_exit(reds::plan(request), "plan");
  const Model planned = value_or_exit(apply_plan(model, plan), "apply");
  std::printf("plan: %.2f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start_plan).count());

  const ImageSet test = value_or_exit(load_test_set(data), "test set");
  ImageSet train = value_or_exit(load_training_set(data), "training set");
  train.count = std::min(train.count, subset);
  print_accuracies("pruned, not trained:", test_accuracies(planned, test));

  training::Network<float> network = value_or_exit(training::Network<float>::from_model(planned), "network");
  std::vector<training::Widths> levels;
  for (std::size_t level = 0; level < planned.plan->widths.size(); ++level)
    levels.push_back(value_or_exit(network.plan_widths(level), "widths"));
  const std::vector<double> weights =
      value_or_exit(training::reference_level_weights(network, levels), "weights");
  std::printf("levels %zu, loss weights", levels.size());
  for (const double weight : weights) std::printf(" %.3f", weight);
  std::printf("\n");

  training::Optimizer<float> adam = training::Optimizer<float>::adam(value_or_exit(
      training::LearningRateSchedule::piecewise_constant({16406, 30468}, {1e-3, 2.5e-4, 1e-5}), "schedule"));
  training::MinibatchStream stream(train, batch_size, seed, training::Augmentation::reference());
  training::Pass<float> pass;
  training::Minibatch batch;
  std::vector<double> running(levels.size(), 0.0);
  std::int64_t images = 0, window = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t step = 1; step <= steps; ++step) {
    stream.next(batch);
    const auto results = value_or_exit(
        training::joint_gradients(network, levels, weights, batch.images, batch.labels, {}, pass), "step");
    if (auto error = adam.step(network)) {
      std::fprintf(stderr, "optimizer: %s\n", error->message.c_str());
      return 1;
    }
    for (std::size_t level = 0; level < levels.size(); ++level) running[level] += results[level].loss;
    images += batch.count;
    ++window;
    if (step % 25 != 0 && step != steps) continue;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("step %4lld  epoch %lld  loss per level", static_cast<long long>(step),
                static_cast<long long>(stream.epoch()));
    for (double& loss : running) {
      std::printf(" %.4f", loss / static_cast<double>(window));
      loss = 0.0;
    }
    std::printf("  %.0f images/s\n", static_cast<double>(images) / seconds);
    window = 0;
    std::fflush(stdout);
  }
  const Model trained = value_or_exit(network.to_model(), "export");
  print_accuracies("fine-tuned:", test_accuracies(trained, test));
  return 0;
}
