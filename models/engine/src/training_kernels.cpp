#include "training_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

// As in kernels.cpp: the hot entry points are compiled for the baseline and for x86-64-v3 (AVX2, FMA), the
// loader picks one; the always-inlined templates below take the instruction set of their caller.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define REDS_KERNEL [[gnu::target_clones("arch=x86-64-v3", "default")]]
#else
#define REDS_KERNEL
#endif
#define REDS_INLINE [[gnu::always_inline]] inline

namespace reds::engine::training::compute {

namespace {

// One 32-byte vector: 8 floats or 4 doubles.
template <class Real>
struct VectorOf {
  typedef Real type __attribute__((vector_size(32)));
};
template <class Real>
using Vec = typename VectorOf<Real>::type;
template <class Real>
constexpr std::int64_t kLanes = 32 / sizeof(Real);

template <class Real>
REDS_INLINE Vec<Real> load(const Real* from) {
  Vec<Real> value;
  std::memcpy(&value, from, sizeof value);
  return value;
}
template <class Real>
REDS_INLINE void store(Real* to, Vec<Real> value) {
  std::memcpy(to, &value, sizeof value);
}

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

}  // namespace

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
