// depthwise_avx2.h: the depthwise 3x3 kernel for processors with AVX2 and FMA (depthwise_avx2.cpp), which
// kernels::depthwise_conv2d_segmented and kernels::depthwise_conv2d run when the processor has them and the
// window fits; other windows run the kernels of kernels.cpp.
#pragma once

#include "kernels.h"

namespace reds::engine::kernels {

// Computes a depthwise convolution as depthwise_conv2d_segmented does (every output the bias, then the
// products of the taps inside the input, rows of taps ascending and columns ascending within a row, each
// one multiply-add onto the sum) and returns true; returns false, writing nothing, when the processor lacks
// AVX2 or FMA or the window is not 3x3 with dilation 1 and a column stride of 1 or 2. `scale`: per-level
// statistics, as kernels.h has them (the sums start from zero, `bias` is the level's).
bool depthwise_conv2d_avx2(const Window& window, const MapView& input, const SegmentedWeights& weights,
                           const float* bias, const Rectifier* rectifier, const MutableMapView& output,
                           const float* scale);

}  // namespace reds::engine::kernels
