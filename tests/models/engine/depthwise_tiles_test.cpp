// The depthwise kernels at every border: maps narrower and shorter than the window (1 and 2 pixels), odd
// widths and heights (rows in pairs and a last one alone, tiles of 3 and 4 pixels and their remainders),
// 'same' and 'valid' padding, strides 1 and 2 and different row and column strides, and the windows the
// generic kernels take (stride 3, dilation 2, 5x5); channel counts that are not a multiple of 8, maps whose
// pixels hold more channels than the layer uses, one column range or two, per-level statistics and every
// kind of rectifier. Every case is checked against a direct computation in double precision; where the AVX2
// kernel runs (depthwise_avx2.h) also bit for bit against its definition, the bias and then one fused
// multiply-add per tap inside the input, rows of taps ascending, columns ascending.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"
#include "reds/engine/model.h"
#include "support/engine/kernel_window.h"
#include "support/engine/reference.h"

namespace reds::engine {
namespace {

using kernels::ColumnRange;
using kernels::MapView;
using kernels::MutableMapView;
using kernels::SegmentedWeights;
using kernels::WeightSegment;
using kernels::Window;

constexpr float kUntouched = 1234.5f;  // what the output holds where the kernel must not write

struct Geometry {
  std::int64_t height, width, kernel, stride_height, stride_width, dilation;
  Padding padding;
};

Window window_for(const Geometry& geometry) {
  return test::kernel_window({geometry.height, geometry.width, geometry.kernel, geometry.kernel,
                              geometry.stride_height, geometry.stride_width, geometry.dilation,
                              geometry.padding});
}

// Whether depthwise_avx2.h's kernel computes this window on this processor.
bool avx2_kernel_runs(const Window& window) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && window.kernel_height == 3 &&
         window.kernel_width == 3 && window.dilation_height == 1 && window.dilation_width == 1 &&
         (window.stride_width == 1 || window.stride_width == 2);
#else
  (void)window;
  return false;
#endif
}

// One layer's inputs: weights [tap][channel] (Keras' depthwise layout with multiplier 1), maps of
// `stride` floats per pixel.
struct DepthwiseCase {
  Window window;
  std::int64_t channels = 0, in_stride = 0, out_stride = 0;
  std::vector<float> input, weights, bias, scale;
  Rectifier rectifier;
  bool rectify = false, mapped = false;
};

float weight(const DepthwiseCase& layer, std::int64_t tap, std::int64_t channel) {
  return layer.weights[static_cast<std::size_t>(tap * layer.channels + channel)];
}
float input_at(const DepthwiseCase& layer, std::int64_t row, std::int64_t column, std::int64_t channel) {
  return layer
      .input[static_cast<std::size_t>((row * layer.window.in_width + column) * layer.in_stride + channel)];
}

// Calls f(tap, input row, input column) for every tap of output (y, x) inside the input, in the kernels'
// order.
template <class F>
void for_taps_inside(const Window& window, std::int64_t y, std::int64_t x, F f) {
  for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row)
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const std::int64_t row = y * window.stride_height - window.pad_top + tap_row * window.dilation_height;
      const std::int64_t column =
          x * window.stride_width - window.pad_left + tap_column * window.dilation_width;
      if (row < 0 || column < 0 || row >= window.in_height || column >= window.in_width) continue;
      f(tap_row * window.kernel_width + tap_column, row, column);
    }
}

double rectified(const DepthwiseCase& layer, double value) {
  return layer.rectify ? test::rectified(layer.rectifier, value) : value;
}

// Output (y, x, channel) in double precision.
double direct(const DepthwiseCase& layer, std::int64_t y, std::int64_t x, std::int64_t channel) {
  double sum = 0.0;
  for_taps_inside(layer.window, y, x, [&](std::int64_t tap, std::int64_t row, std::int64_t column) {
    sum += static_cast<double>(input_at(layer, row, column, channel)) * weight(layer, tap, channel);
  });
  const auto c = static_cast<std::size_t>(channel);
  return rectified(layer, layer.mapped ? layer.scale[c] * sum + layer.bias[c] : sum + layer.bias[c]);
}

// Output (y, x, channel) as the AVX2 kernel defines it, in float.
float fused(const DepthwiseCase& layer, std::int64_t y, std::int64_t x, std::int64_t channel) {
  const auto c = static_cast<std::size_t>(channel);
  float sum = layer.mapped ? 0.0f : layer.bias[c];
  for_taps_inside(layer.window, y, x, [&](std::int64_t tap, std::int64_t row, std::int64_t column) {
    sum = std::fma(input_at(layer, row, column, channel), weight(layer, tap, channel), sum);
  });
  if (layer.mapped) sum = std::fma(sum, layer.scale[c], layer.bias[c]);
  if (layer.rectify) kernels::rectify(layer.rectifier, &sum, 1);
  return sum;
}

// The weights of channels [first, end) in panels of 8 channels (taps x 8 each, zeros past `end`), as a
// session stores a level's depthwise kernel.
std::vector<float> panels(const DepthwiseCase& layer, std::int64_t first, std::int64_t end) {
  const std::int64_t taps = layer.window.kernel_height * layer.window.kernel_width;
  std::vector<float> values;
  for (std::int64_t block = first; block < end; block += 8)
    for (std::int64_t tap = 0; tap < taps; ++tap)
      for (std::int64_t channel = block; channel < block + 8; ++channel)
        values.push_back(channel < end ? weight(layer, tap, channel) : 0.0f);
  return values;
}

enum class Call { plain, one_range, two_ranges };

// The kernel's output map, every float of it (kUntouched where nothing is written).
std::vector<float> run(const DepthwiseCase& layer, Call call) {
  const Window& window = layer.window;
  const std::int64_t taps = window.kernel_height * window.kernel_width;
  std::vector<float> output(static_cast<std::size_t>(window.out_height * window.out_width * layer.out_stride +
                                                     kernels::kReadPadding),
                            kUntouched);
  const MapView in{layer.input.data(), layer.in_stride, layer.channels};
  const MutableMapView out{output.data(), layer.out_stride, layer.channels};
  const float* scale = layer.mapped ? layer.scale.data() : nullptr;
  const Rectifier* rectifier = layer.rectify ? &layer.rectifier : nullptr;
  if (call == Call::plain) {
    kernels::depthwise_conv2d(window, in, layer.weights.data(), layer.channels, layer.bias.data(), rectifier,
                              out, scale);
    return output;
  }
  // Two ranges: the first block, then the rest, each in panels of its own.
  const std::int64_t split = call == Call::two_ranges ? 8 : layer.channels;
  std::vector<float> first = panels(layer, 0, split), second = panels(layer, split, layer.channels);
  first.resize(first.size() + kernels::kReadPadding);
  second.resize(second.size() + kernels::kReadPadding);
  const WeightSegment segments[2] = {{first.data(), 0, 1, 0, 8, taps * 8},
                                     {second.data(), 0, 1, 0, 8, taps * 8}};
  const ColumnRange ranges[2] = {{0, split, &segments[0], 1}, {split, layer.channels, &segments[1], 1}};
  kernels::depthwise_conv2d_segmented(window, in, SegmentedWeights{ranges, call == Call::two_ranges ? 2 : 1},
                                      layer.bias.data(), rectifier, out, scale);
  return output;
}

const std::vector<Geometry> kGeometries = {
    {1, 1, 3, 1, 1, 1, Padding::same},   {1, 2, 3, 1, 1, 1, Padding::same},
    {2, 1, 3, 1, 1, 1, Padding::same},   {2, 2, 3, 1, 1, 1, Padding::same},
    {3, 3, 3, 1, 1, 1, Padding::same},   {2, 5, 3, 1, 1, 1, Padding::same},
    {5, 2, 3, 1, 1, 1, Padding::same},   {6, 6, 3, 1, 1, 1, Padding::same},
    {7, 5, 3, 1, 1, 1, Padding::same},   {13, 5, 3, 1, 1, 1, Padding::same},
    {5, 17, 3, 1, 1, 1, Padding::same},  {14, 14, 3, 1, 1, 1, Padding::same},
    {3, 7, 3, 1, 1, 1, Padding::valid},  {4, 9, 3, 1, 1, 1, Padding::valid},
    {1, 1, 3, 2, 2, 1, Padding::same},   {2, 3, 3, 2, 2, 1, Padding::same},
    {4, 4, 3, 2, 2, 1, Padding::same},   {9, 14, 3, 2, 2, 1, Padding::same},
    {25, 10, 3, 2, 2, 1, Padding::same}, {12, 12, 3, 2, 2, 1, Padding::same},
    {6, 9, 3, 2, 2, 1, Padding::valid},  {11, 13, 3, 2, 2, 1, Padding::valid},
    {8, 13, 3, 1, 2, 1, Padding::same},  {8, 13, 3, 2, 1, 1, Padding::same},
    {9, 9, 3, 3, 3, 1, Padding::same},   {9, 16, 3, 1, 1, 2, Padding::same},
    {8, 15, 5, 2, 2, 1, Padding::same},  {7, 6, 5, 1, 1, 1, Padding::same},
};
const std::vector<std::int64_t> kChannels = {1, 5, 8, 13, 16, 24, 29, 61};

Rectifier rectifier_number(int number) {
  Rectifier rectifier;
  if (number == 1) rectifier.max_value = 0.5f;  // ReLU capped within the sums' range
  if (number == 2) rectifier.negative_slope = 0.1f;
  if (number == 3) rectifier.negative_slope = 0.3f, rectifier.threshold = 0.2f, rectifier.max_value = 1.0f;
  return rectifier;
}

TEST(DepthwiseTiles, EveryBorderMatchesADirectComputationAndTheFusedDefinition) {
  std::uint64_t seed = 1;
  int number = 0;
  for (const Geometry& geometry : kGeometries)
    for (const std::int64_t channels : kChannels)
      for (const Call call : {Call::plain, Call::one_range, Call::two_ranges}) {
        if (call == Call::two_ranges && channels <= 8) continue;
        ++number;
        DepthwiseCase layer;
        layer.window = window_for(geometry);
        ASSERT_GT(layer.window.out_height, 0);
        ASSERT_GT(layer.window.out_width, 0);
        layer.channels = channels;
        // A level's maps hold the full layer's channels; odd strides misalign the vectors too.
        layer.in_stride = channels + (number % 3 == 0 ? 0 : 3);
        layer.out_stride = channels + (number % 2 == 0 ? 0 : 5);
        const std::int64_t taps = geometry.kernel * geometry.kernel;
        layer.input =
            test::random_floats(static_cast<std::size_t>(geometry.height * geometry.width * layer.in_stride),
                                seed++, kernels::kReadPadding);
        layer.weights =
            test::random_floats(static_cast<std::size_t>(taps * channels), seed++, kernels::kReadPadding);
        layer.bias = test::random_floats(static_cast<std::size_t>(channels), seed++, kernels::kReadPadding);
        layer.scale = test::random_floats(static_cast<std::size_t>(channels), seed++, kernels::kReadPadding);
        layer.mapped = number % 4 == 1;
        layer.rectify = number % 5 != 0;
        layer.rectifier = rectifier_number(number % 5);
        const Window& window = layer.window;
        const std::vector<float> output = run(layer, call);
        const bool exact = avx2_kernel_runs(window);
        const std::string what =
            std::to_string(geometry.height) + "x" + std::to_string(geometry.width) + "x" +
            std::to_string(channels) + ", " + std::to_string(geometry.kernel) + "x" +
            std::to_string(geometry.kernel) + " stride " + std::to_string(geometry.stride_height) + "/" +
            std::to_string(geometry.stride_width) + " dilation " + std::to_string(geometry.dilation) +
            ", call " + std::to_string(static_cast<int>(call)) + ", case " + std::to_string(number);
        for (std::int64_t y = 0; y < window.out_height; ++y)
          for (std::int64_t x = 0; x < window.out_width; ++x) {
            const float* pixel = output.data() + (y * window.out_width + x) * layer.out_stride;
            for (std::int64_t c = 0; c < channels; ++c) {
              ASSERT_NEAR(pixel[c], direct(layer, y, x, c), 1e-4)
                  << what << ", output (" << y << ", " << x << ", " << c << ")";
              if (exact) {
                ASSERT_EQ(pixel[c], fused(layer, y, x, c))
                    << what << ", output (" << y << ", " << x << ", " << c << ")";
              }
            }
            for (std::int64_t c = channels; c < layer.out_stride; ++c)
              ASSERT_EQ(pixel[c], kUntouched) << what << ": wrote channel " << c << " past the layer's";
          }
        for (std::size_t index =
                 static_cast<std::size_t>(window.out_height * window.out_width * layer.out_stride);
             index < output.size(); ++index)
          ASSERT_EQ(output[index], kUntouched) << what << ": wrote past the output";
      }
}

}  // namespace
}  // namespace reds::engine
