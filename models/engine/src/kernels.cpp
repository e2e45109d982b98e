#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "simd.h"

namespace reds::engine::kernels {

namespace {

using Vec = simd::Vec<float>;
constexpr std::int64_t kLanes = kVectorLanes;
static_assert(kLanes == simd::kLanes<float>);
using simd::load;
using simd::store;

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

// Stores the first `count` (1 to 8) lanes; the others were computed from padding and are dropped.
REDS_INLINE void store_outputs(float* to, Vec value, const Rectifier* rectifier, std::int64_t count) {
  const Vec result = rectifier ? rectified(*rectifier, value) : value;
  if (count == kLanes) {
    store(to, result);
    return;
  }
  float lanes[kLanes];
  store(lanes, result);
  for (std::int64_t lane = 0; lane < count; ++lane) to[lane] = lanes[lane];
}

REDS_INLINE Vec bias_block(const float* bias, std::int64_t first) {
  return bias ? load(bias + first) : Vec{};
}

// The taps t of one window axis whose input position out * stride - pad + t * dilation lies in [0, size):
// [first, end), found once per output pixel instead of checked tap by tap.
struct TapSpan {
  std::int64_t first = 0;
  std::int64_t end = 0;
};
REDS_INLINE TapSpan taps_inside(std::int64_t out, std::int64_t stride, std::int64_t pad,
                                std::int64_t dilation, std::int64_t kernel, std::int64_t size) {
  const std::int64_t start = out * stride - pad;  // the position of tap 0
  const std::int64_t first = start >= 0 ? 0 : (dilation - 1 - start) / dilation;
  const std::int64_t room = size - 1 - start;  // taps t with t * dilation <= room
  const std::int64_t end = room < 0 ? 0 : std::min(kernel, room / dilation + 1);
  return {first, std::max(first, end)};
}
REDS_INLINE TapSpan row_taps(const Window& window, std::int64_t out_row) {
  return taps_inside(out_row, window.stride_height, window.pad_top, window.dilation_height,
                     window.kernel_height, window.in_height);
}
REDS_INLINE TapSpan column_taps(const Window& window, std::int64_t out_column) {
  return taps_inside(out_column, window.stride_width, window.pad_left, window.dilation_width,
                     window.kernel_width, window.in_width);
}
REDS_INLINE std::int64_t input_row(const Window& window, std::int64_t out_row, std::int64_t tap_row) {
  return out_row * window.stride_height - window.pad_top + tap_row * window.dilation_height;
}
REDS_INLINE std::int64_t input_column(const Window& window, std::int64_t out_column,
                                      std::int64_t tap_column) {
  return out_column * window.stride_width - window.pad_left + tap_column * window.dilation_width;
}

// The output columns [first, end) of a row whose every tap column lies inside the input: there a tile of
// adjacent output pixels needs no padding checks.
struct ColumnSpan {
  std::int64_t first = 0;
  std::int64_t end = 0;
};
REDS_INLINE ColumnSpan interior_columns(const Window& window) {
  const std::int64_t first = (window.pad_left + window.stride_width - 1) / window.stride_width;
  const std::int64_t limit =
      window.in_width - 1 + window.pad_left - (window.kernel_width - 1) * window.dilation_width;
  const std::int64_t end = std::min(limit < 0 ? 0 : limit / window.stride_width + 1, window.out_width);
  return {std::min(first, end), end};
}

// Pixels per tile for a block count: about 8 accumulators in all.
template <int kBlocks>
constexpr int kTilePixels = kBlocks >= 3 ? 2 : 8 / kBlocks;

// --- Convolution -------------------------------------------------------------------------------------

// Accumulates rows [first_row, end_row) of a weight segment, `weights` pointing at the first row's first
// column of the block, into `sums` (kChains x kBlocks accumulators: kChains rows in flight, so that the
// additions to one accumulator do not wait for each other).
template <int kBlocks, int kChains>
REDS_INLINE void accumulate_rows(Vec (&sums)[kChains][kBlocks], const float* in, std::int64_t first_row,
                                 std::int64_t end_row, const float* weights, std::int64_t row_stride,
                                 std::int64_t panel_stride) {
  std::int64_t row = first_row;
  for (; row + kChains <= end_row; row += kChains, weights += kChains * row_stride)
    for (int chain = 0; chain < kChains; ++chain) {
      const Vec value = splat(in[row + chain]);
      for (int block = 0; block < kBlocks; ++block)
        sums[chain][block] += value * load(weights + chain * row_stride + block * panel_stride);
    }
  for (; row < end_row; ++row, weights += row_stride) {
    const Vec value = splat(in[row]);
    for (int block = 0; block < kBlocks; ++block)
      sums[0][block] += value * load(weights + block * panel_stride);
  }
}

// The weights of a segment's first row and tap for the range's columns from `column` on (a multiple of 8).
REDS_INLINE const float* panel_of(const WeightSegment& segment, std::int64_t column) {
  return segment.data + (column / kLanes) * segment.panel_stride;
}

// Rows in flight per block count: about 8 accumulators in all.
template <int kBlocks>
constexpr int kChainsFor = kBlocks >= 3 ? 2 : 4;

// Stores the sum of the chains (the bias is in chain 0), the last block's `last_count` lanes only.
template <int kBlocks, int kChains>
REDS_INLINE void store_sums(Vec (&sums)[kChains][kBlocks], float* to, const Rectifier* rectifier,
                            std::int64_t last_count) {
  for (int block = 0; block < kBlocks; ++block) {
    for (int chain = 1; chain < kChains; ++chain) sums[0][block] += sums[chain][block];
    store_outputs(to + block * kLanes, sums[0][block], rectifier, block == kBlocks - 1 ? last_count : kLanes);
  }
}

template <int kBlocks, int kChains>
REDS_INLINE void start_sums(Vec (&sums)[kChains][kBlocks], const float* bias, std::int64_t first) {
  for (int block = 0; block < kBlocks; ++block) {
    sums[0][block] = bias_block(bias, first + block * kLanes);
    for (int chain = 1; chain < kChains; ++chain) sums[chain][block] = Vec{};
  }
}

// One output pixel, output channels [first, first + 8 * kBlocks) of a column range (the last block's
// `last_count` lanes stored): the sum over the taps inside the input, the range's segments and their input
// channels, accumulators in registers.
template <int kBlocks>
REDS_INLINE void conv_pixel(const Window& window, const MapView& input, const ColumnRange& range,
                            std::int64_t first, std::int64_t last_count, const float* bias,
                            std::int64_t out_row, std::int64_t out_column, const Rectifier* rectifier,
                            float* out_pixel) {
  constexpr int kChains = kChainsFor<kBlocks>;
  Vec sums[kChains][kBlocks];
  start_sums(sums, bias, first);
  const std::int64_t column = first - range.first;
  const TapSpan rows = row_taps(window, out_row), columns = column_taps(window, out_column);
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    for (std::int64_t tap_column = columns.first; tap_column < columns.end; ++tap_column) {
      const std::int64_t in_column = input_column(window, out_column, tap_column);
      const float* in_pixel = input.data + (row * window.in_width + in_column) * input.pixel_stride;
      const std::int64_t tap = tap_row * window.kernel_width + tap_column;
      for (const WeightSegment* segment = range.segments; segment != range.segments + range.segment_count;
           ++segment)
        accumulate_rows(sums, in_pixel, segment->first_row, segment->end_row,
                        panel_of(*segment, column) + tap * segment->tap_stride, segment->row_stride,
                        segment->panel_stride);
    }
  }
  store_sums(sums, out_pixel + first, rectifier, last_count);
}

// kPixels adjacent output pixels of a row, all inside the input horizontally, output channels
// [first, first + 8 * kBlocks): every weight load serves the kPixels pixels.
template <int kPixels, int kBlocks>
REDS_INLINE void conv_tile(const Window& window, const MapView& input, const ColumnRange& range,
                           std::int64_t first, std::int64_t last_count, const float* bias,
                           std::int64_t out_row, std::int64_t out_column, const Rectifier* rectifier,
                           const MutableMapView& output) {
  Vec sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const Vec start = bias_block(bias, first + block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  const std::int64_t column = first - range.first;
  const std::int64_t pixel_step = window.stride_width * input.pixel_stride;
  const TapSpan rows = row_taps(window, out_row);
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const std::int64_t in_column = input_column(window, out_column, tap_column);
      const float* in = input.data + (row * window.in_width + in_column) * input.pixel_stride;
      const std::int64_t tap = tap_row * window.kernel_width + tap_column;
      for (const WeightSegment* segment = range.segments; segment != range.segments + range.segment_count;
           ++segment) {
        const float* weights = panel_of(*segment, column) + tap * segment->tap_stride;
        for (std::int64_t channel = segment->first_row; channel < segment->end_row;
             ++channel, weights += segment->row_stride) {
          Vec row_weights[kBlocks];
          for (int block = 0; block < kBlocks; ++block)
            row_weights[block] = load(weights + block * segment->panel_stride);
          for (int pixel = 0; pixel < kPixels; ++pixel) {
            const Vec value = splat(in[pixel * pixel_step + channel]);
            for (int block = 0; block < kBlocks; ++block) sums[pixel][block] += value * row_weights[block];
          }
        }
      }
    }
  }
  for (int pixel = 0; pixel < kPixels; ++pixel) {
    float* out =
        output.data + (out_row * window.out_width + out_column + pixel) * output.pixel_stride + first;
    for (int block = 0; block < kBlocks; ++block)
      store_outputs(out + block * kLanes, sums[pixel][block], rectifier,
                    block == kBlocks - 1 ? last_count : kLanes);
  }
}

// Tiles of kPixels pixels from out_column on while they end by `end`, then of half as many, down to two.
template <int kPixels, int kBlocks>
REDS_INLINE void conv_tiles(const Window& window, const MapView& input, const ColumnRange& range,
                            std::int64_t first, std::int64_t last_count, const float* bias,
                            std::int64_t out_row, std::int64_t end, const Rectifier* rectifier,
                            const MutableMapView& output, std::int64_t& out_column) {
  for (; out_column + kPixels <= end; out_column += kPixels)
    conv_tile<kPixels, kBlocks>(window, input, range, first, last_count, bias, out_row, out_column, rectifier,
                                output);
  if constexpr (kPixels > 2)
    conv_tiles<kPixels / 2, kBlocks>(window, input, range, first, last_count, bias, out_row, end, rectifier,
                                     output, out_column);
}

// One output row, output channels [first, first + 8 * kBlocks): single pixels where taps may fall into
// the padding, tiles of pixels inside.
template <int kBlocks>
REDS_INLINE void conv_row(const Window& window, const MapView& input, const ColumnRange& range,
                          std::int64_t first, std::int64_t last_count, const float* bias,
                          std::int64_t out_row, const ColumnSpan& interior, const Rectifier* rectifier,
                          const MutableMapView& output) {
  float* out_row_pixels = output.data + out_row * window.out_width * output.pixel_stride;
  std::int64_t out_column = 0;
  for (; out_column < interior.first; ++out_column)
    conv_pixel<kBlocks>(window, input, range, first, last_count, bias, out_row, out_column, rectifier,
                        out_row_pixels + out_column * output.pixel_stride);
  conv_tiles<kTilePixels<kBlocks>, kBlocks>(window, input, range, first, last_count, bias, out_row,
                                            interior.end, rectifier, output, out_column);
  for (; out_column < window.out_width; ++out_column)
    conv_pixel<kBlocks>(window, input, range, first, last_count, bias, out_row, out_column, rectifier,
                        out_row_pixels + out_column * output.pixel_stride);
}

// A 1x1 convolution with stride 1 and no padding is a matrix product, pixels x input channels times input
// channels x output channels: tiles of kPixels pixels and 8 * kBlocks output channels reuse every weight
// load across the tile's pixels. `column`: the tile's first output channel within its range.
template <int kPixels, int kBlocks>
REDS_INLINE void pointwise_tile(const float* in, std::int64_t in_stride, const ColumnRange& range,
                                std::int64_t column, const float* tile_bias, const Rectifier* rectifier,
                                std::int64_t last_count, float* out, std::int64_t out_stride) {
  Vec sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const Vec start = bias_block(tile_bias, block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  for (const WeightSegment* segment = range.segments; segment != range.segments + range.segment_count;
       ++segment) {
    const float* weights = panel_of(*segment, column);
    for (std::int64_t channel = segment->first_row; channel < segment->end_row;
         ++channel, weights += segment->row_stride) {
      Vec row_weights[kBlocks];
      for (int block = 0; block < kBlocks; ++block)
        row_weights[block] = load(weights + block * segment->panel_stride);
      for (int pixel = 0; pixel < kPixels; ++pixel) {
        const Vec value = splat(in[pixel * in_stride + channel]);
        for (int block = 0; block < kBlocks; ++block) sums[pixel][block] += value * row_weights[block];
      }
    }
  }
  for (int pixel = 0; pixel < kPixels; ++pixel)
    for (int block = 0; block < kBlocks; ++block)
      store_outputs(out + pixel * out_stride + block * kLanes, sums[pixel][block], rectifier,
                    block == kBlocks - 1 ? last_count : kLanes);
}

constexpr int kPointwisePixels = 6;  // 6 pixels x 16 channels: 12 AVX accumulators + 2 weight registers

template <int kBlocks>
REDS_INLINE void pointwise_pixels(std::int64_t pixels, const MapView& input, const ColumnRange& range,
                                  std::int64_t first, const float* bias, const Rectifier* rectifier,
                                  std::int64_t last_count, const MutableMapView& output) {
  const float* tile_bias = bias ? bias + first : nullptr;
  const std::int64_t column = first - range.first;
  float* out = output.data + first;
  std::int64_t pixel = 0;
  for (; pixel + kPointwisePixels <= pixels; pixel += kPointwisePixels)
    pointwise_tile<kPointwisePixels, kBlocks>(input.data + pixel * input.pixel_stride, input.pixel_stride,
                                              range, column, tile_bias, rectifier, last_count,
                                              out + pixel * output.pixel_stride, output.pixel_stride);
  for (; pixel < pixels; ++pixel)
    pointwise_tile<1, kBlocks>(input.data + pixel * input.pixel_stride, input.pixel_stride, range, column,
                               tile_bias, rectifier, last_count, out + pixel * output.pixel_stride,
                               output.pixel_stride);
}

REDS_INLINE void pointwise(std::int64_t pixels, const MapView& input, const SegmentedWeights& weights,
                           const float* bias, const Rectifier* rectifier, const MutableMapView& output) {
  for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
    std::int64_t first = range->first;
    for (; first + 2 * kLanes <= range->end; first += 2 * kLanes)
      pointwise_pixels<2>(pixels, input, *range, first, bias, rectifier, kLanes, output);
    for (; first < range->end; first += kLanes)
      pointwise_pixels<1>(pixels, input, *range, first, bias, rectifier, std::min(kLanes, range->end - first),
                          output);
  }
}

REDS_INLINE bool is_pointwise(const Window& window) {
  return window.kernel_height == 1 && window.kernel_width == 1 && window.stride_height == 1 &&
         window.stride_width == 1 && window.pad_top == 0 && window.pad_left == 0 &&
         window.out_height == window.in_height && window.out_width == window.in_width;
}

// A convolution with one group (every group of a grouped one).
REDS_INLINE void conv2d_one_group(const Window& window, const MapView& input, const SegmentedWeights& weights,
                                  const float* bias, const Rectifier* rectifier,
                                  const MutableMapView& output) {
  if (is_pointwise(window)) {
    pointwise(window.out_height * window.out_width, input, weights, bias, rectifier, output);
    return;
  }
  const ColumnSpan interior = interior_columns(window);
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row)
    for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
      std::int64_t first = range->first;
      for (; first + 4 * kLanes <= range->end; first += 4 * kLanes)
        conv_row<4>(window, input, *range, first, kLanes, bias, out_row, interior, rectifier, output);
      // The rest in one pass of 1 to 4 blocks, the last one partial.
      const std::int64_t rest = range->end - first;
      const std::int64_t last_count = rest - (rest - 1) / kLanes * kLanes;
      switch ((rest + kLanes - 1) / kLanes) {
        case 1:
          conv_row<1>(window, input, *range, first, last_count, bias, out_row, interior, rectifier, output);
          break;
        case 2:
          conv_row<2>(window, input, *range, first, last_count, bias, out_row, interior, rectifier, output);
          break;
        case 3:
          conv_row<3>(window, input, *range, first, last_count, bias, out_row, interior, rectifier, output);
          break;
        case 4:
          conv_row<4>(window, input, *range, first, last_count, bias, out_row, interior, rectifier, output);
          break;
        default:
          break;
      }
    }
}

// --- Depthwise convolution ----------------------------------------------------------------------------

// kPixels adjacent output pixels of a row, channels [first, first + 8 * kBlocks) (see
// depthwise_conv2d_segmented for the weights). kChecked: one pixel, some of whose taps fall into the padding.
template <int kPixels, int kBlocks, bool kChecked>
REDS_INLINE void depthwise_tile(const Window& window, const MapView& input, const WeightSegment& segment,
                                std::int64_t first, std::int64_t last_count, const float* bias,
                                std::int64_t out_row, std::int64_t out_column, const Rectifier* rectifier,
                                const MutableMapView& output) {
  static_assert(!kChecked || kPixels == 1);
  Vec sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const Vec start = bias_block(bias, first + block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  const float* weights = panel_of(segment, first);
  const std::int64_t pixel_step = window.stride_width * input.pixel_stride;
  const TapSpan rows = row_taps(window, out_row);
  const TapSpan columns = kChecked ? column_taps(window, out_column) : TapSpan{0, window.kernel_width};
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    const float* in_row =
        input.data + input_row(window, out_row, tap_row) * window.in_width * input.pixel_stride;
    for (std::int64_t tap_column = columns.first; tap_column < columns.end; ++tap_column) {
      const float* in = in_row + input_column(window, out_column, tap_column) * input.pixel_stride + first;
      const float* tap_weights = weights + (tap_row * window.kernel_width + tap_column) * segment.tap_stride;
      Vec tap_vector[kBlocks];
      for (int block = 0; block < kBlocks; ++block)
        tap_vector[block] = load(tap_weights + block * segment.panel_stride);
      for (int pixel = 0; pixel < kPixels; ++pixel)
        for (int block = 0; block < kBlocks; ++block)
          sums[pixel][block] += load(in + pixel * pixel_step + block * kLanes) * tap_vector[block];
    }
  }
  for (int pixel = 0; pixel < kPixels; ++pixel) {
    float* out =
        output.data + (out_row * window.out_width + out_column + pixel) * output.pixel_stride + first;
    for (int block = 0; block < kBlocks; ++block)
      store_outputs(out + block * kLanes, sums[pixel][block], rectifier,
                    block == kBlocks - 1 ? last_count : kLanes);
  }
}

// Tiles of kPixels pixels from out_column on while they end by `end`, then of half as many, down to one.
template <int kPixels, int kBlocks>
REDS_INLINE void depthwise_tiles(const Window& window, const MapView& input, const WeightSegment& segment,
                                 std::int64_t first, std::int64_t last_count, const float* bias,
                                 std::int64_t out_row, std::int64_t end, const Rectifier* rectifier,
                                 const MutableMapView& output, std::int64_t& out_column) {
  for (; out_column + kPixels <= end; out_column += kPixels)
    depthwise_tile<kPixels, kBlocks, false>(window, input, segment, first, last_count, bias, out_row,
                                            out_column, rectifier, output);
  if constexpr (kPixels > 1)
    depthwise_tiles<kPixels / 2, kBlocks>(window, input, segment, first, last_count, bias, out_row, end,
                                          rectifier, output, out_column);
}

// One output row, channels [first, first + 8 * kBlocks): single pixels where taps fall into the padding,
// tiles inside.
template <int kBlocks>
REDS_INLINE void depthwise_row(const Window& window, const MapView& input, const WeightSegment& segment,
                               std::int64_t first, std::int64_t last_count, const float* bias,
                               std::int64_t out_row, const ColumnSpan& interior, const Rectifier* rectifier,
                               const MutableMapView& output) {
  std::int64_t out_column = 0;
  for (; out_column < interior.first; ++out_column)
    depthwise_tile<1, kBlocks, true>(window, input, segment, first, last_count, bias, out_row, out_column,
                                     rectifier, output);
  depthwise_tiles<kTilePixels<kBlocks>, kBlocks>(window, input, segment, first, last_count, bias, out_row,
                                                 interior.end, rectifier, output, out_column);
  for (; out_column < window.out_width; ++out_column)
    depthwise_tile<1, kBlocks, true>(window, input, segment, first, last_count, bias, out_row, out_column,
                                     rectifier, output);
}

// Depthwise weights: one range per level, its one segment addressed as in depthwise_tile.
REDS_INLINE void depthwise(const Window& window, const MapView& input, const SegmentedWeights& weights,
                           const float* bias, const Rectifier* rectifier, const MutableMapView& output) {
  const ColumnSpan interior = interior_columns(window);
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row)
    for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
      const WeightSegment& segment = range->segments[0];
      std::int64_t first = range->first;
      for (; first + 4 * kLanes <= range->end; first += 4 * kLanes)
        depthwise_row<4>(window, input, segment, first, kLanes, bias, out_row, interior, rectifier, output);
      // The rest in one pass of 1 to 4 blocks, the last one partial.
      const std::int64_t rest = range->end - first;
      const std::int64_t last_count = rest - (rest - 1) / kLanes * kLanes;
      switch ((rest + kLanes - 1) / kLanes) {
        case 1:
          depthwise_row<1>(window, input, segment, first, last_count, bias, out_row, interior, rectifier,
                           output);
          break;
        case 2:
          depthwise_row<2>(window, input, segment, first, last_count, bias, out_row, interior, rectifier,
                           output);
          break;
        case 3:
          depthwise_row<3>(window, input, segment, first, last_count, bias, out_row, interior, rectifier,
                           output);
          break;
        case 4:
          depthwise_row<4>(window, input, segment, first, last_count, bias, out_row, interior, rectifier,
                           output);
          break;
        default:
          break;
      }
    }
}

// --- Dense --------------------------------------------------------------------------------------------

template <int kBlocks>
REDS_INLINE void dense_block(const DenseInput& input, const ColumnRange& range, std::int64_t first,
                             std::int64_t last_count, const float* bias, const Rectifier* rectifier,
                             float* output) {
  constexpr int kChains = kChainsFor<kBlocks>;
  Vec sums[kChains][kBlocks];
  start_sums(sums, bias, first);
  const std::int64_t column = first - range.first;
  for (const WeightSegment* segment = range.segments; segment != range.segments + range.segment_count;
       ++segment)
    for (std::int64_t group = 0; group < input.input_groups; ++group)
      accumulate_rows(sums, input.data + group * input.group_features, segment->first_row, segment->end_row,
                      panel_of(*segment, column) + group * segment->tap_stride, segment->row_stride,
                      segment->panel_stride);
  store_sums(sums, output + first, rectifier, last_count);
}

REDS_INLINE void dense_ranges(const DenseInput& input, const SegmentedWeights& weights, const float* bias,
                              const Rectifier* rectifier, float* output) {
  for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
    std::int64_t first = range->first;
    for (; first + 4 * kLanes <= range->end; first += 4 * kLanes)
      dense_block<4>(input, *range, first, kLanes, bias, rectifier, output);
    // The rest in one pass of 1 to 4 blocks, the last one partial.
    const std::int64_t rest = range->end - first;
    const std::int64_t last_count = rest - (rest - 1) / kLanes * kLanes;
    switch ((rest + kLanes - 1) / kLanes) {
      case 1:
        dense_block<1>(input, *range, first, last_count, bias, rectifier, output);
        break;
      case 2:
        dense_block<2>(input, *range, first, last_count, bias, rectifier, output);
        break;
      case 3:
        dense_block<3>(input, *range, first, last_count, bias, rectifier, output);
        break;
      case 4:
        dense_block<4>(input, *range, first, last_count, bias, rectifier, output);
        break;
      default:
        break;
    }
  }
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

Window window_of(const Layer& layer, const Shape& input, const Shape& output) {
  Window window;
  window.in_height = input.height;
  window.in_width = input.width;
  window.out_height = output.height;
  window.out_width = output.width;
  window.kernel_height = layer.kernel_height;
  window.kernel_width = layer.kernel_width;
  window.stride_height = layer.stride_height;
  window.stride_width = layer.stride_width;
  window.dilation_height = layer.dilation_height;
  window.dilation_width = layer.dilation_width;
  window.pad_top = axis_geometry(input.height, layer.kernel_height, layer.stride_height,
                                 layer.dilation_height, layer.padding)
                       .pad_before;
  window.pad_left =
      axis_geometry(input.width, layer.kernel_width, layer.stride_width, layer.dilation_width, layer.padding)
          .pad_before;
  return window;
}

REDS_KERNEL void conv2d(const Window& window, const MapView& input, const WeightView& weights,
                        const float* bias, std::int64_t groups, const Rectifier* rectifier,
                        const MutableMapView& output) {
  const std::int64_t in_per_group = input.channels / groups;
  const std::int64_t out_per_group = output.channels / groups;
  for (std::int64_t group = 0; group < groups; ++group) {
    const WeightSegment segment{
        weights.data + group * out_per_group,      0,     in_per_group, weights.row_stride,
        weights.rows_per_tap * weights.row_stride, kLanes};
    const ColumnRange range{0, out_per_group, &segment, 1};
    const MapView group_input{input.data + group * in_per_group, input.pixel_stride, in_per_group};
    const MutableMapView group_output{output.data + group * out_per_group, output.pixel_stride,
                                      out_per_group};
    conv2d_one_group(window, group_input, SegmentedWeights{&range, 1},
                     bias ? bias + group * out_per_group : nullptr, rectifier, group_output);
  }
}

REDS_KERNEL void conv2d_segmented(const Window& window, const MapView& input, const SegmentedWeights& weights,
                                  const float* bias, const Rectifier* rectifier,
                                  const MutableMapView& output) {
  conv2d_one_group(window, input, weights, bias, rectifier, output);
}

REDS_KERNEL void depthwise_conv2d(const Window& window, const MapView& input, const float* weights,
                                  std::int64_t row_stride, const float* bias, const Rectifier* rectifier,
                                  const MutableMapView& output) {
  const WeightSegment segment{weights, 0, 1, 0, row_stride, kLanes};
  const ColumnRange range{0, output.channels, &segment, 1};
  depthwise(window, input, SegmentedWeights{&range, 1}, bias, rectifier, output);
}

REDS_KERNEL void depthwise_conv2d_segmented(const Window& window, const MapView& input,
                                            const SegmentedWeights& weights, const float* bias,
                                            const Rectifier* rectifier, const MutableMapView& output) {
  depthwise(window, input, weights, bias, rectifier, output);
}

REDS_KERNEL void dense(const DenseInput& input, const float* weights, std::int64_t row_stride,
                       const float* bias, std::int64_t out_features, const Rectifier* rectifier,
                       float* output) {
  const WeightSegment segment{
      weights, 0, input.group_features, row_stride, input.group_row_stride * row_stride, kLanes};
  const ColumnRange range{0, out_features, &segment, 1};
  dense_ranges(input, SegmentedWeights{&range, 1}, bias, rectifier, output);
}

REDS_KERNEL void dense_segmented(const DenseInput& input, const SegmentedWeights& weights, const float* bias,
                                 const Rectifier* rectifier, float* output) {
  dense_ranges(input, weights, bias, rectifier, output);
}

// One output pixel of an average pool, channels [first, first + 8 * kBlocks) (the last block's `last_count`
// lanes stored): the mean over the window's pixels inside the input.
template <int kBlocks>
REDS_INLINE void average_block(const Window& window, const MapView& input, std::int64_t out_row,
                               std::int64_t out_column, std::int64_t first, std::int64_t last_count,
                               float* out) {
  Vec sums[kBlocks] = {};
  const TapSpan rows = row_taps(window, out_row), columns = column_taps(window, out_column);
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    for (std::int64_t tap_column = columns.first; tap_column < columns.end; ++tap_column) {
      const float* in =
          input.data +
          (row * window.in_width + input_column(window, out_column, tap_column)) * input.pixel_stride + first;
      for (int block = 0; block < kBlocks; ++block) sums[block] += load(in + block * kLanes);
    }
  }
  const std::int64_t count = (rows.end - rows.first) * (columns.end - columns.first);
  const Vec scale = splat(1.0f / static_cast<float>(count));
  for (int block = 0; block < kBlocks; ++block)
    store_outputs(out + first + block * kLanes, sums[block] * scale, nullptr,
                  block == kBlocks - 1 ? last_count : kLanes);
}

REDS_INLINE void average(const Window& window, const MapView& input, const MutableMapView& output) {
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    for (std::int64_t out_column = 0; out_column < window.out_width; ++out_column) {
      float* out = output.data + (out_row * window.out_width + out_column) * output.pixel_stride;
      std::int64_t first = 0;
      for (; first + 4 * kLanes <= output.channels; first += 4 * kLanes)
        average_block<4>(window, input, out_row, out_column, first, kLanes, out);
      for (; first < output.channels; first += kLanes)
        average_block<1>(window, input, out_row, out_column, first, std::min(kLanes, output.channels - first),
                         out);
    }
  }
}

REDS_KERNEL void average_pool2d(const Window& window, const MapView& input, const MutableMapView& output) {
  average(window, input, output);
}

void max_pool2d(const Window& window, const MapView& input, const MutableMapView& output) {
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    const TapSpan rows = row_taps(window, out_row);
    for (std::int64_t out_column = 0; out_column < window.out_width; ++out_column) {
      const TapSpan columns = column_taps(window, out_column);
      float* out = output.data + (out_row * window.out_width + out_column) * output.pixel_stride;
      std::fill(out, out + output.channels, -std::numeric_limits<float>::infinity());
      for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
        const std::int64_t row = input_row(window, out_row, tap_row);
        for (std::int64_t tap_column = columns.first; tap_column < columns.end; ++tap_column) {
          const float* in =
              input.data +
              (row * window.in_width + input_column(window, out_column, tap_column)) * input.pixel_stride;
          for (std::int64_t channel = 0; channel < output.channels; ++channel)
            out[channel] = std::max(out[channel], in[channel]);
        }
      }
    }
  }
}

REDS_KERNEL void global_average_pool2d(const MapView& input, std::int64_t pixels, float* output) {
  // One window over all pixels, seen as a row.
  Window window;
  window.in_height = window.out_height = window.out_width = 1;
  window.in_width = window.kernel_width = pixels;
  average(window, input, {output, input.channels, input.channels});
}

void rectify(const Rectifier& rectifier, float* values, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) values[i] = rectified(rectifier, values[i]);
}

void add(const float* first, const float* second, std::int64_t count, const Rectifier* rectifier,
         float* output) {
  if (rectifier)
    for (std::int64_t i = 0; i < count; ++i) output[i] = rectified(*rectifier, first[i] + second[i]);
  else
    for (std::int64_t i = 0; i < count; ++i) output[i] = first[i] + second[i];
}

void zero_padding2d(const Window& window, const MapView& input, const MutableMapView& output) {
  const std::int64_t channels = output.channels;
  std::fill(output.data, output.data + window.out_height * window.out_width * output.pixel_stride, 0.0f);
  for (std::int64_t row = 0; row < window.in_height; ++row)
    for (std::int64_t column = 0; column < window.in_width; ++column) {
      const float* from = input.data + (row * window.in_width + column) * input.pixel_stride;
      float* to = output.data + ((row + window.pad_top) * window.out_width + column + window.pad_left) *
                                    output.pixel_stride;
      std::copy(from, from + channels, to);
    }
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
