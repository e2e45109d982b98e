// Convolutions of 1 to 4 input channels, as a network's first layer: windows that are not square (DS-CNN's
// 10x4 at stride 2), 'same' padding on every side and 'valid', maps large enough to be computed in bands,
// maps whose width is not a multiple of the kernels' tiles, output widths of 1 to 276 channels in one column
// range or several, maps whose pixels hold more channels than the layer reads or writes, per-level statistics
// and every kind of rectifier. Every case is checked against a direct computation in double precision; where
// the AVX2 kernel runs (few_inputs_avx2.h) also bit for bit against its definition: the bias, then one fused
// multiply-add per tap and input channel in order, a tap in the padding adding the product of 0.
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

constexpr float kUntouched = 1234.5f;

struct Geometry {
  std::int64_t height, width, kernel_height, kernel_width, stride;
  Padding padding;
};

Window window_for(const Geometry& geometry) {
  return test::kernel_window({geometry.height, geometry.width, geometry.kernel_height, geometry.kernel_width,
                              geometry.stride, geometry.stride, 1, geometry.padding});
}

bool avx2_kernel_runs(const Window& window) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         window.out_height * window.out_width >= 12;
#else
  (void)window;
  return false;
#endif
}

// A layer: weights in Keras' layout [tap][input][unit].
struct FewInputsCase {
  Window window;
  std::int64_t inputs = 0, units = 0, in_stride = 0, out_stride = 0;
  std::vector<float> input, weights, bias, scale;
  Rectifier rectifier;
  bool rectify = false, mapped = false;

  float weight(std::int64_t tap, std::int64_t row, std::int64_t unit) const {
    return weights[static_cast<std::size_t>((tap * inputs + row) * units + unit)];
  }
  // The input under tap `tap` of output (y, x), or nullptr in the padding.
  const float* input_under(std::int64_t y, std::int64_t x, std::int64_t tap) const {
    const std::int64_t row = y * window.stride_height - window.pad_top + tap / window.kernel_width;
    const std::int64_t column = x * window.stride_width - window.pad_left + tap % window.kernel_width;
    if (row < 0 || column < 0 || row >= window.in_height || column >= window.in_width) return nullptr;
    return input.data() + (row * window.in_width + column) * in_stride;
  }
};

double rectified(const FewInputsCase& layer, double value) {
  return layer.rectify ? test::rectified(layer.rectifier, value) : value;
}

double direct(const FewInputsCase& layer, std::int64_t y, std::int64_t x, std::int64_t unit) {
  double sum = 0.0;
  for (std::int64_t tap = 0; tap < layer.window.kernel_height * layer.window.kernel_width; ++tap)
    if (const float* in = layer.input_under(y, x, tap))
      for (std::int64_t row = 0; row < layer.inputs; ++row)
        sum += static_cast<double>(in[row]) * layer.weight(tap, row, unit);
  const auto u = static_cast<std::size_t>(unit);
  return rectified(layer, layer.mapped ? layer.scale[u] * sum + layer.bias[u] : sum + layer.bias[u]);
}

float fused(const FewInputsCase& layer, std::int64_t y, std::int64_t x, std::int64_t unit) {
  const auto u = static_cast<std::size_t>(unit);
  float sum = layer.mapped ? 0.0f : layer.bias[u];
  for (std::int64_t tap = 0; tap < layer.window.kernel_height * layer.window.kernel_width; ++tap) {
    const float* in = layer.input_under(y, x, tap);
    for (std::int64_t row = 0; row < layer.inputs; ++row)
      sum = std::fma(in ? in[row] : 0.0f, layer.weight(tap, row, unit), sum);
  }
  if (layer.mapped) sum = std::fma(sum, layer.scale[u], layer.bias[u]);
  if (layer.rectify) kernels::rectify(layer.rectifier, &sum, 1);
  return sum;
}

// Columns [first, end) in panels of 8 (taps x inputs x 8 each, zeros past `end`), as a session stores them.
std::vector<float> panels(const FewInputsCase& layer, std::int64_t first, std::int64_t end) {
  const std::int64_t taps = layer.window.kernel_height * layer.window.kernel_width;
  std::vector<float> values;
  for (std::int64_t block = first; block < end; block += 8)
    for (std::int64_t tap = 0; tap < taps; ++tap)
      for (std::int64_t row = 0; row < layer.inputs; ++row)
        for (std::int64_t unit = block; unit < block + 8; ++unit)
          values.push_back(unit < end ? layer.weight(tap, row, unit) : 0.0f);
  values.resize(values.size() + kernels::kReadPadding);
  return values;
}

// The output map: the plain call (weights as they are), or column ranges [0, 8), [8, 21), [21, units)
// (those that are not empty), each in panels of its own.
std::vector<float> run(const FewInputsCase& layer, bool ranges) {
  const Window& window = layer.window;
  const std::int64_t taps = window.kernel_height * window.kernel_width;
  std::vector<float> output(static_cast<std::size_t>(window.out_height * window.out_width * layer.out_stride +
                                                     kernels::kReadPadding),
                            kUntouched);
  const MapView in{layer.input.data(), layer.in_stride, layer.inputs};
  const MutableMapView out{output.data(), layer.out_stride, layer.units};
  const float* scale = layer.mapped ? layer.scale.data() : nullptr;
  const Rectifier* rectifier = layer.rectify ? &layer.rectifier : nullptr;
  if (!ranges) {
    kernels::conv2d(window, in, {layer.weights.data(), layer.units, layer.inputs}, layer.bias.data(), 1,
                    rectifier, out, scale);
    return output;
  }
  std::vector<std::vector<float>> stored;
  std::vector<WeightSegment> segments;
  std::vector<ColumnRange> column_ranges;
  const std::int64_t cuts[] = {0, 8, 21, layer.units};
  for (int index = 0; index < 3; ++index) {
    const std::int64_t first = std::min(cuts[index], layer.units),
                       end = std::min(cuts[index + 1], layer.units);
    if (first >= end) continue;
    stored.push_back(panels(layer, first, end));
  }
  for (int index = 0, kept = 0; index < 3; ++index) {
    const std::int64_t first = std::min(cuts[index], layer.units),
                       end = std::min(cuts[index + 1], layer.units);
    if (first >= end) continue;
    segments.push_back({stored[static_cast<std::size_t>(kept++)].data(), 0, layer.inputs, 8, layer.inputs * 8,
                        taps * layer.inputs * 8});
    column_ranges.push_back({first, end, nullptr, 1});
  }
  for (std::size_t index = 0; index < column_ranges.size(); ++index)
    column_ranges[index].segments = &segments[index];
  kernels::conv2d_segmented(
      window, in, SegmentedWeights{column_ranges.data(), static_cast<std::int64_t>(column_ranges.size())},
      layer.bias.data(), rectifier, out, false, scale);
  return output;
}

const std::vector<Geometry> kGeometries = {
    {28, 28, 3, 3, 2, Padding::same},  {49, 10, 10, 4, 2, Padding::same}, {9, 7, 3, 3, 1, Padding::same},
    {8, 5, 3, 3, 2, Padding::same},    {6, 13, 5, 5, 1, Padding::same},   {7, 9, 3, 3, 2, Padding::valid},
    {4, 3, 3, 3, 1, Padding::same},    {3, 4, 2, 2, 1, Padding::valid},   {12, 12, 1, 1, 1, Padding::valid},
    {100, 90, 3, 3, 1, Padding::same}, {97, 61, 3, 3, 2, Padding::same},
};
const std::vector<std::int64_t> kInputs = {1, 2, 3, 4};
const std::vector<std::int64_t> kUnits = {1, 8, 13, 16, 24, 37, 64, 276};

Rectifier rectifier_number(int number) {
  Rectifier rectifier;
  if (number == 1) rectifier.max_value = 0.5f;
  if (number == 2) rectifier.negative_slope = 0.1f;
  if (number == 3) rectifier.negative_slope = 0.3f, rectifier.threshold = 0.2f, rectifier.max_value = 1.0f;
  return rectifier;
}

TEST(FewInputs, EveryGeometryAndWidthMatchesADirectComputationAndTheFusedDefinition) {
  std::uint64_t seed = 1;
  int number = 0;
  for (const Geometry& geometry : kGeometries)
    for (const std::int64_t inputs : kInputs)
      for (const std::int64_t units : kUnits)
        for (const bool ranges : {false, true}) {
          // Maps whose padded input rows take several bands of the kernel's buffer, at a few widths.
          if (geometry.height * geometry.width > 4000 && (units > 24 || inputs < 3)) continue;
          ++number;
          FewInputsCase layer;
          layer.window = window_for(geometry);
          ASSERT_GT(layer.window.out_height * layer.window.out_width, 0);
          layer.inputs = inputs;
          layer.units = units;
          layer.in_stride = inputs + (number % 3 == 0 ? 2 : 0);
          layer.out_stride = units + (number % 2 == 0 ? 3 : 0);
          const std::int64_t taps = geometry.kernel_height * geometry.kernel_width;
          layer.input = test::random_floats(
              static_cast<std::size_t>(geometry.height * geometry.width * layer.in_stride), seed++,
              kernels::kReadPadding);
          layer.weights = test::random_floats(static_cast<std::size_t>(taps * inputs * units), seed++,
                                              kernels::kReadPadding);
          layer.bias = test::random_floats(static_cast<std::size_t>(units), seed++, kernels::kReadPadding);
          layer.scale = test::random_floats(static_cast<std::size_t>(units), seed++, kernels::kReadPadding);
          layer.mapped = number % 4 == 1;
          layer.rectify = number % 5 != 0;
          layer.rectifier = rectifier_number(number % 5);
          const Window& window = layer.window;
          const std::vector<float> output = run(layer, ranges);
          const bool exact = avx2_kernel_runs(window);
          const std::string what = std::to_string(geometry.height) + "x" + std::to_string(geometry.width) +
                                   "x" + std::to_string(inputs) + " -> " + std::to_string(units) + ", " +
                                   std::to_string(geometry.kernel_height) + "x" +
                                   std::to_string(geometry.kernel_width) + "/" +
                                   std::to_string(geometry.stride) + (ranges ? ", ranges" : "") + ", case " +
                                   std::to_string(number);
          for (std::int64_t y = 0; y < window.out_height; ++y)
            for (std::int64_t x = 0; x < window.out_width; ++x) {
              const float* pixel = output.data() + (y * window.out_width + x) * layer.out_stride;
              for (std::int64_t unit = 0; unit < units; ++unit) {
                ASSERT_NEAR(pixel[unit], direct(layer, y, x, unit), 1e-4)
                    << what << ", output (" << y << ", " << x << ", " << unit << ")";
                if (exact) {
                  ASSERT_EQ(pixel[unit], fused(layer, y, x, unit))
                      << what << ", output (" << y << ", " << x << ", " << unit << ")";
                }
              }
              for (std::int64_t unit = units; unit < layer.out_stride; ++unit)
                ASSERT_EQ(pixel[unit], kUntouched)
                    << what << ": wrote channel " << unit << " past the layer's";
            }
          for (std::size_t index =
                   static_cast<std::size_t>(window.out_height * window.out_width * layer.out_stride);
               index < output.size(); ++index)
            ASSERT_EQ(output[index], kUntouched) << what << ": wrote past the output";
        }
}

}  // namespace
}  // namespace reds::engine
