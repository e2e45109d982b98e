// reds/engine/kernel_views.h: what one kernel call of a Session reads and writes (Session::level_calls
// exposes them for tests and benchmarks that look at a level's layout). The kernels themselves are the
// engine's own (models/engine/src/kernels.h).
//
// A feature map is `pixels x pixel_stride` floats of which each pixel's first `channels` are used. Weights
// are in Keras' layout (see model.h), read either as a strided prefix of the full matrix (WeightView: a
// prefix of its rows and columns, addressed with the full row length) or as nested blocks (SegmentedWeights:
// column ranges, each summing row segments stored in blocks of their own, see session.h).
#pragma once

#include <cstdint>

namespace reds::engine::kernels {

// A feature map read or written by a kernel: pixel p's channel c is data[p * pixel_stride + c],
// c < channels <= pixel_stride.
struct MapView {
  const float* data = nullptr;
  std::int64_t pixel_stride = 0;
  std::int64_t channels = 0;
};
struct MutableMapView {
  float* data = nullptr;
  std::int64_t pixel_stride = 0;
  std::int64_t channels = 0;
};

// Geometry of a sliding window: input and output sizes, window, stride, dilation and the padding before
// the first row and column (the padding after them is implied by the output size).
struct Window {
  std::int64_t in_height = 0, in_width = 0;
  std::int64_t out_height = 0, out_width = 0;
  std::int64_t kernel_height = 1, kernel_width = 1;
  std::int64_t stride_height = 1, stride_width = 1;
  std::int64_t dilation_height = 1, dilation_width = 1;
  std::int64_t pad_top = 0, pad_left = 0;
};

// Weights of a convolution or dense layer: row r (an input channel of a kernel tap, or an input feature)
// holds one weight per output channel, the first at data[r * row_stride]; tap t's rows start at row
// t * rows_per_tap.
struct WeightView {
  const float* data = nullptr;
  std::int64_t row_stride = 0;
  std::int64_t rows_per_tap = 0;
};

// The output channels one vector block computes; a range of a width that is not a multiple pays for whole
// blocks.
inline constexpr std::int64_t kVectorLanes = 8;
// How far past the last used float of a weight row, a bias or an input map a kernel may read.
inline constexpr std::int64_t kReadPadding = kVectorLanes;

// Nested weights of a convolution or dense layer at one level. The output channels form column ranges;
// range [first, end) sums, over the kernel taps, the products of input channels and weights of its row
// segments: segment rows [first_row, end_row) hold, for tap t, input channel r and output channel first + j,
// the weight data[(j / 8) * panel_stride + t * tap_stride + (r - first_row) * row_stride + j % 8]. So a
// segment may store its columns in panels of 8 (each panel taps x rows x 8: a row of a panel is one vector,
// and a panel is read as one stream) or plainly (panel_stride 8). A strided prefix of the full matrix is
// one range with one plain segment; nested blocks have one range per level a layer grew at, and a segment
// per block or strip the range's columns are stored in (session.h). Depthwise weights have one row:
// channel first + j of tap t is data[(j / 8) * panel_stride + t * tap_stride + j % 8].
struct WeightSegment {
  const float* data = nullptr;
  std::int64_t first_row = 0;
  std::int64_t end_row = 0;
  std::int64_t row_stride = 0;
  std::int64_t tap_stride = 0;
  std::int64_t panel_stride = 8;
};
struct ColumnRange {
  std::int64_t first = 0;
  std::int64_t end = 0;
  const WeightSegment* segments = nullptr;
  std::int64_t segment_count = 0;
};
struct SegmentedWeights {
  const ColumnRange* ranges = nullptr;
  std::int64_t range_count = 0;
};

// A dense layer's flat input: `input_groups` consecutive groups of `group_features` features; feature f of
// group g multiplies weight row g * group_row_stride + f. One group with group_features = in_features is the
// plain case; a Flatten of a map whose first C of C_full channels are used gives height * width groups of C
// features with group_row_stride C_full.
struct DenseInput {
  const float* data = nullptr;
  std::int64_t input_groups = 1;
  std::int64_t group_features = 0;
  std::int64_t group_row_stride = 0;
};

}  // namespace reds::engine::kernels
