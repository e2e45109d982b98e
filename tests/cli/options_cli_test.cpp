// The options every subcommand shares the meaning of: one name per idea, the same defaults, and value
// errors that are one line naming the option and quoting the value as the user typed it (exit 2, nothing
// on standard output, no usage text).
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_data.h"
#include "support/command_runner.h"

namespace {

using nlohmann::json;
using reds::test::Outcome;
using OptionsCliTest = reds::test::CommandTest;

struct BadValue {
  std::vector<std::string> args;
  std::string error;  // the whole of standard error
};

void expect_value_errors(const std::vector<BadValue>& cases,
                         const std::function<Outcome(const std::vector<std::string>&)>& run) {
  for (const BadValue& bad : cases) {
    std::string command;
    for (const std::string& arg : bad.args) command += arg + ' ';
    SCOPED_TRACE(command);
    const Outcome result = run(bad.args);
    EXPECT_EQ(result.exit_status, 2);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, bad.error + "\n");
  }
}

TEST_F(OptionsCliTest, ExampleAndKnapsackValueErrorsNameTheOptionAsTyped) {
  const auto runner = [&](const std::vector<std::string>& args) { return run(args); };
  expect_value_errors(
      {
          {{"example", "ds_cnn_l", "--levels", "0"}, "reds example: --levels 0: 0 is not in (0, 1]"},
          {{"example", "ds_cnn_l", "--levels", "0.5,0.25"},
           "reds example: --levels 0.5,0.25: 0.25 is smaller than the fraction before it (smallest first)"},
          {{"example", "ds_cnn_l", "--levels", "0.5,"},
           "reds example: --levels 0.5,: '' is not a number (e.g. 0.25,0.5,0.75)"},
          {{"example", "ds_cnn_l", "--fractions", "1.5"},
           "reds example: --fractions 1.5: 1.5 is not in (0, 1]"},
          {{"example", "ds_cnn_l", "--seed", "-1"}, "reds example: --seed -1: must be at least 0"},
          {{"example", "ds_cnn_l", "--seed", "1e3"}, "reds example: --seed 1e3: not an integer"},
          {{"example", "ds_cnn_l", "--seed", "99999999999999999999"},
           "reds example: --seed 99999999999999999999: out of range"},
          {{"example", "ds_cnn_l", "--block", "0"}, "reds example: --block 0: must be at least 1"},
          {{"example", "ds_cnn_l", "--min-width-fraction", "1.5"},
           "reds example: --min-width-fraction 1.5: must be between 0 and 1"},
          {{"example", "ds_cnn_l", "--min-width-fraction", "nan"},
           "reds example: --min-width-fraction nan: not a number"},
          {{"example", "ds_cnn_l", "--strategy", "sideways"},
           "reds example: --strategy sideways: use independent, bottom_up, top_down or joint"},
          {{"example", "ds_cnn_l", "--objective", "max"},
           "reds example: --objective max: use sum, normalized or product"},
          {{"knapsack", "--generate", "uncorrelated", "--seed", "-1"},
           "reds knapsack: --seed -1: must be at least 0"},
          {{"knapsack", "--generate", "uncorrelated", "--n", "-3"},
           "reds knapsack: --n -3: must be at least 1"},
          {{"knapsack", "--generate", "uncorrelated", "--range", "5"},
           "reds knapsack: --range 5: must be at least 10"},
          {{"knapsack", "--generate", "uncorrelated", "--instance", "101"},
           "reds knapsack: --instance 101: must be at most 100"},
      },
      runner);
}

TEST_F(OptionsCliTest, ModelCommandValueErrorsNameTheOptionAsTyped) {
  const std::string model = reds::test::pretrained_model("fashion_mnist");
  const std::string data = reds::test::kFashionMnistDir;
  const std::string out = (scratch_ / "out.reds").string();
  const auto finetune = [&](std::vector<std::string> options) {
    std::vector<std::string> args = {"finetune", model, "-", "--data", data, "-o", out};
    args.insert(args.end(), options.begin(), options.end());
    return args;
  };
  const auto runner = [&](const std::vector<std::string>& args) { return run(args); };
  expect_value_errors(
      {
          {{"request", model, "--levels", "0.5,0.25"},
           "reds request: --levels 0.5,0.25: 0.25 is smaller than the fraction before it (smallest first)"},
          {{"request", model, "--block", "abc"}, "reds request: --block abc: not an integer"},
          {{"request", model, "--resource", "joules"},
           "reds request: --resource joules: use macs, params, activation, output_activation, "
           "or latency with --profile"},
          {{"request", model, "--importance", "random"},
           "reds request: --importance random: unknown method; use magnitude or gradient"},
          {{"request", model, "--data", data, "--batch-size", "-5"},
           "reds request: --batch-size -5: must be at least 1"},
          {{"request", model, "--data", data, "--seed", "-1"}, "reds request: --seed -1: must be at least 0"},
          {{"request", model, "--data", data, "--importance-batches", "0"},
           "reds request: --importance-batches 0: must be at least 1"},
          {{"run", model, "--data", data, "--level", "-1"}, "reds run: --level -1: must be at least 1"},
          {{"run", model, "--data", data, "--level", "2"}, "reds run: --level 2: the model has 1 level"},
          {finetune({"--steps", "0"}), "reds finetune: --steps 0: must be at least 1"},
          {finetune({"--epochs", "-1"}), "reds finetune: --epochs -1: must be at least 0"},
          {finetune({"--steps", "1", "--lr", "-0.1"}), "reds finetune: --lr -0.1: must be at least 0"},
          {finetune({"--steps", "1", "--threads", "0"}), "reds finetune: --threads 0: must be at least 1"},
          {finetune({"--steps", "1", "--seed", "-1"}), "reds finetune: --seed -1: must be at least 0"},
          {finetune({"--steps", "1", "--batch-size", "0"}),
           "reds finetune: --batch-size 0: must be at least 1"},
          {finetune({"--steps", "1", "--train-images", "-1"}),
           "reds finetune: --train-images -1: must be at least 0"},
          {finetune({"--steps", "1", "--test-images", "-2"}),
           "reds finetune: --test-images -2: must be at least -1"},
          {finetune({"--steps", "1", "--checkpoint-every", "0"}),
           "reds finetune: --checkpoint-every 0: must be at least 1"},
          {finetune({"--steps", "1", "--lr-decay", "0.8,0.5"}),
           "reds finetune: --lr-decay 0.8,0.5: 0.5 is smaller than the fraction before it (smallest first)"},
          {finetune({"--steps", "1", "--lr-decay", "0.2,0.5,0.8"}),
           "reds finetune: --lr-decay 0.2,0.5,0.8: at most 2 fractions"},
          {finetune({"--steps", "1", "--optimizer", "rmsprop"}),
           "reds finetune: --optimizer rmsprop: use adam or sgd"},
      },
      runner);
}

// A missing argument or an unknown option is a usage error: a line and where to find the help.
TEST_F(OptionsCliTest, UsageErrorsPointToTheHelp) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"request"},
                                               {"apply", "model.keras"},
                                               {"run", "model.keras"},
                                               {"finetune", "model.keras", "--data", "d"},
                                               {"knapsack", "--bogus"},
                                               {"plot"}}) {
    SCOPED_TRACE(args[0]);
    expect_usage_error(run(args), args[0]);
  }
}

TEST_F(OptionsCliTest, ExampleTakesLevelsAndTheOldFractionsAlike) {
  const Outcome levels = run({"example", "cnn_s", "--levels", "0.3,0.6"});
  ASSERT_EQ(levels.exit_status, 0) << levels.err;
  EXPECT_EQ(json::parse(levels.out).at("levels").size(), 2u);
  const Outcome fractions = run({"example", "cnn_s", "--fractions", "0.3,0.6"});
  ASSERT_EQ(fractions.exit_status, 0) << fractions.err;
  EXPECT_EQ(fractions.out, levels.out);
  EXPECT_EQ(run({"example", "--help"}).out.find("--fractions"), std::string::npos)
      << "the old name is hidden";
  const Outcome both = run({"example", "cnn_s", "--fractions", "0.3", "--levels", "0.6"});
  EXPECT_EQ(both.exit_status, 2);
}

TEST_F(OptionsCliTest, ExampleSetsTheRequestsStrategyAndObjective) {
  const Outcome plain = run({"example", "cnn_s"});
  ASSERT_EQ(plain.exit_status, 0) << plain.err;
  const json defaults = json::parse(plain.out);
  EXPECT_EQ(defaults.value("strategy", "bottom_up"), "bottom_up");
  EXPECT_EQ(defaults.value("objective", "sum"), "sum");
  const Outcome chosen = run({"example", "cnn_s", "--strategy", "joint", "--objective", "product"});
  ASSERT_EQ(chosen.exit_status, 0) << chosen.err;
  const json request = json::parse(chosen.out);
  EXPECT_EQ(request.at("strategy"), "joint");
  EXPECT_EQ(request.at("objective"), "product");
  // The planner honours them.
  const Outcome plan = run({"plan", "-"}, chosen.out);
  ASSERT_EQ(plan.exit_status, 0) << plan.err;
  EXPECT_EQ(json::parse(plan.out).at("strategy"), "joint");
}

// --seed defaults to 1 in every command that takes one, and the help says so.
TEST_F(OptionsCliTest, SeedDefaultsToOneEverywhere) {
  for (const char* command : {"example", "knapsack", "request", "finetune", "train"}) {
    SCOPED_TRACE(command);
    const Outcome help = run({command, "--help"});
    ASSERT_EQ(help.exit_status, 0);
    EXPECT_NE(help.out.find("--seed S (=1)"), std::string::npos) << help.out;
  }
  // And the default is what runs: the same stand-in importance as --seed 1, another than --seed 0.
  const Outcome implicit = run({"example", "dnn_s"});
  EXPECT_EQ(implicit.out, run({"example", "dnn_s", "--seed", "1"}).out);
  EXPECT_NE(implicit.out, run({"example", "dnn_s", "--seed", "0"}).out);
}

TEST_F(OptionsCliTest, LevelsIsTheNameOfTheLevelFractionsInExampleAndRequest) {
  for (const char* command : {"example", "request"}) {
    const Outcome help = run({command, "--help"});
    EXPECT_NE(help.out.find("--levels LIST (=0.25,0.5,0.75)"), std::string::npos) << help.out;
  }
}

}  // namespace
