#include "depthwise_avx2.h"

#include <algorithm>
#include <cstdint>

#include "avx2_store.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define REDS_DEPTHWISE_AVX2 1
#endif

namespace reds::engine::kernels {

#ifndef REDS_DEPTHWISE_AVX2

bool depthwise_conv2d_avx2(const Window&, const MapView&, const SegmentedWeights&, const float*,
                           const Rectifier*, const MutableMapView&, const float*) {
  return false;
}

#else

namespace {

// A depthwise 3x3 layer runs block by block of 8 channels: a block's 9 tap vectors are loaded once and
// held in registers while the output map is swept in tiles of two rows of 3 adjacent pixels (rows in pairs
// when the row stride is the column stride; a last or unpaired row in tiles of 4 pixels). A tile loads each
// input vector of its input rows once and adds it to every output of the tile whose window holds it: 20
// loads for 6 pixels at stride 1, where a pixel at a time loads its 9 inputs and the 9 taps again; its 6
// sums are 6 chains of multiply-adds in flight. Tiles whose windows reach into the padding (at the ends of
// a row, at the top and bottom) run the same code with the input rows and columns outside the input left
// out, so that border pixels are computed a tile of them at a time too. Every output is the bias, then the
// products of the taps inside the input, rows of taps ascending, columns ascending, each one multiply-add
// onto the sum, as in kernels.cpp's depthwise_tile: the same values.

#define REDS_AVX2 gnu::target("arch=x86-64-v3")

constexpr std::int64_t kLanes = kVectorLanes;

// Pixels per tile of kRows output rows: 9 taps, kRows x kTilePixels sums and an input vector fit the 16
// registers.
template <int kRows>
constexpr int kTilePixels = kRows == 2 ? 3 : 4;
// Input rows two output rows read at stride 2.
constexpr int kMaxInputRows = 5;

// The input rows of a tile's output rows: row i from the first output row's tap row 0 on at row[i], at the
// block's first channel of the row's first pixel (a row outside the input at the map's start, never
// read); those inside the input are [first, end).
struct InputRows {
  const float* row[kMaxInputRows];
  std::int64_t first, end;
};

// One block of 8 output channels: where its sums start, how they are stored.
struct Block {
  __m256 start;                 // the bias (zero with per-level statistics)
  const float* scale;           // per-level statistics at the block's first channel, or null
  const float* shift;           // the level's bias there
  std::int64_t count;           // lanes stored
  avx2::Rectification rectify;  // the rectifier after the layer
};

// Where a tile's outputs go: output row j's pixel p at out + j * row_step + p * pixel_step.
struct TileOutput {
  float* out;
  std::int64_t row_step, pixel_step;
};

// Columns a tile leaves out at either end when that number is known only at run time.
constexpr int kAnyColumns = -1;

// kRows x kTile output pixels, the first one's tap column 0 at input column `in_column`, output rows kStride
// input rows apart. The tile's first kLeft and last kRight input columns lie outside the input and are left
// out (kAnyColumns: those outside are found at run time); kAllRows: all its input rows lie inside the
// input, else those outside are left out.
template <int kRows, int kTile, int kStride, int kLeft, int kRight, bool kAllRows, avx2::Rectify kKind>
[[REDS_AVX2, gnu::always_inline]] inline void depthwise_tile(const __m256 (&taps)[9], const Block& block,
                                                             const InputRows& rows, std::int64_t in_column,
                                                             std::int64_t in_width, std::int64_t in_stride,
                                                             const TileOutput& output) {
  constexpr int kInputRows = (kRows - 1) * kStride + 3;
  constexpr int kColumns = (kTile - 1) * kStride + 3;
  constexpr bool kRuntimeColumns = kLeft == kAnyColumns || kRight == kAnyColumns;
  __m256 sums[kRows][kTile];
#pragma GCC unroll 2
  for (int out_row = 0; out_row < kRows; ++out_row)
#pragma GCC unroll 4
    for (int pixel = 0; pixel < kTile; ++pixel) sums[out_row][pixel] = block.start;
#pragma GCC unroll 5
  for (int in_row = 0; in_row < kInputRows; ++in_row) {
    if (!kAllRows && (in_row < rows.first || in_row >= rows.end)) continue;
#pragma GCC unroll 16
    for (int column = 0; column < kColumns; ++column) {
      if constexpr (kRuntimeColumns) {
        if (in_column + column < 0 || in_column + column >= in_width) continue;
      } else {
        if (column < kLeft || column >= kColumns - kRight) continue;
      }
      const __m256 value = _mm256_loadu_ps(rows.row[in_row] + (in_column + column) * in_stride);
#pragma GCC unroll 2
      for (int out_row = 0; out_row < kRows; ++out_row) {
        const int tap_row = in_row - out_row * kStride;
        if (tap_row < 0 || tap_row >= 3) continue;
#pragma GCC unroll 4
        for (int pixel = 0; pixel < kTile; ++pixel) {
          const int tap_column = column - pixel * kStride;
          if (tap_column >= 0 && tap_column < 3)
            sums[out_row][pixel] =
                _mm256_fmadd_ps(value, taps[tap_row * 3 + tap_column], sums[out_row][pixel]);
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int out_row = 0; out_row < kRows; ++out_row)
#pragma GCC unroll 4
    for (int pixel = 0; pixel < kTile; ++pixel) {
      const __m256 sum = block.scale ? _mm256_fmadd_ps(sums[out_row][pixel], _mm256_loadu_ps(block.scale),
                                                       _mm256_loadu_ps(block.shift))
                                     : sums[out_row][pixel];
      avx2::store_rectified<kKind>(sum, block.rectify,
                                   output.out + out_row * output.row_step + pixel * output.pixel_step,
                                   block.count);
    }
}

// A tile of kRows x kTile pixels, the input columns it leaves out known at compile time where they are
// none or one at either end (a 3x3 window's padding), found at run time elsewhere.
template <int kRows, int kTile, int kStride, bool kAllRows, avx2::Rectify kKind>
[[REDS_AVX2, gnu::always_inline]] inline void depthwise_tile_at(const __m256 (&taps)[9], const Block& block,
                                                                const InputRows& rows, std::int64_t in_column,
                                                                std::int64_t in_width, std::int64_t in_stride,
                                                                const TileOutput& output) {
  constexpr int kColumns = (kTile - 1) * kStride + 3;
  const std::int64_t left = -in_column, right = in_column + kColumns - in_width;
  if (left <= 0 && right <= 0)
    depthwise_tile<kRows, kTile, kStride, 0, 0, kAllRows, kKind>(taps, block, rows, in_column, in_width,
                                                                 in_stride, output);
  else if (left == 1 && right <= 0)
    depthwise_tile<kRows, kTile, kStride, 1, 0, kAllRows, kKind>(taps, block, rows, in_column, in_width,
                                                                 in_stride, output);
  else if (left <= 0 && right == 1)
    depthwise_tile<kRows, kTile, kStride, 0, 1, kAllRows, kKind>(taps, block, rows, in_column, in_width,
                                                                 in_stride, output);
  else if (left == 1 && right == 1)
    depthwise_tile<kRows, kTile, kStride, 1, 1, kAllRows, kKind>(taps, block, rows, in_column, in_width,
                                                                 in_stride, output);
  else
    depthwise_tile<kRows, kTile, kStride, kAnyColumns, kAnyColumns, false, kKind>(
        taps, block, rows, in_column, in_width, in_stride, output);
}

// The tiles of kRows output rows, kTilePixels<kRows> pixels each but the last.
template <int kRows, int kStride, bool kAllRows, avx2::Rectify kKind>
[[REDS_AVX2, gnu::always_inline]] inline void depthwise_rows(const __m256 (&taps)[9], const Block& block,
                                                             const InputRows& rows, std::int64_t pad_left,
                                                             std::int64_t in_width, std::int64_t in_stride,
                                                             TileOutput output, std::int64_t out_width) {
  constexpr int kTile = kTilePixels<kRows>;
  std::int64_t out_column = 0;
  for (; out_column + kTile <= out_width; out_column += kTile, output.out += kTile * output.pixel_step)
    depthwise_tile_at<kRows, kTile, kStride, kAllRows, kKind>(
        taps, block, rows, out_column * kStride - pad_left, in_width, in_stride, output);
  const std::int64_t in_column = out_column * kStride - pad_left;
  switch (out_width - out_column) {
    case 1:
      depthwise_tile_at<kRows, 1, kStride, kAllRows, kKind>(taps, block, rows, in_column, in_width, in_stride,
                                                            output);
      break;
    case 2:
      depthwise_tile_at<kRows, 2, kStride, kAllRows, kKind>(taps, block, rows, in_column, in_width, in_stride,
                                                            output);
      break;
    case 3:
      if constexpr (kTile > 3)
        depthwise_tile_at<kRows, 3, kStride, kAllRows, kKind>(taps, block, rows, in_column, in_width,
                                                              in_stride, output);
      break;
    default:
      break;
  }
}

// Output rows [out_row, out_row + kRows) of one block (kRows 2: rows kStride input rows apart).
template <int kRows, int kStride, avx2::Rectify kKind>
[[REDS_AVX2, gnu::always_inline]] inline void depthwise_output_rows(const __m256 (&taps)[9],
                                                                    const Block& block, const Window& window,
                                                                    const MapView& input,
                                                                    const MutableMapView& output,
                                                                    std::int64_t out_row) {
  constexpr int kInputRows = (kRows - 1) * kStride + 3;
  const std::int64_t in_width = window.in_width, in_stride = input.pixel_stride;
  const std::int64_t top = out_row * window.stride_height - window.pad_top;  // the first row's tap row 0
  InputRows rows;
  rows.first = std::max<std::int64_t>(0, -top);
  rows.end = std::clamp<std::int64_t>(window.in_height - top, rows.first, kInputRows);
#pragma GCC unroll 5
  for (int in_row = 0; in_row < kInputRows; ++in_row)
    rows.row[in_row] =
        input.data + (in_row >= rows.first && in_row < rows.end ? (top + in_row) * in_width * in_stride : 0);
  const TileOutput tiles{output.data + out_row * window.out_width * output.pixel_stride,
                         window.out_width * output.pixel_stride, output.pixel_stride};
  if (rows.first == 0 && rows.end == kInputRows)
    depthwise_rows<kRows, kStride, true, kKind>(taps, block, rows, window.pad_left, in_width, in_stride,
                                                tiles, window.out_width);
  else
    depthwise_rows<kRows, kStride, false, kKind>(taps, block, rows, window.pad_left, in_width, in_stride,
                                                 tiles, window.out_width);
}

// Every output pixel of one block, its taps at `weights` (tap t at weights + t * tap_stride), its first
// input and output channel at input.data and output.data. Rows go in pairs when their stride is the
// columns' (kStride).
template <int kStride, avx2::Rectify kKind>
[[REDS_AVX2]] void depthwise_block(const Window& window, const MapView& input, const float* weights,
                                   std::int64_t tap_stride, const Block& block,
                                   const MutableMapView& output) {
  __m256 taps[9];
#pragma GCC unroll 9
  for (int tap = 0; tap < 9; ++tap) taps[tap] = _mm256_loadu_ps(weights + tap * tap_stride);
  std::int64_t out_row = 0;
  if (window.stride_height == kStride)
    for (; out_row + 2 <= window.out_height; out_row += 2)
      depthwise_output_rows<2, kStride, kKind>(taps, block, window, input, output, out_row);
  for (; out_row < window.out_height; ++out_row)
    depthwise_output_rows<1, kStride, kKind>(taps, block, window, input, output, out_row);
}

using BlockKernel = void (*)(const Window&, const MapView&, const float*, std::int64_t, const Block&,
                             const MutableMapView&);

template <int kStride>
BlockKernel block_kernel_for(avx2::Rectify kind) {
  switch (kind) {
    case avx2::Rectify::none:
      return depthwise_block<kStride, avx2::Rectify::none>;
    case avx2::Rectify::relu:
      return depthwise_block<kStride, avx2::Rectify::relu>;
    default:
      return depthwise_block<kStride, avx2::Rectify::general>;
  }
}

// Every block of every range (one range per level, its one segment: channel first + j of tap t at
// data[(j / 8) * panel_stride + t * tap_stride + j % 8]).
[[REDS_AVX2]] void depthwise_ranges(const Window& window, const MapView& input,
                                    const SegmentedWeights& weights, const float* bias,
                                    const Rectifier* rectifier, const MutableMapView& output,
                                    const float* scale) {
  const avx2::Rectification rectify = avx2::rectification_of(rectifier);
  const BlockKernel block_kernel =
      window.stride_width == 1 ? block_kernel_for<1>(rectify.kind) : block_kernel_for<2>(rectify.kind);
  for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range) {
    const WeightSegment& segment = range->segments[0];
    for (std::int64_t channel = range->first; channel < range->end; channel += kLanes) {
      Block block;
      block.start = bias && !scale ? _mm256_loadu_ps(bias + channel) : _mm256_setzero_ps();
      block.scale = scale ? scale + channel : nullptr;
      block.shift = scale ? bias + channel : nullptr;
      block.count = std::min(kLanes, range->end - channel);
      block.rectify = rectify;
      block_kernel(window, {input.data + channel, input.pixel_stride, input.channels},
                   segment.data + (channel - range->first) / kLanes * segment.panel_stride,
                   segment.tap_stride, block, {output.data + channel, output.pixel_stride, output.channels});
    }
  }
}

const bool avx2_fma = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}();

}  // namespace

bool depthwise_conv2d_avx2(const Window& window, const MapView& input, const SegmentedWeights& weights,
                           const float* bias, const Rectifier* rectifier, const MutableMapView& output,
                           const float* scale) {
  if (!avx2_fma || window.kernel_height != 3 || window.kernel_width != 3 || window.dilation_height != 1 ||
      window.dilation_width != 1 || (window.stride_width != 1 && window.stride_width != 2))
    return false;
  depthwise_ranges(window, input, weights, bias, rectifier, output, scale);
  return true;
}

#endif

}  // namespace reds::engine::kernels
