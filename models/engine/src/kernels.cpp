#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "conv_avx2.h"
#include "depthwise_avx2.h"
#include "few_inputs_avx2.h"
#include "simd.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#endif

namespace reds::engine::kernels {

namespace {

using Vec = simd::Vec<float>;
constexpr std::int64_t kLanes = kVectorLanes;
static_assert(kLanes == simd::kLanes<float>);
using simd::load;
using simd::store;

// Every lane `value`, as one broadcast (Vec{} + value would add 0.0 first, an addition the compiler must
// keep since -0.0 + 0.0 is +0.0; GCC 12 compiles a list of equal lanes inlined into a loop to lane inserts).
REDS_INLINE Vec splat(float value) {
  Vec first = {};
  first[0] = value;
  return __builtin_shufflevector(first, first, 0, 0, 0, 0, 0, 0, 0, 0);
}

// *from in every lane, as a load and a broadcast. Reads the 3 floats after it too (within kReadPadding).
REDS_INLINE Vec broadcast(const float* from) {
  typedef float Quarter __attribute__((vector_size(16)));
  Quarter first;
  std::memcpy(&first, from, sizeof first);
  return __builtin_shufflevector(first, first, 0, 0, 0, 0, 0, 0, 0, 0);
}

// Channels [first, end), at most 4 blocks of kLanes, in one pass, the last block partial: calls
// run.template operator()<blocks>(first, the channels of the last block).
template <class Pass>
REDS_INLINE void in_one_pass(std::int64_t first, std::int64_t end, Pass&& run) {
  const std::int64_t rest = end - first;
  const std::int64_t last_count = rest - (rest - 1) / kLanes * kLanes;
  switch ((rest + kLanes - 1) / kLanes) {
    case 1:
      run.template operator()<1>(first, last_count);
      break;
    case 2:
      run.template operator()<2>(first, last_count);
      break;
    case 3:
      run.template operator()<3>(first, last_count);
      break;
    case 4:
      run.template operator()<4>(first, last_count);
      break;
    default:
      break;
  }
}

// Channels [first, end) in passes of 4 blocks, then the rest in one pass of 1 to 4 blocks (a narrow level's
// channels cost one pass, not one per block).
template <class Pass>
REDS_INLINE void in_block_passes(std::int64_t first, std::int64_t end, Pass&& run) {
  for (; first + 4 * kLanes <= end; first += 4 * kLanes) run.template operator()<4>(first, kLanes);
  in_one_pass(first, end, run);
}

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

// What becomes of a convolution's sums on their way to the output: with a level's per-level statistics
// (`scale`), the sums, started from zero, become scale * sum + shift per output channel (`shift` is the
// level's bias); with `accumulate`, the values the output already holds are added next (a residual addition
// fused into the convolution that writes over the skip tensor, in the order the separate addition would add
// them), then the rectifier, if any, is applied.
struct Epilogue {
  Epilogue(const Rectifier* rectifier_after, bool accumulate_onto_output = false,  // NOLINT: implicit
           const float* level_scale = nullptr, const float* level_shift = nullptr)
      : rectifier(rectifier_after),
        accumulate(accumulate_onto_output),
        scale(level_scale),
        shift(level_shift) {}
  // The same for the output channels from `channel` on.
  Epilogue at(std::int64_t channel) const {
    return scale ? Epilogue(rectifier, accumulate, scale + channel, shift + channel) : *this;
  }
  const Rectifier* rectifier;
  bool accumulate;
  const float* scale;  // indexed by output channel, as a kernel's bias; null: the sums are the outputs
  const float* shift;
};

// Stores the first `count` (1 to 8) lanes of output channels [channel, channel + 8); the others were
// computed from padding and are dropped.
REDS_INLINE void store_outputs(float* to, Vec value, const Epilogue& epilogue, std::int64_t count,
                               std::int64_t channel) {
  if (epilogue.scale) value = value * load(epilogue.scale + channel) + load(epilogue.shift + channel);
  if (epilogue.accumulate) {
    if (count == kLanes) {
      value += load(to);
    } else {
      float held[kLanes] = {};
      for (std::int64_t lane = 0; lane < count; ++lane) held[lane] = to[lane];
      value += load(held);
    }
  }
  const Vec result = epilogue.rectifier ? rectified(*epilogue.rectifier, value) : value;
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
  const std::int64_t room = size - 1 - start;     // taps t with t * dilation <= room
  if (dilation == 1) {                            // the common case, without the divisions
    const std::int64_t first = start >= 0 ? 0 : -start;
    const std::int64_t end = room < 0 ? 0 : std::min(kernel, room + 1);
    return {first, std::max(first, end)};
  }
  const std::int64_t first = start >= 0 ? 0 : (dilation - 1 - start) / dilation;
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
// Depthwise tiles: 12 sums, 3 pixels of 32 channels, 4 of 24, 6 of 16, 12 of 8.
template <int kBlocks>
constexpr int kDepthwiseTilePixels = kBlocks >= 4   ? 3
                                     : kBlocks == 3 ? 4
                                                    : 12 / kBlocks;

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

// Stores the sum of the chains (the bias is in chain 0) as output channels from `first` on, at `to`, the
// last block's `last_count` lanes only.
template <int kBlocks, int kChains>
REDS_INLINE void store_sums(Vec (&sums)[kChains][kBlocks], float* to, const Epilogue& epilogue,
                            std::int64_t last_count, std::int64_t first) {
  for (int block = 0; block < kBlocks; ++block) {
    for (int chain = 1; chain < kChains; ++chain) sums[0][block] += sums[chain][block];
    store_outputs(to + block * kLanes, sums[0][block], epilogue, block == kBlocks - 1 ? last_count : kLanes,
                  first + block * kLanes);
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
                            std::int64_t out_row, std::int64_t out_column, const Epilogue& epilogue,
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
  store_sums(sums, out_pixel + first, epilogue, last_count, first);
}

// kPixels adjacent output pixels of a row, all inside the input horizontally, output channels
// [first, first + 8 * kBlocks): every weight load serves the kPixels pixels.
template <int kPixels, int kBlocks>
REDS_INLINE void conv_tile(const Window& window, const MapView& input, const ColumnRange& range,
                           std::int64_t first, std::int64_t last_count, const float* bias,
                           std::int64_t out_row, std::int64_t out_column, const Epilogue& epilogue,
                           const MutableMapView& output) {
  Vec sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const Vec start = bias_block(bias, first + block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  const std::int64_t column = first - range.first;
  const std::int64_t pixel_step = window.stride_width * input.pixel_stride;
  const TapSpan rows = row_taps(window, out_row);
  // One segment of every input channel, stored tap after tap, over a map of just those channels: a row of
  // taps reads one run of kernel_width x channels consecutive floats and weight rows (a first convolution of
  // 3 channels then loops once over 9 rows instead of 3 times over 3).
  const WeightSegment& only = range.segments[0];
  const bool tap_rows_run = range.segment_count == 1 && only.first_row == 0 &&
                            only.end_row == input.channels && input.pixel_stride == input.channels &&
                            window.dilation_width == 1 && only.tap_stride == input.channels * only.row_stride;
  if (tap_rows_run) {
    const std::int64_t run_rows = window.kernel_width * input.channels;
    for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
      const std::int64_t row = input_row(window, out_row, tap_row);
      const float* in =
          input.data + (row * window.in_width + input_column(window, out_column, 0)) * input.pixel_stride;
      const float* weights = panel_of(only, column) + tap_row * window.kernel_width * only.tap_stride;
      for (std::int64_t channel = 0; channel < run_rows; ++channel, weights += only.row_stride) {
        Vec row_weights[kBlocks];
        for (int block = 0; block < kBlocks; ++block)
          row_weights[block] = load(weights + block * only.panel_stride);
        for (int pixel = 0; pixel < kPixels; ++pixel) {
          const Vec value = splat(in[pixel * pixel_step + channel]);
          for (int block = 0; block < kBlocks; ++block) sums[pixel][block] += value * row_weights[block];
        }
      }
    }
  }
  for (std::int64_t tap_row = rows.first; tap_row < (tap_rows_run ? rows.first : rows.end); ++tap_row) {
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
      store_outputs(out + block * kLanes, sums[pixel][block], epilogue,
                    block == kBlocks - 1 ? last_count : kLanes, first + block * kLanes);
  }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define REDS_AVX2_DIRECT 1
// Whether the processor has AVX2 and FMA (the intrinsic kernels below run only then).
const bool avx2_fma = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}();

// Rows [0, count) of a run into 8 pixels' sums: input value k of pixel p at in[p * step + k], its weights at
// weights + k * row_stride.
[[gnu::target("arch=x86-64-v3"), gnu::always_inline]] inline void run_8x8(__m256 (&sums)[8], const float* in,
                                                                          std::int64_t step,
                                                                          const float* weights,
                                                                          std::int64_t count,
                                                                          std::int64_t row_stride) {
  __m256 s0 = sums[0], s1 = sums[1], s2 = sums[2], s3 = sums[3], s4 = sums[4], s5 = sums[5], s6 = sums[6],
         s7 = sums[7];
  const float* far = in + 4 * step;
  for (std::int64_t k = 0; k < count; ++k, ++in, ++far, weights += row_stride) {
    const __m256 w = _mm256_loadu_ps(weights);
    s0 = _mm256_fmadd_ps(_mm256_broadcast_ss(in), w, s0);
    s1 = _mm256_fmadd_ps(_mm256_broadcast_ss(in + step), w, s1);
    s2 = _mm256_fmadd_ps(_mm256_broadcast_ss(in + 2 * step), w, s2);
    s3 = _mm256_fmadd_ps(_mm256_broadcast_ss(in + 3 * step), w, s3);
    s4 = _mm256_fmadd_ps(_mm256_broadcast_ss(far), w, s4);
    s5 = _mm256_fmadd_ps(_mm256_broadcast_ss(far + step), w, s5);
    s6 = _mm256_fmadd_ps(_mm256_broadcast_ss(far + 2 * step), w, s6);
    s7 = _mm256_fmadd_ps(_mm256_broadcast_ss(far + 3 * step), w, s7);
  }
  sums[0] = s0, sums[1] = s1, sums[2] = s2, sums[3] = s3, sums[4] = s4, sums[5] = s5, sums[6] = s6,
  sums[7] = s7;
}

// conv_tile<8, 1> written with AVX2 intrinsics: 8 pixels of one 8-channel block (a narrow level's layer)
// need a broadcast per multiply-add, and GCC's vector extensions broadcast through a vector pipe, which
// then bounds the kernel; _mm256_broadcast_ss is one load. The same rows in the same order as conv_tile.
// kMapped: the epilogue has per-level statistics (without, the stores are those of a model without them).
template <bool kMapped>
[[gnu::target("arch=x86-64-v3")]] void conv_tile_8x8(const Window& window, const MapView& input,
                                                     const ColumnRange& range, std::int64_t first,
                                                     std::int64_t last_count, const float* bias,
                                                     std::int64_t out_row, std::int64_t out_column,
                                                     const Epilogue& given, const MutableMapView& output) {
  const Epilogue epilogue = kMapped ? given : Epilogue(given.rectifier, given.accumulate);
  const __m256 start = bias ? _mm256_loadu_ps(bias + first) : _mm256_setzero_ps();
  __m256 sums[8] = {start, start, start, start, start, start, start, start};
  const std::int64_t column = first - range.first;
  const std::int64_t step = window.stride_width * input.pixel_stride;
  const TapSpan rows = row_taps(window, out_row);
  const WeightSegment& only = range.segments[0];
  const bool tap_rows_run = range.segment_count == 1 && only.first_row == 0 &&
                            only.end_row == input.channels && input.pixel_stride == input.channels &&
                            window.dilation_width == 1 && only.tap_stride == input.channels * only.row_stride;
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    if (tap_rows_run) {
      run_8x8(sums,
              input.data + (row * window.in_width + input_column(window, out_column, 0)) * input.pixel_stride,
              step, panel_of(only, column) + tap_row * window.kernel_width * only.tap_stride,
              window.kernel_width * input.channels, only.row_stride);
      continue;
    }
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const float* in = input.data + (row * window.in_width + input_column(window, out_column, tap_column)) *
                                         input.pixel_stride;
      const std::int64_t tap = tap_row * window.kernel_width + tap_column;
      for (const WeightSegment* segment = range.segments; segment != range.segments + range.segment_count;
           ++segment)
        run_8x8(sums, in + segment->first_row, step, panel_of(*segment, column) + tap * segment->tap_stride,
                segment->end_row - segment->first_row, segment->row_stride);
    }
  }
  for (int pixel = 0; pixel < 8; ++pixel) {
    Vec sum;
    std::memcpy(&sum, &sums[pixel], sizeof sum);
    store_outputs(
        output.data + (out_row * window.out_width + out_column + pixel) * output.pixel_stride + first, sum,
        epilogue, last_count, first);
  }
}
#endif

// Tiles of kPixels pixels from out_column on while they end by `end`, then of half as many, down to two.
template <int kPixels, int kBlocks>
REDS_INLINE void conv_tiles(const Window& window, const MapView& input, const ColumnRange& range,
                            std::int64_t first, std::int64_t last_count, const float* bias,
                            std::int64_t out_row, std::int64_t end, const Epilogue& epilogue,
                            const MutableMapView& output, std::int64_t& out_column) {
#ifdef REDS_AVX2_DIRECT
  if constexpr (kPixels == 8 && kBlocks == 1)
    if (avx2_fma) {
      for (; out_column + kPixels <= end; out_column += kPixels)
        (epilogue.scale ? conv_tile_8x8<true> : conv_tile_8x8<false>)(window, input, range, first, last_count,
                                                                      bias, out_row, out_column, epilogue,
                                                                      output);
    }
#endif
  for (; out_column + kPixels <= end; out_column += kPixels)
    conv_tile<kPixels, kBlocks>(window, input, range, first, last_count, bias, out_row, out_column, epilogue,
                                output);
  if constexpr (kPixels > 2)
    conv_tiles<kPixels / 2, kBlocks>(window, input, range, first, last_count, bias, out_row, end, epilogue,
                                     output, out_column);
}

// One output row, output channels [first, first + 8 * kBlocks): single pixels where taps may fall into
// the padding, tiles of pixels inside.
template <int kBlocks>
REDS_INLINE void conv_row(const Window& window, const MapView& input, const ColumnRange& range,
                          std::int64_t first, std::int64_t last_count, const float* bias,
                          std::int64_t out_row, const ColumnSpan& interior, const Epilogue& epilogue,
                          const MutableMapView& output) {
  float* out_row_pixels = output.data + out_row * window.out_width * output.pixel_stride;
  std::int64_t out_column = 0;
  for (; out_column < interior.first; ++out_column)
    conv_pixel<kBlocks>(window, input, range, first, last_count, bias, out_row, out_column, epilogue,
                        out_row_pixels + out_column * output.pixel_stride);
  conv_tiles<kTilePixels<kBlocks>, kBlocks>(window, input, range, first, last_count, bias, out_row,
                                            interior.end, epilogue, output, out_column);
  for (; out_column < window.out_width; ++out_column)
    conv_pixel<kBlocks>(window, input, range, first, last_count, bias, out_row, out_column, epilogue,
                        out_row_pixels + out_column * output.pixel_stride);
}

// --- Convolution over several column ranges in one pass ------------------------------------------------
//
// Above its smallest level, a nested layer's output channels come in several column ranges (session.h), each
// a whole number of 8-lane blocks but the last. Computed range by range, a layer of 16 channels grown from 8
// is two passes of one block, each broadcasting every input value for one block of multiply-adds; the
// kernels below compute up to 4 blocks of any ranges in one pass, as an unplanned layer's one range would.
// The rows of the ranges' segments are cut at every segment boundary into intervals; over each interval
// every block reads one segment, so that each broadcast serves all blocks. Rows are summed in the order the
// range-by-range kernels sum them (taps, then a range's segments, rows ascending), to the same values.

constexpr int kMaxPassBlocks = 4;
constexpr int kMaxPassIntervals = 8;

struct PassInterval {
  std::int64_t first_row = 0, end_row = 0;
  // Per block: its weights at tap 0 and the interval's first row, and the strides of its segment.
  const float* weights[kMaxPassBlocks] = {};
  std::int64_t tap_stride[kMaxPassBlocks] = {};
  std::int64_t row_stride[kMaxPassBlocks] = {};
};

struct ColumnPass {
  int blocks = 0;
  int intervals = 0;
  std::int64_t last_count = kLanes;  // lanes stored of the last block
  PassInterval interval[kMaxPassIntervals];
};

// The pass over every range, or false when they do not make one: more than 4 blocks, a range not on whole
// blocks (other than the last's end) or ranges that do not follow each other from column 0, rows a range
// does not cover while another does, more than kMaxPassIntervals intervals.
REDS_INLINE bool plan_column_pass(const SegmentedWeights& weights, ColumnPass& pass) {
  const ColumnRange* const begin = weights.ranges;
  const ColumnRange* const end = weights.ranges + weights.range_count;
  const std::int64_t columns = end[-1].end;
  const std::int64_t blocks = (columns + kLanes - 1) / kLanes;
  if (blocks > kMaxPassBlocks || begin->first != 0) return false;
  std::int64_t cuts[kMaxPassIntervals + 1];
  int cut_count = 0;
  for (const ColumnRange* range = begin; range != end; ++range) {
    if (range->first % kLanes != 0 || (range + 1 != end && range->end % kLanes != 0) ||
        (range != begin && range->first != range[-1].end))
      return false;
    for (const WeightSegment* segment = range->segments; segment != range->segments + range->segment_count;
         ++segment)
      for (const std::int64_t row : {segment->first_row, segment->end_row}) {
        if (std::find(cuts, cuts + cut_count, row) != cuts + cut_count) continue;
        if (cut_count == kMaxPassIntervals + 1) return false;
        cuts[cut_count++] = row;
      }
  }
  // Insertion sort (a handful of cuts; GCC 12 warns of bounds inside std::sort's on a small array).
  for (int index = 1; index < cut_count; ++index)
    for (int at = index; at > 0 && cuts[at - 1] > cuts[at]; --at) std::swap(cuts[at - 1], cuts[at]);
  pass.blocks = static_cast<int>(blocks);
  pass.intervals = cut_count - 1;
  pass.last_count = columns - (blocks - 1) * kLanes;
  for (int index = 0; index < pass.intervals; ++index) {
    PassInterval& interval = pass.interval[index];
    interval.first_row = cuts[index];
    interval.end_row = cuts[index + 1];
    for (int block = 0; block < pass.blocks; ++block) {
      const std::int64_t column = block * kLanes;
      const ColumnRange* range = begin;
      while (range->end <= column) ++range;
      const WeightSegment* segment = range->segments;
      const WeightSegment* const last = range->segments + range->segment_count;
      while (segment != last &&
             !(segment->first_row <= interval.first_row && interval.end_row <= segment->end_row))
        ++segment;
      if (segment == last) return false;
      interval.weights[block] = segment->data + (column - range->first) / kLanes * segment->panel_stride +
                                (interval.first_row - segment->first_row) * segment->row_stride;
      interval.tap_stride[block] = segment->tap_stride;
      interval.row_stride[block] = segment->row_stride;
    }
  }
  return true;
}

// kPixels adjacent output pixels of a row, all inside the input horizontally, every block of the pass.
template <int kPixels, int kBlocks>
REDS_INLINE void pass_tile(const Window& window, const MapView& input, const ColumnPass& pass,
                           const float* bias, std::int64_t out_row, std::int64_t out_column,
                           const Epilogue& epilogue, const MutableMapView& output) {
  Vec sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const Vec start = bias_block(bias, block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  const std::int64_t pixel_step = window.stride_width * input.pixel_stride;
  const TapSpan rows = row_taps(window, out_row);
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    const std::int64_t row = input_row(window, out_row, tap_row);
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const std::int64_t in_column = input_column(window, out_column, tap_column);
      const float* in = input.data + (row * window.in_width + in_column) * input.pixel_stride;
      const std::int64_t tap = tap_row * window.kernel_width + tap_column;
      for (const PassInterval* interval = pass.interval; interval != pass.interval + pass.intervals;
           ++interval) {
        const float* weights[kBlocks];
        for (int block = 0; block < kBlocks; ++block)
          weights[block] = interval->weights[block] + tap * interval->tap_stride[block];
        for (std::int64_t channel = interval->first_row; channel < interval->end_row; ++channel) {
          Vec row_weights[kBlocks];
          for (int block = 0; block < kBlocks; ++block) {
            row_weights[block] = load(weights[block]);
            weights[block] += interval->row_stride[block];
          }
          for (int pixel = 0; pixel < kPixels; ++pixel) {
            const Vec value = splat(in[pixel * pixel_step + channel]);
            for (int block = 0; block < kBlocks; ++block) sums[pixel][block] += value * row_weights[block];
          }
        }
      }
    }
  }
  for (int pixel = 0; pixel < kPixels; ++pixel) {
    float* out = output.data + (out_row * window.out_width + out_column + pixel) * output.pixel_stride;
    for (int block = 0; block < kBlocks; ++block)
      store_outputs(out + block * kLanes, sums[pixel][block], epilogue,
                    block == kBlocks - 1 ? pass.last_count : kLanes, block * kLanes);
  }
}

// Tiles of kPixels pixels from out_column on while they end by `end`, then of half as many, down to two.
template <int kPixels, int kBlocks>
REDS_INLINE void pass_tiles(const Window& window, const MapView& input, const ColumnPass& pass,
                            const float* bias, std::int64_t out_row, std::int64_t end,
                            const Epilogue& epilogue, const MutableMapView& output,
                            std::int64_t& out_column) {
  for (; out_column + kPixels <= end; out_column += kPixels)
    pass_tile<kPixels, kBlocks>(window, input, pass, bias, out_row, out_column, epilogue, output);
  if constexpr (kPixels > 2)
    pass_tiles<kPixels / 2, kBlocks>(window, input, pass, bias, out_row, end, epilogue, output, out_column);
}

// One output pixel, range by range (each of at most 4 blocks).
REDS_INLINE void conv_pixel_ranges(const Window& window, const MapView& input,
                                   const SegmentedWeights& weights, const float* bias, std::int64_t out_row,
                                   std::int64_t out_column, const Epilogue& epilogue, float* out_pixel) {
  for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
    in_one_pass(
        range->first, range->end,
        [&]<int kBlocks>(std::int64_t first, std::int64_t last_count) __attribute__((always_inline)) {
          conv_pixel<kBlocks>(window, input, *range, first, last_count, bias, out_row, out_column, epilogue,
                              out_pixel);
        });
  }
}

// Every output row: single pixels where taps may fall into the padding (range by range, as conv_row
// computes them), tiles of the pass inside.
template <int kBlocks>
REDS_INLINE void conv_pass(const Window& window, const MapView& input, const SegmentedWeights& weights,
                           const ColumnPass& pass, const float* bias, const Epilogue& epilogue,
                           const MutableMapView& output) {
  const ColumnSpan interior = interior_columns(window);
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    float* out_row_pixels = output.data + out_row * window.out_width * output.pixel_stride;
    std::int64_t out_column = 0;
    for (; out_column < interior.first; ++out_column)
      conv_pixel_ranges(window, input, weights, bias, out_row, out_column, epilogue,
                        out_row_pixels + out_column * output.pixel_stride);
    pass_tiles<kTilePixels<kBlocks>, kBlocks>(window, input, pass, bias, out_row, interior.end, epilogue,
                                              output, out_column);
    for (; out_column < window.out_width; ++out_column)
      conv_pixel_ranges(window, input, weights, bias, out_row, out_column, epilogue,
                        out_row_pixels + out_column * output.pixel_stride);
  }
}

// A 1x1 convolution with stride 1 and no padding: output pixel p reads input pixel p alone.
REDS_INLINE bool is_pointwise(const Window& window) {
  return window.kernel_height == 1 && window.kernel_width == 1 && window.stride_height == 1 &&
         window.stride_width == 1 && window.pad_top == 0 && window.pad_left == 0 &&
         window.out_height == window.in_height && window.out_width == window.in_width;
}

// --- Convolution over packed pixel tiles ---------------------------------------------------------------
//
// A convolution is a matrix product: output pixels x (taps x input channels) times (taps x input channels) x
// output channels. The kernels below pack the inputs of kPackedPixels output pixels at a time, row by row of
// that product (the tap's input channel; zero where a tap falls into the padding), so that the micro-kernel
// reads each pixel's value at a fixed offset from one pointer, and compute every output channel of the tile
// from that pack: kPackedPixels x 16 accumulators, each weight row of a panel loaded once for the tile's
// pixels. The tile's inputs and the layer's weights stay in cache while the tile's output channels are
// computed. The weights are the session's panels as they are (kernel_views.h): a panel's rows, tap after
// tap, are consecutive vectors.

constexpr int kPackedPixels = 6;  // 6 pixels x 16 channels: 12 AVX accumulators, 2 weight registers, 1 value
// Rows of the product (taps x input channels) a pack holds on the stack; wider layers use the direct
// kernels above.
constexpr std::int64_t kMaxPackedRows = 2304;

struct PackedTile {
  // values[row * kPixels + pixel]; `broadcast` reads 3 floats past the last.
  alignas(32) float values[kMaxPackedRows * kPackedPixels + kLanes];
};

// Output channels [column, column + 8 * kBlocks) of a range for the tile's pixels: the sum over the
// range's segments, each over the taps and its rows [first_row, end_row) of the `channels` packed per tap.
template <int kPixels, int kBlocks>
REDS_INLINE void packed_tile(const float* packed, std::int64_t taps, std::int64_t channels,
                             const ColumnRange& range, std::int64_t column, const float* tile_bias,
                             const Epilogue& epilogue, std::int64_t last_count, float* out,
                             std::int64_t out_stride, int first_stored) {
  Vec sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const Vec start = bias_block(tile_bias, block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  for (const WeightSegment* segment = range.segments; segment != range.segments + range.segment_count;
       ++segment) {
    const std::int64_t rows = segment->end_row - segment->first_row;
    const std::int64_t row_stride = segment->row_stride, panel_stride = segment->panel_stride;
    // A segment of all the rows whose taps follow each other is one run over taps x rows.
    const bool one_run = rows == channels && segment->tap_stride == rows * row_stride;
    const std::int64_t runs = one_run ? 1 : taps, run_rows = one_run ? taps * rows : rows;
    for (std::int64_t run = 0; run < runs; ++run) {
      const float* weights = panel_of(*segment, column) + run * segment->tap_stride;
      const float* values = packed + (run * channels + segment->first_row) * kPixels;
      const float* const end = values + run_rows * kPixels;
      for (; values != end; values += kPixels, weights += row_stride) {
        Vec row_weights[kBlocks];
        for (int block = 0; block < kBlocks; ++block)
          row_weights[block] = load(weights + block * panel_stride);
        for (int pixel = 0; pixel < kPixels; ++pixel) {
          const Vec value = broadcast(values + pixel);
          for (int block = 0; block < kBlocks; ++block) sums[pixel][block] += value * row_weights[block];
        }
      }
    }
  }
  for (int pixel = first_stored; pixel < kPixels; ++pixel)
    for (int block = 0; block < kBlocks; ++block)
      store_outputs(out + pixel * out_stride + block * kLanes, sums[pixel][block], epilogue,
                    block == kBlocks - 1 ? last_count : kLanes, block * kLanes);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define REDS_AVX2_TILE 1
// packed_tile<6, 2> written with AVX2 intrinsics: every value's broadcast is one load (vbroadcastss from
// memory), where GCC's vector extensions load and then broadcast in a vector pipe, which the 12
// multiply-adds of a row need (measured: about 15 % more multiply-adds per cycle). Chosen when the
// processor has AVX2 and FMA (avx2_tile).
//
// The tile's inputs: row r of pixel p at tile[r * row_step + p * pixel_step] (a pack: row_step 6,
// pixel_step 1; the pixels of a 1x1 convolution in place: row_step 1, pixel_step their stride). Pixels 0-2
// are read from one pointer, 3-5 from another, each at 0, 1 or 2 pixel steps: a base register and a scaled
// index, so that the loop keeps every address in registers. kMapped: as conv_tile_8x8's.
template <int kBlocks, bool kMapped>
[[gnu::target("arch=x86-64-v3")]] void packed_tile_6x16(
    const float* tile, std::int64_t row_step, std::int64_t pixel_step, std::int64_t taps,
    std::int64_t channels, const ColumnRange& range, std::int64_t column, const float* tile_bias,
    const Epilogue& given, std::int64_t last_count, float* out, std::int64_t out_stride, int first_stored) {
  static_assert(kBlocks == 1 || kBlocks == 2);
  const Epilogue epilogue = kMapped ? given : Epilogue(given.rectifier, given.accumulate);
  const __m256 bias0 = tile_bias ? _mm256_loadu_ps(tile_bias) : _mm256_setzero_ps();
  const __m256 bias1 = tile_bias && kBlocks == 2 ? _mm256_loadu_ps(tile_bias + kLanes) : _mm256_setzero_ps();
  __m256 s00 = bias0, s01 = bias1, s10 = bias0, s11 = bias1, s20 = bias0, s21 = bias1;
  __m256 s30 = bias0, s31 = bias1, s40 = bias0, s41 = bias1, s50 = bias0, s51 = bias1;
  for (const WeightSegment* segment = range.segments; segment != range.segments + range.segment_count;
       ++segment) {
    const std::int64_t rows = segment->end_row - segment->first_row;
    const std::int64_t row_stride = segment->row_stride, panel_stride = segment->panel_stride;
    const bool one_run = rows == channels && segment->tap_stride == rows * row_stride;
    const std::int64_t runs = one_run ? 1 : taps, run_rows = one_run ? taps * rows : rows;
    for (std::int64_t run = 0; run < runs; ++run) {
      const float* weights = panel_of(*segment, column) + run * segment->tap_stride;
      const float* near = tile + (run * channels + segment->first_row) * row_step;
      const float* far = near + 3 * pixel_step;
      for (std::int64_t row = 0; row < run_rows;
           ++row, near += row_step, far += row_step, weights += row_stride) {
        const __m256 w0 = _mm256_loadu_ps(weights);
        const __m256 w1 = kBlocks == 2 ? _mm256_loadu_ps(weights + panel_stride) : w0;
        // One value at a time (its broadcast, then its multiply-adds): 12 sums, 2 weights and 1 value
        // fit the 16 registers.
        __m256 value = _mm256_broadcast_ss(near);
        s00 = _mm256_fmadd_ps(value, w0, s00);
        if constexpr (kBlocks == 2) s01 = _mm256_fmadd_ps(value, w1, s01);
        value = _mm256_broadcast_ss(near + pixel_step);
        s10 = _mm256_fmadd_ps(value, w0, s10);
        if constexpr (kBlocks == 2) s11 = _mm256_fmadd_ps(value, w1, s11);
        value = _mm256_broadcast_ss(near + 2 * pixel_step);
        s20 = _mm256_fmadd_ps(value, w0, s20);
        if constexpr (kBlocks == 2) s21 = _mm256_fmadd_ps(value, w1, s21);
        value = _mm256_broadcast_ss(far);
        s30 = _mm256_fmadd_ps(value, w0, s30);
        if constexpr (kBlocks == 2) s31 = _mm256_fmadd_ps(value, w1, s31);
        value = _mm256_broadcast_ss(far + pixel_step);
        s40 = _mm256_fmadd_ps(value, w0, s40);
        if constexpr (kBlocks == 2) s41 = _mm256_fmadd_ps(value, w1, s41);
        value = _mm256_broadcast_ss(far + 2 * pixel_step);
        s50 = _mm256_fmadd_ps(value, w0, s50);
        if constexpr (kBlocks == 2) s51 = _mm256_fmadd_ps(value, w1, s51);
      }
    }
  }
  const __m256 sums[6][2] = {{s00, s01}, {s10, s11}, {s20, s21}, {s30, s31}, {s40, s41}, {s50, s51}};
  for (int pixel = first_stored; pixel < 6; ++pixel)
    for (int block = 0; block < kBlocks; ++block)
      store_outputs(out + pixel * out_stride + block * kLanes, sums[pixel][block], epilogue,
                    block == kBlocks - 1 ? last_count : kLanes, block * kLanes);
}

// Whether packed_tile_6x16 runs on this processor.
const bool avx2_tile = avx2_fma;
#endif

// Packs the inputs of output pixels [first, first + kPixels) (numbered row by row): row t * channels +
// c holds input channel c under tap t.
template <int kPixels>
REDS_INLINE void pack_tile(const Window& window, const MapView& input, std::int64_t first, PackedTile& tile) {
  const std::int64_t channels = input.channels;
  std::int64_t out_row = first / window.out_width, out_column = first % window.out_width;
  for (int pixel = 0; pixel < kPixels; ++pixel) {
    float* to = tile.values + pixel;
    for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
      const std::int64_t row = input_row(window, out_row, tap_row);
      const bool row_inside = row >= 0 && row < window.in_height;
      for (std::int64_t tap_column = 0; tap_column < window.kernel_width;
           ++tap_column, to += channels * kPixels) {
        const std::int64_t column = input_column(window, out_column, tap_column);
        if (!row_inside || column < 0 || column >= window.in_width) {
          for (std::int64_t channel = 0; channel < channels; ++channel) to[channel * kPixels] = 0.0f;
          continue;
        }
        const float* from = input.data + (row * window.in_width + column) * input.pixel_stride;
        for (std::int64_t channel = 0; channel < channels; ++channel) to[channel * kPixels] = from[channel];
      }
    }
    if (++out_column == window.out_width) out_column = 0, ++out_row;
  }
}

// Every output pixel in tiles of kPixels; the last tile ends at the last pixel and may overlap the one
// before it (those pixels are computed again but stored once, so that an accumulating epilogue adds once),
// so that no pixel is left to a narrower kernel. The map must have at least kPixels output pixels.
template <int kPixels, int kWideBlocks>
REDS_INLINE void conv2d_packed(const Window& window, const MapView& input, const SegmentedWeights& weights,
                               const float* bias, const Epilogue& epilogue, const MutableMapView& output) {
  PackedTile tile;
  const std::int64_t pixels = window.out_height * window.out_width;
  const std::int64_t taps = window.kernel_height * window.kernel_width;
  [[maybe_unused]] const bool pointwise = is_pointwise(window);
  for (std::int64_t next = 0; next < pixels; next += kPixels) {
    const std::int64_t first = std::min(next, pixels - kPixels);
    const int stored = static_cast<int>(next - first);  // the tile's pixels stored already
#ifdef REDS_AVX2_TILE
    // A 1x1 convolution reads its pixels in place.
    const bool in_place = kPixels == 6 && avx2_tile && pointwise;
    bool packed = !in_place;  // packed for the generic kernels when they are needed
    if (packed) pack_tile<kPixels>(window, input, first, tile);
    const float* values = in_place ? input.data + first * input.pixel_stride : tile.values;
    const std::int64_t row_step = in_place ? 1 : 6, pixel_step = in_place ? input.pixel_stride : 1;
#else
    pack_tile<kPixels>(window, input, first, tile);
    bool packed = true;
#endif
    float* out = output.data + first * output.pixel_stride;
    for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
      std::int64_t column = range->first;
#ifdef REDS_AVX2_TILE
      if constexpr (kPixels == 6 && kWideBlocks == 2)
        if (avx2_tile) {
          for (; column + 2 * kLanes <= range->end; column += 2 * kLanes)
            (epilogue.scale ? packed_tile_6x16<2, true>
                            : packed_tile_6x16<2, false>)(values, row_step, pixel_step, taps, input.channels,
                                                          *range, column - range->first,
                                                          bias ? bias + column : nullptr, epilogue.at(column),
                                                          kLanes, out + column, output.pixel_stride, stored);
          for (; column < range->end; column += kLanes)
            (epilogue.scale ? packed_tile_6x16<1, true>
                            : packed_tile_6x16<1, false>)(values, row_step, pixel_step, taps, input.channels,
                                                          *range, column - range->first,
                                                          bias ? bias + column : nullptr, epilogue.at(column),
                                                          std::min(kLanes, range->end - column), out + column,
                                                          output.pixel_stride, stored);
        }
#endif
      if (column < range->end && !packed) {
        pack_tile<kPixels>(window, input, first, tile);
        packed = true;
      }
      for (; column + kWideBlocks * kLanes <= range->end; column += kWideBlocks * kLanes)
        packed_tile<kPixels, kWideBlocks>(tile.values, taps, input.channels, *range, column - range->first,
                                          bias ? bias + column : nullptr, epilogue.at(column), kLanes,
                                          out + column, output.pixel_stride, stored);
      if constexpr (kWideBlocks > 2)
        for (; column + 2 * kLanes <= range->end; column += 2 * kLanes)
          packed_tile<kPixels, 2>(tile.values, taps, input.channels, *range, column - range->first,
                                  bias ? bias + column : nullptr, epilogue.at(column), kLanes, out + column,
                                  output.pixel_stride, stored);
      for (; column < range->end; column += kLanes)
        packed_tile<kPixels, 1>(tile.values, taps, input.channels, *range, column - range->first,
                                bias ? bias + column : nullptr, epilogue.at(column),
                                std::min(kLanes, range->end - column), out + column, output.pixel_stride,
                                stored);
    }
  }
}

// A convolution with one group (every group of a grouped one), its sums started from `bias` (none when the
// epilogue has per-level statistics).
REDS_INLINE void conv2d_one_group(const Window& window, const MapView& input, const SegmentedWeights& weights,
                                  const float* bias, const Epilogue& epilogue, const MutableMapView& output) {
  if (conv2d_few_inputs_avx2(window, input, weights, epilogue.scale ? epilogue.shift : bias,
                             epilogue.rectifier, epilogue.accumulate, output, epilogue.scale))
    return;
  if (conv2d_avx2(window, input, weights, epilogue.scale ? epilogue.shift : bias, epilogue.rectifier,
                  epilogue.accumulate, output, epilogue.scale))
    return;
  // A pack pays for itself over several blocks of output channels; a 1x1 convolution is read in place.
  if (window.out_height * window.out_width >= kPackedPixels &&
      window.kernel_height * window.kernel_width * input.channels <= kMaxPackedRows &&
      (is_pointwise(window) || output.channels >= 4 * kLanes)) {
    conv2d_packed<kPackedPixels, 2>(window, input, weights, bias, epilogue, output);
    return;
  }
  ColumnPass pass;
  if (weights.range_count > 1 && plan_column_pass(weights, pass)) {
    switch (pass.blocks) {
      case 1:
        conv_pass<1>(window, input, weights, pass, bias, epilogue, output);
        return;
      case 2:
        conv_pass<2>(window, input, weights, pass, bias, epilogue, output);
        return;
      case 3:
        conv_pass<3>(window, input, weights, pass, bias, epilogue, output);
        return;
      default:
        conv_pass<4>(window, input, weights, pass, bias, epilogue, output);
        return;
    }
  }
  const ColumnSpan interior = interior_columns(window);
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row)
    for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
      in_block_passes(
          range->first, range->end,
          [&]<int kBlocks>(std::int64_t first, std::int64_t last_count) __attribute__((always_inline)) {
            conv_row<kBlocks>(window, input, *range, first, last_count, bias, out_row, interior, epilogue,
                              output);
          });
    }
}

// --- Depthwise convolution ----------------------------------------------------------------------------

// kPixels adjacent output pixels of a row, channels [first, first + 8 * kBlocks) (see
// depthwise_conv2d_segmented for the weights). kChecked: one pixel, some of whose taps fall into the padding.
template <int kPixels, int kBlocks, bool kChecked>
REDS_INLINE void depthwise_tile(const Window& window, const MapView& input, const ColumnRange& range,
                                std::int64_t first, std::int64_t last_count, const float* bias,
                                std::int64_t out_row, std::int64_t out_column, const Epilogue& epilogue,
                                const MutableMapView& output) {
  static_assert(!kChecked || kPixels == 1);
  Vec sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const Vec start = bias_block(bias, first + block * kLanes);
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  const WeightSegment& segment = range.segments[0];
  const float* weights = panel_of(segment, first - range.first);
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
      store_outputs(out + block * kLanes, sums[pixel][block], epilogue,
                    block == kBlocks - 1 ? last_count : kLanes, first + block * kLanes);
  }
}

// Tiles of kPixels pixels from out_column on while they end by `end`, then of half as many, down to one.
template <int kPixels, int kBlocks>
REDS_INLINE void depthwise_tiles(const Window& window, const MapView& input, const ColumnRange& range,
                                 std::int64_t first, std::int64_t last_count, const float* bias,
                                 std::int64_t out_row, std::int64_t end, const Epilogue& epilogue,
                                 const MutableMapView& output, std::int64_t& out_column) {
  for (; out_column + kPixels <= end; out_column += kPixels)
    depthwise_tile<kPixels, kBlocks, false>(window, input, range, first, last_count, bias, out_row,
                                            out_column, epilogue, output);
  if constexpr (kPixels > 1)
    depthwise_tiles<kPixels / 2, kBlocks>(window, input, range, first, last_count, bias, out_row, end,
                                          epilogue, output, out_column);
}

// One output row, channels [first, first + 8 * kBlocks): single pixels where taps fall into the padding,
// tiles inside.
template <int kBlocks>
REDS_INLINE void depthwise_row(const Window& window, const MapView& input, const ColumnRange& range,
                               std::int64_t first, std::int64_t last_count, const float* bias,
                               std::int64_t out_row, const ColumnSpan& interior, const Epilogue& epilogue,
                               const MutableMapView& output) {
  std::int64_t out_column = 0;
  for (; out_column < interior.first; ++out_column)
    depthwise_tile<1, kBlocks, true>(window, input, range, first, last_count, bias, out_row, out_column,
                                     epilogue, output);
  depthwise_tiles<kDepthwiseTilePixels<kBlocks>, kBlocks>(
      window, input, range, first, last_count, bias, out_row, interior.end, epilogue, output, out_column);
  for (; out_column < window.out_width; ++out_column)
    depthwise_tile<1, kBlocks, true>(window, input, range, first, last_count, bias, out_row, out_column,
                                     epilogue, output);
}

// Depthwise weights: one range per level, its one segment (kernel_views.h).
REDS_INLINE void depthwise(const Window& window, const MapView& input, const SegmentedWeights& weights,
                           const float* bias, const Epilogue& epilogue, const MutableMapView& output) {
  const ColumnSpan interior = interior_columns(window);
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row)
    for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
      in_block_passes(
          range->first, range->end,
          [&]<int kBlocks>(std::int64_t first, std::int64_t last_count) __attribute__((always_inline)) {
            depthwise_row<kBlocks>(window, input, *range, first, last_count, bias, out_row, interior,
                                   epilogue, output);
          });
    }
}

// --- Dense --------------------------------------------------------------------------------------------

template <int kBlocks>
REDS_INLINE void dense_block(const DenseInput& input, const ColumnRange& range, std::int64_t first,
                             std::int64_t last_count, const float* bias, const Epilogue& epilogue,
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
  store_sums(sums, output + first, epilogue, last_count, first);
}

REDS_INLINE void dense_ranges(const DenseInput& input, const SegmentedWeights& weights, const float* bias,
                              const Epilogue& epilogue, float* output) {
  for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
    in_block_passes(
        range->first, range->end,
        [&]<int kBlocks>(std::int64_t first, std::int64_t last_count) __attribute__((always_inline)) {
          dense_block<kBlocks>(input, *range, first, last_count, bias, epilogue, output);
        });
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

// Every kernel below runs in two copies: with a scale (per-level statistics) the epilogue applies it;
// without, the epilogue is known to have none, and the stores are those of a model without per-level
// statistics.

REDS_KERNEL void conv2d(const Window& window, const MapView& input, const WeightView& weights,
                        const float* bias, std::int64_t groups, const Rectifier* rectifier,
                        const MutableMapView& output, const float* scale) {
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
    const float* group_bias = bias ? bias + group * out_per_group : nullptr;
    if (scale)
      conv2d_one_group(window, group_input, SegmentedWeights{&range, 1}, nullptr,
                       Epilogue(rectifier, false, scale + group * out_per_group, group_bias), group_output);
    else
      conv2d_one_group(window, group_input, SegmentedWeights{&range, 1}, group_bias, Epilogue(rectifier),
                       group_output);
  }
}

REDS_KERNEL void conv2d_segmented(const Window& window, const MapView& input, const SegmentedWeights& weights,
                                  const float* bias, const Rectifier* rectifier, const MutableMapView& output,
                                  bool accumulate, const float* scale) {
  if (scale)
    conv2d_one_group(window, input, weights, nullptr, Epilogue(rectifier, accumulate, scale, bias), output);
  else
    conv2d_one_group(window, input, weights, bias, Epilogue(rectifier, accumulate), output);
}

REDS_KERNEL void depthwise_conv2d(const Window& window, const MapView& input, const float* weights,
                                  std::int64_t row_stride, const float* bias, const Rectifier* rectifier,
                                  const MutableMapView& output, const float* scale) {
  const WeightSegment segment{weights, 0, 1, 0, row_stride, kLanes};
  const ColumnRange range{0, output.channels, &segment, 1};
  if (depthwise_conv2d_avx2(window, input, SegmentedWeights{&range, 1}, bias, rectifier, output, scale))
    return;
  if (scale)
    depthwise(window, input, SegmentedWeights{&range, 1}, nullptr, Epilogue(rectifier, false, scale, bias),
              output);
  else
    depthwise(window, input, SegmentedWeights{&range, 1}, bias, Epilogue(rectifier), output);
}

REDS_KERNEL void depthwise_conv2d_segmented(const Window& window, const MapView& input,
                                            const SegmentedWeights& weights, const float* bias,
                                            const Rectifier* rectifier, const MutableMapView& output,
                                            const float* scale) {
  if (depthwise_conv2d_avx2(window, input, weights, bias, rectifier, output, scale)) return;
  if (scale)
    depthwise(window, input, weights, nullptr, Epilogue(rectifier, false, scale, bias), output);
  else
    depthwise(window, input, weights, bias, Epilogue(rectifier), output);
}

REDS_KERNEL void dense(const DenseInput& input, const float* weights, std::int64_t row_stride,
                       const float* bias, std::int64_t out_features, const Rectifier* rectifier,
                       float* output, const float* scale) {
  const WeightSegment segment{
      weights, 0, input.group_features, row_stride, input.group_row_stride * row_stride, kLanes};
  const ColumnRange range{0, out_features, &segment, 1};
  if (scale)
    dense_ranges(input, SegmentedWeights{&range, 1}, nullptr, Epilogue(rectifier, false, scale, bias),
                 output);
  else
    dense_ranges(input, SegmentedWeights{&range, 1}, bias, Epilogue(rectifier), output);
}

REDS_KERNEL void dense_segmented(const DenseInput& input, const SegmentedWeights& weights, const float* bias,
                                 const Rectifier* rectifier, float* output, const float* scale) {
  if (scale)
    dense_ranges(input, weights, nullptr, Epilogue(rectifier, false, scale, bias), output);
  else
    dense_ranges(input, weights, bias, Epilogue(rectifier), output);
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
                  block == kBlocks - 1 ? last_count : kLanes, first + block * kLanes);
}

// Input columns an average pool sums apart (average_row_of_columns); wider inputs take average_block.
constexpr std::int64_t kMaxPoolColumns = 64;

// One output row of an average pool whose windows overlap along the row, channels [first, first + 8 *
// kBlocks): each input column's sum over the row's window rows once, then each output pixel's sum of its
// columns' sums, about kernel_height + kernel_width additions per pixel instead of their product (DS-CNN's
// 13 x 5 pool over rows of 14 pixels: (14 x 13 + 10 x 5) / 10 = 23 a pixel instead of 65).
template <int kBlocks>
REDS_INLINE void average_row_of_columns(const Window& window, const MapView& input, std::int64_t out_row,
                                        std::int64_t first, std::int64_t last_count,
                                        const MutableMapView& output) {
  Vec column_sums[kMaxPoolColumns][kBlocks];
  const TapSpan rows = row_taps(window, out_row);
  for (std::int64_t column = 0; column < window.in_width; ++column) {
    Vec sums[kBlocks] = {};
    for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
      const float* in =
          input.data + (input_row(window, out_row, tap_row) * window.in_width + column) * input.pixel_stride +
          first;
      for (int block = 0; block < kBlocks; ++block) sums[block] += load(in + block * kLanes);
    }
    for (int block = 0; block < kBlocks; ++block) column_sums[column][block] = sums[block];
  }
  for (std::int64_t out_column = 0; out_column < window.out_width; ++out_column) {
    const TapSpan columns = column_taps(window, out_column);
    Vec sums[kBlocks] = {};
    for (std::int64_t tap_column = columns.first; tap_column < columns.end; ++tap_column) {
      const std::int64_t column = input_column(window, out_column, tap_column);
      for (int block = 0; block < kBlocks; ++block) sums[block] += column_sums[column][block];
    }
    const std::int64_t count = (rows.end - rows.first) * (columns.end - columns.first);
    const Vec scale = splat(1.0f / static_cast<float>(count));
    float* out = output.data + (out_row * window.out_width + out_column) * output.pixel_stride + first;
    for (int block = 0; block < kBlocks; ++block)
      store_outputs(out + block * kLanes, sums[block] * scale, nullptr,
                    block == kBlocks - 1 ? last_count : kLanes, first + block * kLanes);
  }
}

// One output row, channels [first, first + 8 * kBlocks).
template <int kBlocks>
REDS_INLINE void average_row(const Window& window, const MapView& input, std::int64_t out_row,
                             std::int64_t first, std::int64_t last_count, bool by_columns,
                             const MutableMapView& output) {
  if (by_columns) {
    average_row_of_columns<kBlocks>(window, input, out_row, first, last_count, output);
    return;
  }
  for (std::int64_t out_column = 0; out_column < window.out_width; ++out_column)
    average_block<kBlocks>(window, input, out_row, out_column, first, last_count,
                           output.data + (out_row * window.out_width + out_column) * output.pixel_stride);
}

REDS_INLINE void average(const Window& window, const MapView& input, const MutableMapView& output) {
  const bool by_columns = window.kernel_width > window.stride_width && window.kernel_height > 1 &&
                          window.in_width <= kMaxPoolColumns;
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    in_block_passes(
        0, output.channels,
        [&]<int kBlocks>(std::int64_t first, std::int64_t last_count) __attribute__((always_inline)) {
          average_row<kBlocks>(window, input, out_row, first, last_count, by_columns, output);
        });
  }
}

REDS_KERNEL void average_pool2d(const Window& window, const MapView& input, const MutableMapView& output) {
  average(window, input, output);
}

// The largest value per channel over the window's pixels inside the input (a window has at least one).
REDS_KERNEL void max_pool2d(const Window& window, const MapView& input, const MutableMapView& output) {
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    const TapSpan rows = row_taps(window, out_row);
    for (std::int64_t out_column = 0; out_column < window.out_width; ++out_column) {
      const TapSpan columns = column_taps(window, out_column);
      float* out = output.data + (out_row * window.out_width + out_column) * output.pixel_stride;
      bool first = true;
      for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
        const std::int64_t row = input_row(window, out_row, tap_row);
        for (std::int64_t tap_column = columns.first; tap_column < columns.end; ++tap_column) {
          const float* in =
              input.data +
              (row * window.in_width + input_column(window, out_column, tap_column)) * input.pixel_stride;
          for (std::int64_t channel = 0; channel < output.channels; ++channel)
            out[channel] = first ? in[channel] : std::max(out[channel], in[channel]);
          first = false;
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
