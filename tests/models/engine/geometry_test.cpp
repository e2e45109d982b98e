// Window arithmetic and small networks worked out by hand.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "kernels.h"
#include "reds/engine/session.h"
#include "support/engine/models.h"

namespace reds::engine {
namespace {

using kernels::axis_geometry;
using kernels::AxisGeometry;
using test::named_layer;

bool operator==(const AxisGeometry& a, const AxisGeometry& b) {
  return a.out == b.out && a.pad_before == b.pad_before;
}

TEST(Geometry, KerasSamePaddingPutsTheOddPixelAtTheEnd) {
  // TensorFlow: out = ceil(in / stride), total = max((out - 1) * stride + kernel - in, 0), before = total
  // / 2.
  EXPECT_TRUE(
      (axis_geometry(28, 3, 2, 1, Padding::same) == AxisGeometry{14, 0}));  // total 1: all of it after
  EXPECT_TRUE((axis_geometry(4, 3, 2, 1, Padding::same) == AxisGeometry{2, 0}));
  EXPECT_TRUE((axis_geometry(5, 3, 2, 1, Padding::same) == AxisGeometry{3, 1}));  // total 2: one each side
  EXPECT_TRUE((axis_geometry(14, 3, 1, 1, Padding::same) == AxisGeometry{14, 1}));
  EXPECT_TRUE(
      (axis_geometry(7, 4, 1, 1, Padding::same) == AxisGeometry{7, 1}));  // total 3: 1 before, 2 after
  EXPECT_TRUE((axis_geometry(8, 3, 1, 2, Padding::same) == AxisGeometry{8, 2}));  // dilated kernel spans 5
}

TEST(Geometry, ValidPaddingFitsWholeWindows) {
  EXPECT_TRUE((axis_geometry(14, 13, 1, 1, Padding::valid) == AxisGeometry{2, 0}));
  EXPECT_TRUE((axis_geometry(7, 3, 2, 1, Padding::valid) == AxisGeometry{3, 0}));
  EXPECT_TRUE((axis_geometry(8, 3, 2, 2, Padding::valid) == AxisGeometry{2, 0}));
  EXPECT_EQ(axis_geometry(2, 3, 1, 1, Padding::valid).out, 0);  // does not fit
}

Layer conv_layer(std::int64_t kernel, std::int64_t stride, Padding padding, std::int64_t units,
                 std::vector<float> weights) {
  Layer layer = named_layer("conv", LayerKind::conv2d);
  layer.kernel_height = layer.kernel_width = kernel;
  layer.stride_height = layer.stride_width = stride;
  layer.padding = padding;
  layer.units = units;
  layer.kernel = std::move(weights);
  return layer;
}

TEST(Geometry, StrideTwoSameConvolutionByHand) {
  // Input 4x4 holding 1..16 row by row; a 3x3 kernel of ones, stride 2, 'same': output 2x2, no padding
  // before, one row and column after. Each output sums the window's pixels that lie inside the input.
  Model model;
  model.name = "by_hand";
  model.input = Shape{4, 4, 1, false};
  model.layers.push_back(conv_layer(3, 2, Padding::same, 1, std::vector<float>(9, 1.0f)));
  Result<Session> session = Session::create(model);
  ASSERT_TRUE(session) << session.error().message;
  std::vector<float> image(16);
  std::iota(image.begin(), image.end(), 1.0f);
  const std::span<const float> output = session.value().run(image);
  const std::vector<float> expected = {1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 3 + 4 + 7 + 8 + 11 + 12,
                                       9 + 10 + 11 + 13 + 14 + 15, 11 + 12 + 15 + 16};
  EXPECT_EQ(std::vector<float>(output.begin(), output.end()), expected);
}

TEST(Geometry, DepthMultiplierAndRectifiersByHand) {
  // 1x1 input with channels (2, -3); a 1x1 depthwise kernel with multiplier 2, weights
  // [[1, -1], [2, 0.5]] and biases (0, 0, 1, 0): (2, -2, -6 + 1, -1.5); then ReLU6 with slope 0.1 below 0:
  // (2, -0.2, -0.5, -0.15); then Flatten and a Dense summing them: 1.15.
  Model model;
  model.name = "by_hand";
  model.input = Shape{1, 1, 2, false};
  Layer depthwise = named_layer("depthwise", LayerKind::depthwise_conv2d);
  depthwise.depth_multiplier = 2;
  depthwise.kernel = {1.0f, -1.0f, 2.0f, 0.5f};
  depthwise.bias = {0.0f, 0.0f, 1.0f, 0.0f};
  Layer relu = named_layer("relu", LayerKind::rectifier);
  relu.rectifier = Rectifier{0.1f, 0.0f, 6.0f};
  Layer dense = named_layer("dense", LayerKind::dense);
  dense.units = 1;
  dense.kernel = {1.0f, 1.0f, 1.0f, 1.0f};
  model.layers = {depthwise, relu, named_layer("flatten", LayerKind::flatten), dense};
  Result<Session> session = Session::create(model);
  ASSERT_TRUE(session) << session.error().message;
  const std::vector<float> image = {2.0f, -3.0f};
  EXPECT_NEAR(session.value().run(image)[0], 2.0f - 0.2f - 0.5f - 0.15f, 1e-6);
  const std::vector<float> large = {10.0f, 0.0f};  // (10, -10, 1, 0) -> (6, -1, 1, 0): ReLU6 caps at 6
  EXPECT_NEAR(session.value().run(large)[0], 6.0f, 1e-6);
}

TEST(Geometry, InvalidModelsNameTheLayer) {
  Model model;
  model.name = "bad";
  model.input = Shape{4, 4, 1, false};
  model.layers.push_back(conv_layer(5, 1, Padding::valid, 1, std::vector<float>(25, 1.0f)));
  Result<Session> session = Session::create(model);
  ASSERT_FALSE(session);
  EXPECT_EQ(session.error().message, "layer 'conv' (Conv2D): its 5x5 window does not fit its 4x4 input");
  model.layers.front() = conv_layer(3, 1, Padding::valid, 2, std::vector<float>(9, 1.0f));
  EXPECT_EQ(Session::create(model).error().message,
            "layer 'conv' (Conv2D): has 9 kernel weights, expected 18");
  Layer dense = named_layer("dense", LayerKind::dense);
  dense.units = 1;
  dense.kernel = std::vector<float>(16, 1.0f);
  model.layers = {dense};
  EXPECT_NE(Session::create(model).error().message.find("layer 'dense' (Dense): needs a flat input"),
            std::string::npos);
}

}  // namespace
}  // namespace reds::engine
