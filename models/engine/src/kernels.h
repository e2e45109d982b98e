// kernels.h: the float32 NHWC kernels of one image (batch 1), as a Session calls them.
//
// Every kernel reads a prefix of the channels it could read and writes a prefix of the channels it could
// write, so one set of weights serves every level of a plan: a feature map is `pixels x pixel_stride`
// floats of which each pixel's first `channels` are used. Weights are in Keras' layout (see model.h), read
// either as a strided prefix of the full matrix (WeightView: a prefix of its rows and columns, addressed
// with the full row length) or as nested blocks (SegmentedWeights: column ranges, each summing row
// segments stored in blocks of their own, see session.h). `bias` may be null. The optional rectifier is
// applied to the outputs before they are stored. With a `scale` (per-level statistics, model.h's
// ChannelMap: one value per output channel, like the bias), each output is scale[c] * sum + bias[c], the
// sum taken from zero, before the accumulation and the rectifier; null computes the sum onto the bias.
//
// The inner loops run over output channels (contiguous in NHWC and in Keras' kernel layout), in blocks of
// 8, 16 or 32 floats kept in registers; a range's last block is computed whole and stored in part. So the
// kernels read up to kReadPadding floats past the last weight of every row they use, past the last bias
// and past the last used channel of the last input pixel: those buffers must extend that far (a Session's
// do; the values read there are never stored). On x86-64 an x86-64-v3 (AVX2, FMA) version is chosen at
// load time when the processor has it.
#pragma once

#include <cstdint>

#include "reds/engine/kernel_views.h"
#include "reds/engine/model.h"

namespace reds::engine::kernels {

// Keras' window arithmetic for one axis: the output size and the padding before the first pixel ('same':
// the total padding max((out - 1) * stride + dilated_kernel - in, 0), its smaller half first). An output
// size < 1 means the window does not fit.
struct AxisGeometry {
  std::int64_t out = 0;
  std::int64_t pad_before = 0;
};
AxisGeometry axis_geometry(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t dilation,
                           Padding padding);

// The sliding window of a convolution or pool between full-size maps (levels narrow channels only).
Window window_of(const Layer& layer, const Shape& input, const Shape& output);

// Convolution with one group over segmented weights (the taps are the window's; input channels are rows).
// With `accumulate`, each output value is the sum plus what the output map held there (a residual addition
// fused into the convolution, the rectifier applied after it); the output must not overlap the input.
void conv2d_segmented(const Window& window, const MapView& input, const SegmentedWeights& weights,
                      const float* bias, const Rectifier* rectifier, const MutableMapView& output,
                      bool accumulate = false, const float* scale = nullptr);

// Depthwise convolution (depth multiplier 1) over segmented weights, one segment per range (see above).
void depthwise_conv2d_segmented(const Window& window, const MapView& input, const SegmentedWeights& weights,
                                const float* bias, const Rectifier* rectifier, const MutableMapView& output,
                                const float* scale = nullptr);

// Convolution. groups > 1 splits input and output channels into that many equal groups (group g reads
// input channels [g * in/groups, ...) and writes output channels [g * out/groups, ...)); the weight row of
// group g's input channel i is row i of the tap, columns from g * out/groups. A depthwise convolution with
// depth multiplier m is the grouped convolution with groups = input channels and m outputs per group.
void conv2d(const Window& window, const MapView& input, const WeightView& weights, const float* bias,
            std::int64_t groups, const Rectifier* rectifier, const MutableMapView& output,
            const float* scale = nullptr);

// Depthwise convolution with depth multiplier 1: output channel c = input channel c convolved with its own
// kernel, weights[tap * row_stride + c]. output.channels channels are computed.
void depthwise_conv2d(const Window& window, const MapView& input, const float* weights,
                      std::int64_t row_stride, const float* bias, const Rectifier* rectifier,
                      const MutableMapView& output, const float* scale = nullptr);

// Dense layer on a flat input (DenseInput, kernel_views.h).
void dense(const DenseInput& input, const float* weights, std::int64_t row_stride, const float* bias,
           std::int64_t out_features, const Rectifier* rectifier, float* output,
           const float* scale = nullptr);

// Dense layer over segmented weights: the input groups are the taps (group g's features start at
// input.data + g * input.group_features; group_row_stride is not used), the features of a group are rows.
void dense_segmented(const DenseInput& input, const SegmentedWeights& weights, const float* bias,
                     const Rectifier* rectifier, float* output, const float* scale = nullptr);

// Average of every window's pixels inside the input (padding does not count), per channel.
void average_pool2d(const Window& window, const MapView& input, const MutableMapView& output);

// Largest of every window's pixels inside the input (padding does not count), per channel.
void max_pool2d(const Window& window, const MapView& input, const MutableMapView& output);

// Per channel, the mean over `pixels` pixels; writes input.channels floats.
void global_average_pool2d(const MapView& input, std::int64_t pixels, float* output);

// In place, `count` floats.
void rectify(const Rectifier& rectifier, float* values, std::int64_t count);

// output[i] = first[i] + second[i] for `count` floats (rectified when a rectifier is given); output may be
// first or second.
void add(const float* first, const float* second, std::int64_t count, const Rectifier* rectifier,
         float* output);

// The input map (window.in_height x in_width) placed at row pad_top, column pad_left of the output map
// (out_height x out_width), zeros around it.
void zero_padding2d(const Window& window, const MapView& input, const MutableMapView& output);

// In place, per pixel over its `channels` values (stride `channels`): exp(x - max) / sum.
void softmax(float* values, std::int64_t pixels, std::int64_t channels);

}  // namespace reds::engine::kernels
