// `reds export`, as a separate process ($REDS_BIN_DIR/reds): the REDS authors' Keras DS-CNN (no names for
// its input and output) and a native model of it with an embedded plan of two levels, written as ONNX. Every
// file reads back to what the engine computes for its level, states the export's opset and names its input
// and output as the engine's defaults.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "onnx_testdata.h"
#include "reds/engine/model.h"
#include "reds/engine/onnx.h"
#include "reds/engine/session.h"
#include "support/command_runner.h"
#include "support/engine/commands.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;

class ExportCommand : public test::CommandTest {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::ScratchDirectory;
    const Result<Model> model = test::half_width_ds_cnn();
    ASSERT_TRUE(model) << model.error().message;
    ASSERT_FALSE(save_native(model.value(), planned_path().string()));
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string keras_path() { return testing::pretrained_model("fashion_mnist"); }
  static fs::path planned_path() { return dir_->path() / "planned.reds"; }

  // The exported file against `source` at `level` (nullopt: its full network) on random images, to 1e-5;
  // returns the exported model.
  static Model expect_exported(const fs::path& path, const Model& source, std::optional<std::size_t> level) {
    EXPECT_EQ(testing::read_onnx_opset(path.string()), kOnnxExportOpset) << path;
    Result<Model> exported = load_model(path.string());
    EXPECT_TRUE(exported) << exported.error().message;
    if (!exported) return {};
    EXPECT_EQ(exported->input_name, "input");
    EXPECT_EQ(exported->output_name, "output");
    EXPECT_FALSE(exported->plan.has_value());
    Model reference = source;
    if (!level) reference.plan.reset();
    Result<Session> created_expected = Session::create(reference);
    Result<Session> created_actual = Session::create(exported.value());
    EXPECT_TRUE(created_expected && created_actual);
    if (!created_expected || !created_actual) return {};
    Session expected = std::move(created_expected).value();
    Session actual = std::move(created_actual).value();
    EXPECT_TRUE(expected.set_level(level.value_or(0)));
    std::mt19937 generator(5);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    for (int image = 0; image < 3; ++image) {
      std::vector<float> input(static_cast<std::size_t>(expected.input_size()));
      for (float& value : input) value = pixel(generator);
      const std::span<const float> computed = expected.run(input);
      const std::vector<float> want(computed.begin(), computed.end());
      const std::span<const float> got = actual.run(input);
      EXPECT_EQ(got.size(), want.size());
      for (std::size_t k = 0; k < std::min(got.size(), want.size()); ++k)
        EXPECT_NEAR(got[k], want[k], 1e-5 * std::max(1.0f, std::abs(want[k]))) << path << " output " << k;
    }
    return std::move(exported).value();
  }

  static test::ScratchDirectory* dir_;
};

test::ScratchDirectory* ExportCommand::dir_ = nullptr;

TEST_F(ExportCommand, KerasModelExportsItsFullNetwork) {
  const fs::path out = scratch_ / "keras.onnx";
  const test::Outcome outcome = run({"export", keras_path(), "-o", out.string()});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(outcome.out.rfind("full  macs 3788544  widths conv2d=64 ", 0), 0u) << outcome.out;
  EXPECT_NE(outcome.out.find("  -> " + out.string() + "\n"), std::string::npos) << outcome.out;
  const Result<Model> keras = load_model(keras_path());
  ASSERT_TRUE(keras) << keras.error().message;
  const Model exported = expect_exported(out, keras.value(), std::nullopt);
  EXPECT_EQ(exported.layers.size(), keras->layers.size());
}

TEST_F(ExportCommand, NativeModelExportsEveryLevelAndItsFullNetwork) {
  const fs::path out = scratch_ / "levels";
  const test::Outcome outcome = run({"export", planned_path().string(), "--all-levels", "-o", out.string()});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(test::count_lines(outcome.out), 3u) << outcome.out;
  const Result<Model> planned = load_model(planned_path().string());
  ASSERT_TRUE(planned) << planned.error().message;
  const Result<Session> session = Session::create(planned.value());
  ASSERT_TRUE(session) << session.error().message;
  for (std::size_t level = 0; level < 2; ++level) {
    SCOPED_TRACE("level " + std::to_string(level + 1));
    const fs::path path = out / ("level" + std::to_string(level + 1) + ".onnx");
    EXPECT_NE(outcome.out.find("level " + std::to_string(level + 1) + "  macs " +
                               std::to_string(session->level_info(level).macs) +
                               "  widths conv2d=" + std::to_string(level == 0 ? 32 : 64)),
              std::string::npos)
        << outcome.out;
    EXPECT_NE(outcome.out.find("  -> " + path.string() + "\n"), std::string::npos) << outcome.out;
    const Model exported = expect_exported(path, planned.value(), level);
    // The level's widths are the exported model's full widths.
    for (const auto& [name, width] : session->level_info(level).widths) {
      const auto layer = std::find_if(exported.layers.begin(), exported.layers.end(),
                                      [&layer_name = name](const Layer& l) { return l.name == layer_name; });
      ASSERT_NE(layer, exported.layers.end()) << name;
      if (layer->kind != LayerKind::depthwise_conv2d) {
        EXPECT_EQ(layer->units, width) << name;
      }
    }
  }
  EXPECT_NE(outcome.out.find("full  macs 3788544  "), std::string::npos) << outcome.out;
  expect_exported(out / "full.onnx", planned.value(), std::nullopt);

  // --level writes the same bytes as --all-levels does for that level.
  const fs::path one = scratch_ / "one.onnx";
  const test::Outcome single = run({"export", planned_path().string(), "--level", "1", "-o", one.string()});
  ASSERT_EQ(single.exit_status, 0) << single.err;
  EXPECT_EQ(test::count_lines(single.out), 1u) << single.out;
  EXPECT_EQ(test::read_file(one), test::read_file(out / "level1.onnx"));
}

TEST_F(ExportCommand, Errors) {
  const fs::path out = scratch_ / "x.onnx";
  test::Outcome outcome = run({"export", planned_path().string(), "--level", "3", "-o", out.string()});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_EQ(outcome.err, "reds export: --level 3: the model has 2 planned levels\n");
  outcome = run({"export", keras_path(), "--level", "1", "-o", out.string()});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("no embedded plan"), std::string::npos) << outcome.err;
  outcome = run({"export", planned_path().string(), "--level", "1", "--all-levels", "-o", out.string()});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("not both"), std::string::npos) << outcome.err;
  outcome = run({"export", planned_path().string()});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("missing -o OUT"), std::string::npos) << outcome.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace reds::engine
