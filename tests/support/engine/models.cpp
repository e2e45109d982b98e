#include "support/engine/models.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <utility>

#include "models/test_data.h"
#include "reds/engine/architectures.h"
#include "support/source_tree.h"

namespace reds::test {

std::string mlperf_model(const std::string& file) {
  return source_path("tests/data/mlperf-tiny/" + file).string();
}

const std::vector<std::vector<std::string>> kResnet8Groups = {{"conv2d", "conv2d_2"},
                                                              {"conv2d_4", "conv2d_5"},
                                                              {"conv2d_7", "conv2d_8"},
                                                              {"conv2d_1"},
                                                              {"conv2d_3"},
                                                              {"conv2d_6"}};

engine::Model load_or_fail(const std::string& path) {
  Result<engine::Model> model = engine::load_model(path);
  EXPECT_TRUE(model) << model.error().message;
  return model ? std::move(model).value() : engine::Model{};
}

engine::Model random_or_fail(const std::string& name, std::uint64_t seed) {
  Result<engine::Model> model = engine::random_model(name, seed);
  EXPECT_TRUE(model) << model.error().message;
  return model ? std::move(model).value() : engine::Model{};
}

const engine::ImageSet& fashion_mnist_test_images() {
  static const engine::ImageSet images = [] {
    Result<engine::ImageSet> loaded = engine::load_test_set(engine::testing::kFashionMnistDir);
    EXPECT_TRUE(loaded) << loaded.error().message;
    return loaded ? std::move(loaded).value() : engine::ImageSet{};
  }();
  return images;
}

engine::Layer named_layer(const std::string& name, engine::LayerKind kind, std::vector<std::size_t> inputs) {
  engine::Layer layer;
  layer.name = name;
  layer.kind = kind;
  layer.inputs = std::move(inputs);
  return layer;
}

std::vector<std::vector<float>> random_inputs(const engine::Model& model, int count, InputValues values) {
  std::mt19937 generator(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> unit(values == InputValues::signed_unit ? -1.0f : 0.0f, 1.0f);
  std::vector<std::vector<float>> inputs(static_cast<std::size_t>(count));
  for (std::vector<float>& input : inputs) {
    input.resize(static_cast<std::size_t>(model.input.size()));
    for (float& value : input)
      value = values == InputValues::raw_pixels ? static_cast<float>(byte(generator)) : unit(generator);
  }
  return inputs;
}

std::vector<float> outputs_of(engine::Session& session, const std::vector<float>& input) {
  const std::span<const float> output = session.run(input);
  return {output.begin(), output.end()};
}

void expect_close(const std::vector<float>& actual, const std::vector<float>& expected,
                  const std::string& what, float tolerance) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], tolerance * std::max(1.0f, std::abs(expected[i])))
        << what << " output " << i;
}

}  // namespace reds::test
