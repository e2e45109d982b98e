// `reds run`, as a separate process ($REDS_BIN_DIR/reds): a native model with an embedded plan over the
// first 300 Fashion-MNIST test images, written here as IDX files.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "reds/engine/dataset.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/model.h"
#include "reds/engine/session.h"
#include "support/command_runner.h"
#include "support/engine/commands.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kImages = 300;

// The data set and the planned model are written once for the suite; each test runs `reds run` on them.
class RunCommand : public test::CommandTest {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDirectory;
    fs::create_directories(dir() / "data");
    // The first kImages test images and labels, re-encoded from the set as loaded (pixel = value * 255).
    const Result<ImageSet> set = load_test_set(testing::kFashionMnistDir);
    ASSERT_TRUE(set) << set.error().message;
    test::write_idx(set.value(), 0, kImages, dir() / "data" / "t10k");

    const Result<Model> model = test::half_width_ds_cnn();
    ASSERT_TRUE(model) << model.error().message;
    ASSERT_FALSE(save_native(model.value(), (dir() / "planned.reds").string()));
  }
  static void TearDownTestSuite() { delete dir_; }
  static const fs::path& dir() { return dir_->path(); }

  // `reds run MODEL --data DIR` followed by `extra`.
  test::Outcome run_planned(std::vector<std::string> extra) {
    std::vector<std::string> args = {"run", (dir() / "planned.reds").string(), "--data",
                                     (dir() / "data").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }

  static test::ScratchDirectory* dir_;
};

test::ScratchDirectory* RunCommand::dir_ = nullptr;

TEST_F(RunCommand, JsonLinePerLevel) {
  const test::Outcome outcome = run_planned({"--json"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(outcome.err, "");  // no progress bar: standard error is not a terminal
  const std::vector<json> levels = test::json_lines(outcome.out);
  ASSERT_EQ(levels.size(), 2u);
  for (std::size_t index = 0; index < levels.size(); ++index) {
    const json& level = levels[index];
    EXPECT_EQ(level["level"], index + 1);
    EXPECT_EQ(level["widths"]["conv2d_2"], index == 0 ? 32 : 64);
    EXPECT_EQ(level["widths"]["dense"], 10);
    EXPECT_EQ(level["widths"].size(), 10u);
    EXPECT_EQ(level["total"], kImages);
    EXPECT_DOUBLE_EQ(level["accuracy"].get<double>(), level["correct"].get<double>() / kImages);
    EXPECT_GT(level["latency_us"].get<double>(), 0.0);
    std::vector<std::string> keys;
    for (const auto& item : level.items()) keys.push_back(item.key());
    EXPECT_EQ(keys, std::vector<std::string>(
                        {"accuracy", "correct", "latency_us", "level", "macs", "total", "widths"}));
  }
  EXPECT_LT(levels[0]["macs"], levels[1]["macs"]);
  EXPECT_EQ(levels[1]["macs"], 3788544);  // DS-CNN S on 28x28x1, as the bundled architecture counts it

  // The full level agrees with an in-process evaluation of the Keras model on the same images.
  Result<Model> keras = load_model(testing::pretrained_model("fashion_mnist"));
  ASSERT_TRUE(keras);
  Result<Session> session = Session::create(keras.value());
  const Result<ImageSet> subset = load_test_set((dir() / "data").string());
  ASSERT_TRUE(subset) << subset.error().message;
  const Result<LevelEvaluation> expected = evaluate(session.value(), 0, subset.value());
  ASSERT_TRUE(expected);
  EXPECT_EQ(levels[1]["correct"], expected->correct);
}

TEST_F(RunCommand, OutputsAreEveryImagesOutputAtTheLevel) {
  const test::Outcome outcome = run_planned({"--json", "--outputs", "--level", "1"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const std::vector<json> levels = test::json_lines(outcome.out);
  ASSERT_EQ(levels.size(), 1u);
  const json& outputs = levels[0]["outputs"];
  ASSERT_EQ(outputs.size(), static_cast<std::size_t>(kImages));

  // The same floats as a session at level 1 computes for the images, and their arg max is what "correct"
  // counts.
  Result<Model> planned = load_model((dir() / "planned.reds").string());
  ASSERT_TRUE(planned) << planned.error().message;
  Result<Session> session = Session::create(planned.value());
  ASSERT_TRUE(session) << session.error().message;
  Session& level_one = session.value();
  ASSERT_TRUE(level_one.set_level(0));
  const Result<ImageSet> subset = load_test_set((dir() / "data").string());
  ASSERT_TRUE(subset) << subset.error().message;
  std::int64_t correct = 0;
  for (std::int64_t image = 0; image < kImages; ++image) {
    const std::span<const float> expected = level_one.run(subset->image(image));
    const std::vector<float> written = outputs[static_cast<std::size_t>(image)].get<std::vector<float>>();
    ASSERT_EQ(written, std::vector<float>(expected.begin(), expected.end())) << "image " << image;
    const auto predicted = std::max_element(written.begin(), written.end()) - written.begin();
    correct += predicted == subset->labels[static_cast<std::size_t>(image)] ? 1 : 0;
  }
  EXPECT_EQ(levels[0]["correct"], correct);
}

TEST_F(RunCommand, OutputsNeedJson) {
  const test::Outcome outcome = run_planned({"--outputs"});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("--outputs needs --json"), std::string::npos) << outcome.err;
}

TEST_F(RunCommand, OneLevelAsText) {
  const test::Outcome outcome = run_planned({"--level", "1"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(outcome.out.rfind("level 1  accuracy ", 0), 0u) << outcome.out;
  EXPECT_NE(outcome.out.find("/300)"), std::string::npos) << outcome.out;
  EXPECT_NE(outcome.out.find("conv2d_4=32 dense=10\n"), std::string::npos) << outcome.out;
  EXPECT_EQ(std::count(outcome.out.begin(), outcome.out.end(), '\n'), 1);
}

TEST_F(RunCommand, Errors) {
  test::Outcome outcome = run_planned({"--level", "3"});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_EQ(outcome.out, "");
  EXPECT_EQ(outcome.err, "reds run: --level 3: the model has 2 levels\n");
  outcome = run({"run", (dir() / "planned.reds").string()});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_EQ(outcome.err.rfind("reds run: missing --data DIR\n", 0), 0u) << outcome.err;
  outcome = run_planned({"--level", "1", "--all-levels"});
  EXPECT_EQ(outcome.exit_status, 2);
  outcome = run({"run", (dir() / "nothing.reds").string(), "--data", (dir() / "data").string()});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("cannot read"), std::string::npos) << outcome.err;
  outcome = run({"run", (dir() / "planned.reds").string(), "--data", dir().string()});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("t10k-images-idx3-ubyte"), std::string::npos) << outcome.err;
}

}  // namespace
}  // namespace reds::engine
