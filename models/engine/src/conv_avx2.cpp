#include "conv_avx2.h"

#include <algorithm>
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
// output channels, summed here in tiles of kPixels adjacent output pixels of a row times one or two blocks
// of 8 output channels: kPixels x kBlocks accumulators in registers (12 of the 16), each input value
// broadcast from memory once for the tile's blocks, each weight vector loaded once for its pixels. The
// inputs are read in place from the NHWC map (a tile's pixels are a fixed step apart), so nothing is
// packed; pixels whose window reaches into the padding run one by one over the taps inside the input.
//
// The blocks of a tile may come from different column ranges of nested weights (session.h): their rows are
// cut into intervals at every boundary of either block's segments, and over an interval each block reads
// one segment, its own weight rows. Every output channel sums its products in one order, each row of taps
// apart and then onto the bias and the rows before it, taps ascending and input channels ascending within a
// tap, whatever block it is computed beside and whatever the tile size, so that a layer computed in one
// call or range by range gives the same values.

constexpr std::int64_t kLanes = kVectorLanes;
constexpr int kMaxIntervals = 8;
// Groups of two blocks a call computes at most (64 output channels; see conv2d_avx2).
constexpr int kMaxGroups = 4;

struct Interval {
  std::int64_t first_row = 0, end_row = 0;
  // Per block: its weights at tap 0 and the interval's first row, and its segment's strides.
  const float* weights[2] = {};
  std::int64_t row_stride[2] = {};
  std::int64_t tap_stride[2] = {};
};

// One or two blocks of output channels and the intervals of their rows.
struct BlockGroup {
  int blocks = 0;
  std::int64_t column[2] = {};  // the block's first output channel
  std::int64_t count[2] = {};   // its channels stored (8, or fewer in a range's last block)
  int intervals = 0;
  Interval interval[kMaxIntervals];
  // One interval of every input channel whose taps follow each other in every block: a row of taps is
  // one run of consecutive input values and weight rows.
  bool tap_runs = false;
};

struct Block {
  const ColumnRange* range = nullptr;
  std::int64_t column = 0, count = 0;
};

// The group of blocks `first` and, if given, `second`, or false when a row interval of one block is in
// none of its range's segments or there are more than kMaxIntervals intervals.
bool plan_group(const Block* first, const Block* second, const MapView& input, const Window& window,
                BlockGroup& group) {
  const Block* blocks[2] = {first, second};
  group.blocks = second ? 2 : 1;
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
  }
  group.tap_runs = group.intervals == 1 && group.interval[0].first_row == 0 &&
                   group.interval[0].end_row == input.channels && input.pixel_stride == input.channels &&
                   window.dilation_width == 1;
  for (int block = 0; block < group.blocks && group.tap_runs; ++block)
    group.tap_runs =
        group.interval[0].tap_stride[block] == input.channels * group.interval[0].row_stride[block];
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

TapSpan column_span(const Window& window, std::int64_t out_column) {
  return taps_inside(out_column, window.stride_width, window.pad_left, window.dilation_width,
                     window.kernel_width, window.in_width);
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

// Consecutive rows of one tap (an interval, or a run of taps): the tile's first pixel's value of its first
// row at `in` (pixel p's at in + p * step, the next row's one float on), block b's weights at weights[b]
// (the next row's row_stride[b] floats on).
// (No member initializers: a tile's array of runs is filled, not cleared, each call.)
struct Run {
  const float* in;
  const float* weights[2];
  std::int64_t row_stride[2];
  std::int64_t rows;
};
// Runs a tile collects per row of taps before it sums them; a row of more taps x intervals sums them in
// several goes.
constexpr int kMaxRuns = 128;

// Adds the runs' products to the tile's sums, summed apart from them first (a tile adds one such partial
// sum per row of taps: more accurate than one chain over every tap, at 12 additions a row). The partial
// sums are locals here, registers from the first run to the last (kept in the caller's array across the
// loop, GCC would store them back to it every row).
template <int kPixels, int kBlocks>
[[REDS_AVX2, gnu::always_inline]] inline void add_runs(__m256 (&sums)[kPixels][kBlocks], const Run* runs,
                                                       int run_count, std::int64_t step) {
  constexpr int kBases = (kPixels + 2) / 3;
  __m256 acc[kPixels][kBlocks];
#pragma GCC unroll 12
  for (int pixel = 0; pixel < kPixels; ++pixel)
#pragma GCC unroll 2
    for (int block = 0; block < kBlocks; ++block) acc[pixel][block] = _mm256_setzero_ps();
  for (const Run* run = runs; run != runs + run_count; ++run) {
    const float* base[kBases];
    for (int index = 0; index < kBases; ++index) base[index] = run->in + 3 * index * step;
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

// The run of an interval's rows (or of a run of taps) of tap `tap`, the pixels' values of the tap's first
// input channel at in + p * step.
[[REDS_AVX2, gnu::always_inline]] inline Run run_of(const float* in, std::int64_t tap,
                                                    const Interval& interval, std::int64_t rows) {
  Run run;  // NOLINT(cppcoreguidelines-pro-type-member-init): every member is set below
  run.in = in + interval.first_row;
  for (int block = 0; block < 2; ++block) {
    run.weights[block] = interval.weights[block] + tap * interval.tap_stride[block];
    run.row_stride[block] = interval.row_stride[block];
  }
  run.rows = rows;
  return run;
}

// kPixels output pixels of row out_row from out_column on, the group's blocks: the taps of rows inside
// the input and of columns `columns` (all of them for a tile inside the row's interior; those inside the
// input for a single pixel at the border). Pixels before first_stored were stored by the tile before.
template <int kPixels, int kBlocks, bool kMapped>
[[REDS_AVX2]] void conv_tile(const Call& call, const BlockGroup& group, std::int64_t out_row,
                             std::int64_t out_column, TapSpan columns, int first_stored) {
  const Window& window = call.window;
  const MapView& input = call.input;
  __m256 sums[kPixels][kBlocks];
  for (int block = 0; block < kBlocks; ++block) {
    const __m256 start =
        call.bias && !kMapped ? _mm256_loadu_ps(call.bias + group.column[block]) : _mm256_setzero_ps();
    for (int pixel = 0; pixel < kPixels; ++pixel) sums[pixel][block] = start;
  }
  const std::int64_t step = window.stride_width * input.pixel_stride;
  const TapSpan rows = taps_inside(out_row, window.stride_height, window.pad_top, window.dilation_height,
                                   window.kernel_height, window.in_height);
  const std::int64_t first_column = out_column * window.stride_width - window.pad_left;
  const std::int64_t column_step = window.dilation_width * input.pixel_stride;
  Run runs[kMaxRuns];  // NOLINT(cppcoreguidelines-pro-type-member-init): filled up to run_count
  int run_count = 0;
  for (std::int64_t tap_row = rows.first; tap_row < rows.end; ++tap_row) {
    const float* in_first =
        input.data + ((out_row * window.stride_height - window.pad_top + tap_row * window.dilation_height) *
                          window.in_width +
                      first_column) *
                         input.pixel_stride;
    const std::int64_t tap = tap_row * window.kernel_width;
    if (group.tap_runs) {
      runs[run_count++] = run_of(in_first + columns.first * column_step, tap + columns.first,
                                 group.interval[0], (columns.end - columns.first) * input.channels);
    } else {
      for (std::int64_t tap_column = columns.first; tap_column < columns.end; ++tap_column)
        for (const Interval* interval = group.interval; interval != group.interval + group.intervals;
             ++interval) {
          if (run_count == kMaxRuns) add_runs(sums, runs, run_count, step), run_count = 0;
          runs[run_count++] = run_of(in_first + tap_column * column_step, tap + tap_column, *interval,
                                     interval->end_row - interval->first_row);
        }
    }
    add_runs(sums, runs, run_count, step);
    run_count = 0;
  }
  const MutableMapView output = call.output;
  const Epilogue epilogue = epilogue_of(call);
  const std::int64_t columns_of[2] = {group.column[0], group.column[1]};
  const std::int64_t counts[2] = {group.count[0], group.count[1]};
  // Unrolled, so that the sums stay registers.
#pragma GCC unroll 12
  for (int pixel = 0; pixel < kPixels; ++pixel) {
    if (pixel < first_stored) continue;
    float* out = output.data + (out_row * window.out_width + out_column + pixel) * output.pixel_stride;
#pragma GCC unroll 2
    for (int block = 0; block < kBlocks; ++block)
      store_block(kMapped
                      ? _mm256_fmadd_ps(sums[pixel][block], _mm256_loadu_ps(call.scale + columns_of[block]),
                                        _mm256_loadu_ps(call.bias + columns_of[block]))
                      : sums[pixel][block],
                  epilogue, out + columns_of[block], counts[block]);
  }
}

// Output columns [first, end) of a row, every tap column inside the input: tiles of kPixels, the last one
// ending at `end` over pixels the one before computed (stored once); smaller tiles where fewer remain.
template <int kPixels, int kBlocks, bool kMapped>
[[REDS_AVX2, gnu::always_inline]] inline void conv_interior(const Call& call, const BlockGroup& group,
                                                            std::int64_t out_row, std::int64_t first,
                                                            std::int64_t end) {
  const TapSpan all{0, call.window.kernel_width};
  if (end - first >= kPixels) {
    std::int64_t column = first;
    for (; column + kPixels <= end; column += kPixels)
      conv_tile<kPixels, kBlocks, kMapped>(call, group, out_row, column, all, 0);
    if (column < end)
      conv_tile<kPixels, kBlocks, kMapped>(call, group, out_row, end - kPixels, all,
                                           static_cast<int>(column - (end - kPixels)));
    return;
  }
  if constexpr (kPixels > 3) {
    conv_interior<kPixels / 2, kBlocks, kMapped>(call, group, out_row, first, end);
  } else {
    for (std::int64_t column = first; column < end; ++column)
      conv_tile<1, kBlocks, kMapped>(call, group, out_row, column, all, 0);
  }
}

template <int kPixels, int kBlocks, bool kMapped>
[[REDS_AVX2]] void conv_group(const Call& call, const BlockGroup& group, std::int64_t interior_first,
                              std::int64_t interior_end) {
  const Window& window = call.window;
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    for (std::int64_t column = 0; column < interior_first; ++column)
      conv_tile<1, kBlocks, kMapped>(call, group, out_row, column, column_span(window, column), 0);
    conv_interior<kPixels, kBlocks, kMapped>(call, group, out_row, interior_first, interior_end);
    for (std::int64_t column = interior_end; column < window.out_width; ++column)
      conv_tile<1, kBlocks, kMapped>(call, group, out_row, column, column_span(window, column), 0);
  }
}

// The same kPixels pixels of every group (in twos but maybe the last).
template <int kPixels, bool kMapped>
[[REDS_AVX2, gnu::always_inline]] inline void conv_tile_groups(const Call& call, const BlockGroup* groups,
                                                               int group_count, std::int64_t out_row,
                                                               std::int64_t out_column, TapSpan columns,
                                                               int first_stored) {
  for (const BlockGroup* group = groups; group != groups + group_count; ++group) {
    if (group->blocks == 2)
      conv_tile<kPixels, 2, kMapped>(call, *group, out_row, out_column, columns, first_stored);
    else
      conv_tile<kPixels, 1, kMapped>(call, *group, out_row, out_column, columns, first_stored);
  }
}

// Several groups, tile after tile of pixels, every group's channels of a tile before the next tile: the
// tile's inputs stay in the nearest cache while the weights stream.
template <bool kMapped>
[[REDS_AVX2]] void conv_groups(const Call& call, const BlockGroup* groups, int group_count,
                               std::int64_t interior_first, std::int64_t interior_end) {
  const Window& window = call.window;
  const TapSpan all{0, window.kernel_width};
  for (std::int64_t out_row = 0; out_row < window.out_height; ++out_row) {
    for (std::int64_t column = 0; column < interior_first; ++column)
      conv_tile_groups<1, kMapped>(call, groups, group_count, out_row, column, column_span(window, column),
                                   0);
    std::int64_t column = interior_first;
    if (interior_end - interior_first >= 6) {
      for (; column + 6 <= interior_end; column += 6)
        conv_tile_groups<6, kMapped>(call, groups, group_count, out_row, column, all, 0);
      if (column < interior_end)
        conv_tile_groups<6, kMapped>(call, groups, group_count, out_row, interior_end - 6, all,
                                     static_cast<int>(column - (interior_end - 6)));
    } else if (interior_end - interior_first >= 3) {
      for (; column + 3 <= interior_end; column += 3)
        conv_tile_groups<3, kMapped>(call, groups, group_count, out_row, column, all, 0);
      if (column < interior_end)
        conv_tile_groups<3, kMapped>(call, groups, group_count, out_row, interior_end - 3, all,
                                     static_cast<int>(column - (interior_end - 3)));
    } else {
      for (; column < interior_end; ++column)
        conv_tile_groups<1, kMapped>(call, groups, group_count, out_row, column, all, 0);
    }
    for (column = interior_end; column < window.out_width; ++column)
      conv_tile_groups<1, kMapped>(call, groups, group_count, out_row, column, column_span(window, column),
                                   0);
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
  // Measured on the anchor networks (bench/models/engine/anchor_bench.cpp --layers): past 3 groups (48
  // output channels) the packed kernels of kernels.cpp, which pack a tile's inputs once for all its
  // output channels, are 5-20 % faster; a first layer of a few input channels gains up to 4 groups here
  // (1 -> 64 channels: 0.66 of the packed kernels' time) and loses past them (1 -> 276: 1.8).
  const int most_groups = input.channels <= 4 ? kMaxGroups : 3;
  if (group_count > most_groups) return false;
  BlockGroup groups[kMaxGroups];
  for (int index = 0; index < group_count; ++index) {
    const Block* second = 2 * index + 1 < block_count ? &blocks[2 * index + 1] : nullptr;
    if (!plan_group(&blocks[2 * index], second, input, window, groups[index])) return false;
  }
  Call call{window, input, bias, rectifier, accumulate, output, scale};
  // A 1x1 convolution at stride 1 without padding is one row of all pixels.
  if (window.kernel_height == 1 && window.kernel_width == 1 && window.stride_height == 1 &&
      window.stride_width == 1 && window.pad_top == 0 && window.pad_left == 0 &&
      window.out_height == window.in_height && window.out_width == window.in_width) {
    call.window.in_width = call.window.out_width = window.out_height * window.out_width;
    call.window.in_height = call.window.out_height = 1;
  }
  // The output columns whose every tap column lies inside the input.
  const Window& geometry = call.window;
  const std::int64_t first =
      std::min((geometry.pad_left + geometry.stride_width - 1) / geometry.stride_width, geometry.out_width);
  const std::int64_t limit =
      geometry.in_width - 1 + geometry.pad_left - (geometry.kernel_width - 1) * geometry.dilation_width;
  const std::int64_t end =
      std::max(first, std::min(limit < 0 ? 0 : limit / geometry.stride_width + 1, geometry.out_width));
  // Two copies: without a scale, the stores are those of a model without per-level statistics.
  if (group_count == 1 && groups[0].blocks == 1)
    (scale ? conv_group<12, 1, true> : conv_group<12, 1, false>)(call, groups[0], first, end);
  else
    (scale ? conv_groups<true> : conv_groups<false>)(call, groups, group_count, first, end);
  return true;
}

#endif

}  // namespace reds::engine::kernels
