#include "training_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "simd.h"

namespace reds::engine::training::compute {

namespace {

using simd::kLanes;
using simd::load;
using simd::store;
using simd::Vec;

// --- Matrix product ----------------------------------------------------------------------------------

// C[row .. row + kRows) x [column .. column + kBlocks vectors) over l in [first, last): accumulators in
// registers, each B row loaded once for the tile's rows.
template <class Real, int kRows, int kBlocks, bool kTransposed>
REDS_INLINE void gemm_tile(const Gemm<Real>& g, std::int64_t row, std::int64_t column, std::int64_t first,
                           std::int64_t last, bool load_c) {
  constexpr std::int64_t lanes = kLanes<Real>;
  Vec<Real> sums[kRows][kBlocks];
  for (int r = 0; r < kRows; ++r)
    for (int block = 0; block < kBlocks; ++block)
      sums[r][block] = load_c ? load(g.c + (row + r) * g.ldc + column + block * lanes) : Vec<Real>{};
  for (std::int64_t l = first; l < last; ++l) {
    const Real* b_row = g.b + l * g.ldb + column;
    Vec<Real> b_values[kBlocks];
    for (int block = 0; block < kBlocks; ++block) b_values[block] = load(b_row + block * lanes);
    for (int r = 0; r < kRows; ++r) {
      const Real a_value = kTransposed ? g.a[l * g.lda + row + r] : g.a[(row + r) * g.lda + l];
      for (int block = 0; block < kBlocks; ++block) sums[r][block] += a_value * b_values[block];
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int block = 0; block < kBlocks; ++block)
      store(g.c + (row + r) * g.ldc + column + block * lanes, sums[r][block]);
}

// The last `count` < one vector of columns.
template <class Real, int kRows, bool kTransposed>
REDS_INLINE void gemm_tail(const Gemm<Real>& g, std::int64_t row, std::int64_t column, std::int64_t count,
                           std::int64_t first, std::int64_t last, bool load_c) {
  Real sums[kRows][kLanes<Real>];
  for (int r = 0; r < kRows; ++r)
    for (std::int64_t j = 0; j < count; ++j)
      sums[r][j] = load_c ? g.c[(row + r) * g.ldc + column + j] : Real{0};
  for (std::int64_t l = first; l < last; ++l) {
    const Real* b_row = g.b + l * g.ldb + column;
    for (int r = 0; r < kRows; ++r) {
      const Real a_value = kTransposed ? g.a[l * g.lda + row + r] : g.a[(row + r) * g.lda + l];
      for (std::int64_t j = 0; j < count; ++j) sums[r][j] += a_value * b_row[j];
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (std::int64_t j = 0; j < count; ++j) g.c[(row + r) * g.ldc + column + j] = sums[r][j];
}

template <class Real, int kRows, bool kTransposed>
REDS_INLINE void gemm_rows(const Gemm<Real>& g, std::int64_t row, std::int64_t first, std::int64_t last,
                           bool load_c) {
  constexpr std::int64_t lanes = kLanes<Real>;
  std::int64_t column = 0;
  for (; column + 2 * lanes <= g.n; column += 2 * lanes)
    gemm_tile<Real, kRows, 2, kTransposed>(g, row, column, first, last, load_c);
  for (; column + lanes <= g.n; column += lanes)
    gemm_tile<Real, kRows, 1, kTransposed>(g, row, column, first, last, load_c);
  if (column < g.n) gemm_tail<Real, kRows, kTransposed>(g, row, column, g.n - column, first, last, load_c);
}

// 6 rows x 2 vectors: 12 accumulators, 2 B vectors and a broadcast fit the 16 AVX registers.
constexpr int kTileRows = 6;
// The sum runs in chunks of this many l, so that a chunk of A and B stays in cache while every tile of C
// passes over it (the weight gradient sums over every pixel of the minibatch).
constexpr std::int64_t kDepthChunk = 256;

template <class Real, bool kTransposed>
REDS_INLINE void gemm_all(const Gemm<Real>& g) {
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) {
    if (!g.accumulate)
      for (std::int64_t row = 0; row < g.m; ++row) std::fill_n(g.c + row * g.ldc, g.n, Real{0});
    return;
  }
  for (std::int64_t first = 0; first < g.k; first += kDepthChunk) {
    const std::int64_t last = std::min(g.k, first + kDepthChunk);
    const bool load_c = g.accumulate || first > 0;
    std::int64_t row = 0;
    for (; row + kTileRows <= g.m; row += kTileRows)
      gemm_rows<Real, kTileRows, kTransposed>(g, row, first, last, load_c);
    for (; row < g.m; ++row) gemm_rows<Real, 1, kTransposed>(g, row, first, last, load_c);
  }
}

template <class Real>
REDS_INLINE void gemm_any(const Gemm<Real>& g) {
  if (g.a_transposed) {
    gemm_all<Real, true>(g);
  } else {
    gemm_all<Real, false>(g);
  }
}

// --- Depthwise convolution ----------------------------------------------------------------------------

// The input row or column of a window tap, or -1 in the padding.
REDS_INLINE std::int64_t input_row(const kernels::Window& w, std::int64_t out_row, std::int64_t tap_row) {
  const std::int64_t row = out_row * w.stride_height - w.pad_top + tap_row * w.dilation_height;
  return row >= 0 && row < w.in_height ? row : -1;
}
REDS_INLINE std::int64_t input_column(const kernels::Window& w, std::int64_t out_column,
                                      std::int64_t tap_column) {
  const std::int64_t column = out_column * w.stride_width - w.pad_left + tap_column * w.dilation_width;
  return column >= 0 && column < w.in_width ? column : -1;
}

// Calls visit(out_pixel, in_pixel, tap) for every output pixel of every image and every tap of its window
// that falls inside the input (pixels numbered over all images).
template <class Visit>
REDS_INLINE void for_each_tap(const kernels::Window& w, std::int64_t images, Visit&& visit) {
  const std::int64_t in_pixels = w.in_height * w.in_width;
  for (std::int64_t image = 0; image < images; ++image)
    for (std::int64_t out_row = 0; out_row < w.out_height; ++out_row)
      for (std::int64_t out_column = 0; out_column < w.out_width; ++out_column) {
        const std::int64_t out_pixel = (image * w.out_height + out_row) * w.out_width + out_column;
        for (std::int64_t tap_row = 0; tap_row < w.kernel_height; ++tap_row) {
          const std::int64_t row = input_row(w, out_row, tap_row);
          if (row < 0) continue;
          for (std::int64_t tap_column = 0; tap_column < w.kernel_width; ++tap_column) {
            const std::int64_t column = input_column(w, out_column, tap_column);
            if (column < 0) continue;
            visit(out_pixel, image * in_pixels + row * w.in_width + column,
                  tap_row * w.kernel_width + tap_column);
          }
        }
      }
}

template <class Real>
REDS_INLINE void depthwise_forward_any(const Depthwise<Real>& layer, const Real* bias, Real* output) {
  const std::int64_t channels = layer.channels;
  const std::int64_t outputs = channels * layer.multiplier;
  const std::int64_t out_pixels = layer.images * layer.window.out_height * layer.window.out_width;
  for (std::int64_t pixel = 0; pixel < out_pixels; ++pixel) {
    Real* out = output + pixel * outputs;
    if (bias) {
      std::copy_n(bias, outputs, out);
    } else {
      std::fill_n(out, outputs, Real{0});
    }
  }
  const std::int64_t multiplier = layer.multiplier;
  for_each_tap(layer.window, layer.images,
               [&](std::int64_t out_pixel, std::int64_t in_pixel, std::int64_t tap) {
                 Real* __restrict out = output + out_pixel * outputs;
                 const Real* __restrict in = layer.input + in_pixel * channels;
                 const Real* __restrict weights = layer.weights + tap * outputs;
                 if (multiplier == 1) {
                   for (std::int64_t c = 0; c < channels; ++c) out[c] += in[c] * weights[c];
                   return;
                 }
                 for (std::int64_t c = 0; c < channels; ++c)
                   for (std::int64_t j = 0; j < multiplier; ++j)
                     out[c * multiplier + j] += in[c] * weights[c * multiplier + j];
               });
}

template <class Real>
REDS_INLINE void depthwise_backward_any(const Depthwise<Real>& layer, const Real* d_output, Real* d_input,
                                        Real* d_weights) {
  const std::int64_t channels = layer.channels;
  const std::int64_t multiplier = layer.multiplier;
  const std::int64_t outputs = channels * multiplier;
  for_each_tap(layer.window, layer.images,
               [&](std::int64_t out_pixel, std::int64_t in_pixel, std::int64_t tap) {
                 const Real* __restrict d_out = d_output + out_pixel * outputs;
                 const Real* __restrict in = layer.input + in_pixel * channels;
                 const Real* __restrict weights = layer.weights + tap * outputs;
                 if (multiplier == 1) {
                   if (d_input) {
                     Real* __restrict d_in = d_input + in_pixel * channels;
                     for (std::int64_t c = 0; c < channels; ++c) d_in[c] += d_out[c] * weights[c];
                   }
                   if (d_weights) {
                     Real* __restrict d_w = d_weights + tap * outputs;
                     for (std::int64_t c = 0; c < channels; ++c) d_w[c] += d_out[c] * in[c];
                   }
                   return;
                 }
                 for (std::int64_t c = 0; c < channels; ++c)
                   for (std::int64_t j = 0; j < multiplier; ++j) {
                     const std::int64_t o = c * multiplier + j;
                     if (d_input) d_input[in_pixel * channels + c] += d_out[o] * weights[o];
                     if (d_weights) d_weights[tap * outputs + o] += d_out[o] * in[c];
                   }
               });
}

// --- Per channel and elementwise --------------------------------------------------------------------

template <class Real>
REDS_INLINE void channel_means_any(std::int64_t rows, std::int64_t channels, const Real* __restrict input,
                                   double* __restrict means) {
  std::fill_n(means, channels, 0.0);
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t c = 0; c < channels; ++c) means[c] += static_cast<double>(input[row * channels + c]);
  for (std::int64_t c = 0; c < channels; ++c) means[c] /= static_cast<double>(rows);
}

template <class Real>
REDS_INLINE void channel_variances_any(std::int64_t rows, std::int64_t channels, const Real* __restrict input,
                                       const double* __restrict means, double* __restrict variances) {
  std::fill_n(variances, channels, 0.0);
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t c = 0; c < channels; ++c) {
      const double deviation = static_cast<double>(input[row * channels + c]) - means[c];
      variances[c] += deviation * deviation;
    }
  for (std::int64_t c = 0; c < channels; ++c) variances[c] /= static_cast<double>(rows);
}

template <class Real>
REDS_INLINE void scale_channels_any(std::int64_t rows, std::int64_t channels, const Real* __restrict input,
                                    const Real* __restrict scale, const Real* __restrict shift,
                                    Real* __restrict output) {
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t c = 0; c < channels; ++c)
      output[row * channels + c] = input[row * channels + c] * scale[c] + shift[c];
}

template <class Real>
REDS_INLINE void normalization_sums_any(const Normalized<Real>& layer, const Real* __restrict d_output,
                                        double* __restrict sums, double* __restrict weighted_sums) {
  const Real* __restrict input = layer.input;
  const Real* __restrict mean = layer.mean;
  const Real* __restrict inverse_deviation = layer.inverse_deviation;
  for (std::int64_t row = 0; row < layer.rows; ++row)
    for (std::int64_t c = 0; c < layer.channels; ++c) {
      const std::int64_t at = row * layer.channels + c;
      const Real normalized = (input[at] - mean[c]) * inverse_deviation[c];
      sums[c] += static_cast<double>(d_output[at]);
      weighted_sums[c] += static_cast<double>(d_output[at] * normalized);
    }
}

template <class Real>
REDS_INLINE void normalization_gradient_any(const Normalized<Real>& layer, const Real* __restrict d_output,
                                            const Real* __restrict factor, const Real* __restrict offset,
                                            const Real* __restrict slope, Real* __restrict d_input) {
  const Real* __restrict input = layer.input;
  const Real* __restrict mean = layer.mean;
  const Real* __restrict inverse_deviation = layer.inverse_deviation;
  for (std::int64_t row = 0; row < layer.rows; ++row)
    for (std::int64_t c = 0; c < layer.channels; ++c) {
      const std::int64_t at = row * layer.channels + c;
      const Real normalized = (input[at] - mean[c]) * inverse_deviation[c];
      d_input[at] = factor[c] * (d_output[at] - offset[c] - normalized * slope[c]);
    }
}

template <class Real>
REDS_INLINE void column_sums_any(std::int64_t rows, std::int64_t columns, const Real* __restrict values,
                                 double* __restrict sums) {
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t column = 0; column < columns; ++column)
      sums[column] += static_cast<double>(values[row * columns + column]);
}

// Vector code written out: GCC keeps the scalar version's branch (its sign is data, so it mispredicts).
template <class Real>
REDS_INLINE void rectify_any(const Rectifier& rectifier, std::int64_t count, const Real* input,
                             Real* output) {
  constexpr std::int64_t lanes = kLanes<Real>;
  const Real threshold = static_cast<Real>(rectifier.threshold);
  const Real cap = static_cast<Real>(rectifier.max_value);
  const Real slope = static_cast<Real>(rectifier.negative_slope);
  const Vec<Real> thresholds = Vec<Real>{} + threshold, caps = Vec<Real>{} + cap,
                  slopes = Vec<Real>{} + slope;
  std::int64_t at = 0;
  for (; at + lanes <= count; at += lanes) {
    const Vec<Real> value = load(input + at);
    const Vec<Real> capped = value < caps ? value : caps;
    store(output + at, value >= thresholds ? capped : slopes * (value - thresholds));
  }
  for (; at < count; ++at) {
    const Real value = input[at];
    output[at] = value >= threshold ? std::min(value, cap) : slope * (value - threshold);
  }
}

template <class Real>
REDS_INLINE void rectify_backward_any(const Rectifier& rectifier, std::int64_t count, const Real* input,
                                      const Real* d_output, Real* d_input) {
  constexpr std::int64_t lanes = kLanes<Real>;
  const Real threshold = static_cast<Real>(rectifier.threshold);
  const Real cap = static_cast<Real>(rectifier.max_value);
  const Real slope = static_cast<Real>(rectifier.negative_slope);
  const Vec<Real> thresholds = Vec<Real>{} + threshold, caps = Vec<Real>{} + cap,
                  slopes = Vec<Real>{} + slope;
  const Vec<Real> ones = Vec<Real>{} + Real{1}, zeros = Vec<Real>{};
  std::int64_t at = 0;
  for (; at + lanes <= count; at += lanes) {
    const Vec<Real> value = load(input + at);
    const Vec<Real> inside = value < caps ? ones : zeros;
    store(d_input + at, load(d_output + at) * (value >= thresholds ? inside : slopes));
  }
  for (; at < count; ++at) {
    const Real value = input[at];
    d_input[at] = d_output[at] * (value >= threshold ? (value < cap ? Real{1} : Real{0}) : slope);
  }
}

}  // namespace

REDS_KERNEL void channel_means(std::int64_t rows, std::int64_t channels, const float* input, double* means) {
  channel_means_any(rows, channels, input, means);
}
REDS_KERNEL void channel_means(std::int64_t rows, std::int64_t channels, const double* input, double* means) {
  channel_means_any(rows, channels, input, means);
}
REDS_KERNEL void channel_variances(std::int64_t rows, std::int64_t channels, const float* input,
                                   const double* means, double* variances) {
  channel_variances_any(rows, channels, input, means, variances);
}
REDS_KERNEL void channel_variances(std::int64_t rows, std::int64_t channels, const double* input,
                                   const double* means, double* variances) {
  channel_variances_any(rows, channels, input, means, variances);
}
REDS_KERNEL void scale_channels(std::int64_t rows, std::int64_t channels, const float* input,
                                const float* scale, const float* shift, float* output) {
  scale_channels_any(rows, channels, input, scale, shift, output);
}
REDS_KERNEL void scale_channels(std::int64_t rows, std::int64_t channels, const double* input,
                                const double* scale, const double* shift, double* output) {
  scale_channels_any(rows, channels, input, scale, shift, output);
}
REDS_KERNEL void normalization_sums(const Normalized<float>& layer, const float* d_output, double* sums,
                                    double* weighted_sums) {
  normalization_sums_any(layer, d_output, sums, weighted_sums);
}
REDS_KERNEL void normalization_sums(const Normalized<double>& layer, const double* d_output, double* sums,
                                    double* weighted_sums) {
  normalization_sums_any(layer, d_output, sums, weighted_sums);
}
REDS_KERNEL void normalization_gradient(const Normalized<float>& layer, const float* d_output,
                                        const float* factor, const float* offset, const float* slope,
                                        float* d_input) {
  normalization_gradient_any(layer, d_output, factor, offset, slope, d_input);
}
REDS_KERNEL void normalization_gradient(const Normalized<double>& layer, const double* d_output,
                                        const double* factor, const double* offset, const double* slope,
                                        double* d_input) {
  normalization_gradient_any(layer, d_output, factor, offset, slope, d_input);
}
REDS_KERNEL void column_sums(std::int64_t rows, std::int64_t columns, const float* values, double* sums) {
  column_sums_any(rows, columns, values, sums);
}
REDS_KERNEL void column_sums(std::int64_t rows, std::int64_t columns, const double* values, double* sums) {
  column_sums_any(rows, columns, values, sums);
}
REDS_KERNEL void rectify(const Rectifier& rectifier, std::int64_t count, const float* input, float* output) {
  rectify_any(rectifier, count, input, output);
}
REDS_KERNEL void rectify(const Rectifier& rectifier, std::int64_t count, const double* input,
                         double* output) {
  rectify_any(rectifier, count, input, output);
}
REDS_KERNEL void rectify_backward(const Rectifier& rectifier, std::int64_t count, const float* input,
                                  const float* d_output, float* d_input) {
  rectify_backward_any(rectifier, count, input, d_output, d_input);
}
REDS_KERNEL void rectify_backward(const Rectifier& rectifier, std::int64_t count, const double* input,
                                  const double* d_output, double* d_input) {
  rectify_backward_any(rectifier, count, input, d_output, d_input);
}

REDS_KERNEL void gemm(const Gemm<float>& product) { gemm_any(product); }
REDS_KERNEL void gemm(const Gemm<double>& product) { gemm_any(product); }

REDS_KERNEL void depthwise_forward(const Depthwise<float>& layer, const float* bias, float* output) {
  depthwise_forward_any(layer, bias, output);
}
REDS_KERNEL void depthwise_forward(const Depthwise<double>& layer, const double* bias, double* output) {
  depthwise_forward_any(layer, bias, output);
}
REDS_KERNEL void depthwise_backward(const Depthwise<float>& layer, const float* d_output, float* d_input,
                                    float* d_weights) {
  depthwise_backward_any(layer, d_output, d_input, d_weights);
}
REDS_KERNEL void depthwise_backward(const Depthwise<double>& layer, const double* d_output, double* d_input,
                                    double* d_weights) {
  depthwise_backward_any(layer, d_output, d_input, d_weights);
}

template <class Real>
void transpose(const Real* from, std::int64_t rows, std::int64_t columns, std::int64_t from_stride,
               Real* to) {
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t column = 0; column < columns; ++column)
      to[column * rows + row] = from[row * from_stride + column];
}

template <class Real>
void im2col(const kernels::Window& window, std::int64_t images, std::int64_t channels, const Real* maps,
            Real* rows) {
  const std::int64_t taps = window.kernel_height * window.kernel_width;
  const std::int64_t row_size = taps * channels;
  const std::int64_t out_pixels = images * window.out_height * window.out_width;
  std::fill_n(rows, out_pixels * row_size, Real{0});
  for_each_tap(window, images, [&](std::int64_t out_pixel, std::int64_t in_pixel, std::int64_t tap) {
    std::copy_n(maps + in_pixel * channels, channels, rows + out_pixel * row_size + tap * channels);
  });
}

template <class Real>
void col2im(const kernels::Window& window, std::int64_t images, std::int64_t channels, const Real* rows,
            Real* maps) {
  const std::int64_t row_size = window.kernel_height * window.kernel_width * channels;
  for_each_tap(window, images, [&](std::int64_t out_pixel, std::int64_t in_pixel, std::int64_t tap) {
    const Real* from = rows + out_pixel * row_size + tap * channels;
    Real* to = maps + in_pixel * channels;
    for (std::int64_t c = 0; c < channels; ++c) to[c] += from[c];
  });
}

namespace {

// The number of window pixels inside the input, per output pixel of one image.
std::vector<std::int64_t> window_counts(const kernels::Window& window) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(window.out_height * window.out_width), 0);
  for_each_tap(window, 1, [&](std::int64_t out_pixel, std::int64_t, std::int64_t) {
    ++counts[static_cast<std::size_t>(out_pixel)];
  });
  return counts;
}

}  // namespace

template <class Real>
void average_pool_forward(const kernels::Window& window, std::int64_t images, std::int64_t channels,
                          const Real* input, Real* output) {
  const std::int64_t out_pixels = window.out_height * window.out_width;
  std::fill_n(output, images * out_pixels * channels, Real{0});
  for_each_tap(window, images, [&](std::int64_t out_pixel, std::int64_t in_pixel, std::int64_t) {
    for (std::int64_t c = 0; c < channels; ++c)
      output[out_pixel * channels + c] += input[in_pixel * channels + c];
  });
  const std::vector<std::int64_t> counts = window_counts(window);
  for (std::int64_t pixel = 0; pixel < images * out_pixels; ++pixel) {
    const Real scale = Real{1} / static_cast<Real>(counts[static_cast<std::size_t>(pixel % out_pixels)]);
    for (std::int64_t c = 0; c < channels; ++c) output[pixel * channels + c] *= scale;
  }
}

template <class Real>
void average_pool_backward(const kernels::Window& window, std::int64_t images, std::int64_t channels,
                           const Real* d_output, Real* d_input) {
  const std::int64_t out_pixels = window.out_height * window.out_width;
  const std::vector<std::int64_t> counts = window_counts(window);
  for_each_tap(window, images, [&](std::int64_t out_pixel, std::int64_t in_pixel, std::int64_t) {
    const Real scale = Real{1} / static_cast<Real>(counts[static_cast<std::size_t>(out_pixel % out_pixels)]);
    for (std::int64_t c = 0; c < channels; ++c)
      d_input[in_pixel * channels + c] += d_output[out_pixel * channels + c] * scale;
  });
}

#define REDS_TRAINING_INSTANTIATE(Real)                                                               \
  template void transpose(const Real*, std::int64_t, std::int64_t, std::int64_t, Real*);              \
  template void im2col(const kernels::Window&, std::int64_t, std::int64_t, const Real*, Real*);       \
  template void col2im(const kernels::Window&, std::int64_t, std::int64_t, const Real*, Real*);       \
  template void average_pool_forward(const kernels::Window&, std::int64_t, std::int64_t, const Real*, \
                                     Real*);                                                          \
  template void average_pool_backward(const kernels::Window&, std::int64_t, std::int64_t, const Real*, Real*);
REDS_TRAINING_INSTANTIATE(float)
REDS_TRAINING_INSTANTIATE(double)
#undef REDS_TRAINING_INSTANTIATE

}  // namespace reds::engine::training::compute
