// The kernels against ONNX's golden vectors (Debian's libonnx-testdata): the weights and inputs of each
// case, converted from NCHW / OIHW to the engine's NHWC / Keras layout, run through the kernel, and every
// output compared with the case's expected output, batch item by batch item.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "kernels.h"
#include "models/test_data.h"
#include "onnx_testdata.h"

namespace reds::engine {
namespace {

using testing::OnnxModel;
using testing::OnnxNode;
using testing::OnnxTensor;

struct Case {
  OnnxModel model;
  OnnxNode node;
  std::vector<OnnxTensor> inputs;  // input_0.pb, input_1.pb, ...
  OnnxTensor expected;
};

Case read_case(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(testing::kOnnxTestData) / name;
  Case test;
  test.model = testing::read_onnx_model((dir / "model.onnx").string());
  test.node = test.model.nodes.back();
  for (int index = 0;
       std::filesystem::exists(dir / "test_data_set_0" / ("input_" + std::to_string(index) + ".pb")); ++index)
    test.inputs.push_back(testing::read_onnx_tensor(
        (dir / "test_data_set_0" / ("input_" + std::to_string(index) + ".pb")).string()));
  test.expected = testing::read_onnx_tensor((dir / "test_data_set_0" / "output_0.pb").string());
  return test;
}

// The node's n-th input: an initializer of the model or the n-th test input.
const OnnxTensor& node_input(const Case& test, std::size_t n) {
  const auto initializer = test.model.initializers.find(test.node.inputs.at(n));
  if (initializer != test.model.initializers.end()) return initializer->second;
  return test.inputs.at(n);
}

std::int64_t attribute(const OnnxNode& node, const std::string& name, std::size_t index,
                       std::int64_t fallback) {
  const auto found = node.ints.find(name);
  return found == node.ints.end() || found->second.size() <= index ? fallback : found->second[index];
}

// Image `item` of an NCHW tensor as NHWC.
std::vector<float> to_nhwc(const OnnxTensor& tensor, std::int64_t item) {
  const std::int64_t channels = tensor.dims[1], height = tensor.dims[2], width = tensor.dims[3];
  std::vector<float> nhwc(static_cast<std::size_t>(channels * height * width));
  const float* image = tensor.values.data() + item * channels * height * width;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t y = 0; y < height; ++y)
      for (std::int64_t x = 0; x < width; ++x)
        nhwc[static_cast<std::size_t>((y * width + x) * channels + c)] = image[(c * height + y) * width + x];
  return nhwc;
}

// The kernels may read up to kernels::kReadPadding floats past the weights, biases and input pixels they use.
std::vector<float> padded(std::vector<float> values) {
  if (!values.empty()) values.resize(values.size() + static_cast<std::size_t>(kernels::kReadPadding), 0.0f);
  return values;
}

// Largest |actual - expected| / (1 + |expected|); tests require <= 1e-5.
double max_error(const std::vector<float>& actual, const std::vector<float>& expected) {
  EXPECT_EQ(actual.size(), expected.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(actual.size(), expected.size()); ++i)
    worst = std::max(worst,
                     std::abs(static_cast<double>(actual[i]) - expected[i]) / (1.0 + std::abs(expected[i])));
  return worst;
}

constexpr double kTolerance = 1e-5;

void report(const std::string& name, double error) {
  std::cout << "  " << name << ": max error " << error << '\n';
  EXPECT_LE(error, kTolerance) << name;
}

// The window of an ONNX Conv or AveragePool node: explicit pads, or auto_pad SAME_UPPER (Keras' 'same':
// the odd pixel of padding at the end) or SAME_LOWER (at the start), else no padding.
kernels::Window window_of(const OnnxNode& node, const OnnxTensor& input, const OnnxTensor& expected,
                          std::int64_t kernel_height, std::int64_t kernel_width) {
  kernels::Window window;
  window.in_height = input.dims[2];
  window.in_width = input.dims[3];
  window.out_height = expected.dims[2];
  window.out_width = expected.dims[3];
  window.kernel_height = kernel_height;
  window.kernel_width = kernel_width;
  window.stride_height = attribute(node, "strides", 0, 1);
  window.stride_width = attribute(node, "strides", 1, 1);
  window.dilation_height = attribute(node, "dilations", 0, 1);
  window.dilation_width = attribute(node, "dilations", 1, 1);
  window.pad_top = attribute(node, "pads", 0, 0);
  window.pad_left = attribute(node, "pads", 1, 0);
  const auto auto_pad = node.strings.find("auto_pad");
  if (auto_pad == node.strings.end() ||
      (auto_pad->second != "SAME_UPPER" && auto_pad->second != "SAME_LOWER"))
    return window;
  const kernels::AxisGeometry rows = kernels::axis_geometry(
      window.in_height, kernel_height, window.stride_height, window.dilation_height, Padding::same);
  const kernels::AxisGeometry columns = kernels::axis_geometry(
      window.in_width, kernel_width, window.stride_width, window.dilation_width, Padding::same);
  EXPECT_EQ(rows.out, window.out_height);
  EXPECT_EQ(columns.out, window.out_width);
  window.pad_top = rows.pad_before;
  window.pad_left = columns.pad_before;
  if (auto_pad->second == "SAME_LOWER") {
    const auto lower = [](std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                          std::int64_t dilation) {
      const std::int64_t total =
          std::max<std::int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
      return total - total / 2;
    };
    window.pad_top = lower(window.in_height, window.out_height, kernel_height, window.stride_height,
                           window.dilation_height);
    window.pad_left =
        lower(window.in_width, window.out_width, kernel_width, window.stride_width, window.dilation_width);
  }
  return window;
}

// --- Convolution --------------------------------------------------------------------------------------

class ConvolutionGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(ConvolutionGolden, MatchesOnnx) {
  const Case test = read_case(GetParam());
  ASSERT_EQ(test.node.op_type, "Conv");
  const OnnxTensor& input = test.inputs.at(0);
  const OnnxTensor& filters = node_input(test, 1);  // [out][in / groups][kh][kw]
  const std::int64_t groups = attribute(test.node, "group", 0, 1);
  const std::int64_t outputs = filters.dims[0], per_group = filters.dims[1];
  const std::int64_t kernel_height = filters.dims[2], kernel_width = filters.dims[3];
  std::vector<float> bias;
  if (test.node.inputs.size() > 2) bias = padded(node_input(test, 2).values);

  // Keras layout: [kh][kw][in / groups][out].
  std::vector<float> kernel(filters.values.size());
  for (std::int64_t o = 0; o < outputs; ++o)
    for (std::int64_t i = 0; i < per_group; ++i)
      for (std::int64_t y = 0; y < kernel_height; ++y)
        for (std::int64_t x = 0; x < kernel_width; ++x)
          kernel[static_cast<std::size_t>(((y * kernel_width + x) * per_group + i) * outputs + o)] =
              filters.values[static_cast<std::size_t>(
                  ((o * per_group + i) * kernel_height + y) * kernel_width + x)];
  kernel = padded(kernel);

  const kernels::Window window = window_of(test.node, input, test.expected, kernel_height, kernel_width);
  const std::int64_t in_channels = input.dims[1];
  const std::int64_t pixels = window.out_height * window.out_width;
  double worst = 0.0, worst_depthwise = 0.0, worst_prefix = 0.0;
  for (std::int64_t item = 0; item < input.dims[0]; ++item) {
    const std::vector<float> image = padded(to_nhwc(input, item));
    const std::vector<float> expected = to_nhwc(test.expected, item);
    std::vector<float> output(expected.size(), NAN);
    kernels::conv2d(window, {image.data(), in_channels, in_channels}, {kernel.data(), outputs, per_group},
                    bias.empty() ? nullptr : bias.data(), groups, nullptr, {output.data(), outputs, outputs});
    worst = std::max(worst, max_error(output, expected));

    if (groups == in_channels && outputs == in_channels) {
      // A depthwise convolution: the dedicated kernel reads weights [kh][kw][channels] (per_group is 1).
      std::vector<float> depthwise(expected.size(), NAN);
      kernels::depthwise_conv2d(window, {image.data(), in_channels, in_channels}, kernel.data(), outputs,
                                bias.empty() ? nullptr : bias.data(), nullptr,
                                {depthwise.data(), outputs, outputs});
      worst_depthwise = std::max(worst_depthwise, max_error(depthwise, expected));
    }
    if (groups == 1 && outputs > 1) {
      // A prefix of the filters (a narrowed level): the first outputs - 1 channels of the same results.
      const std::int64_t kept = outputs - 1;
      std::vector<float> narrowed(static_cast<std::size_t>(pixels * kept), NAN), expected_prefix;
      kernels::conv2d(window, {image.data(), in_channels, in_channels}, {kernel.data(), outputs, per_group},
                      bias.empty() ? nullptr : bias.data(), 1, nullptr, {narrowed.data(), kept, kept});
      for (std::int64_t pixel = 0; pixel < pixels; ++pixel)
        for (std::int64_t o = 0; o < kept; ++o)
          expected_prefix.push_back(expected[static_cast<std::size_t>(pixel * outputs + o)]);
      worst_prefix = std::max(worst_prefix, max_error(narrowed, expected_prefix));
    }
  }
  report(std::string(GetParam()) + " conv2d", worst);
  if (groups == in_channels && outputs == in_channels)
    report(std::string(GetParam()) + " depthwise_conv2d", worst_depthwise);
  if (groups == 1 && outputs > 1) report(std::string(GetParam()) + " conv2d, filter prefix", worst_prefix);
}

INSTANTIATE_TEST_SUITE_P(
    LibOnnxTestdata, ConvolutionGolden,
    ::testing::Values("pytorch-converted/test_Conv2d", "pytorch-converted/test_Conv2d_depthwise",
                      "pytorch-converted/test_Conv2d_depthwise_padded",
                      "pytorch-converted/test_Conv2d_depthwise_strided",
                      "pytorch-converted/test_Conv2d_depthwise_with_multiplier",
                      "pytorch-converted/test_Conv2d_dilated", "pytorch-converted/test_Conv2d_groups",
                      "pytorch-converted/test_Conv2d_groups_thnn", "pytorch-converted/test_Conv2d_no_bias",
                      "pytorch-converted/test_Conv2d_padding", "pytorch-converted/test_Conv2d_strided",
                      "node/test_basic_conv_with_padding", "node/test_basic_conv_without_padding",
                      "node/test_conv_with_autopad_same",
                      "node/test_conv_with_strides_and_asymmetric_padding",
                      "node/test_conv_with_strides_no_padding", "node/test_conv_with_strides_padding"));

// --- Dense (Gemm, MatMul) -----------------------------------------------------------------------------

class DenseGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(DenseGolden, MatchesOnnx) {
  const Case test = read_case(GetParam());
  const OnnxTensor& input = test.inputs.at(0);  // [batch][in]
  const std::int64_t batch = input.dims[0], in_features = input.dims[1];
  const OnnxNode& product = test.model.nodes.back();
  // test_Linear_no_bias is Transpose(W) then MatMul; Gemm has transB for PyTorch's [out][in] weights.
  const bool transposed = test.model.nodes.size() == 2 || attribute(product, "transB", 0, 0) == 1;
  const OnnxTensor& weights =
      test.model.nodes.size() == 2 ? test.model.initializers.begin()->second : node_input(test, 1);
  const std::int64_t out_features = transposed ? weights.dims[0] : weights.dims[1];
  ASSERT_EQ(transposed ? weights.dims[1] : weights.dims[0], in_features);
  std::vector<float> kernel(static_cast<std::size_t>(in_features * out_features));  // [in][out]
  for (std::int64_t i = 0; i < in_features; ++i)
    for (std::int64_t o = 0; o < out_features; ++o)
      kernel[static_cast<std::size_t>(i * out_features + o)] =
          weights.values[static_cast<std::size_t>(transposed ? o * in_features + i : i * out_features + o)];
  std::vector<float> bias;
  if (product.op_type == "Gemm" && product.inputs.size() > 2) {
    const OnnxTensor& c = node_input(test, 2);
    bias = c.values.size() == 1 ? std::vector<float>(static_cast<std::size_t>(out_features), c.values[0])
                                : c.values;
    ASSERT_EQ(static_cast<std::int64_t>(bias.size()), out_features);
    bias = padded(bias);
  }
  kernel = padded(kernel);

  std::vector<float> output(test.expected.values.size(), NAN);
  for (std::int64_t item = 0; item < batch; ++item)
    kernels::dense({input.values.data() + item * in_features, 1, in_features, in_features}, kernel.data(),
                   out_features, bias.empty() ? nullptr : bias.data(), out_features, nullptr,
                   output.data() + item * out_features);
  report(GetParam(), max_error(output, test.expected.values));
}

INSTANTIATE_TEST_SUITE_P(
    LibOnnxTestdata, DenseGolden,
    ::testing::Values("pytorch-converted/test_Linear", "pytorch-converted/test_Linear_no_bias",
                      "node/test_gemm_default_no_bias", "node/test_gemm_default_vector_bias",
                      "node/test_gemm_default_zero_bias", "node/test_gemm_default_scalar_bias",
                      "node/test_gemm_default_single_elem_vector_bias"));

// --- Pools --------------------------------------------------------------------------------------------

class AveragePoolGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(AveragePoolGolden, MatchesOnnx) {
  const Case test = read_case(GetParam());
  const OnnxTensor& input = test.inputs.at(0);
  const kernels::Window window =
      window_of(test.node, input, test.expected, attribute(test.node, "kernel_shape", 0, 1),
                attribute(test.node, "kernel_shape", 1, 1));
  const std::int64_t channels = input.dims[1];
  double worst = 0.0;
  for (std::int64_t item = 0; item < input.dims[0]; ++item) {
    const std::vector<float> image = padded(to_nhwc(input, item));
    const std::vector<float> expected = to_nhwc(test.expected, item);
    std::vector<float> output(expected.size(), NAN);
    kernels::average_pool2d(window, {image.data(), channels, channels}, {output.data(), channels, channels});
    worst = std::max(worst, max_error(output, expected));
  }
  report(GetParam(), worst);
}

INSTANTIATE_TEST_SUITE_P(
    LibOnnxTestdata, AveragePoolGolden,
    ::testing::Values("pytorch-converted/test_AvgPool2d", "pytorch-converted/test_AvgPool2d_stride",
                      "node/test_averagepool_2d_default", "node/test_averagepool_2d_strides",
                      "node/test_averagepool_2d_pads", "node/test_averagepool_2d_precomputed_pads",
                      "node/test_averagepool_2d_precomputed_strides",
                      "node/test_averagepool_2d_precomputed_same_upper",
                      "node/test_averagepool_2d_same_upper", "node/test_averagepool_2d_same_lower"));

class GlobalAveragePoolGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(GlobalAveragePoolGolden, MatchesOnnx) {
  const Case test = read_case(GetParam());
  const OnnxTensor& input = test.inputs.at(0);
  const std::int64_t channels = input.dims[1], pixels = input.dims[2] * input.dims[3];
  std::vector<float> output(test.expected.values.size(), NAN);
  for (std::int64_t item = 0; item < input.dims[0]; ++item) {
    const std::vector<float> image = padded(to_nhwc(input, item));
    kernels::global_average_pool2d({image.data(), channels, channels}, pixels,
                                   output.data() + item * channels);
  }
  report(GetParam(), max_error(output, test.expected.values));
}

INSTANTIATE_TEST_SUITE_P(LibOnnxTestdata, GlobalAveragePoolGolden,
                         ::testing::Values("node/test_globalaveragepool",
                                           "node/test_globalaveragepool_precomputed"));

// --- Elementwise: ReLU, LeakyReLU, Softmax over the last axis -----------------------------------------

class ActivationGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(ActivationGolden, MatchesOnnx) {
  const Case test = read_case(GetParam());
  std::vector<float> values = test.inputs.at(0).values;
  const std::int64_t count = static_cast<std::int64_t>(values.size());
  if (test.node.op_type == "Softmax") {
    const std::int64_t axis = attribute(test.node, "axis", 0, -1);
    const auto rank = static_cast<std::int64_t>(test.inputs[0].dims.size());
    ASSERT_TRUE(axis == -1 || axis == rank - 1) << "only the last axis";
    const std::int64_t channels = test.inputs[0].dims.back();
    kernels::softmax(values.data(), count / channels, channels);
  } else {
    ASSERT_TRUE(test.node.op_type == "Relu" || test.node.op_type == "LeakyRelu") << test.node.op_type;
    Rectifier rectifier;
    if (test.node.op_type == "LeakyRelu") {
      const auto alpha = test.node.floats.find("alpha");
      rectifier.negative_slope = alpha == test.node.floats.end() ? 0.01f : alpha->second;  // ONNX's default
    }
    kernels::rectify(rectifier, values.data(), count);
  }
  report(GetParam(), max_error(values, test.expected.values));
}

INSTANTIATE_TEST_SUITE_P(LibOnnxTestdata, ActivationGolden,
                         ::testing::Values("pytorch-converted/test_ReLU", "pytorch-converted/test_LeakyReLU",
                                           "pytorch-converted/test_LeakyReLU_with_negval", "node/test_relu",
                                           "node/test_leakyrelu", "node/test_leakyrelu_default",
                                           "node/test_leakyrelu_example", "pytorch-converted/test_Softmax",
                                           "node/test_softmax_axis_2", "node/test_softmax_negative_axis",
                                           "node/test_softmax_default_axis",
                                           "node/test_softmax_large_number"));

}  // namespace
}  // namespace reds::engine
