#include "conv_avx2.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define REDS_CONV_AVX2 1
#endif

namespace reds::engine::kernels {

#ifndef REDS_CONV_AVX2

bool conv2d_avx2(const Window&, const MapView&, const SegmentedWeights&, const float*, const Rectifier*, bool,
                 const MutableMapView&, const float*) {
  return false;
}

#else

namespace {

// A convolution is a matrix product, output pixels x (taps x input channels) times (taps x input channels) x
// output channels, summed here in tiles of up to 12 adjacent output pixels of a row times one or two blocks
// of 8 output channels: pixels x blocks accumulators in registers (at most 12 of the 16), each input value
// broadcast from memory once for the tile's blocks, each weight vector loaded once for its pixels. The
// inputs are read in place from the NHWC map (a tile's pixels are a fixed step apart), so nothing is
// packed but the windows of a tile that reaches into the left or right padding: those are copied with
// zeros in the padding, so that border pixels run in tiles as well (one by one, a pixel's sums would be
// chains of dependent multiply-adds).
//
// The blocks of a tile may come from different column ranges of nested weights (session.h): their rows are
// cut into intervals at every boundary of either block's segments, and over an interval each block reads
// one segment, its own weight rows. What a tile sums, tap by tap and interval by interval, is planned once
// per call as runs (an input offset, each block's weights, a row count), runs that continue each other in
// the input and in every block's weights merged into one. Every output channel sums its products in one
// order, each row of taps apart and then onto the bias and the rows before it, taps ascending and input
// channels ascending within a tap, whatever block it is computed beside and whatever the tile size, so that
// a layer computed in one call or range by range gives the same values (a tap in the padding adds zeros).

constexpr std::int64_t kLanes = kVectorLanes;
constexpr int kMaxIntervals = 8;
// Groups of two blocks a call computes at most (64 output channels; see conv2d_avx2).
constexpr int kMaxGroups = 4;
// Runs of a group, every tap's (a 3x3 layer of 8 intervals: 72); rows of taps of a kernel.
constexpr int kMaxRuns = 96;
constexpr std::int64_t kMaxTapRows = 16;
// Pixels of a tile: 12 of one block, 6 of two.
constexpr int kMostPixels = 12;
// Floats of a border tile's copy of its windows (on the stack).
constexpr std::int64_t kMaxBorderFloats = 8192;

// (No member initializers here and in BlockGroup: plan_group sets what the kernels read, and a call's
// groups, cleared, would cost it a few hundred cycles.)
struct Interval {
  std::int64_t first_row, end_row;
  // Per block: its weights at tap 0 and the interval's first row, and its segment's strides.
  const float* weights[2];
  std::int64_t row_stride[2];
  std::int64_t tap_stride[2];
};

// Consecutive rows of the products of a tile: the tile's first pixel's value of the first row at
// `in` floats from its window's first tap (pixel p's at in + p * step, the next row's one float on), block
// b's weights at weights[b] (the next row's row_stride[b] floats on).
// (No member initializers: a group's array of runs is filled, not cleared.)
struct Run {
  std::int64_t in;
  const float* weights[2];
  std::int64_t row_stride[2];
  std::int64_t rows;
};

// One or two blocks of output channels, the intervals of their rows and the runs of their taps.
struct BlockGroup {
  int blocks;
  std::int64_t column[2];  // the block's first output channel
  std::int64_t count[2];   // its channels stored (8, or fewer in a range's last block; 0 for no block)
  int intervals;
  Interval interval[kMaxIntervals];
  // Row of taps t sums runs [tap_row_runs[t], tap_row_runs[t + 1]), `in` counted from the tap row's input.
  int tap_row_runs[kMaxTapRows + 1];
  Run runs[kMaxRuns];
};

struct Block {
  const ColumnRange* range = nullptr;
  std::int64_t column = 0, count = 0;
};

// Whether `next` continues `run` in the input and in the weights of each of `blocks` blocks.
bool continues(const Run& run, const Run& next, int blocks) {
  if (run.in + run.rows != next.in) return false;
  for (int block = 0; block < blocks; ++block)
    if (run.row_stride[block] != next.row_stride[block] ||
        run.weights[block] + run.rows * run.row_stride[block] != next.weights[block])
      return false;
  return true;
}

// The group of blocks `first` and, if given, `second`, or false when a row interval of one block is in
// none of its range's segments, there are more than kMaxIntervals intervals or more than kMaxRuns runs.
bool plan_group(const Block* first, const Block* second, const MapView& input, const Window& window,
                BlockGroup& group) {
  const Block* blocks[2] = {first, second};
  group.blocks = second ? 2 : 1;
  group.column[1] = group.count[1] = 0;
  std::int64_t cuts[2 * kMaxIntervals + 2];
  int cut_count = 0;
  for (int block = 0; block < group.blocks; ++block) {
    const ColumnRange& range = *blocks[block]->range;
    group.column[block] = blocks[block]->column;
    group.count[block] = blocks[block]->count;
    for (const WeightSegment* segment = range.segments; segment != range.segments + range.segment_count;
         ++segment)
      for (const std::int64_t row : {segment->first_row, segment->end_row}) {
        if (std::find(cuts, cuts + cut_count, row) != cuts + cut_count) continue;
        if (cut_count == kMaxIntervals + 1) return false;
        cuts[cut_count++] = row;
      }
  }
  // Insertion sort (a handful of cuts; GCC 12 warns of bounds inside std::sort's on a small array).
  for (int index = 1; index < cut_count; ++index)
    for (int at = index; at > 0 && cuts[at - 1] > cuts[at]; --at) std::swap(cuts[at - 1], cuts[at]);
  group.intervals = cut_count - 1;
  for (int index = 0; index < group.intervals; ++index) {
    Interval& interval = group.interval[index];
    interval.first_row = cuts[index];
    interval.end_row = cuts[index + 1];
    for (int block = 0; block < group.blocks; ++block) {
      const ColumnRange& range = *blocks[block]->range;
      const WeightSegment* segment = range.segments;
      const WeightSegment* const last = range.segments + range.segment_count;
      while (segment != last &&
             !(segment->first_row <= interval.first_row && interval.end_row <= segment->end_row))
        ++segment;
      if (segment == last) return false;
      interval.weights[block] = segment->data +
                                (blocks[block]->column - range.first) / kLanes * segment->panel_stride +
                                (interval.first_row - segment->first_row) * segment->row_stride;
      interval.row_stride[block] = segment->row_stride;
      interval.tap_stride[block] = segment->tap_stride;
    }
    if (group.blocks == 1) {  // the second block's pointers mirror the first's
      interval.weights[1] = interval.weights[0];
      interval.row_stride[1] = interval.row_stride[0];
      interval.tap_stride[1] = interval.tap_stride[0];
    }
  }
  // The runs: taps, then intervals; a run that continues the one before it in the same row of taps (the
  // next interval of one segment, or a tap's first rows after the last rows of the tap before it in a map
  // of `channels` values a pixel) extends it.
  if (window.kernel_height > kMaxTapRows) return false;
  const std::int64_t column_step = window.dilation_width * input.pixel_stride;
  int run_count = 0;
  for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
    group.tap_row_runs[tap_row] = run_count;
    for (std::int64_t tap_column = 0; tap_column < window.kernel_width; ++tap_column) {
      const std::int64_t tap = tap_row * window.kernel_width + tap_column;
      for (const Interval* interval = group.interval; interval != group.interval + group.intervals;
           ++interval) {
        Run run;  // NOLINT(cppcoreguidelines-pro-type-member-init): every member is set below
        run.in = tap_column * column_step + interval->first_row;
        for (int block = 0; block < 2; ++block) {
          run.weights[block] = interval->weights[block] + tap * interval->tap_stride[block];
          run.row_stride[block] = interval->row_stride[block];
        }
        run.rows = interval->end_row - interval->first_row;
        if (run_count > group.tap_row_runs[tap_row] &&
            continues(group.runs[run_count - 1], run, group.blocks)) {
          group.runs[run_count - 1].rows += run.rows;
          continue;
        }
        if (run_count == kMaxRuns) return false;
        group.runs[run_count++] = run;
      }
    }
  }
  group.tap_row_runs[window.kernel_height] = run_count;
  return true;
}

struct TapSpan {
  std::int64_t first = 0, end = 0;
};
// The taps of one window axis whose input position out * stride - pad + t * dilation lies in [0, size).
TapSpan taps_inside(std::int64_t out, std::int64_t stride, std::int64_t pad, std::int64_t dilation,
                    std::int64_t kernel, std::int64_t size) {
  const std::int64_t start = out * stride - pad;
  const std::int64_t room = size - 1 - start;
  const std::int64_t first = start >= 0 ? 0 : (dilation - 1 - start) / dilation;
  const std::int64_t end = room < 0 ? 0 : std::min(kernel, room / dilation + 1);
  return {first, std::max(first, end)};
}

struct Call {
  Window window;
  MapView input;
  const float* bias = nullptr;
  const Rectifier* rectifier = nullptr;
  bool accumulate = false;
  MutableMapView output;
  // Per-level statistics: the sums start from zero and become scale * sum + bias per output channel.
  const float* scale = nullptr;
};

#define REDS_AVX2 gnu::target("arch=x86-64-v3")

// The sums' way to the output: with `accumulate`, plus what the output holds (a residual addition, added
// as kernels::add adds it), then rectified as kernels::rectify does, then stored (the first `count` lanes).
// With per-level statistics, conv_tile first takes the sums to scale * sum + bias (kMapped).
// Its values are copied out of the call once per tile: read through the call after a store, the compiler
// would load them again (a float store may write a Rectifier).
struct Epilogue {
  bool accumulate = false, rectify = false;
  __m256 threshold, max_value, negative_slope;
};

[[REDS_AVX2, gnu::always_inline]] inline Epilogue epilogue_of(const Call& call) {
  Epilogue epilogue;
  epilogue.accumulate = call.accumulate;
  epilogue.rectify = call.rectifier != nullptr;
  const Rectifier rectifier = call.rectifier ? *call.rectifier : Rectifier{};
  epilogue.threshold = _mm256_set1_ps(rectifier.threshold);
  epilogue.max_value = _mm256_set1_ps(rectifier.max_value);
  epilogue.negative_slope = _mm256_set1_ps(rectifier.negative_slope);
  return epilogue;
}

[[REDS_AVX2, gnu::always_inline]] inline void store_block(__m256 value, const Epilogue& epilogue, float* to,
                                                          std::int64_t count) {
  if (count == kLanes) {
    if (epilogue.accumulate) value = _mm256_add_ps(value, _mm256_loadu_ps(to));
  } else if (epilogue.accumulate) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    value = _mm256_add_ps(value, _mm256_maskload_ps(to, mask));
  }
  if (epilogue.rectify) {
    // std::min(value, max_value) is max_value < value ? max_value : value.
    const __m256 capped = _mm256_min_ps(epilogue.max_value, value);
    const __m256 below = _mm256_mul_ps(epilogue.negative_slope, _mm256_sub_ps(value, epilogue.threshold));
    value = _mm256_blendv_ps(below, capped, _mm256_cmp_ps(value, epilogue.threshold, _CMP_GE_OQ));
  }
  if (count == kLanes) {
    _mm256_storeu_ps(to, value);
  } else {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(to, mask, value);
  }
}

// Adds the products of one row of taps (its runs) to the tile's sums, summed apart from them first (a
// tile adds one such partial sum per row of taps: more accurate than one chain over every tap, at 12
// additions a row). `in`: the tile's first pixel's window at that row of taps. The partial sums are locals
// here, registers from the first run to the last (kept in the caller's array across the loop, GCC would
// store them back to it every row).
template <int kPixels, int kBlocks>
[[REDS_AVX2, gnu::always_inline]] inline void add_runs(__m256 (&sums)[kPixels][kBlocks], const float* in,
                                                       const Run* runs, const Run* end, std::int64_t step) {
  constexpr int kBases = (kPixels + 2) / 3;
  __m256 acc[kPixels][kBlocks];
#pragma GCC unroll 12
  for (int pixel = 0; pixel < kPixels; ++pixel)
#pragma GCC unroll 2
    for (int block = 0; block < kBlocks; ++block) acc[pixel][block] = _mm256_setzero_ps();
  for (const Run* run = runs; run != end; ++run) {
    const float* base[kBases];
    for (int index = 0; index < kBases; ++index) base[index] = in + run->in + 3 * index * step;
    const float* w0 = run->weights[0];
    const float* w1 = run->weights[1];
    const std::int64_t stride0 = run->row_stride[0], stride1 = run->row_stride[1];
    for (std::int64_t row = 0; row < run->rows; ++row) {
      __m256 w[kBlocks];
      w[0] = _mm256_loadu_ps(w0);
      if constexpr (kBlocks == 2) w[1] = _mm256_loadu_ps(w1);
#pragma GCC unroll 12
      for (int pixel = 0; pixel < kPixels; ++pixel) {
        const __m256 value = _mm256_broadcast_ss(base[pixel / 3] + (pixel % 3) * step);
#pragma GCC unroll 2
        for (int block = 0; block < kBlocks; ++block)
          acc[pixel][block] = _mm256_fmadd_ps(value, w[block], acc[pixel][block]);
      }
      for (int index = 0; index < kBases; ++index) ++base[index];
      w0 += stride0;
      if constexpr (kBlocks == 2) w1 += stride1;
    }
  }
#pragma GCC unroll 12
  for (int pixel = 0; pixel < kPixels; ++pixel)
#pragma GCC unroll 2
    for (int block = 0; block < kBlocks; ++block)
      sums[pixel][block] = _mm256_add_ps(sums[pixel][block], acc[pixel][block]);
}

// Where a tile reads its windows: the first pixel's window's first tap at the first row of taps `rows`
// inside the input, `row_pitch` floats on to the next row of taps; pixel p's window p * step further.
struct TileInput {
  const float* in = nullptr;
  std::int64_t row_pitch = 0, step = 0;
  TapSpan rows;
};

// kPixels output pixels of a row (the first at `out`, the next output.pixel_stride floats on), the group's
// blocks.
template <int kPixels, int kBlocks, bool kMapped>
[[REDS_AVX2]] void conv_tile(const Call& call, const BlockGroup& group, const TileInput& tile, float* out) {
  __m256 sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const __m256 start =
        call.bias && !kMapped ? _mm256_loadu_ps(call.bias + group.column[block]) : _mm256_setzero_ps();
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  const float* in = tile.in;
  for (std::int64_t tap_row = tile.rows.first; tap_row < tile.rows.end; ++tap_row, in += tile.row_pitch)
    add_runs(sums, in, group.runs + group.tap_row_runs[tap_row], group.runs + group.tap_row_runs[tap_row + 1],
             tile.step);
  const std::int64_t out_stride = call.output.pixel_stride;
  const Epilogue epilogue = epilogue_of(call);
  const std::int64_t columns_of[2] = {group.column[0], group.column[1]};
  const std::int64_t counts[2] = {group.count[0], group.count[1]};
  // Unrolled, so that the sums stay registers.
#pragma GCC unroll 12
  for (int pixel = 0; pixel < kPixels; ++pixel)
#pragma GCC unroll 2
    for (int block = 0; block < kBlocks; ++block)
      store_block(kMapped
                      ? _mm256_fmadd_ps(sums[pixel][block], _mm256_loadu_ps(call.scale + columns_of[block]),
                                        _mm256_loadu_ps(call.bias + columns_of[block]))
                      : sums[pixel][block],
                  epilogue, out + pixel * out_stride + columns_of[block], counts[block]);
}

using TileFunction = void (*)(const Call&, const BlockGroup&, const TileInput&, float*);

// conv_tile<1 ... kSizes, kBlocks, kMapped>, indexed by the pixel count (entry 0 unused).
template <int kBlocks, bool kMapped, int... kSizes>
constexpr std::array<TileFunction, sizeof...(kSizes) + 1> tile_functions(
    std::integer_sequence<int, kSizes...>) {
  return {nullptr, &conv_tile<kSizes + 1, kBlocks, kMapped>...};
}
template <int kBlocks, bool kMapped>
constexpr auto kTiles = tile_functions<kBlocks, kMapped>(std::make_integer_sequence<int, 12 / kBlocks>{});

// Copies the windows of a tile's `pixels` pixels from output column `out_column` on, at the rows of taps
// `rows` whose first is input row `in_row`, to `to`, each pixel's values at the input's pixel stride, zeros
// where a window reaches into the padding. Copies whole vectors: up to 7 floats past a pixel's values,
// which the next pixel's copy overwrites (`to` holds 8 floats more).
[[REDS_AVX2]] TileInput copy_border_tile(const Call& call, std::int64_t in_row, std::int64_t out_column,
                                         int pixels, TapSpan rows, float* to) {
  const Window& window = call.window;
  const MapView& input = call.input;
  const std::int64_t width =
      (pixels - 1) * window.stride_width + (window.kernel_width - 1) * window.dilation_width + 1;
  const std::int64_t first_column = out_column * window.stride_width - window.pad_left;
  const std::int64_t stride = input.pixel_stride, channels = input.channels;
  float* next = to;
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    const float* from =
        input.data + (in_row + (tap_row - rows.first) * window.dilation_height) * window.in_width * stride;
    for (std::int64_t column = first_column; column < first_column + width; ++column, next += stride) {
      if (column < 0 || column >= window.in_width) {
        for (std::int64_t channel = 0; channel < channels; channel += kLanes)
          _mm256_storeu_ps(next + channel, _mm256_setzero_ps());
      } else {
        const float* pixel = from + column * stride;
        for (std::int64_t channel = 0; channel < channels; channel += kLanes)
          _mm256_storeu_ps(next + channel, _mm256_loadu_ps(pixel + channel));
      }
    }
  }
  return {to, width * stride, window.stride_width * stride, rows};
}

// The floats copy_border_tile writes for tiles of up to `pixels` pixels.
std::int64_t border_floats(const Window& window, const MapView& input, int pixels) {
  const std::int64_t width =
      (pixels - 1) * window.stride_width + (window.kernel_width - 1) * window.dilation_width + 1;
  return window.kernel_height * width * input.pixel_stride + kLanes;
}

// Every output row in tiles of at most `most` pixels (12 for one block, 6 for groups of two), of as equal
// sizes as they can be; each tile computes every group's channels before the next (its inputs stay in the
// nearest cache while the weights stream). Output columns [interior_first, interior_end) have every tap
// column inside the input; a tile reaching past them reads a copy of its windows.
template <bool kMapped>
[[REDS_AVX2]] void conv_rows(const Call& call, const BlockGroup* groups, int group_count, int most,
                             std::int64_t interior_first, std::int64_t interior_end) {
  const Window& window = call.window;
  const MapView& input = call.input;
  const std::int64_t tiles = (window.out_width + most - 1) / most;
  const std::int64_t smaller = window.out_width / tiles, larger_tiles = window.out_width % tiles;
  const std::int64_t step = window.stride_width * input.pixel_stride;
  alignas(32) float border[kMaxBorderFloats];
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    const TapSpan rows = taps_inside(out_row, window.stride_height, window.pad_top, window.dilation_height,
                                     window.kernel_height, window.in_height);
    const std::int64_t in_row =
        out_row * window.stride_height - window.pad_top + rows.first * window.dilation_height;
    float* out = call.output.data + out_row * window.out_width * call.output.pixel_stride;
    std::int64_t column = 0;
    for (std::int64_t tile = 0; tile < tiles; ++tile) {
      const int pixels = static_cast<int>(smaller + (tile < larger_tiles ? 1 : 0));
      const TileInput from =
          column >= interior_first && column + pixels <= interior_end
              ? TileInput{input.data +
                              (in_row * window.in_width + column * window.stride_width - window.pad_left) *
                                  input.pixel_stride,
                          window.dilation_height * window.in_width * input.pixel_stride, step, rows}
              : copy_border_tile(call, in_row, column, pixels, rows, border);
      float* tile_out = out + column * call.output.pixel_stride;
      for (const BlockGroup* group = groups; group != groups + group_count; ++group)
        (group->blocks == 2
             ? kTiles<2, kMapped>[static_cast<std::size_t>(pixels)]
             : kTiles<1, kMapped>[static_cast<std::size_t>(pixels)])(call, *group, from, tile_out);
      column += pixels;
    }
  }
}

// Thin layers: one block of at most 8 output channels from a few input channels (ResNet-8's first stage at
// its smallest levels: 8 -> 8 channels). A tile of pixels x one block above broadcasts one input value per
// multiply-add there, so these layers are vectorised over pixels instead: a vector holds 8 adjacent output
// pixels of one output channel, a tile 3 such vectors x 4 output channels (12 sums), and each product of the
// window (a tap and an input channel) costs the tile 3 vector loads of the input and 4 broadcasts of weights
// for its 12 multiply-adds. The input rows a band of output rows reads are first transposed into channel
// rows, per input channel the values of a row at consecutive columns with zeros in the padding around
// them, so that the 8 values a product reads for a vector are one load (vector v of an output row, tap
// column j: the channel row's columns from 8v - pad_left + j * dilation on). Each tile's sums are transposed
// back to pixels before the epilogue. Both transpositions load 128-bit halves, so that what crosses the
// halves of a vector costs loads instead of shuffles. Every output channel sums the same products in the
// same order as the tiles above (the group's runs, each row of taps apart and then onto the bias), so a
// layer computed here equals it computed with other blocks beside it, bit for bit.

constexpr std::int64_t kThinMaxInputs = 16;
// The products of a window (taps x input channels) a thin layer may have, and the floats of its channel rows.
constexpr int kThinMaxProducts = 256;
constexpr std::int64_t kThinPlaneFloats = 16384;
constexpr int kThinVectors = 3;
constexpr int kThinOutputs = 4;

// A thin layer's products, row of taps by row of taps in the order the group's runs sum them: each one's
// offset in a transposed input row (from its vector's first pixel's first tap, in the first channel row)
// and its weights (8 floats, one per output channel of the block).
// (No member initializers: plan_thin sets what the kernel reads.)
struct ThinPlan {
  std::int64_t vectors;       // of an output row
  std::int64_t groups;        // of 8 input columns, transposed one at a time
  std::int64_t first_column;  // input column 0's place in a channel row: a multiple of 8, >= pad_left
  std::int64_t channel_floats;
  std::int64_t row_floats;  // channels x channel_floats
  int tap_row_products[kMaxTapRows + 1];
  std::int64_t offset[kThinMaxProducts];
  alignas(32) float weights[kThinMaxProducts * kLanes];
};

// Whether the lone block of `group` fits the thin kernel, then its plan.
[[REDS_AVX2]] bool plan_thin(const Call& call, const BlockGroup& group, ThinPlan& plan) {
  const Window& window = call.window;
  if (call.input.channels > kThinMaxInputs || window.stride_width != 1) return false;
  plan.vectors = (window.out_width + kLanes - 1) / kLanes;
  plan.groups = (window.in_width + kLanes - 1) / kLanes;
  plan.first_column = (window.pad_left + kLanes - 1) / kLanes * kLanes;
  // The last vector's window ends at its pixels' last column + the window's width, zeros past the input.
  const std::int64_t read_end = plan.first_column - window.pad_left + plan.vectors * kLanes +
                                (window.kernel_width - 1) * window.dilation_width;
  const std::int64_t floats = std::max(read_end, plan.first_column + plan.groups * kLanes);
  plan.channel_floats = (floats + kLanes - 1) / kLanes * kLanes;
  plan.row_floats = call.input.channels * plan.channel_floats;
  if (((window.kernel_height - 1) * window.dilation_height + 1) * plan.row_floats > kThinPlaneFloats)
    return false;
  const std::int64_t pixel_stride = call.input.pixel_stride;
  int products = 0;
  for (std::int64_t tap_row = 0; tap_row < window.kernel_height; ++tap_row) {
    plan.tap_row_products[tap_row] = products;
    for (const Run* run = group.runs + group.tap_row_runs[tap_row];
         run != group.runs + group.tap_row_runs[tap_row + 1]; ++run)
      for (std::int64_t row = 0; row < run->rows; ++row) {
        if (products == kThinMaxProducts) return false;
        // run->in + row: the product's column in the window (dilation included) x pixel_stride + its input
        // channel.
        const std::int64_t column = (run->in + row) / pixel_stride, channel = (run->in + row) % pixel_stride;
        plan.offset[products] = channel * plan.channel_floats + column;
        _mm256_store_ps(plan.weights + products * kLanes,
                        _mm256_loadu_ps(run->weights[0] + row * run->row_stride[0]));
        ++products;
      }
  }
  plan.tap_row_products[window.kernel_height] = products;
  return true;
}

// columns[c] = lane k: rows[k][c], for 8 rows of 8 floats (an 8 x 8 transposition). The rows are loaded in
// 128-bit halves, each vector the halves of rows k and k + 4, so that only in-lane shuffles remain.
[[REDS_AVX2, gnu::always_inline]] inline void transpose8(const float* const (&rows)[8],
                                                         __m256 (&columns)[8]) {
  __m256 halves[8];
#pragma GCC unroll 4
  for (int index = 0; index < 4; ++index) {
    halves[index] = _mm256_loadu2_m128(rows[index + 4], rows[index]);
    halves[index + 4] = _mm256_loadu2_m128(rows[index + 4] + 4, rows[index] + 4);
  }
#pragma GCC unroll 2
  for (int first = 0; first < 8; first += 4) {
    const __m256 low01 = _mm256_unpacklo_ps(halves[first], halves[first + 1]);
    const __m256 high01 = _mm256_unpackhi_ps(halves[first], halves[first + 1]);
    const __m256 low23 = _mm256_unpacklo_ps(halves[first + 2], halves[first + 3]);
    const __m256 high23 = _mm256_unpackhi_ps(halves[first + 2], halves[first + 3]);
    columns[first] = _mm256_shuffle_ps(low01, low23, _MM_SHUFFLE(1, 0, 1, 0));
    columns[first + 1] = _mm256_shuffle_ps(low01, low23, _MM_SHUFFLE(3, 2, 3, 2));
    columns[first + 2] = _mm256_shuffle_ps(high01, high23, _MM_SHUFFLE(1, 0, 1, 0));
    columns[first + 3] = _mm256_shuffle_ps(high01, high23, _MM_SHUFFLE(3, 2, 3, 2));
  }
}

// Input rows [first_row, end_row) to channel rows at `to`: row r's channel c at (r - first_row) * row_floats
// + c * channel_floats, its input column x at first_column + x, zeros before column 0 and after the last.
[[REDS_AVX2]] void transpose_rows(const Call& call, const ThinPlan& plan, std::int64_t first_row,
                                  std::int64_t end_row, float* to) {
  alignas(32) static constexpr float kZeros[kLanes] = {};
  const Window& window = call.window;
  const MapView& input = call.input;
  const std::int64_t stride = input.pixel_stride, channel_floats = plan.channel_floats;
  const std::int64_t whole_groups = window.in_width / kLanes;
  const std::int64_t last_column = plan.first_column + plan.groups * kLanes;
  __m256 zero = _mm256_setzero_ps();
  // Opaque to GCC, which would otherwise make each channel row's few zero stores a call of memset.
  asm("" : "+x"(zero));
  for (std::int64_t row = first_row; row < end_row; ++row) {
    const float* from = input.data + row * window.in_width * stride;
    float* const rows = to + (row - first_row) * plan.row_floats;
    for (std::int64_t channel = 0; channel < input.channels; ++channel) {
      float* const at = rows + channel * channel_floats;
      for (std::int64_t column = 0; column < plan.first_column; column += kLanes)
        _mm256_store_ps(at + column, zero);
      for (std::int64_t column = last_column; column < channel_floats; column += kLanes)
        _mm256_store_ps(at + column, zero);
    }
    for (std::int64_t first_channel = 0; first_channel < input.channels; first_channel += kLanes) {
      const std::int64_t channels = std::min(kLanes, input.channels - first_channel);
      float* const at = rows + first_channel * channel_floats + plan.first_column;
      for (std::int64_t group = 0; group < plan.groups; ++group) {
        const std::int64_t first = group * kLanes;
        const float* const pixel = from + first * stride + first_channel;
        __m256 values[8];
        if (group < whole_groups) {
          const float* const pixels[8] = {pixel,
                                          pixel + stride,
                                          pixel + 2 * stride,
                                          pixel + 3 * stride,
                                          pixel + 4 * stride,
                                          pixel + 5 * stride,
                                          pixel + 6 * stride,
                                          pixel + 7 * stride};
          transpose8(pixels, values);
        } else {
          const float* pixels[8];
          for (int index = 0; index < 8; ++index)
            pixels[index] = first + index < window.in_width ? pixel + index * stride : kZeros;
          transpose8(pixels, values);
        }
        if (channels == kLanes) {
#pragma GCC unroll 8
          for (int channel = 0; channel < 8; ++channel)
            _mm256_store_ps(at + channel * channel_floats + first, values[channel]);
        } else {
          for (std::int64_t channel = 0; channel < channels; ++channel)
            _mm256_store_ps(at + channel * channel_floats + first, values[channel]);
        }
      }
    }
  }
}

// The sums of kOutputs output channels of the block from its `first_output`-th on (the layer's channel
// `column` + first_output) of kVectors vectors, each vector's first pixel's window at in[v] (the first row
// of taps of `rows`), to sums[channel][v * 8 + lane] (kThinVectors * 8 floats a channel).
template <int kVectors, int kOutputs, bool kMapped>
[[REDS_AVX2]] void thin_sums(const Call& call, const ThinPlan& plan, const float* const* in,
                             std::int64_t row_pitch, TapSpan rows, std::int64_t column,
                             std::int64_t first_output, float* sums) {
  constexpr std::int64_t kChannelFloats = kThinVectors * kLanes;
  for (int output = 0; output < kOutputs; ++output) {
    const __m256 start = call.bias && !kMapped
                             ? _mm256_broadcast_ss(call.bias + column + first_output + output)
                             : _mm256_setzero_ps();
    for (int vector = 0; vector < kVectors; ++vector)
      _mm256_store_ps(sums + output * kChannelFloats + vector * kLanes, start);
  }
  const float* pixels[kVectors];
  for (int vector = 0; vector < kVectors; ++vector) pixels[vector] = in[vector];
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    __m256 acc[kOutputs][kVectors];
#pragma GCC unroll 3
    for (int output = 0; output < kOutputs; ++output)
#pragma GCC unroll 4
      for (int vector = 0; vector < kVectors; ++vector) acc[output][vector] = _mm256_setzero_ps();
    const float* weights = plan.weights + plan.tap_row_products[tap_row] * kLanes + first_output;
    const std::int64_t* offset = plan.offset + plan.tap_row_products[tap_row];
    const std::int64_t* const end = plan.offset + plan.tap_row_products[tap_row + 1];
    // The tile's input vectors in registers, then one weight broadcast at a time: 12 sums, 3 values and a
    // weight fill the 16 vector registers.
    // (A row of taps has products: as a do-while loop, GCC keeps the sums in registers.)
    do {
      __m256 value[kVectors];
#pragma GCC unroll 4
      for (int vector = 0; vector < kVectors; ++vector)
        value[vector] = _mm256_loadu_ps(pixels[vector] + *offset);
#pragma GCC unroll 4
      for (int output = 0; output < kOutputs; ++output) {
        const __m256 weight = _mm256_broadcast_ss(weights + output);
#pragma GCC unroll 4
        for (int vector = 0; vector < kVectors; ++vector)
          acc[output][vector] = _mm256_fmadd_ps(value[vector], weight, acc[output][vector]);
      }
      weights += kLanes;
    } while (++offset != end);
#pragma GCC unroll 3
    for (int output = 0; output < kOutputs; ++output)
#pragma GCC unroll 4
      for (int vector = 0; vector < kVectors; ++vector) {
        float* const sum = sums + output * kChannelFloats + vector * kLanes;
        _mm256_store_ps(sum, _mm256_add_ps(_mm256_load_ps(sum), acc[output][vector]));
      }
    for (int vector = 0; vector < kVectors; ++vector) pixels[vector] += row_pitch;
  }
}

using ThinSumsFunction = void (*)(const Call&, const ThinPlan&, const float* const*, std::int64_t, TapSpan,
                                  std::int64_t, std::int64_t, float*);

template <int kOutputs, bool kMapped>
constexpr std::array<ThinSumsFunction, kThinVectors + 1> kThinSums = {
    nullptr, &thin_sums<1, kOutputs, kMapped>, &thin_sums<2, kOutputs, kMapped>,
    &thin_sums<3, kOutputs, kMapped>};

// One vector of a thin tile: its first pixel's window in the channel rows, its first output pixel and how
// many pixels it stores (8, or fewer at the end of a row).
struct ThinVector {
  const float* in;
  float* out;
  std::int64_t pixels;
};

// A tile's vectors (sharing their rows of taps): every output channel's sums, then per vector its pixels'
// channels transposed back and stored through the epilogue.
template <bool kMapped>
[[REDS_AVX2]] void thin_tile(const Call& call, const BlockGroup& group, const ThinPlan& plan,
                             const ThinVector* vectors, int count, std::int64_t row_pitch, TapSpan rows,
                             float* sums) {
  const float* in[kThinVectors];
  for (int vector = 0; vector < count; ++vector) in[vector] = vectors[vector].in;
  const std::int64_t column = group.column[0], channels = group.count[0];
  // The block's channels in parts of at most kThinOutputs (4 of at most 8), as equal as they can be.
  static_assert(2 * kThinOutputs == kLanes);
  const std::int64_t split = channels > kThinOutputs ? channels / 2 : channels;
  const std::size_t at = static_cast<std::size_t>(count);
  for (std::int64_t first = 0; first < channels;) {
    const std::int64_t outputs = first == 0 ? split : channels - split;
    (outputs == 4   ? kThinSums<4, kMapped>[at]
     : outputs == 3 ? kThinSums<3, kMapped>[at]
     : outputs == 2 ? kThinSums<2, kMapped>[at]
                    : kThinSums<1, kMapped>[at])(call, plan, in, row_pitch, rows, column, first,
                                                 sums + first * kThinVectors * kLanes);
    first += outputs;
  }
  const Epilogue epilogue = epilogue_of(call);
  const std::int64_t out_stride = call.output.pixel_stride;
  __m256 scale = _mm256_setzero_ps(), bias = _mm256_setzero_ps();
  if constexpr (kMapped) {
    scale = _mm256_loadu_ps(call.scale + column);
    bias = _mm256_loadu_ps(call.bias + column);
  }
  for (int vector = 0; vector < count; ++vector) {
    const float* channel_sums[8];
#pragma GCC unroll 8
    for (int channel = 0; channel < 8; ++channel)
      channel_sums[channel] = sums + channel * kThinVectors * kLanes + vector * kLanes;
    __m256 pixels[8];
    transpose8(channel_sums, pixels);
    const ThinVector& to = vectors[vector];
    float* const out = to.out + column;
    if (to.pixels == kLanes) {
#pragma GCC unroll 8
      for (int pixel = 0; pixel < 8; ++pixel)
        store_block(kMapped ? _mm256_fmadd_ps(pixels[pixel], scale, bias) : pixels[pixel], epilogue,
                    out + pixel * out_stride, channels);
    } else {
      for (std::int64_t pixel = 0; pixel < to.pixels; ++pixel)
        store_block(kMapped ? _mm256_fmadd_ps(pixels[pixel], scale, bias) : pixels[pixel], epilogue,
                    out + pixel * out_stride, channels);
    }
  }
}

// The layer in bands of output rows whose input rows fit the channel rows; within a band, tiles of up to
// kThinVectors vectors in row order, a tile's vectors from rows with the same rows of taps.
template <bool kMapped>
[[REDS_AVX2]] void conv_thin(const Call& call, const BlockGroup& group, const ThinPlan& plan) {
  const Window& window = call.window;
  alignas(32) float planes[kThinPlaneFloats];
  alignas(32) float sums[kLanes * kThinVectors * kLanes];
  // The channels past the block's: zeros, transposed to lanes the store leaves out.
  std::fill(sums + group.count[0] * kThinVectors * kLanes, sums + kLanes * kThinVectors * kLanes, 0.0f);
  const std::int64_t max_rows = kThinPlaneFloats / plan.row_floats;
  const std::int64_t row_pitch = window.dilation_height * plan.row_floats;
  const std::int64_t out_pixel = call.output.pixel_stride;
  const auto input_rows = [&](std::int64_t first_out, std::int64_t end_out) {
    const std::int64_t first = std::max<std::int64_t>(0, first_out * window.stride_height - window.pad_top);
    const std::int64_t end =
        std::min(window.in_height, (end_out - 1) * window.stride_height - window.pad_top +
                                       (window.kernel_height - 1) * window.dilation_height + 1);
    return TapSpan{first, std::max(first, end)};
  };
  for (std::int64_t band_first = 0; band_first < window.out_height;) {
    std::int64_t band_end = band_first + 1;
    while (band_end < window.out_height) {
      const TapSpan span = input_rows(band_first, band_end + 1);
      if (span.end - span.first > max_rows) break;
      ++band_end;
    }
    const TapSpan band_rows = input_rows(band_first, band_end);
    transpose_rows(call, plan, band_rows.first, band_rows.end, planes);
    // Runs of rows with the same rows of taps, their vectors in row order cut into tiles of sizes as equal
    // as they can be (a run of 4 vectors: 2 and 2, not 3 and 1).
    for (std::int64_t run_first = band_first; run_first < band_end;) {
      const TapSpan rows = taps_inside(run_first, window.stride_height, window.pad_top,
                                       window.dilation_height, window.kernel_height, window.in_height);
      std::int64_t run_end = run_first + 1;
      while (run_end < band_end) {
        const TapSpan next = taps_inside(run_end, window.stride_height, window.pad_top,
                                         window.dilation_height, window.kernel_height, window.in_height);
        if (next.first != rows.first || next.end != rows.end) break;
        ++run_end;
      }
      const std::int64_t vectors = (run_end - run_first) * plan.vectors;
      const std::int64_t tiles = (vectors + kThinVectors - 1) / kThinVectors;
      const std::int64_t smaller = vectors / tiles, larger_tiles = vectors % tiles;
      std::int64_t out_row = run_first, vector = 0;
      for (std::int64_t index = 0; index < tiles; ++index) {
        ThinVector tile[kThinVectors];
        const int count = static_cast<int>(smaller + (index < larger_tiles ? 1 : 0));
        for (int at = 0; at < count; ++at) {
          const std::int64_t in_row =
              out_row * window.stride_height - window.pad_top + rows.first * window.dilation_height;
          tile[at] = {planes + (in_row - band_rows.first) * plan.row_floats + plan.first_column -
                          window.pad_left + vector * kLanes,
                      call.output.data + (out_row * window.out_width + vector * kLanes) * out_pixel,
                      std::min(kLanes, window.out_width - vector * kLanes)};
          if (++vector == plan.vectors) {
            vector = 0;
            ++out_row;
          }
        }
        thin_tile<kMapped>(call, group, plan, tile, count, row_pitch, rows, sums);
      }
      run_first = run_end;
    }
    band_first = band_end;
  }
}

const bool avx2_fma = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}();

}  // namespace

bool conv2d_avx2(const Window& window, const MapView& input, const SegmentedWeights& weights,
                 const float* bias, const Rectifier* rectifier, bool accumulate, const MutableMapView& output,
                 const float* scale) {
  if (!avx2_fma) return false;
  // The blocks of every range, 8 channels each but a range's last.
  constexpr int kMaxBlocks = 2 * kMaxGroups;
  Block blocks[kMaxBlocks];
  int block_count = 0;
  for (const ColumnRange* range = weights.ranges; range != weights.ranges + weights.range_count; ++range)
    for (std::int64_t column = range->first; column < range->end; column += kLanes) {
      if (block_count == kMaxBlocks) return false;
      blocks[block_count++] = {range, column, std::min(kLanes, range->end - column)};
    }
  // Blocks in twos: every group must fit the plan before anything is written.
  const int group_count = (block_count + 1) / 2;
  // Up to 4 groups (64 output channels): ResNet-8's 8x8x64 -> 64 runs here in 0.80 of the time of the packed
  // kernels of kernels.cpp, which wider layers run (anchor_bench.cpp --layers).
  if (group_count > kMaxGroups) return false;
  Call call{window, input, bias, rectifier, accumulate, output, scale};
  // A 1x1 convolution at stride 1 without padding is one row of all pixels.
  if (window.kernel_height == 1 && window.kernel_width == 1 && window.stride_height == 1 &&
      window.stride_width == 1 && window.pad_top == 0 && window.pad_left == 0 &&
      window.out_height == window.in_height && window.out_width == window.in_width) {
    call.window.in_width = call.window.out_width = window.out_height * window.out_width;
    call.window.in_height = call.window.out_height = 1;
  }
  BlockGroup groups[kMaxGroups];
  for (int index = 0; index < group_count; ++index) {
    const Block* second = 2 * index + 1 < block_count ? &blocks[2 * index + 1] : nullptr;
    if (!plan_group(&blocks[2 * index], second, input, call.window, groups[index])) return false;
  }
  // The output columns whose every tap column lies inside the input.
  const Window& geometry = call.window;
  const std::int64_t first =
      std::min((geometry.pad_left + geometry.stride_width - 1) / geometry.stride_width, geometry.out_width);
  const std::int64_t limit =
      geometry.in_width - 1 + geometry.pad_left - (geometry.kernel_width - 1) * geometry.dilation_width;
  const std::int64_t end =
      std::max(first, std::min(limit < 0 ? 0 : limit / geometry.stride_width + 1, geometry.out_width));
  // Smaller tiles where a border tile's copy would not fit (the sums do not depend on the tile size).
  int most = group_count == 1 && groups[0].blocks == 1 ? kMostPixels : kMostPixels / 2;
  if (first > 0 || end < geometry.out_width) {
    while (most > 1 && border_floats(geometry, input, most) > kMaxBorderFloats) --most;
    if (border_floats(geometry, input, most) > kMaxBorderFloats) return false;
  }
  if (geometry.out_width == 0) return true;
  // Thin layers of a window of several taps at stride 1 (at stride 2, transposing the input rows costs
  // more than the pixel vectors gain).
  if (group_count == 1 && groups[0].blocks == 1 && geometry.kernel_height * geometry.kernel_width > 1 &&
      geometry.stride_height == 1 && geometry.stride_width == 1 && geometry.out_width >= kLanes) {
    ThinPlan thin;
    if (plan_thin(call, groups[0], thin)) {
      (scale ? conv_thin<true> : conv_thin<false>)(call, groups[0], thin);
      return true;
    }
  }
  // Two copies: without a scale, the stores are those of a model without per-level statistics.
  (scale ? conv_rows<true> : conv_rows<false>)(call, groups, group_count, most, first, end);
  return true;
}

#endif

}  // namespace reds::engine::kernels
