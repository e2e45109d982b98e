// few_inputs_avx2.h: the convolution kernel for layers of up to 4 input channels (a network's first layer)
// on processors with AVX2 and FMA (few_inputs_avx2.cpp), which kernels::conv2d_segmented and kernels::conv2d
// run before any other when the layer fits it.
#pragma once

#include "kernels.h"

namespace reds::engine::kernels {

// Computes a convolution of one group of up to 4 input channels (each output the bias, then one fused
// multiply-add per tap and input channel, taps ascending and input channels ascending within a tap, a tap
// in the padding adding the product of 0: the order of kernels.cpp's packed kernels) and returns true;
// returns false, writing nothing, when the processor lacks AVX2 or FMA, the layer has more input channels,
// a dilation, fewer than 12 output pixels or a weight segment that does not hold every input channel of
// every tap (then the other kernels run). `accumulate` and `scale` as conv2d_segmented has them.
bool conv2d_few_inputs_avx2(const Window& window, const MapView& input, const SegmentedWeights& weights,
                            const float* bias, const Rectifier* rectifier, bool accumulate,
                            const MutableMapView& output, const float* scale);

}  // namespace reds::engine::kernels
