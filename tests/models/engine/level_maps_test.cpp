// Per-level statistics (model.h's ChannelMap): a level with maps computes every mapped layer as scale * sum +
// bias before its addition and rectifier, on every kernel path (first convolutions, depthwise, pointwise,
// dense, residual additions fused into a convolution, nested and strided weights), which a direct
// computation in double precision of the masked model with the maps applied layer by layer confirms; a
// level without maps runs what a model without them runs, bit for bit; the native file keeps the maps, and
// files of models without them are written as before; a level exported to ONNX has its maps folded into its
// layers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "level_shapes.h"
#include "models/test_data.h"
#include "models/test_plans.h"
#include "native_format.h"
#include "reds/engine/architectures.h"
#include "reds/engine/model.h"
#include "reds/engine/onnx.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/plan.h"
#include "reds/splitmix64.h"
#include "support/command_runner.h"
#include "support/engine/models.h"
#include "support/engine/reference.h"

namespace reds::engine {
namespace {

using test::expect_close;
using test::outputs_of;
using test::random_inputs;

Model planned_model(const std::string& name) {
  if (name == "resnet8") {
    Result<Model> model = load_model(test::mlperf_model("pretrainedResnet.h5"));
    EXPECT_TRUE(model) << model.error().message;
    Result<Model> applied =
        apply_plan(model.value(), testing::random_group_plan(model.value(), test::kResnet8Groups, 3, 5));
    EXPECT_TRUE(applied) << applied.error().message;
    return std::move(applied).value();
  }
  Result<Model> model = random_model(name);
  EXPECT_TRUE(model) << model.error().message;
  RequestOptions options;
  options.fractions = {0.25, 0.6, 1.0};
  const Result<PlanRequest> request = plan_request(model.value(), options);
  EXPECT_TRUE(request) << request.error().message;
  const Result<PlanResult> plan = reds::plan(request.value());
  EXPECT_TRUE(plan) << plan.error().message;
  Result<Model> applied = apply_plan(model.value(), plan.value());
  EXPECT_TRUE(applied) << applied.error().message;
  return std::move(applied).value();
}

// Random maps for every unit layer at every level in `mapped` (scales in [0.5, 1.5), biases in [-1, 1)),
// the identity elsewhere.
void add_random_maps(Model& model, const std::vector<std::size_t>& mapped, std::uint64_t seed) {
  SplitMix64 random(seed);
  const auto uniform = [&] { return static_cast<float>(random.next() % 2000) / 1000.0f - 1.0f; };
  const std::vector<Shape> shapes = layer_shapes(model).value();
  model.plan->level_maps.assign(model.plan->widths.size(), std::vector<ChannelMap>(model.layers.size()));
  for (const std::size_t level : mapped)
    for (std::size_t index = 0; index < model.layers.size(); ++index) {
      if (!detail::is_unit_layer(model.layers[index].kind)) continue;
      ChannelMap& map = model.plan->level_maps[level][index];
      for (std::int64_t c = 0; c < shapes[index].channels; ++c) {
        map.scale.push_back(1.0f + 0.5f * uniform());
        map.bias.push_back(uniform());
      }
    }
}

// The maps under which the full model computes `level` for the reference: every unit layer keeps its
// level's channels with the level's map (or scale 1 and its own bias), and its dropped channels are 0
// (scale and bias 0), so that they reach nothing.
std::vector<ChannelMap> masked_maps(const Model& model, const Session& session, std::size_t level) {
  const std::vector<Shape> shapes = layer_shapes(model).value();
  std::map<std::string, std::int64_t> widths;
  for (const auto& [name, width] : session.level_info(level).widths) widths[name] = width;
  std::vector<ChannelMap> maps(model.layers.size());
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    if (!detail::is_unit_layer(layer.kind)) continue;
    const bool mapped =
        !model.plan->level_maps.empty() && !model.plan->level_maps[level][index].scale.empty();
    for (std::int64_t c = 0; c < shapes[index].channels; ++c) {
      const auto at = static_cast<std::size_t>(c);
      const bool kept = c < widths.at(layer.name);
      const float own_bias = layer.bias.empty() ? 0.0f : layer.bias[at];
      maps[index].scale.push_back(!kept    ? 0.0f
                                  : mapped ? model.plan->level_maps[level][index].scale[at]
                                           : 1.0f);
      maps[index].bias.push_back(!kept    ? 0.0f
                                 : mapped ? model.plan->level_maps[level][index].bias[at]
                                          : own_bias);
    }
  }
  return maps;
}

std::vector<float> to_floats(const std::vector<double>& values) { return {values.begin(), values.end()}; }

struct Case {
  std::string name;
  test::InputValues inputs;
};
const std::vector<Case> kCases = {{"ds_cnn_s", test::InputValues::unit_pixels},
                                  {"cnn_s", test::InputValues::unit_pixels},
                                  {"dnn_s", test::InputValues::unit_pixels},
                                  {"resnet8", test::InputValues::raw_pixels}};

TEST(LevelMaps, EveryLevelEqualsTheMaskedModelWithItsMapsAppliedLayerByLayer) {
  for (const Case& test : kCases) {
    Model model = planned_model(test.name);
    ASSERT_TRUE(model.plan) << test.name;
    const std::size_t levels = model.plan->widths.size();
    ASSERT_GE(levels, 3u) << test.name;
    const Session plain = Session::create(model).value();
    add_random_maps(model, {0, levels - 1}, 11);  // the middle levels keep the identity
    const std::vector<std::vector<float>> inputs = random_inputs(model, 2, test.inputs);
    for (const WeightLayout layout : {WeightLayout::nested, WeightLayout::strided}) {
      Result<Session> created = Session::create(model, SessionOptions{layout});
      ASSERT_TRUE(created) << test.name << ": " << created.error().message;
      Session* session = &created.value();
      for (std::size_t level = 0; level < levels; ++level) {
        ASSERT_TRUE(session->set_level(level));
        const std::vector<ChannelMap> maps = masked_maps(model, plain, level);
        const std::string what = test.name + (layout == WeightLayout::nested ? " nested" : " strided") +
                                 " level " + std::to_string(level + 1);
        for (const std::vector<float>& input : inputs)
          expect_close(outputs_of(*session, input), to_floats(test::forward(model, input, maps)), what,
                       2e-4f);
      }
    }
    // The maps change what the levels compute: without them the reference differs.
    Model without = model;
    without.plan->level_maps.clear();
    Session mapped = Session::create(model).value();
    const std::vector<float> with_maps = outputs_of(mapped, inputs[0]);
    const std::vector<float> reference =
        to_floats(test::forward(model, inputs[0], masked_maps(without, plain, 0)));
    float largest = 0.0f;
    for (std::size_t at = 0; at < reference.size(); ++at)
      largest = std::max(largest, std::abs(with_maps[at] - reference[at]));
    EXPECT_GT(largest, 1e-2f) << test.name;
  }
}

TEST(LevelMaps, LevelsWithoutMapsComputeWhatTheModelWithoutMapsComputes) {
  for (const Case& test : kCases) {
    Model model = planned_model(test.name);
    const std::size_t levels = model.plan->widths.size();
    Session plain = Session::create(model).value();
    add_random_maps(model, {0}, 12);
    Session mapped = Session::create(model).value();
    for (std::size_t level = 0; level < levels; ++level) {
      const std::span<const KernelCall> calls = mapped.level_calls(level);
      const std::size_t scaled = static_cast<std::size_t>(
          std::count_if(calls.begin(), calls.end(), [](const KernelCall& call) { return call.scale; }));
      if (level > 0) {
        EXPECT_EQ(scaled, 0u) << test.name << " level " << level + 1;
      } else {
        EXPECT_GT(scaled, 0u) << test.name;
      }
    }
    for (const std::vector<float>& input : random_inputs(model, 2, test.inputs))
      for (std::size_t level = 1; level < levels; ++level) {
        ASSERT_TRUE(plain.set_level(level) && mapped.set_level(level));
        EXPECT_EQ(outputs_of(mapped, input), outputs_of(plain, input)) << test.name << " level " << level + 1;
      }
  }
}

TEST(LevelMaps, TheNativeFileKeepsThem) {
  const test::ScratchDirectory dir;
  for (const Case& test : kCases) {
    Model model = planned_model(test.name);
    add_random_maps(model, {0, 1}, 13);
    const std::string path = (dir.path() / (test.name + ".reds")).string();
    ASSERT_FALSE(save_native(model, path)) << test.name;
    const std::string bytes = test::read_file(path);
    EXPECT_EQ(bytes[8], 4) << test.name;
    const Model loaded = test::load_or_fail(path);
    ASSERT_TRUE(loaded.plan);
    EXPECT_EQ(loaded.plan->level_maps, model.plan->level_maps) << test.name;  // bit for bit
    Session original = Session::create(model).value();
    Session reloaded = Session::create(loaded).value();
    for (const std::vector<float>& input : random_inputs(model, 2, test.inputs))
      for (std::size_t level = 0; level < model.plan->widths.size(); ++level) {
        ASSERT_TRUE(original.set_level(level) && reloaded.set_level(level));
        EXPECT_EQ(outputs_of(reloaded, input), outputs_of(original, input)) << test.name;
      }
    EXPECT_EQ(detail::encode_native(loaded), bytes) << test.name;

    // A reader of version 3 files does not know them: they are refused in one.
    test::write_file(dir.path() / "relabelled.reds", testing::with_native_version(bytes, 3));
    const Result<Model> old = load_native((dir.path() / "relabelled.reds").string());
    ASSERT_FALSE(old);
    EXPECT_NE(old.error().message.find("per-level statistics in a version 3 file"), std::string::npos)
        << old.error().message;
  }
}

TEST(LevelMaps, FilesWithoutMapsAreWrittenAsBefore) {
  for (const Case& test : kCases) {
    Model model = planned_model(test.name);
    const std::string before = detail::encode_native(model);
    EXPECT_EQ(before.find("level_maps"), std::string::npos);
    EXPECT_EQ(before[8], test.name == "resnet8" ? 2 : 1) << test.name;
    // Identity maps at every level are no maps.
    model.plan->level_maps.assign(model.plan->widths.size(), std::vector<ChannelMap>(model.layers.size()));
    EXPECT_EQ(detail::encode_native(model), before) << test.name;
    const Result<Model> decoded = detail::decode_native(test.name, before);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_TRUE(decoded->plan->level_maps.empty());
    EXPECT_EQ(detail::encode_native(decoded.value()), before) << test.name;
  }
}

TEST(LevelMaps, AnExportedLevelHasItsMapsFoldedIntoItsLayers) {
  const test::ScratchDirectory dir;
  for (const Case& test : {kCases[0], kCases[3]}) {
    Model model = planned_model(test.name);
    add_random_maps(model, {0, 1}, 15);
    Model without = model;
    without.plan->level_maps.clear();
    Session session = Session::create(model).value();
    Session plain = Session::create(without).value();
    const std::vector<std::vector<float>> inputs = random_inputs(model, 2, test.inputs);
    for (const std::size_t level : {std::size_t{0}, std::size_t{1}}) {
      const std::string path = (dir.path() / (test.name + std::to_string(level) + ".onnx")).string();
      ASSERT_FALSE(save_onnx(model, level, path)) << test.name;
      Result<Session> read_back = Session::create(test::load_or_fail(path));
      ASSERT_TRUE(read_back) << read_back.error().message;
      Session* exported = &read_back.value();
      ASSERT_TRUE(session.set_level(level) && plain.set_level(level));
      const std::string what = test.name + " level " + std::to_string(level + 1);
      for (const std::vector<float>& input : inputs) {
        const std::vector<float> expected = outputs_of(session, input);
        const std::vector<float> actual = outputs_of(*exported, input);
        expect_close(actual, expected, what, 1e-4f);
        // Not the level without its maps.
        const std::vector<float> unmapped = outputs_of(plain, input);
        float largest = 0.0f;
        for (std::size_t at = 0; at < actual.size(); ++at)
          largest = std::max(largest, std::abs(actual[at] - unmapped[at]));
        EXPECT_GT(largest, 1e-2f) << what;
      }
    }
  }
}

TEST(LevelMaps, InvalidMapsAreNamed) {
  Model model = planned_model("ds_cnn_s");
  add_random_maps(model, {0}, 14);
  const auto message = [](const Model& variant) {
    const std::optional<Error> error = validate(variant);
    return error ? error->message : std::string();
  };
  Model fewer_levels = model;
  fewer_levels.plan->level_maps.pop_back();
  EXPECT_NE(message(fewer_levels).find("per-level statistics for 2 of its 3 levels"), std::string::npos)
      << message(fewer_levels);
  const auto unit = static_cast<std::size_t>(
      std::find_if(model.layers.begin(), model.layers.end(),
                   [](const Layer& layer) { return detail::is_unit_layer(layer.kind); }) -
      model.layers.begin());
  Model short_map = model;
  short_map.plan->level_maps[0][unit].bias.pop_back();
  EXPECT_NE(message(short_map).find("layer '" + model.layers[unit].name + "'"), std::string::npos)
      << message(short_map);
  Model not_finite = model;
  not_finite.plan->level_maps[0][unit].scale[0] = std::numeric_limits<float>::infinity();
  EXPECT_NE(message(not_finite).find("not finite"), std::string::npos) << message(not_finite);
  Model not_unit = model;
  not_unit.plan->level_maps[0][unit + 1] = model.plan->level_maps[0][unit];
  EXPECT_NE(message(not_unit).find("not a unit layer"), std::string::npos) << message(not_unit);
}

}  // namespace
}  // namespace reds::engine
