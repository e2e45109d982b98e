// The commands that read a model and training data: `reds apply` (and `reds finetune`) refuse a plan made
// for another model; --batch-size is checked against the data and the memory before anything is
// allocated; `reds request` keeps the engine's widths by default and says so; `reds request --data` shows
// progress on a terminal only.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli_data.h"
#include "support/command_runner.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using reds::test::count_lines;
using reds::test::Outcome;

class ModelCommandsCliTest : public reds::test::CommandTest {
 protected:
  // The plan of `model`'s own request (magnitude importance, three MAC levels).
  std::string plan_of(const std::string& model) {
    const Outcome request = run({"request", model, "--compact"});
    EXPECT_EQ(request.exit_status, 0) << request.err;
    const Outcome plan = run({"plan", "-"}, request.out);
    EXPECT_EQ(plan.exit_status, 0) << plan.err;
    return plan.out;
  }

  // Exit 2, one line on standard error starting with `start`, nothing on standard output, no OUT file.
  void expect_refused(const Outcome& result, const std::string& start, const fs::path& out) {
    EXPECT_EQ(result.exit_status, 2);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_EQ(result.err.rfind(start, 0), 0u) << result.err;
    EXPECT_FALSE(fs::exists(out));
  }

  const std::string fashion_ = reds::test::pretrained_model("fashion_mnist");
  const std::string cifar_ = reds::test::pretrained_model("cifar10");
};

TEST_F(ModelCommandsCliTest, ApplyTakesThePlanOfItsOwnModel) {
  const fs::path out = scratch_ / "pruned.reds";
  const Outcome applied = run({"apply", fashion_, "-", "-o", out.string()}, plan_of(fashion_));
  EXPECT_EQ(applied.exit_status, 0) << applied.err;
  EXPECT_TRUE(fs::exists(out));
}

TEST_F(ModelCommandsCliTest, ApplyRefusesAPlanForAnotherModel) {
  const fs::path out = scratch_ / "pruned.reds";
  // The CIFAR-10 DS-CNN S has the same layers and units as the Fashion-MNIST one but three input
  // channels and a larger input: its full cost differs.
  expect_refused(run({"apply", fashion_, "-", "-o", out.string()}, plan_of(cifar_)),
                 "reds apply: invalid_argument at /full/cost/", out);
  const Outcome other = run({"apply", fashion_, "-", "-o", out.string()}, plan_of(cifar_));
  EXPECT_NE(other.err.find("the plan is for another model: the full network's "), std::string::npos)
      << other.err;

  // A bundled architecture's plan: other layer names.
  const Outcome example = run({"example", "dnn_s"});
  const Outcome dnn_plan = run({"plan", "-"}, example.out);
  expect_refused(
      run({"apply", fashion_, "-", "-o", out.string()}, dnn_plan.out),
      "reds apply: invalid_argument at /order/fc1: the plan is for another model: its layer 'fc1' is "
      "not a layer of the model",
      out);

  // The model's own plan with one layer's unit count changed, or one layer missing.
  const json own = json::parse(plan_of(fashion_));
  const std::string first = own.at("order").begin().key();
  json fewer_units = own;
  fewer_units["order"][first].erase(fewer_units["order"][first].size() - 1);
  expect_refused(run({"apply", fashion_, "-", "-o", out.string()}, fewer_units.dump()),
                 "reds apply: invalid_argument at /order/" + first +
                     ": the plan is for another model: its layer '" + first + "' has " +
                     std::to_string(own.at("order").at(first).size() - 1) + " units, the model's " +
                     std::to_string(own.at("order").at(first).size()),
                 out);
  json missing_layer = own;
  missing_layer["order"].erase(first);
  for (json& level : missing_layer["levels"]) level["widths"].erase(first);
  expect_refused(
      run({"apply", fashion_, "-", "-o", out.string()}, missing_layer.dump()),
      "reds apply: invalid_argument at /order: the plan is for another model: it has no order for the "
      "model's layer '" +
          first + "'",
      out);
  // finetune applies its PLAN the same way.
  expect_refused(run({"finetune", fashion_, "-", "--data", reds::test::kFashionMnistDir, "--steps", "1", "-o",
                      out.string()},
                     plan_of(cifar_)),
                 "reds finetune: invalid_argument at /full/cost/", out);
}

TEST_F(ModelCommandsCliTest, BatchLargerThanTheTrainingSetIsRefused) {
  const fs::path out = scratch_ / "tuned.reds";
  expect_refused(
      run({"request", fashion_, "--data", reds::test::kFashionMnistDir, "--batch-size", "100000000"}),
      "reds request: --batch-size 100000000: larger than the 60,000 training images in '" +
          std::string(reds::test::kFashionMnistDir) + "'",
      out);
  expect_refused(run({"finetune", fashion_, "-", "--data", reds::test::kFashionMnistDir, "--steps", "1",
                      "--train-images", "1000", "--batch-size", "1001", "-o", out.string()},
                     plan_of(fashion_)),
                 "reds finetune: --batch-size 1001: larger than the 1,000 training images", out);
}

// Under an address-space limit, a batch that fits the data but not the memory is refused before any
// allocation (the limit is the child's; it inherits the test's and the test restores it).
TEST_F(ModelCommandsCliTest, BatchLargerThanTheMemoryIsRefused) {
  rlimit previous{};
  ASSERT_EQ(getrlimit(RLIMIT_DATA, &previous), 0);
  constexpr rlim_t kLimit = rlim_t{2} << 30;
  if (previous.rlim_max != RLIM_INFINITY && previous.rlim_max < kLimit) GTEST_SKIP() << "a lower hard limit";
  rlimit limited = previous;
  limited.rlim_cur = kLimit;
  ASSERT_EQ(setrlimit(RLIMIT_DATA, &limited), 0);
  const Outcome refused =
      run({"request", fashion_, "--data", reds::test::kFashionMnistDir, "--batch-size", "5000"});
  const Outcome accepted = run({"request", fashion_, "--data", reds::test::kFashionMnistDir, "--batch-size",
                                "16", "--importance-batches", "1", "--compact"});
  ASSERT_EQ(setrlimit(RLIMIT_DATA, &previous), 0);
  expect_refused(refused, "reds request: --batch-size 5000: a pass over that many images needs about ",
                 scratch_ / "none");
  EXPECT_NE(refused.err.find(" MiB, more than the 2,048 MiB this process may use"), std::string::npos)
      << refused.err;
  EXPECT_EQ(accepted.exit_status, 0) << accepted.err;
}

// By default prunable layers keep multiples of the engine's 8-float vectors, and standard error says so in
// one line; --block 1 plans unit by unit and --block N keeps multiples of N, both without the note.
TEST_F(ModelCommandsCliTest, RequestAlignsWidthsToTheEngineByDefaultAndSaysSo) {
  const auto blocks = [](const std::string& request) {
    std::set<std::int64_t> found;
    const json parsed = json::parse(request);
    for (const json& layer : parsed["network"]["layers"])
      if (layer.value("prunable", true) && !layer.value("tied", false)) found.insert(layer.value("block", 1));
    return found;
  };
  const Outcome aligned = run({"request", fashion_, "--compact"});
  ASSERT_EQ(aligned.exit_status, 0) << aligned.err;
  EXPECT_EQ(blocks(aligned.out), std::set<std::int64_t>{8});
  EXPECT_EQ(aligned.err,
            "reds request: note: prunable layers keep multiples of 8 units, the engine's vector width "
            "(--block 1 plans unit by unit)\n");
  for (const std::int64_t block : {1, 4}) {
    const Outcome chosen = run({"request", fashion_, "--block", std::to_string(block), "--compact"});
    ASSERT_EQ(chosen.exit_status, 0) << chosen.err;
    EXPECT_EQ(blocks(chosen.out), std::set<std::int64_t>{block});
    EXPECT_EQ(chosen.err, "");
  }
}

// Without a terminal, standard error holds no progress (the note on the widths alone: --block given, none);
// on one (a pseudo-terminal from script(1)), a progress line names the minibatches.
TEST_F(ModelCommandsCliTest, RequestShowsProgressOnlyOnATerminal) {
  const std::vector<std::string> args = {"request",
                                         fashion_,
                                         "--data",
                                         reds::test::kFashionMnistDir,
                                         "--importance-batches",
                                         "3",
                                         "--batch-size",
                                         "8",
                                         "--block",
                                         "8",
                                         "--compact"};
  const Outcome quiet = run(args);
  ASSERT_EQ(quiet.exit_status, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");

  const fs::path script = "/usr/bin/script";
  if (!fs::exists(script)) GTEST_SKIP() << "no script(1) for a pseudo-terminal";
  std::string command = reds_.string();
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " > /dev/null";  // the request itself; the terminal gets standard error only
  const Outcome terminal = run_program(script, {"-qec", command, "/dev/null"});
  ASSERT_EQ(terminal.exit_status, 0) << terminal.out << terminal.err;
  EXPECT_NE(terminal.out.find("gradient importance, minibatch 3/3"), std::string::npos) << terminal.out;
  EXPECT_NE(terminal.out.find("100%"), std::string::npos) << terminal.out;
}

}  // namespace
