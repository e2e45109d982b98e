// conv_avx2.h: convolution micro-kernels for processors with AVX2 and FMA (conv_avx2.cpp), which
// kernels::conv2d_segmented and kernels::conv2d run for layers of up to 64 output channels when the
// processor has them; wider layers run the packed kernels of kernels.cpp.
#pragma once

#include "kernels.h"

namespace reds::engine::kernels {

// Computes a convolution of one group as conv2d_segmented does (every output channel's products summed in
// one order, taps then input channels, whichever block shares its tile) and returns true; returns false,
// writing nothing, when the processor lacks AVX2 or FMA, the layer is wider, or the weights' ranges and
// segments do not fit the kernels' plan (then the kernels of kernels.cpp run). `scale`: per-level
// statistics, as kernels.h has them.
bool conv2d_avx2(const Window& window, const MapView& input, const SegmentedWeights& weights,
                 const float* bias, const Rectifier* rectifier, bool accumulate, const MutableMapView& output,
                 const float* scale);

}  // namespace reds::engine::kernels
