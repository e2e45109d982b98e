// ONNX in and out, against the framework that made the models: torch_reference.py builds PyTorch models
// with random weights (a fixed seed), exports them with torch.onnx.export and computes their outputs; the
// engine must compute the same from the ONNX files. Exported levels, of chain and residual models alike, must
// read back to the engine's level and equal the torch model cut down by hand to the level's units (the small
// CNN, the ResNet-8, torchvision's ResNet-18 and MobileNetV2).
#include "reds/engine/onnx.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "onnx_format.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "reds/plan.h"
#include "support/command_runner.h"
#include "support/engine/models.h"
#include "support/source_tree.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;

template <class T>
std::vector<T> read_values(const fs::path& path) {
  const std::string bytes = test::read_file(path);
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));
  return values;
}

// Runs torch_reference.py; its exit status (77: torch is missing), its standard error in `log`.
int run_reference(const std::vector<std::string>& args, const fs::path& log) {
  std::string command =
      "/usr/bin/python3 '" + test::source_path("tests/models/engine/torch_reference.py").string() + "'";
  for (const std::string& arg : args) command += " '" + arg + "'";
  command += " >'" + log.string() + "' 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ONNX's Python checker (full check, with shape inference) on exported files of a torch model: each passes,
// states the export's opset and keeps torch's input and output names.
void expect_python_checker_passes(const std::vector<std::string>& paths, const fs::path& log) {
  std::vector<std::string> args = {"check"};
  args.insert(args.end(), paths.begin(), paths.end());
  ASSERT_EQ(run_reference(args, log), 0) << test::read_file(log);
  const std::string printed = test::read_file(log);
  for (const std::string& path : paths)
    EXPECT_NE(
        printed.find(path + " opset " + std::to_string(kOnnxExportOpset) + " input image output scores\n"),
        std::string::npos)
        << printed;
}

// Every image's outputs of a session at its current level.
std::vector<float> run_all(Session& session, const std::vector<float>& images) {
  const auto size = static_cast<std::size_t>(session.input_size());
  std::vector<float> outputs;
  for (std::size_t at = 0; at + size <= images.size(); at += size) {
    const std::span<const float> result = session.run(std::span<const float>(images).subspan(at, size));
    outputs.insert(outputs.end(), result.begin(), result.end());
  }
  return outputs;
}

template <class Expected>
void expect_close(const std::vector<float>& actual, const std::vector<Expected>& expected, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t k = 0; k < actual.size(); ++k)
    EXPECT_NEAR(actual[k], expected[k], tolerance * std::max(1.0, std::abs(static_cast<double>(expected[k]))))
        << what << ", output " << k;
}

class TorchOnnx : public ::testing::Test {
 protected:
  // ctest runs every test in its own process: the reference files are made once per version of the script,
  // in the build tree (into a temporary directory renamed into place, so that concurrent tests never see
  // half of them), or per process when run outside ctest.
  static void SetUpTestSuite() {
    const std::string script = test::read_file(test::source_path("tests/models/engine/torch_reference.py"));
    const char* bin_dir = std::getenv("REDS_BIN_DIR");
    if (bin_dir) {
      directory_ = fs::path(bin_dir).parent_path() / "torch-reference" /
                   std::to_string(std::hash<std::string>{}(script));
      if (fs::exists(directory_ / "export.log")) {
        status_ = 0;
        return;
      }
      fs::create_directories(directory_.parent_path());
    }
    std::string pattern =
        (bin_dir ? directory_.string() + ".partial-" : std::string("/tmp/reds-onnx-test-")) + "XXXXXX";
    const fs::path made = mkdtemp(pattern.data());
    status_ = run_reference({"export", made.string()}, made / "export.log");
    if (!bin_dir || status_ != 0) {
      directory_ = made;
      owned_ = true;
      return;
    }
    std::error_code error;
    fs::rename(made, directory_, error);
    if (error) fs::remove_all(made, error);  // another test process made them first
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    if (owned_) fs::remove_all(directory_, ignored);
  }

  void SetUp() override {
    if (status_ == 77) GTEST_SKIP() << test::read_file(directory_ / "export.log");
    ASSERT_EQ(status_, 0) << "torch_reference.py export failed:\n"
                          << test::read_file(directory_ / "export.log");
  }

  static fs::path file(const std::string& name) { return directory_ / name; }

  // The model's engine outputs against torch's, to 1e-4; returns the model.
  static Model expect_matches_torch(const std::string& name) {
    Result<Model> model = load_model(file(name + ".onnx"));
    EXPECT_TRUE(model) << model.error().message;
    if (!model) return {};
    Result<Session> created = Session::create(model.value());
    EXPECT_TRUE(created) << created.error().message;
    if (!created) return {};
    Session session = std::move(created).value();
    expect_close(run_all(session, read_values<float>(file(name + ".inputs.f32"))),
                 read_values<double>(file(name + ".outputs.f64")), 1e-4, name + " against torch");
    return std::move(model).value();
  }

  // The model exported at `level` (nullopt: full), read back, against the model's own session at that level.
  static void expect_round_trip(const Model& model, std::optional<std::size_t> level,
                                const std::string& name) {
    const fs::path path =
        file(name + (level ? ".level" + std::to_string(*level + 1) : ".full") + ".exported.onnx");
    ASSERT_FALSE(save_onnx(model, level, path.string()));
    Result<Model> back = load_model(path.string());
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->input_name, model.input_name.empty() ? "input" : model.input_name);
    EXPECT_EQ(back->output_name, model.output_name.empty() ? "output" : model.output_name);
    // The full network of a planned model is its session without the plan.
    Model source = model;
    if (!level) source.plan.reset();
    Result<Session> original = Session::create(source);
    ASSERT_TRUE(original) << original.error().message;
    Session at_level = std::move(original).value();
    ASSERT_TRUE(at_level.set_level(level.value_or(0)));
    Result<Session> exported = Session::create(back.value());
    ASSERT_TRUE(exported) << exported.error().message;
    Session exported_session = std::move(exported).value();
    const std::vector<float> images = read_values<float>(file(name + ".inputs.f32"));
    expect_close(run_all(exported_session, images), run_all(at_level, images), 1e-5,
                 name + " exported and read back");
  }

  struct PlannedLevels {
    PlanRequest request;
    PlanResult plan;
    Model model;  // the plan applied
  };

  // Request, plan and apply two levels of the model.
  static void plan_two_levels(const Model& model, PlannedLevels& planned) {
    RequestOptions options;
    options.fractions = {0.3, 0.6};
    Result<PlanRequest> request = plan_request(model, options);
    ASSERT_TRUE(request) << request.error().message;
    Result<PlanResult> plan = reds::plan(request.value());
    ASSERT_TRUE(plan) << plan.error().message;
    Result<Model> applied = apply_plan(model, plan.value());
    ASSERT_TRUE(applied) << applied.error().message;
    planned = {std::move(request).value(), std::move(plan).value(), std::move(applied).value()};
  }

  // Exports every level of the planned model: each reads back to the engine's level, narrows a map that an
  // addition adds (so the streams are cut, not kept whole), and passes ONNX's Python checker too.
  static void expect_planned_levels_round_trip(const Model& model, const PlannedLevels& planned,
                                               const std::string& name) {
    const Result<std::vector<Shape>> full_shapes = layer_shapes(model);
    ASSERT_TRUE(full_shapes) << full_shapes.error().message;
    std::vector<std::string> check;
    for (std::size_t level = 0; level < planned.plan.levels.size(); ++level) {
      SCOPED_TRACE(name + " level " + std::to_string(level + 1));
      expect_round_trip(planned.model, level, name);
      const std::string path = file(name + ".level" + std::to_string(level + 1) + ".exported.onnx").string();
      const Result<Model> back = load_model(path);
      ASSERT_TRUE(back) << back.error().message;
      const Result<std::vector<Shape>> level_shapes = layer_shapes(back.value());
      ASSERT_TRUE(level_shapes) << level_shapes.error().message;
      std::size_t narrowed_additions = 0;
      for (std::size_t index = 0; index < back->layers.size(); ++index) {
        if (back->layers[index].kind != LayerKind::add) continue;
        const auto full = std::find_if(model.layers.begin(), model.layers.end(), [&](const Layer& layer) {
          return layer.name == back->layers[index].name;
        });
        ASSERT_NE(full, model.layers.end()) << back->layers[index].name;
        const Shape& full_shape = (*full_shapes)[static_cast<std::size_t>(full - model.layers.begin())];
        EXPECT_LE((*level_shapes)[index].channels, full_shape.channels) << back->layers[index].name;
        if ((*level_shapes)[index].channels < full_shape.channels) ++narrowed_additions;
      }
      EXPECT_GT(narrowed_additions, 0u);
      check.push_back(path);
    }
    expect_python_checker_passes(check, file(name + ".check.log"));
  }

  // torch_reference.py cuts the torch model down by hand to every level of the plan; the engine's level and
  // the level exported by expect_round_trip, read back, both equal it to 1e-4.
  static void expect_levels_equal_torch_cut(const PlannedLevels& planned, const std::string& name) {
    std::ofstream(file(name + ".plan.json")) << to_json(planned.plan);
    const std::string levels = std::to_string(planned.plan.levels.size());
    ASSERT_EQ(run_reference({"cut", directory_.string(), name, file(name + ".plan.json").string(), levels},
                            file(name + ".cut.log")),
              0)
        << test::read_file(file(name + ".cut.log"));
    Result<Session> created = Session::create(planned.model);
    ASSERT_TRUE(created) << created.error().message;
    Session session = std::move(created).value();
    const std::vector<float> images = read_values<float>(file(name + ".inputs.f32"));
    for (std::size_t level = 0; level < planned.plan.levels.size(); ++level) {
      SCOPED_TRACE(name + " level " + std::to_string(level + 1));
      const std::string prefix = name + ".level" + std::to_string(level + 1);
      const std::vector<double> cut = read_values<double>(file(prefix + ".f64"));
      ASSERT_TRUE(session.set_level(level));
      expect_close(run_all(session, images), cut, 1e-4, "the engine's level against torch cut by hand");
      const Result<Model> back = load_model(file(prefix + ".exported.onnx").string());
      ASSERT_TRUE(back) << back.error().message;
      Result<Session> exported = Session::create(back.value());
      ASSERT_TRUE(exported) << exported.error().message;
      expect_close(run_all(exported.value(), images), cut, 1e-4,
                   "the exported level read back against torch cut by hand");
    }
  }

  static inline fs::path directory_;
  static inline int status_ = -1;
  static inline bool owned_ = false;  // a directory of this process, removed at its end
};

TEST_F(TorchOnnx, SmallCnnComputesWhatTorchComputes) {
  const Model model = expect_matches_torch("small_cnn");
  EXPECT_EQ(model.input, (Shape{16, 16, 3, false}));
  EXPECT_EQ(model.input_name, "image");
  EXPECT_EQ(model.output_name, "scores");
  EXPECT_TRUE(is_chain(model));
  // conv2's symmetric padding with stride 2 is not Keras' 'same': a ZeroPadding2D runs before it.
  const auto padding = std::find_if(model.layers.begin(), model.layers.end(), [](const Layer& layer) {
    return layer.kind == LayerKind::zero_padding2d;
  });
  ASSERT_NE(padding, model.layers.end());
  EXPECT_EQ(padding->name, "/conv2/Conv/pad");
  EXPECT_EQ((std::vector<std::int64_t>{padding->pad_top, padding->pad_bottom, padding->pad_left,
                                       padding->pad_right}),
            (std::vector<std::int64_t>{1, 1, 1, 1}));
}

// torch.onnx.export with dynamic_axes names the batch axis instead of sizing it: the same model.
TEST_F(TorchOnnx, SymbolicBatchSizeReadsAsOneImageAtATime) {
  const Result<Model> model = load_model(file("small_cnn_any_batch.onnx").string());
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ(model->input, (Shape{16, 16, 3, false}));
  Result<Session> created = Session::create(model.value());
  ASSERT_TRUE(created) << created.error().message;
  Session session = std::move(created).value();
  expect_close(run_all(session, read_values<float>(file("small_cnn.inputs.f32"))),
               read_values<double>(file("small_cnn.outputs.f64")), 1e-4, "small_cnn_any_batch against torch");
}

TEST_F(TorchOnnx, ResNet8ComputesWhatTorchComputes) {
  const Model model = expect_matches_torch("resnet8");
  EXPECT_FALSE(is_chain(model));
  EXPECT_EQ(std::count_if(model.layers.begin(), model.layers.end(),
                          [](const Layer& layer) { return layer.kind == LayerKind::add; }),
            3);
  expect_round_trip(model, std::nullopt, "resnet8");
}

TEST_F(TorchOnnx, TorchvisionResNet18ComputesWhatTorchComputes) {
  const Model model = expect_matches_torch("resnet18");
  EXPECT_EQ(std::count_if(model.layers.begin(), model.layers.end(),
                          [](const Layer& layer) { return layer.kind == LayerKind::max_pool2d; }),
            1);
  expect_round_trip(model, std::nullopt, "resnet18");
}

TEST_F(TorchOnnx, TorchvisionMobileNetV2ComputesWhatTorchComputes) {
  const Model model = expect_matches_torch("mobilenet_v2");
  EXPECT_GE(std::count_if(model.layers.begin(), model.layers.end(),
                          [](const Layer& layer) { return layer.kind == LayerKind::depthwise_conv2d; }),
            17);
  expect_round_trip(model, std::nullopt, "mobilenet_v2");
}

// Residual models: levels whose additions narrow every operand alike (one width per stream) export as
// standalone ONNX models. The ResNet-8's levels equal the torch model cut by hand: the layers whose outputs
// are added keep one order and width, projections read their block input's units, batch norms are cut with
// their convolution.
TEST_F(TorchOnnx, ResNet8LevelsExportReadBackAndEqualTheTorchModelCutByHand) {
  const Result<Model> model = load_model(file("resnet8.onnx").string());
  ASSERT_TRUE(model) << model.error().message;
  PlannedLevels planned;
  ASSERT_NO_FATAL_FAILURE(plan_two_levels(model.value(), planned));
  expect_planned_levels_round_trip(model.value(), planned, "resnet8");
  expect_levels_equal_torch_cut(planned, "resnet8");
}

// torchvision's ResNet-18 (a max-pooled 7x7 stem, projections in three of its four stages) and MobileNetV2
// (inverted residual blocks: the expansion's units are the depthwise convolution's, the projections of a
// stage keep one stream) the same way.
TEST_F(TorchOnnx, TorchvisionResNet18LevelsExportReadBackAndEqualTheTorchModelCutByHand) {
  const Result<Model> model = load_model(file("resnet18.onnx").string());
  ASSERT_TRUE(model) << model.error().message;
  PlannedLevels planned;
  ASSERT_NO_FATAL_FAILURE(plan_two_levels(model.value(), planned));
  expect_planned_levels_round_trip(model.value(), planned, "resnet18");
  expect_levels_equal_torch_cut(planned, "resnet18");
}

TEST_F(TorchOnnx, TorchvisionMobileNetV2LevelsExportReadBackAndEqualTheTorchModelCutByHand) {
  const Result<Model> model = load_model(file("mobilenet_v2.onnx").string());
  ASSERT_TRUE(model) << model.error().message;
  PlannedLevels planned;
  ASSERT_NO_FATAL_FAILURE(plan_two_levels(model.value(), planned));
  expect_planned_levels_round_trip(model.value(), planned, "mobilenet_v2");
  expect_levels_equal_torch_cut(planned, "mobilenet_v2");
}

TEST_F(TorchOnnx, EverySupportedOperatorComputesWhatTorchComputes) {
  const Model model = expect_matches_torch("every_op");
  std::set<LayerKind> kinds;
  for (const Layer& layer : model.layers) kinds.insert(layer.kind);
  for (const LayerKind kind :
       {LayerKind::conv2d, LayerKind::depthwise_conv2d, LayerKind::dense, LayerKind::rectifier,
        LayerKind::average_pool2d, LayerKind::max_pool2d, LayerKind::flatten, LayerKind::softmax,
        LayerKind::add, LayerKind::zero_padding2d})
    EXPECT_TRUE(kinds.contains(kind)) << to_string(kind);
  expect_round_trip(model, std::nullopt, "every_op");
}

// The same network at every other opset torch writes (torch_reference.py checks that ReLU6's Clip states its
// limits as attributes up to opset 10 and as inputs from 11 on).
TEST_F(TorchOnnx, EverySupportedOperatorComputesWhatTorchComputesAtOpsets7To17) {
  for (const int opset : {7, 8, 9, 10, 12, 13, 14, 15, 16, 17}) {
    SCOPED_TRACE("opset " + std::to_string(opset));
    const Model model = expect_matches_torch("every_op_opset" + std::to_string(opset));
    EXPECT_TRUE(std::any_of(model.layers.begin(), model.layers.end(), [](const Layer& layer) {
      return layer.kind == LayerKind::rectifier && layer.rectifier.max_value == 6.0f;
    }));
    EXPECT_TRUE(std::any_of(model.layers.begin(), model.layers.end(), [](const Layer& layer) {
      return layer.kind == LayerKind::rectifier && layer.rectifier.negative_slope == 0.2f;
    }));
  }
}

// What torch never writes: auto_pad SAME_UPPER is Keras' 'same' (the odd pixel after), SAME_LOWER puts it
// before, which a ZeroPadding2D computes (for a max pool, after a ReLU), and VALID pads nothing; Identity
// and Dropout (with its mask output unread) pass their input through.
TEST_F(TorchOnnx, HandWrittenGraphComputesWhatTorchComputesWithThePaddingSpelledOut) {
  const Model model = expect_matches_torch("hand_written");
  const auto layer = [&](const std::string& name) -> const Layer& {
    const auto found = std::find_if(model.layers.begin(), model.layers.end(),
                                    [&](const Layer& candidate) { return candidate.name == name; });
    EXPECT_NE(found, model.layers.end()) << name;
    static const Layer none;
    return found == model.layers.end() ? none : *found;
  };
  EXPECT_EQ(layer("conv_same_upper").padding, Padding::same);
  EXPECT_EQ(layer("conv_dilated").padding, Padding::same);
  EXPECT_EQ(layer("conv_dilated").dilation_height, 2);
  EXPECT_EQ(layer("average_same_upper").padding, Padding::same);
  EXPECT_EQ(layer("conv_valid").padding, Padding::valid);
  for (const char* name : {"conv_same_lower", "max_same_lower"}) {
    EXPECT_EQ(layer(name).padding, Padding::valid) << name;
    EXPECT_EQ(layer(name + std::string("/pad")).kind, LayerKind::zero_padding2d) << name;
  }
  const Layer& conv_pad = layer("conv_same_lower/pad");
  EXPECT_EQ((std::vector<std::int64_t>{conv_pad.pad_top, conv_pad.pad_bottom, conv_pad.pad_left,
                                       conv_pad.pad_right}),
            (std::vector<std::int64_t>{1, 0, 1, 0}));
  const Layer& max_pad = layer("max_same_lower/pad");  // 7 x 8: only the odd side is padded
  EXPECT_EQ(
      (std::vector<std::int64_t>{max_pad.pad_top, max_pad.pad_bottom, max_pad.pad_left, max_pad.pad_right}),
      (std::vector<std::int64_t>{1, 0, 0, 0}));
  expect_round_trip(model, std::nullopt, "hand_written");
}

// The error names the node, its operator and the supported ones, each of which some test model holds.
TEST_F(TorchOnnx, UnsupportedOperatorsAreNamed) {
  const Result<Model> model = load_model(file("unsupported.onnx").string());
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error().code, ErrorCode::invalid_argument);
  const std::string& message = model.error().message;
  const std::string prefix = "node '/Sigmoid' (Sigmoid): this operator is not supported (supported: ";
  const std::size_t list = message.find(prefix);
  ASSERT_NE(list, std::string::npos) << message;
  ASSERT_EQ(message.back(), ')') << message;
  std::set<std::string> tested;
  std::istringstream operators(test::read_file(file("operators.txt")));
  for (std::string line; std::getline(operators, line);) tested.insert(line);
  std::istringstream supported(
      message.substr(list + prefix.size(), message.size() - 1 - list - prefix.size()));
  std::size_t count = 0;
  for (std::string name; std::getline(supported >> std::ws, name, ',');) {
    EXPECT_TRUE(tested.contains(name)) << name << " is in no test model";
    ++count;
  }
  EXPECT_GE(count, 18u) << message;
}

// Plan the small CNN, apply the plan, and export every level: each reads back to the engine's level and
// equals the torch model cut down by hand to that level's units in the plan's order.
TEST_F(TorchOnnx, ExportedLevelsEqualTheEngineAndTheTorchModelCutByHand) {
  const Result<Model> model = load_model(file("small_cnn.onnx").string());
  ASSERT_TRUE(model) << model.error().message;
  PlannedLevels planned;
  ASSERT_NO_FATAL_FAILURE(plan_two_levels(model.value(), planned));
  // The plan must narrow something, or the cut models would be the full one.
  EXPECT_LT(planned.plan.levels[0].widths[0], planned.request.network.layers[0].units);
  Result<Session> created = Session::create(planned.model);
  ASSERT_TRUE(created) << created.error().message;
  const Session& session = created.value();
  std::vector<std::string> exported;
  for (std::size_t level = 0; level < 2; ++level) {
    SCOPED_TRACE("level " + std::to_string(level + 1));
    expect_round_trip(planned.model, level, "small_cnn");
    const Result<Model> back =
        load_model(file("small_cnn.level" + std::to_string(level + 1) + ".exported.onnx"));
    ASSERT_TRUE(back);
    // The exported level has the level's widths as its full widths.
    for (const auto& [name, width] : session.level_info(level).widths) {
      const auto layer =
          std::find_if(back->layers.begin(), back->layers.end(),
                       [&layer_name = name](const Layer& candidate) { return candidate.name == layer_name; });
      ASSERT_NE(layer, back->layers.end()) << name;
      if (layer->kind != LayerKind::depthwise_conv2d) {
        EXPECT_EQ(layer->units, width) << name;
      }
    }
    exported.push_back(file("small_cnn.level" + std::to_string(level + 1) + ".exported.onnx").string());
  }
  expect_levels_equal_torch_cut(planned, "small_cnn");
  expect_python_checker_passes(exported, file("check.log"));
}

TEST(OnnxReader, RefusesWhatIsNotAnOnnxModel) {
  const Result<Model> garbage = detail::decode_onnx("x.onnx", "not a protobuf \xff\xff\xff");
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("'x.onnx': "), std::string::npos) << garbage.error().message;
  const Result<Model> empty = detail::decode_onnx("empty.onnx", "");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("checker"), std::string::npos) << empty.error().message;
}

TEST(OnnxExport, RefusesALevelTheModelHasNot) {
  Model model;
  model.input = Shape{1, 1, 2, true};
  Layer dense = test::named_layer("dense", LayerKind::dense);
  dense.units = 1;
  dense.kernel = {1.0f, 2.0f};
  model.layers.push_back(dense);
  const Result<std::string> level = export_onnx(model, 0);
  ASSERT_FALSE(level);
  EXPECT_NE(level.error().message.find("no level 1"), std::string::npos) << level.error().message;
  const Result<std::string> full = export_onnx(model, std::nullopt);
  ASSERT_TRUE(full) << full.error().message;
  const Result<Model> back = detail::decode_onnx("dense.onnx", full.value());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->layers.size(), 1u);
  EXPECT_EQ(back->layers[0].kernel, dense.kernel);
  EXPECT_EQ(back->input_name, "input");
}

}  // namespace
}  // namespace reds::engine
