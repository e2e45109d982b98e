#include "reds/engine/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// On x86-64 each public kernel is compiled twice, for the baseline and for AVX2 with FMA, and the loader
// picks one by the processor (GCC's function multi-versioning). The helpers below are always inlined so
// that they are compiled with the instruction set of the kernel that calls them.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define REDS_KERNEL [[gnu::target_clones("arch=x86-64-v3", "default")]]
#else
#define REDS_KERNEL
#endif
#define REDS_INLINE [[gnu::always_inline]] inline

namespace reds::engine::kernels {

namespace {

// Eight floats, one AVX register (two SSE registers on the baseline).
using Vec = float __attribute__((vector_size(32)));
constexpr std::int64_t kLanes = 8;

REDS_INLINE Vec load(const float* from) {
  Vec value;
  std::memcpy(&value, from, sizeof value);
  return value;
}
REDS_INLINE void store(float* to, Vec value) { std::memcpy(to, &value, sizeof value); }
REDS_INLINE Vec splat(float value) { return Vec{} + value; }

REDS_INLINE float rectified(const Rectifier& rectifier, float value) {
  if (value >= rectifier.threshold) return std::min(value, rectifier.max_value);
  return rectifier.negative_slope * (value - rectifier.threshold);
}
REDS_INLINE Vec rectified(const Rectifier& rectifier, Vec value) {
  const Vec threshold = splat(rectifier.threshold);
  const Vec max_value = splat(rectifier.max_value);
  const Vec capped = value < max_value ? value : max_value;
  return value >= threshold ? capped : splat(rectifier.negative_slope) * (value - threshold);
}

REDS_INLINE void store_outputs(float* to, Vec value, const Rectifier* rectifier) {
  store(to, rectifier ? rectified(*rectifier, value) : value);
}
REDS_INLINE float output_value(float value, const Rectifier* rectifier) {
  return rectifier ? rectified(*rectifier, value) : value;
}

REDS_INLINE Vec bias_block(const float* bias, std::int64_t first) {
  return bias ? load(bias + first) : Vec{};
}

// The input row of a window tap, or -1 when it falls into the padding.
REDS_INLINE std::int64_t input_row(const Window& window, std::int64_t out_row, std::int64_t tap_row) {
  const std::int64_t row = out_row * window.stride_height - window.pad_top + tap_row * window.dilation_height;
  return row >= 0 && row < window.in_height ? row : -1;
}
REDS_INLINE std::int64_t input_column(const Window& window, std::int64_t out_column,
                                      std::int64_t tap_column) {
  const std::int64_t column =
      out_column * window.stride_width - window.pad_left + tap_column * window.dilation_width;
  return column >= 0 && column < window.in_width ? column : -1;
}

// --- Convolution -------------------------------------------------------------------------------------

// One output pixel, output channels [first, first + 8 * kBlocks): sum over the taps inside the input and
// over the input channels, accumulators in registers.
template <int kBlocks>
REDS_INLINE void conv_pixel(const Window& window, const MapView& input, const WeightView& weights,
                            const float* bias, std::int64_t out_row, std::int64_t out_column,
                            std::int64_t first, const Rectifier* rectifier, float* out_pixel) {
  Vec sums[kBlocks];
  for (int block = 0; block < kBlocks; ++block) sums[block] = bias_block(bias, first + block * kLanes);
  for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    if (row < 0) continue;
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const std::int64_t column = input_column(window, out_column, tap_column);
      if (column < 0) continue;
      const float* in_pixel = input.data + (row * window.in_width + column) * input.pixel_stride;
      const float* tap_weights =
          weights.data +
          ((tap_row * window.kernel_width + tap_column) * weights.rows_per_tap) * weights.row_stride + first;
      for (std::int64_t channel = 0; channel < input.channels; ++channel) {
        const Vec in = splat(in_pixel[channel]);
        const float* row_weights = tap_weights + channel * weights.row_stride;
        for (int block = 0; block < kBlocks; ++block) sums[block] += in * load(row_weights + block * kLanes);
      }
    }
  }
  for (int block = 0; block < kBlocks; ++block)
    store_outputs(out_pixel + first + block * kLanes, sums[block], rectifier);
}

// The last count < 8 output channels of one pixel, from `first` on.
REDS_INLINE void conv_pixel_tail(const Window& window, const MapView& input, const WeightView& weights,
                                 const float* bias, std::int64_t out_row, std::int64_t out_column,
                                 std::int64_t first, std::int64_t count, const Rectifier* rectifier,
                                 float* out_pixel) {
  float sums[kLanes];
  for (std::int64_t o = 0; o < count; ++o) sums[o] = bias ? bias[first + o] : 0.0f;
  for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    if (row < 0) continue;
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const std::int64_t column = input_column(window, out_column, tap_column);
      if (column < 0) continue;
      const float* in_pixel = input.data + (row * window.in_width + column) * input.pixel_stride;
      const float* tap_weights =
          weights.data +
          ((tap_row * window.kernel_width + tap_column) * weights.rows_per_tap) * weights.row_stride + first;
      for (std::int64_t channel = 0; channel < input.channels; ++channel) {
        const float in = in_pixel[channel];
        const float* row_weights = tap_weights + channel * weights.row_stride;
        for (std::int64_t o = 0; o < count; ++o) sums[o] += in * row_weights[o];
      }
    }
  }
  for (std::int64_t o = 0; o < count; ++o) out_pixel[first + o] = output_value(sums[o], rectifier);
}

// A 1x1 convolution with stride 1 and no padding is a matrix product, pixels x input channels times input
// channels x output channels: tiles of kPixels pixels and 8 * kBlocks output channels reuse every weight
// load across the tile's pixels.
template <int kPixels, int kBlocks>
REDS_INLINE void pointwise_tile(const float* in, std::int64_t in_stride, std::int64_t in_channels,
                                const float* tile_weights, std::int64_t row_stride, const float* tile_bias,
                                const Rectifier* rectifier, float* out, std::int64_t out_stride) {
  Vec sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const Vec start = bias_block(tile_bias, block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  for (std::int64_t channel = 0; channel < in_channels; ++channel) {
    Vec row_weights[kBlocks];
    for (int block = 0; block < kBlocks; ++block)
      row_weights[block] = load(tile_weights + channel * row_stride + block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) {
      const Vec value = splat(in[pixel * in_stride + channel]);
      for (int block = 0; block < kBlocks; ++block) sums[pixel][block] += value * row_weights[block];
    }
  }
  for (int pixel = 0; pixel < kPixels; ++pixel)
    for (int block = 0; block < kBlocks; ++block)
      store_outputs(out + pixel * out_stride + block * kLanes, sums[pixel][block], rectifier);
}

constexpr int kPointwisePixels = 6;  // 6 pixels x 16 channels: 12 AVX accumulators + 2 weight registers

template <int kBlocks>
REDS_INLINE void pointwise_pixels(std::int64_t pixels, const MapView& input, const float* tile_weights,
                                  std::int64_t row_stride, const float* tile_bias, const Rectifier* rectifier,
                                  float* out, std::int64_t out_stride) {
  std::int64_t pixel = 0;
  for (; pixel + kPointwisePixels <= pixels; pixel += kPointwisePixels)
    pointwise_tile<kPointwisePixels, kBlocks>(input.data + pixel * input.pixel_stride, input.pixel_stride,
                                              input.channels, tile_weights, row_stride, tile_bias, rectifier,
                                              out + pixel * out_stride, out_stride);
  for (; pixel < pixels; ++pixel)
    pointwise_tile<1, kBlocks>(input.data + pixel * input.pixel_stride, input.pixel_stride, input.channels,
                               tile_weights, row_stride, tile_bias, rectifier, out + pixel * out_stride,
                               out_stride);
}

REDS_INLINE void pointwise(std::int64_t pixels, const MapView& input, const WeightView& weights,
                           const float* bias, const Rectifier* rectifier, const MutableMapView& output) {
  std::int64_t first = 0;
  for (; first + 2 * kLanes <= output.channels; first += 2 * kLanes)
    pointwise_pixels<2>(pixels, input, weights.data + first, weights.row_stride,
                        bias ? bias + first : nullptr, rectifier, output.data + first, output.pixel_stride);
  for (; first + kLanes <= output.channels; first += kLanes)
    pointwise_pixels<1>(pixels, input, weights.data + first, weights.row_stride,
                        bias ? bias + first : nullptr, rectifier, output.data + first, output.pixel_stride);
  const std::int64_t count = output.channels - first;
  if (count == 0) return;
  for (std::int64_t pixel = 0; pixel < pixels; ++pixel) {
    const float* in = input.data + pixel * input.pixel_stride;
    float sums[kLanes];
    for (std::int64_t o = 0; o < count; ++o) sums[o] = bias ? bias[first + o] : 0.0f;
    for (std::int64_t channel = 0; channel < input.channels; ++channel) {
      const float* row_weights = weights.data + channel * weights.row_stride + first;
      for (std::int64_t o = 0; o < count; ++o) sums[o] += in[channel] * row_weights[o];
    }
    float* out = output.data + pixel * output.pixel_stride + first;
    for (std::int64_t o = 0; o < count; ++o) out[o] = output_value(sums[o], rectifier);
  }
}

REDS_INLINE bool is_pointwise(const Window& window) {
  return window.kernel_height == 1 && window.kernel_width == 1 && window.stride_height == 1 &&
         window.stride_width == 1 && window.pad_top == 0 && window.pad_left == 0 &&
         window.out_height == window.in_height && window.out_width == window.in_width;
}

// One group of a convolution (the whole convolution when it has one group).
REDS_INLINE void conv2d_group(const Window& window, const MapView& input, const WeightView& weights,
                              const float* bias, const Rectifier* rectifier, const MutableMapView& output) {
  if (is_pointwise(window)) {
    pointwise(window.out_height * window.out_width, input, weights, bias, rectifier, output);
    return;
  }
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    for (std::int64_t out_column = 0; out_column < window.out_width; ++out_column) {
      float* out_pixel = output.data + (out_row * window.out_width + out_column) * output.pixel_stride;
      std::int64_t first = 0;
      for (; first + 4 * kLanes <= output.channels; first += 4 * kLanes)
        conv_pixel<4>(window, input, weights, bias, out_row, out_column, first, rectifier, out_pixel);
      for (; first + kLanes <= output.channels; first += kLanes)
        conv_pixel<1>(window, input, weights, bias, out_row, out_column, first, rectifier, out_pixel);
      if (first < output.channels)
        conv_pixel_tail(window, input, weights, bias, out_row, out_column, first, output.channels - first,
                        rectifier, out_pixel);
    }
  }
}

// --- Depthwise convolution ----------------------------------------------------------------------------

template <int kBlocks>
REDS_INLINE void depthwise_pixel(const Window& window, const MapView& input, const float* weights,
                                 std::int64_t row_stride, const float* bias, std::int64_t out_row,
                                 std::int64_t out_column, std::int64_t first, const Rectifier* rectifier,
                                 float* out_pixel) {
  Vec sums[kBlocks];
  for (int block = 0; block < kBlocks; ++block) sums[block] = bias_block(bias, first + block * kLanes);
  for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    if (row < 0) continue;
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const std::int64_t column = input_column(window, out_column, tap_column);
      if (column < 0) continue;
      const float* in = input.data + (row * window.in_width + column) * input.pixel_stride + first;
      const float* tap_weights = weights + (tap_row * window.kernel_width + tap_column) * row_stride + first;
      for (int block = 0; block < kBlocks; ++block)
        sums[block] += load(in + block * kLanes) * load(tap_weights + block * kLanes);
    }
  }
  for (int block = 0; block < kBlocks; ++block)
    store_outputs(out_pixel + first + block * kLanes, sums[block], rectifier);
}

REDS_INLINE void depthwise_pixel_tail(const Window& window, const MapView& input, const float* weights,
                                      std::int64_t row_stride, const float* bias, std::int64_t out_row,
                                      std::int64_t out_column, std::int64_t first, std::int64_t count,
                                      const Rectifier* rectifier, float* out_pixel) {
  float sums[kLanes];
  for (std::int64_t c = 0; c < count; ++c) sums[c] = bias ? bias[first + c] : 0.0f;
  for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    if (row < 0) continue;
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const std::int64_t column = input_column(window, out_column, tap_column);
      if (column < 0) continue;
      const float* in = input.data + (row * window.in_width + column) * input.pixel_stride + first;
      const float* tap_weights = weights + (tap_row * window.kernel_width + tap_column) * row_stride + first;
      for (std::int64_t c = 0; c < count; ++c) sums[c] += in[c] * tap_weights[c];
    }
  }
  for (std::int64_t c = 0; c < count; ++c) out_pixel[first + c] = output_value(sums[c], rectifier);
}

// --- Dense --------------------------------------------------------------------------------------------

template <int kBlocks>
REDS_INLINE void dense_block(const DenseInput& input, const float* weights, std::int64_t row_stride,
                             const float* bias, std::int64_t first, const Rectifier* rectifier,
                             float* output) {
  Vec sums[kBlocks];
  for (int block = 0; block < kBlocks; ++block) sums[block] = bias_block(bias, first + block * kLanes);
  for (std::int64_t group = 0; group < input.input_groups; ++group) {
    const float* in = input.data + group * input.group_features;
    const float* group_weights = weights + group * input.group_row_stride * row_stride + first;
    for (std::int64_t feature = 0; feature < input.group_features; ++feature) {
      const Vec value = splat(in[feature]);
      const float* row_weights = group_weights + feature * row_stride;
      for (int block = 0; block < kBlocks; ++block) sums[block] += value * load(row_weights + block * kLanes);
    }
  }
  for (int block = 0; block < kBlocks; ++block)
    store_outputs(output + first + block * kLanes, sums[block], rectifier);
}

}  // namespace

AxisGeometry axis_geometry(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t dilation,
                           Padding padding) {
  const std::int64_t dilated_kernel = (kernel - 1) * dilation + 1;
  if (padding == Padding::valid) {
    if (in < dilated_kernel) return {0, 0};
    return {(in - dilated_kernel) / stride + 1, 0};
  }
  const std::int64_t out = (in + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + dilated_kernel - in, 0);
  return {out, total / 2};
}

REDS_KERNEL void conv2d(const Window& window, const MapView& input, const WeightView& weights,
                        const float* bias, std::int64_t groups, const Rectifier* rectifier,
                        const MutableMapView& output) {
  const std::int64_t in_per_group = input.channels / groups;
  const std::int64_t out_per_group = output.channels / groups;
  for (std::int64_t group = 0; group < groups; ++group) {
    const MapView group_input{input.data + group * in_per_group, input.pixel_stride, in_per_group};
    const WeightView group_weights{weights.data + group * out_per_group, weights.row_stride,
                                   weights.rows_per_tap};
    const MutableMapView group_output{output.data + group * out_per_group, output.pixel_stride,
                                      out_per_group};
    conv2d_group(window, group_input, group_weights, bias ? bias + group * out_per_group : nullptr, rectifier,
                 group_output);
  }
}

REDS_KERNEL void depthwise_conv2d(const Window& window, const MapView& input, const float* weights,
                                  std::int64_t row_stride, const float* bias, const Rectifier* rectifier,
                                  const MutableMapView& output) {
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    for (std::int64_t out_column = 0; out_column < window.out_width; ++out_column) {
      float* out_pixel = output.data + (out_row * window.out_width + out_column) * output.pixel_stride;
      std::int64_t first = 0;
      for (; first + 4 * kLanes <= output.channels; first += 4 * kLanes)
        depthwise_pixel<4>(window, input, weights, row_stride, bias, out_row, out_column, first, rectifier,
                           out_pixel);
      for (; first + kLanes <= output.channels; first += kLanes)
        depthwise_pixel<1>(window, input, weights, row_stride, bias, out_row, out_column, first, rectifier,
                           out_pixel);
      if (first < output.channels)
        depthwise_pixel_tail(window, input, weights, row_stride, bias, out_row, out_column, first,
                             output.channels - first, rectifier, out_pixel);
    }
  }
}

REDS_KERNEL void dense(const DenseInput& input, const float* weights, std::int64_t row_stride,
                       const float* bias, std::int64_t out_features, const Rectifier* rectifier,
                       float* output) {
  std::int64_t first = 0;
  for (; first + 4 * kLanes <= out_features; first += 4 * kLanes)
    dense_block<4>(input, weights, row_stride, bias, first, rectifier, output);
  for (; first + kLanes <= out_features; first += kLanes)
    dense_block<1>(input, weights, row_stride, bias, first, rectifier, output);
  for (; first < out_features; ++first) {
    float sum = bias ? bias[first] : 0.0f;
    for (std::int64_t group = 0; group < input.input_groups; ++group) {
      const float* in = input.data + group * input.group_features;
      const float* column = weights + group * input.group_row_stride * row_stride + first;
      for (std::int64_t feature = 0; feature < input.group_features; ++feature)
        sum += in[feature] * column[feature * row_stride];
    }
    output[first] = output_value(sum, rectifier);
  }
}

REDS_KERNEL void average_pool2d(const Window& window, const MapView& input, const MutableMapView& output) {
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    for (std::int64_t out_column = 0; out_column < window.out_width; ++out_column) {
      float* out = output.data + (out_row * window.out_width + out_column) * output.pixel_stride;
      std::fill(out, out + output.channels, 0.0f);
      std::int64_t count = 0;
      for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
        const std::int64_t row = input_row(window, out_row, tap_row);
        if (row < 0) continue;
        for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
          const std::int64_t column = input_column(window, out_column, tap_column);
          if (column < 0) continue;
          const float* in = input.data + (row * window.in_width + column) * input.pixel_stride;
          for (std::int64_t c = 0; c < output.channels; ++c) out[c] += in[c];
          ++count;
        }
      }
      const float scale = 1.0f / static_cast<float>(count);
      for (std::int64_t c = 0; c < output.channels; ++c) out[c] *= scale;
    }
  }
}

void global_average_pool2d(const MapView& input, std::int64_t pixels, float* output) {
  std::fill(output, output + input.channels, 0.0f);
  for (std::int64_t pixel = 0; pixel < pixels; ++pixel) {
    const float* in = input.data + pixel * input.pixel_stride;
    for (std::int64_t c = 0; c < input.channels; ++c) output[c] += in[c];
  }
  const float scale = 1.0f / static_cast<float>(pixels);
  for (std::int64_t c = 0; c < input.channels; ++c) output[c] *= scale;
}

void rectify(const Rectifier& rectifier, float* values, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) values[i] = rectified(rectifier, values[i]);
}

void softmax(float* values, std::int64_t pixels, std::int64_t channels) {
  for (std::int64_t pixel = 0; pixel < pixels; ++pixel) {
    float* logits = values + pixel * channels;
    const float largest = *std::max_element(logits, logits + channels);
    float sum = 0.0f;
    for (std::int64_t c = 0; c < channels; ++c) {
      logits[c] = std::exp(logits[c] - largest);
      sum += logits[c];
    }
    for (std::int64_t c = 0; c < channels; ++c) logits[c] /= sum;
  }
}

}  // namespace reds::engine::kernels
