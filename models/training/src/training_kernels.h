// The loops of training (training.h): minibatches of compact NHWC maps (images x height x width x channels,
// every channel used), in float for training and in double for gradient checks. Every function is defined
// for Real = float and Real = double.
//
// Convolutions run as matrix products: im2col() lays every output pixel's window out as one row (taps x
// input channels, zeros in the padding), so that the forward pass is rows x weights, the weight gradient
// rows^T x output gradient and the input gradient output gradient x weights^T, folded back by col2im().
// A 1x1 convolution with stride 1 and no padding needs no im2col: its input already is the rows.
#pragma once

#include <cstdint>

#include "kernels.h"

namespace reds::engine::training::compute {

// C (m x n, row stride ldc) = A B, or C += A B. A(i, l) = a[i * lda + l], or a[l * lda + i] when
// a_transposed; B(l, j) = b[l * ldb + j]; the sum runs over l < k.
template <class Real>
struct Gemm {
  std::int64_t m = 0, n = 0, k = 0;
  const Real* a = nullptr;
  std::int64_t lda = 0;
  bool a_transposed = false;
  const Real* b = nullptr;
  std::int64_t ldb = 0;
  Real* c = nullptr;
  std::int64_t ldc = 0;
  bool accumulate = false;
};
void gemm(const Gemm<float>& product);
void gemm(const Gemm<double>& product);

// `rows` x `columns` (row stride `from_stride`) -> columns x rows (row stride `rows`).
template <class Real>
void transpose(const Real* from, std::int64_t rows, std::int64_t columns, std::int64_t from_stride, Real* to);

// im2col: `images` maps of window.in_height x window.in_width x `channels` -> one row of
// kernel_height x kernel_width x `channels` values per output pixel. col2im adds such rows back into
// (zeroed or not) input maps.
template <class Real>
void im2col(const kernels::Window& window, std::int64_t images, std::int64_t channels, const Real* maps,
            Real* rows);
template <class Real>
void col2im(const kernels::Window& window, std::int64_t images, std::int64_t channels, const Real* rows,
            Real* maps);

// Depthwise convolution of `channels` input channels with `multiplier` outputs each (output channel
// c * multiplier + j reads input channel c); weights[tap * channels * multiplier + output channel].
template <class Real>
struct Depthwise {
  kernels::Window window;
  std::int64_t images = 0, channels = 0, multiplier = 1;
  const Real* input = nullptr;
  const Real* weights = nullptr;
};
// output = convolution + bias (bias may be null).
void depthwise_forward(const Depthwise<float>& layer, const float* bias, float* output);
void depthwise_forward(const Depthwise<double>& layer, const double* bias, double* output);
// Adds the gradients of the input (when d_input is not null) and of the weights (when d_weights is not
// null) for the output gradient d_output.
void depthwise_backward(const Depthwise<float>& layer, const float* d_output, float* d_input,
                        float* d_weights);
void depthwise_backward(const Depthwise<double>& layer, const double* d_output, double* d_input,
                        double* d_weights);

// Average pooling over the window's pixels inside the input (Keras: padding does not count).
template <class Real>
void average_pool_forward(const kernels::Window& window, std::int64_t images, std::int64_t channels,
                          const Real* input, Real* output);
// Adds the input gradient.
template <class Real>
void average_pool_backward(const kernels::Window& window, std::int64_t images, std::int64_t channels,
                           const Real* d_output, Real* d_input);

// --- Per channel, over `rows` pixels (or images, on a flat map) of `channels` values ---------------------

// Batch normalization's statistics: the mean of every channel, then the mean squared deviation from it,
// summed in double.
void channel_means(std::int64_t rows, std::int64_t channels, const float* input, double* means);
void channel_means(std::int64_t rows, std::int64_t channels, const double* input, double* means);
void channel_variances(std::int64_t rows, std::int64_t channels, const float* input, const double* means,
                       double* variances);
void channel_variances(std::int64_t rows, std::int64_t channels, const double* input, const double* means,
                       double* variances);

// output = input * scale[c] + shift[c].
void scale_channels(std::int64_t rows, std::int64_t channels, const float* input, const float* scale,
                    const float* shift, float* output);
void scale_channels(std::int64_t rows, std::int64_t channels, const double* input, const double* scale,
                    const double* shift, double* output);

// Batch normalization backward. With normalised = (input - mean[c]) * inverse_deviation[c]: adds
// sum(d_output) to sums[c] and sum(d_output * normalised) to weighted_sums[c] (in double); then
// normalization_gradient() sets d_input = factor[c] * (d_output - offset[c] - normalised * slope[c]).
template <class Real>
struct Normalized {
  std::int64_t rows = 0, channels = 0;
  const Real* input = nullptr;
  const Real* mean = nullptr;
  const Real* inverse_deviation = nullptr;
};
void normalization_sums(const Normalized<float>& layer, const float* d_output, double* sums,
                        double* weighted_sums);
void normalization_sums(const Normalized<double>& layer, const double* d_output, double* sums,
                        double* weighted_sums);
void normalization_gradient(const Normalized<float>& layer, const float* d_output, const float* factor,
                            const float* offset, const float* slope, float* d_input);
void normalization_gradient(const Normalized<double>& layer, const double* d_output, const double* factor,
                            const double* offset, const double* slope, double* d_input);

// Adds every column's sum to sums[column] (in double).
void column_sums(std::int64_t rows, std::int64_t columns, const float* values, double* sums);
void column_sums(std::int64_t rows, std::int64_t columns, const double* values, double* sums);

// --- Elementwise ----------------------------------------------------------------------------------------

// output = the rectifier of input (model.h's Rectifier).
void rectify(const Rectifier& rectifier, std::int64_t count, const float* input, float* output);
void rectify(const Rectifier& rectifier, std::int64_t count, const double* input, double* output);
// d_input = d_output * the rectifier's slope at input (one-sided at the kinks: 1 at the threshold, 0 from
// the cap on).
void rectify_backward(const Rectifier& rectifier, std::int64_t count, const float* input,
                      const float* d_output, float* d_input);
void rectify_backward(const Rectifier& rectifier, std::int64_t count, const double* input,
                      const double* d_output, double* d_input);

}  // namespace reds::engine::training::compute
