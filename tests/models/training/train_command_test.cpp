// `reds train`, as a separate process ($REDS_BIN_DIR/reds): ResNet-8 from scratch on a few hundred
// Fashion-MNIST images lowers its loss epoch after epoch, with and without batch normalization, and writes a
// residual model that evaluates as the command reported; a resumed run writes the same model as an
// uninterrupted one; `reds finetune` trains the levels of a plan applied to the trained ResNet-8; the input
// normalisation given is the one the model keeps.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "models/test_plans.h"
#include "reds/engine/dataset.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/model.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "support/command_runner.h"
#include "support/engine/commands.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kTrainingImages = 256;
constexpr std::int64_t kTestImages = 200;

struct Epoch {
  double loss = 0.0;
  std::int64_t correct = 0;  // test images
};

// The "epoch E  loss L  training accuracy A %  test accuracy T % (C/N)  S s" lines of the summary.
std::vector<Epoch> epochs_of(const std::string& out) {
  static const std::regex line(R"(epoch [0-9.]+  loss ([0-9.]+)  training accuracy [0-9.]+ %  )"
                               R"(test accuracy [0-9.]+ % \(([0-9]+)/[0-9]+\))");
  std::vector<Epoch> epochs;
  for (auto match = std::sregex_iterator(out.begin(), out.end(), line); match != std::sregex_iterator();
       ++match)
    epochs.push_back({std::stod((*match)[1]), std::stoll((*match)[2])});
  return epochs;
}

class TrainCommand : public test::CommandTest {
 protected:
  void SetUp() override {
    test::CommandTest::SetUp();
    data_ = scratch_ / "data";
    Result<ImageSet> test_set = test::write_fashion_mnist(data_, kTrainingImages, kTestImages);
    ASSERT_TRUE(test_set) << test_set.error().message;
    test_ = std::move(test_set).value();
  }

  test::Outcome train(std::vector<std::string> options) {
    std::vector<std::string> args = {"train",  "--architecture", "resnet8",
                                     "--data", data_.string(),   "--batch-size",
                                     "32",     "--threads",      "1"};
    args.insert(args.end(), options.begin(), options.end());
    return run(args);
  }

  fs::path data_;
  ImageSet test_;
};

TEST_F(TrainCommand, LowersTheLossAndWritesTheModelItEvaluated) {
  for (const bool batch_norm : {true, false}) {
    SCOPED_TRACE(batch_norm ? "batch norm" : "no batch norm");
    const fs::path output = scratch_ / "resnet8.reds";
    std::vector<std::string> options = {"--epochs", "4", "--lr", "3e-3", "-o", output.string()};
    if (!batch_norm) options.push_back("--no-batch-norm");
    const test::Outcome outcome = train(options);
    ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
    const std::vector<Epoch> epochs = epochs_of(outcome.out);
    ASSERT_EQ(epochs.size(), 4u) << outcome.out;
    EXPECT_LT(epochs.back().loss, 0.8 * epochs.front().loss) << outcome.out;
    EXPECT_NE(outcome.err.find(batch_norm ? "batch norm" : "parameters)"), std::string::npos) << outcome.err;

    const Result<Model> model = load_model(output.string());
    ASSERT_TRUE(model) << model.error().message;
    EXPECT_FALSE(is_chain(model.value()));
    EXPECT_EQ(model->input, (Shape{28, 28, 1, false}));
    Result<Session> session = Session::create(model.value());
    ASSERT_TRUE(session) << session.error().message;
    const Result<LevelEvaluation> evaluation = evaluate(session.value(), 0, test_);
    ASSERT_TRUE(evaluation) << evaluation.error().message;
    EXPECT_EQ(evaluation->correct, epochs.back().correct);
    // Chance is 0.1. (32 steps leave batch norm's moving statistics, momentum 0.99, far from the batches'.)
    EXPECT_GT(evaluation->accuracy, 0.2);
  }
}

TEST_F(TrainCommand, AResumedRunEqualsAnUninterruptedOne) {
  // A learning rate that stays constant, so that runs of different lengths share their first steps.
  const std::vector<std::string> common = {"--lr-decay", "10,20", "--seed", "3", "--test-images", "0"};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> options = common;
    options.insert(options.end(), extra.begin(), extra.end());
    return options;
  };
  const fs::path whole = scratch_ / "whole.reds", parts = scratch_ / "parts.reds";
  const fs::path checkpoint = scratch_ / "run.checkpoint";
  ASSERT_EQ(train(with({"--steps", "4", "-o", whole.string()})).exit_status, 0);
  ASSERT_EQ(
      train(with({"--steps", "2", "--checkpoint", checkpoint.string(), "-o", parts.string()})).exit_status,
      0);
  const test::Outcome second =
      train(with({"--steps", "4", "--checkpoint", checkpoint.string(), "--resume", "-o", parts.string()}));
  ASSERT_EQ(second.exit_status, 0) << second.err;
  EXPECT_NE(second.out.find("trained steps 3..4"), std::string::npos) << second.out;
  EXPECT_EQ(test::read_file(parts), test::read_file(whole));
  const fs::path other = scratch_ / "other.reds";
  ASSERT_EQ(train(with({"--steps", "3", "-o", other.string()})).exit_status, 0);
  EXPECT_NE(test::read_file(other), test::read_file(whole));
}

TEST_F(TrainCommand, FollowsTheLearningRateScheduleItIsGiven) {
  const std::vector<std::string> common = {"--seed", "3", "--test-images", "0", "--lr", "3e-3"};
  const auto trained = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> options = common;
    options.insert(options.end(), extra.begin(), extra.end());
    const fs::path output = scratch_ / name;
    options.insert(options.end(), {"-o", output.string()});
    const test::Outcome outcome = train(options);
    EXPECT_EQ(outcome.exit_status, 0) << outcome.err;
    return test::read_file(output);
  };
  // Four steps: the steps schedule keeps --lr until its first drop at half the run; cosine decays from the
  // first step; a warm-up starts lower still. Each gives other weights; the defaults are the steps.
  const std::string steps = trained("steps.reds", {"--steps", "4"});
  const std::string cosine = trained("cosine.reds", {"--steps", "4", "--lr-schedule", "cosine"});
  const std::string warm =
      trained("warm.reds", {"--steps", "4", "--lr-schedule", "cosine", "--lr-warmup", "0.5"});
  EXPECT_TRUE(cosine != steps);
  EXPECT_TRUE(warm != cosine);
  EXPECT_TRUE(trained("steps-again.reds", {"--steps", "4", "--lr-schedule", "steps", "--lr-warmup", "0"}) ==
              steps);

  for (const auto& [option, value] :
       std::vector<std::pair<std::string, std::string>>{{"--lr-schedule", "linear"}, {"--lr-warmup", "1"}}) {
    const test::Outcome refused =
        train({"--steps", "1", option, value, "-o", (scratch_ / "x.reds").string()});
    EXPECT_EQ(refused.exit_status, 2) << refused.err;
    EXPECT_NE(refused.err.find(option.substr(2)), std::string::npos) << refused.err;
    EXPECT_FALSE(fs::exists(scratch_ / "x.reds"));
  }
}

TEST_F(TrainCommand, FinetuneTrainsTheLevelsOfAPlannedResnet8) {
  const fs::path trained = scratch_ / "resnet8.reds";
  const test::Outcome outcome = train({"--epochs", "1", "--lr", "3e-3", "--test-images", "0", "-o",
                                       trained.string(), "--input-scale", "1", "--input-mean", "128"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const Result<Model> model = load_model(trained.string());
  ASSERT_TRUE(model) << model.error().message;
  ASSERT_TRUE(model->input_normalization);
  EXPECT_EQ(model->input_normalization->scale, 1.0);
  EXPECT_EQ(model->input_normalization->mean, std::vector<double>{128.0});

  // Streams: the stem with the first block's output, each later block's output with its projection.
  const PlanResult plan = testing::random_group_plan(model.value(),
                                                     {{"conv1", "block1_conv2"},
                                                      {"block2_conv2", "block2_shortcut"},
                                                      {"block3_conv2", "block3_shortcut"},
                                                      {"block1_conv1"},
                                                      {"block2_conv1"},
                                                      {"block3_conv1"}},
                                                     3, 5);
  const fs::path plan_file = scratch_file("plan.json", to_json(plan));
  const fs::path finetuned = scratch_ / "finetuned.reds";
  const test::Outcome tuned =
      run({"finetune", trained.string(), plan_file.string(), "--data", data_.string(), "--steps", "8",
           "--batch-size", "32", "--threads", "2", "-o", finetuned.string()});
  ASSERT_EQ(tuned.exit_status, 0) << tuned.err;
  EXPECT_NE(tuned.err.find("fine-tuning 3 levels"), std::string::npos) << tuned.err;
  for (const char* level : {"level 1  accuracy", "level 2  accuracy", "level 3  accuracy"})
    EXPECT_NE(tuned.out.find(level), std::string::npos) << tuned.out;
  const Result<Model> result = load_model(finetuned.string());
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_TRUE(result->plan);
  EXPECT_EQ(result->plan->widths.size(), 3u);
  EXPECT_EQ(result->input_normalization, model->input_normalization);
}

}  // namespace
}  // namespace reds::engine
