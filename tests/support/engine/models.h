// tests/support/engine/models.h: the models, inputs and comparisons the engine's and training's tests share:
// models loaded (or generated) with a failed expectation instead of an error, layers built by hand, random
// inputs of a model's shape, and outputs compared to a relative tolerance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "reds/engine/dataset.h"
#include "reds/engine/model.h"
#include "reds/engine/session.h"

namespace reds::test {

// A model of MLPerf Tiny's (tests/data/mlperf-tiny), such as "pretrainedResnet.h5".
std::string mlperf_model(const std::string& file);

// MLPerf Tiny's ResNet-8 in groups of layers that keep one order and one width (testing::random_group_plan):
// its streams, read off the Keras graph (add <- activation, conv2d_2; add_1 <- conv2d_5, conv2d_4;
// add_2 <- conv2d_8, conv2d_7), and the blocks' inner layers. The classifier keeps its width.
extern const std::vector<std::vector<std::string>> kResnet8Groups;

// The model of a file (load_model) or of a bundled architecture (random_model); an empty model, and a failed
// expectation naming the error, when there is none.
engine::Model load_or_fail(const std::string& path);
engine::Model random_or_fail(const std::string& name, std::uint64_t seed = 7);

// The first Fashion-MNIST test images (testing::kFashionMnistDir), loaded once.
const engine::ImageSet& fashion_mnist_test_images();

// A layer of `kind` named `name` reading `inputs` (tensor numbers; none: the layer before), every other
// field at its default.
engine::Layer named_layer(const std::string& name, engine::LayerKind kind,
                          std::vector<std::size_t> inputs = {});

// What random_inputs() draws every input value from.
enum class InputValues {
  unit_pixels,  // uniform in [0, 1)
  signed_unit,  // uniform in [-1, 1)
  raw_pixels,   // integers 0..255, as a camera gives them
};

// `count` inputs of the model's shape, the same for every call.
std::vector<std::vector<float>> random_inputs(const engine::Model& model, int count, InputValues values);

// One run of the session, copied out of its output buffer.
std::vector<float> outputs_of(engine::Session& session, const std::vector<float>& input);

// Outputs equal to `tolerance` (1e-5 by default), relative to the larger of 1 and the expected value.
void expect_close(const std::vector<float>& actual, const std::vector<float>& expected,
                  const std::string& what, float tolerance = 1e-5f);

}  // namespace reds::test
