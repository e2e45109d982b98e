// Small models with random weights for the training tests, built layer by layer like a Keras Sequential, or
// as a graph: from() makes the next layer read an earlier tensor, sum() adds tensors (a residual
// connection).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "reds/engine/model.h"
#include "reds/splitmix64.h"
#include "reds/training/training.h"
#include "support/engine/models.h"

namespace reds::engine::testing {

// reds/splitmix64.h's numbers (the same on every platform), with floats drawn in bulk.
class TestRandom : public SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  std::vector<float> floats(std::size_t count, double low, double high) {
    std::vector<float> values(count);
    for (float& value : values) value = static_cast<float>(uniform(low, high));
    return values;
  }
};

class ModelBuilder {
 public:
  ModelBuilder(Shape input, std::uint64_t seed) : random_(seed) {
    model_.name = "test";
    model_.input = input;
  }

  ModelBuilder& conv(const std::string& name, std::int64_t units, std::int64_t kernel_height,
                     std::int64_t kernel_width, std::int64_t stride = 1, Padding padding = Padding::same,
                     std::int64_t dilation = 1, bool bias = true) {
    Layer layer =
        window_layer(name, LayerKind::conv2d, kernel_height, kernel_width, stride, padding, dilation);
    layer.units = units;
    const std::int64_t fan_in = kernel_height * kernel_width * shape().channels;
    layer.kernel = weights(fan_in * units, fan_in);
    if (bias) layer.bias = random_.floats(static_cast<std::size_t>(units), -0.1, 0.1);
    return add(std::move(layer));
  }

  ModelBuilder& depthwise(const std::string& name, std::int64_t kernel_height, std::int64_t kernel_width,
                          std::int64_t multiplier = 1, std::int64_t stride = 1,
                          Padding padding = Padding::same, std::int64_t dilation = 1) {
    Layer layer = window_layer(name, LayerKind::depthwise_conv2d, kernel_height, kernel_width, stride,
                               padding, dilation);
    layer.depth_multiplier = multiplier;
    const std::int64_t outputs = shape().channels * multiplier;
    layer.kernel = weights(kernel_height * kernel_width * outputs, kernel_height * kernel_width);
    layer.bias = random_.floats(static_cast<std::size_t>(outputs), -0.1, 0.1);
    return add(std::move(layer));
  }

  ModelBuilder& dense(const std::string& name, std::int64_t units, bool bias = true) {
    Layer layer = reds::test::named_layer(name, LayerKind::dense);
    layer.units = units;
    layer.kernel = weights(shape().channels * units, shape().channels);
    if (bias) layer.bias = random_.floats(static_cast<std::size_t>(units), -0.1, 0.1);
    return add(std::move(layer));
  }

  ModelBuilder& rectifier(const std::string& name, Rectifier rectifier = {}) {
    Layer layer = reds::test::named_layer(name, LayerKind::rectifier);
    layer.rectifier = rectifier;
    return add(std::move(layer));
  }

  ModelBuilder& average_pool(const std::string& name, std::int64_t height, std::int64_t width,
                             std::int64_t stride, Padding padding = Padding::valid) {
    return add(window_layer(name, LayerKind::average_pool2d, height, width, stride, padding, 1));
  }

  ModelBuilder& zero_padding(const std::string& name, std::int64_t top, std::int64_t bottom,
                             std::int64_t left, std::int64_t right) {
    Layer layer = reds::test::named_layer(name, LayerKind::zero_padding2d);
    layer.pad_top = top;
    layer.pad_bottom = bottom;
    layer.pad_left = left;
    layer.pad_right = right;
    return add(std::move(layer));
  }

  // An Add of the given tensors (Layer::inputs numbering).
  ModelBuilder& sum(const std::string& name, std::vector<std::size_t> tensors) {
    reads_ = tensor();
    return add(reds::test::named_layer(name, LayerKind::add, std::move(tensors)));
  }

  // The next layer reads tensor `tensor` instead of the last layer's output.
  ModelBuilder& from(std::size_t tensor) {
    reads_ = tensor;
    return *this;
  }

  // The last layer's output, as a tensor number.
  std::size_t tensor() const { return model_.layers.size(); }

  ModelBuilder& plain(const std::string& name, LayerKind kind) {
    return add(reds::test::named_layer(name, kind));
  }

  const Model& model() const { return model_; }

  // The shape of the map the next layer reads.
  Shape shape() const {
    if (reads_ == 0) return model_.input;
    const Result<std::vector<Shape>> shapes = layer_shapes(model_);
    EXPECT_TRUE(shapes) << shapes.error().message;
    return shapes ? (*shapes)[reads_ - 1] : Shape{};
  }

  TestRandom& random() { return random_; }

 private:
  Layer window_layer(const std::string& name, LayerKind kind, std::int64_t kernel_height,
                     std::int64_t kernel_width, std::int64_t stride, Padding padding, std::int64_t dilation) {
    Layer layer = reds::test::named_layer(name, kind);
    layer.kernel_height = kernel_height;
    layer.kernel_width = kernel_width;
    layer.stride_height = layer.stride_width = stride;
    layer.padding = padding;
    if (kind != LayerKind::average_pool2d) layer.dilation_height = layer.dilation_width = dilation;
    return layer;
  }

  std::vector<float> weights(std::int64_t count, std::int64_t fan_in) {
    const double limit = std::sqrt(3.0 / static_cast<double>(fan_in));
    return random_.floats(static_cast<std::size_t>(count), -limit, limit);
  }

  ModelBuilder& add(Layer layer) {
    if (layer.inputs.empty() && reads_ != tensor()) layer.inputs = {reads_};
    model_.layers.push_back(std::move(layer));
    reads_ = tensor();
    const Result<std::vector<Shape>> shapes = layer_shapes(model_);
    EXPECT_TRUE(shapes) << shapes.error().message;
    return *this;
  }

  Model model_;
  TestRandom random_;
  std::size_t reads_ = 0;  // the tensor the next layer reads
};

// Batch normalization parameters of `channels` channels, away from the degenerate (variance near 0).
inline training::BatchNormalization random_batch_norm(TestRandom& random, std::int64_t channels) {
  const std::size_t size = static_cast<std::size_t>(channels);
  training::BatchNormalization batch_norm;
  batch_norm.gamma = random.floats(size, 0.5, 1.5);
  batch_norm.beta = random.floats(size, -0.2, 0.2);
  batch_norm.moving_mean = random.floats(size, -0.2, 0.2);
  batch_norm.moving_variance = random.floats(size, 0.5, 1.5);
  return batch_norm;
}

struct TestBatch {
  std::int64_t count = 0;
  std::vector<double> images;
  std::vector<std::int64_t> labels;
};

inline TestBatch random_batch(TestRandom& random, const Shape& input, std::int64_t classes,
                              std::int64_t count) {
  TestBatch batch;
  batch.count = count;
  for (std::int64_t at = 0; at < count * input.size(); ++at)
    batch.images.push_back(random.uniform(-1.0, 1.0));
  for (std::int64_t image = 0; image < count; ++image)
    batch.labels.push_back(static_cast<std::int64_t>(random.next() % static_cast<std::uint64_t>(classes)));
  return batch;
}

}  // namespace reds::engine::testing
