#include "few_inputs_avx2.h"

#include <algorithm>
#include <cstdint>

#include "avx2_store.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define REDS_FEW_INPUTS_AVX2 1
#endif

namespace reds::engine::kernels {

#ifndef REDS_FEW_INPUTS_AVX2

bool conv2d_few_inputs_avx2(const Window&, const MapView&, const SegmentedWeights&, const float*,
                            const Rectifier*, bool, const MutableMapView&, const float*) {
  return false;
}

#else

namespace {

// A layer of few input channels sums, per output, taps x input channels products (9 for a 3x3 window on one
// channel): too few to pay a tile's fixed costs (its bias, rectifier and stores) if a tile sums them in
// short runs per row of taps, and too few to pack a tile's inputs for. Here the input rows of a band of
// output rows are first copied, with their zero padding around them, into a buffer on the stack (48 KB: a
// whole 96x96x3 image in 4 bands), so that every output pixel reads a row of taps as one run of
// kernel_width x channels consecutive floats and no pixel is a border case; then each group of 2 blocks of
// 8 output channels (1 block for a last odd one) sweeps the band's output pixels in tiles of kPixels, row
// after row without regard to where rows end: 6 pixels x 2 blocks (12 sums, 2 weight vectors and a
// broadcast value in the 16 registers) or 12 pixels x 1 block. A group's weights stay in the nearest cache
// over the sweep. A band's last tile ends at its last pixel and may compute pixels of the tile before it
// again (stored once).

#define REDS_AVX2 gnu::target("arch=x86-64-v3")

constexpr std::int64_t kLanes = kVectorLanes;
constexpr std::int64_t kMaxInputs = 4;

// One group's blocks: their weights (the first row of tap 0), row stride, first output channel and lanes
// stored, and where their sums start.
template <int kBlocks>
struct Group {
  const float* weights[kBlocks];
  std::int64_t row_stride[kBlocks];
  std::int64_t column[kBlocks];
  std::int64_t count[kBlocks];
  __m256 start[kBlocks];
};

// What becomes of the sums: with per-level statistics (`scale`) scale * sum + shift, the shift being the
// level's bias; with `accumulate`, plus what the output holds; then rectified.
struct Call {
  const float* scale;
  const float* shift;
  bool accumulate;
  avx2::Rectification rectify;
  MutableMapView output;
};

// The padded input: row r, column c, channel k at data[(r * width + c) * channels + k].
struct Padded {
  const float* data;
  std::int64_t width, channels;
};

// kPixels output pixels from `first` (numbered row by row) of one group.
template <int kPixels, int kBlocks, avx2::Rectify kKind>
[[REDS_AVX2, gnu::always_inline]] inline void few_inputs_tile(const Window& window, const Padded& padded,
                                                              const Group<kBlocks>& group, std::int64_t first,
                                                              int first_stored, const Call& call) {
  // Each pixel's first input (tap 0, channel 0) in the padded map.
  const float* in[kPixels];
  std::int64_t out_row = first / window.out_width, out_column = first % window.out_width;
#pragma GCC unroll 12
  for (int pixel = 0; pixel < kPixels; ++pixel) {
    in[pixel] =
        padded.data +
        (out_row * window.stride_height * padded.width + out_column * window.stride_width) * padded.channels;
    if (++out_column == window.out_width) out_column = 0, ++out_row;
  }
  __m256 sums[kPixels][kBlocks];
#pragma GCC unroll 12
  for (int pixel = 0; pixel < kPixels; ++pixel)
#pragma GCC unroll 2
    for (int block = 0; block < kBlocks; ++block) sums[pixel][block] = group.start[block];
  const float* weights[kBlocks];
#pragma GCC unroll 2
  for (int block = 0; block < kBlocks; ++block) weights[block] = group.weights[block];
  const std::int64_t run = window.kernel_width * padded.channels;
  const std::int64_t row_pitch = padded.width * padded.channels;
  for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
    for (std::int64_t index = 0; index < run; ++index) {
      __m256 row_weights[kBlocks];
#pragma GCC unroll 2
      for (int block = 0; block < kBlocks; ++block) {
        row_weights[block] = _mm256_loadu_ps(weights[block]);
        weights[block] += group.row_stride[block];
      }
#pragma GCC unroll 12
      for (int pixel = 0; pixel < kPixels; ++pixel) {
        const __m256 value = _mm256_broadcast_ss(in[pixel] + index);
#pragma GCC unroll 2
        for (int block = 0; block < kBlocks; ++block)
          sums[pixel][block] = _mm256_fmadd_ps(value, row_weights[block], sums[pixel][block]);
      }
    }
#pragma GCC unroll 12
    for (int pixel = 0; pixel < kPixels; ++pixel) in[pixel] += row_pitch;
  }
#pragma GCC unroll 12
  for (int pixel = 0; pixel < kPixels; ++pixel) {
    if (pixel < first_stored) continue;
    float* out = call.output.data + (first + pixel) * call.output.pixel_stride;
#pragma GCC unroll 2
    for (int block = 0; block < kBlocks; ++block) {
      const std::int64_t column = group.column[block];
      __m256 sum = call.scale ? _mm256_fmadd_ps(sums[pixel][block], _mm256_loadu_ps(call.scale + column),
                                                _mm256_loadu_ps(call.shift + column))
                              : sums[pixel][block];
      if (call.accumulate) sum = avx2::plus_held(sum, out + column, group.count[block]);
      avx2::store_rectified<kKind>(sum, call.rectify, out + column, group.count[block]);
    }
  }
}

// Every output pixel of one group; the last tile ends at the last pixel, storing only those the tile before
// it left.
template <int kPixels, int kBlocks, avx2::Rectify kKind>
[[REDS_AVX2, gnu::noinline]] void few_inputs_group(const Window& window, const Padded& padded,
                                                   const Group<kBlocks>& group, const Call& call) {
  const std::int64_t pixels = window.out_height * window.out_width;
  for (std::int64_t next = 0; next < pixels; next += kPixels) {
    const std::int64_t first = std::min(next, pixels - kPixels);
    few_inputs_tile<kPixels, kBlocks, kKind>(window, padded, group, first, static_cast<int>(next - first),
                                             call);
  }
}

template <int kPixels, int kBlocks>
[[REDS_AVX2]] void run_group(const Window& window, const Padded& padded, const Group<kBlocks>& group,
                             const Call& call) {
  switch (call.rectify.kind) {
    case avx2::Rectify::none:
      few_inputs_group<kPixels, kBlocks, avx2::Rectify::none>(window, padded, group, call);
      break;
    case avx2::Rectify::relu:
      few_inputs_group<kPixels, kBlocks, avx2::Rectify::relu>(window, padded, group, call);
      break;
    default:
      few_inputs_group<kPixels, kBlocks, avx2::Rectify::general>(window, padded, group, call);
      break;
  }
}

struct Block {
  const float* weights;
  std::int64_t row_stride, column, count;
};

template <int kBlocks>
[[REDS_AVX2]] Group<kBlocks> group_of(const Block* blocks, const float* bias, const float* scale) {
  Group<kBlocks> group;
  for (int block = 0; block < kBlocks; ++block) {
    group.weights[block] = blocks[block].weights;
    group.row_stride[block] = blocks[block].row_stride;
    group.column[block] = blocks[block].column;
    group.count[block] = blocks[block].count;
    group.start[block] = bias && !scale ? _mm256_loadu_ps(bias + blocks[block].column) : _mm256_setzero_ps();
  }
  return group;
}

// Every block of every range over one band of output rows, in groups of 2 blocks as they come (a last odd
// one alone).
[[REDS_AVX2]] void run_groups(const Window& band, const Padded& padded, const SegmentedWeights& weights,
                              const float* bias, const float* scale, const Call& call) {
  Block pending{};
  bool held = false;
  for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
    const WeightSegment& segment = range->segments[0];
    for (std::int64_t column = range->first; column < range->end; column += kLanes) {
      const Block block{segment.data + (column - range->first) / kLanes * segment.panel_stride,
                        segment.row_stride, column, std::min(kLanes, range->end - column)};
      if (!held) {
        pending = block;
        held = true;
        continue;
      }
      const Block pair[2] = {pending, block};
      run_group<6, 2>(band, padded, group_of<2>(pair, bias, scale), call);
      held = false;
    }
  }
  if (held) run_group<12, 1>(band, padded, group_of<1>(&pending, bias, scale), call);
}

// Floats of padded input rows a band holds (on the stack).
constexpr std::int64_t kBandFloats = 12288;

// Output rows in `bands` bands of about equal height; each band's input rows are copied with their zero
// padding into `buffer` and its pixels computed.
[[REDS_AVX2]] void few_inputs(const Window& window, const MapView& input, const SegmentedWeights& weights,
                              const float* bias, const Rectifier* rectifier, bool accumulate,
                              const MutableMapView& output, const float* scale, std::int64_t bands,
                              float* buffer) {
  const Call call{scale, bias, accumulate, avx2::rectification_of(rectifier), output};
  const std::int64_t width = (window.out_width - 1) * window.stride_width + window.kernel_width;
  const std::int64_t channels = input.channels;
  const std::int64_t first_column = std::min(window.pad_left, width);
  const std::int64_t end_column = std::clamp(window.pad_left + window.in_width, first_column, width);
  for (std::int64_t band_index = 0; band_index < bands; ++band_index) {
    const std::int64_t first_row = band_index * window.out_height / bands;
    const std::int64_t end_row = (band_index + 1) * window.out_height / bands;
    const std::int64_t height = (end_row - first_row - 1) * window.stride_height + window.kernel_height;
    for (std::int64_t row = 0; row < height; ++row) {
      float* to = buffer + row * width * channels;
      const std::int64_t in_row = first_row * window.stride_height + row - window.pad_top;
      if (in_row < 0 || in_row >= window.in_height) {
        std::fill(to, to + width * channels, 0.0f);
        continue;
      }
      std::fill(to, to + first_column * channels, 0.0f);
      const float* from =
          input.data + (in_row * window.in_width + first_column - window.pad_left) * input.pixel_stride;
      if (input.pixel_stride == channels)
        std::copy_n(from, (end_column - first_column) * channels, to + first_column * channels);
      else
        for (std::int64_t column = first_column; column < end_column; ++column, from += input.pixel_stride)
          for (std::int64_t channel = 0; channel < channels; ++channel)
            to[column * channels + channel] = from[channel];
      std::fill(to + end_column * channels, to + width * channels, 0.0f);
    }
    Window band = window;
    band.out_height = end_row - first_row;
    Call band_call = call;
    band_call.output.data += first_row * window.out_width * output.pixel_stride;
    run_groups(band, {buffer, width, channels}, weights, bias, scale, band_call);
  }
}

const bool avx2_fma = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}();

}  // namespace

bool conv2d_few_inputs_avx2(const Window& window, const MapView& input, const SegmentedWeights& weights,
                            const float* bias, const Rectifier* rectifier, bool accumulate,
                            const MutableMapView& output, const float* scale) {
  if (!avx2_fma || input.channels > kMaxInputs || window.dilation_height != 1 || window.dilation_width != 1)
    return false;
  for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
    if (range->segment_count != 1) return false;
    const WeightSegment& segment = range->segments[0];
    if (segment.first_row != 0 || segment.end_row != input.channels ||
        segment.tap_stride != input.channels * segment.row_stride)
      return false;
  }
  // Bands of output rows whose padded input rows fit the buffer, each of at least one tile of 12 pixels.
  const std::int64_t row_floats =
      ((window.out_width - 1) * window.stride_width + window.kernel_width) * input.channels;
  const std::int64_t buffer_rows = kBandFloats / row_floats;
  if (buffer_rows < window.kernel_height) return false;
  const std::int64_t band_rows =
      std::min(window.out_height, (buffer_rows - window.kernel_height) / window.stride_height + 1);
  const std::int64_t bands = (window.out_height + band_rows - 1) / band_rows;
  if (window.out_height / bands * window.out_width < 12) return false;
  float buffer[kBandFloats];
  few_inputs(window, input, weights, bias, rectifier, accumulate, output, scale, bands, buffer);
  return true;
}

#endif

}  // namespace reds::engine::kernels
