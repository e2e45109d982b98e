// `reds train`: its options and the errors a user meets before any training starts (one line naming the
// option as typed, exit 2, nothing on standard output).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_data.h"
#include "support/command_runner.h"

namespace {

using reds::test::Outcome;
using TrainCliTest = reds::test::CommandTest;

TEST_F(TrainCliTest, ValueErrorsNameTheOptionAsTyped) {
  const std::string out = (scratch_ / "out.reds").string();
  const auto train = [&](std::vector<std::string> options) {
    std::vector<std::string> args = {"train", "--data", reds::test::kFashionMnistDir, "-o", out};
    args.insert(args.end(), options.begin(), options.end());
    return run(args);
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--architecture", "resnet8", "--steps", "0"}, "reds train: --steps 0: must be at least 1"},
      {{"--architecture", "resnet8", "--epochs", "-1"}, "reds train: --epochs -1: must be at least 0"},
      {{"--architecture", "resnet8", "--steps", "1", "--lr", "-1"},
       "reds train: --lr -1: must be at least 0"},
      {{"--architecture", "resnet8", "--steps", "1", "--threads", "0"},
       "reds train: --threads 0: must be at least 1"},
      {{"--architecture", "resnet8", "--steps", "1", "--batch-size", "0"},
       "reds train: --batch-size 0: must be at least 1"},
      {{"--architecture", "resnet8", "--steps", "1", "--seed", "-1"},
       "reds train: --seed -1: must be at least 0"},
      {{"--architecture", "resnet8", "--steps", "1", "--input", "28x28"},
       "reds train: --input 28x28: use HEIGHTxWIDTHxCHANNELS, e.g. 28x28x1"},
      {{"--architecture", "resnet8", "--steps", "1", "--input", "32x32x3"},
       "reds train: --input 32x32x3: the training images in '" + std::string(reds::test::kFashionMnistDir) +
           "' are 28x28x1"},
      {{"--architecture", "resnet8", "--steps", "1", "--classes", "5"},
       "reds train: --classes 5: the training labels go up to 9"},
      {{"--architecture", "resnet8", "--steps", "1", "--classes", "1"},
       "reds train: --classes 1: must be at least 2"},
      {{"--architecture", "ds_cnn_s", "--steps", "1"},
       "reds train: --architecture ds_cnn_s: it reads 49x10x1 inputs, the data has 28x28x1"},
      {{"--architecture", "ds_cnn_s_fmnist", "--steps", "1", "--classes", "12"},
       "reds train: --architecture ds_cnn_s_fmnist: its output does not have 12 classes"},
      {{"--architecture", "resnet8", "--steps", "1", "--batch-size", "60001"},
       "reds train: --batch-size 60001: larger than the 60,000 training images in '" +
           std::string(reds::test::kFashionMnistDir) + "'"},
  };
  for (const auto& [options, error] : cases) {
    SCOPED_TRACE(options[1] + " " + options.back());
    const Outcome result = train(options);
    EXPECT_EQ(result.exit_status, 2);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, error + "\n");
  }
  const Outcome unknown = train({"--architecture", "resnet9", "--steps", "1"});
  EXPECT_EQ(unknown.exit_status, 2);
  EXPECT_EQ(unknown.err.rfind("reds train: --architecture resnet9: use one of resnet8, dnn_s, ", 0), 0u)
      << unknown.err;
}

TEST_F(TrainCliTest, UsageErrorsPointToTheHelp) {
  const std::string data = reds::test::kFashionMnistDir;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"train", "--data", data, "--steps", "1", "-o", "x"},
        {"train", "--architecture", "resnet8", "--steps", "1", "-o", "x"},
        {"train", "--architecture", "resnet8", "--data", data, "--steps", "1"},
        {"train", "--architecture", "resnet8", "--data", data, "-o", "x"},
        {"train", "--architecture", "resnet8", "--data", data, "--steps", "1", "--epochs", "1", "-o", "x"}}) {
    expect_usage_error(run(args), "train");
  }
}

TEST_F(TrainCliTest, MissingDataAndCheckpointAreInputErrors) {
  const Outcome no_data = run({"train", "--architecture", "resnet8", "--data", (scratch_ / "none").string(),
                               "--steps", "1", "-o", (scratch_ / "out.reds").string()});
  EXPECT_EQ(no_data.exit_status, 2);
  EXPECT_NE(no_data.err.find("train-images"), std::string::npos) << no_data.err;
  const Outcome no_checkpoint = run(
      {"train", "--architecture", "resnet8", "--data", reds::test::kFashionMnistDir, "--steps", "1",
       "--resume", "--checkpoint", (scratch_ / "missing").string(), "-o", (scratch_ / "out.reds").string()});
  EXPECT_EQ(no_checkpoint.exit_status, 2);
  EXPECT_NE(no_checkpoint.err.find("cannot read the checkpoint"), std::string::npos) << no_checkpoint.err;
  EXPECT_FALSE(std::filesystem::exists(scratch_ / "out.reds"));
}

}  // namespace
