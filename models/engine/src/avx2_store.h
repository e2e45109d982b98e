// avx2_store.h: how the AVX2 kernels of depthwise_avx2.cpp and few_inputs_avx2.cpp store a block of 8 sums,
// the same values kernels.cpp's store_outputs stores: with per-level statistics scale * sum + bias, then
// rectified as kernels::rectify does, then the first `count` lanes stored. Include only from sources whose
// functions using it are compiled for x86-64-v3 (gnu::target).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

#include <cstdint>

#include "reds/engine/model.h"

namespace reds::engine::kernels::avx2 {

// What follows a layer's sums: nothing, a ReLU (threshold and negative slope 0, a largest value >= 0), or
// another rectifier. Kernels take it as a template argument, so that a ReLU's stores take two instructions
// instead of the general form's five.
enum class Rectify { none, relu, general };

// The rectifier after a layer, in vectors (copied out of the Rectifier once per call: read through a
// pointer after a float store, the compiler would load it again).
struct Rectification {
  Rectify kind = Rectify::none;
  __m256 threshold, max_value, negative_slope;
};

[[gnu::target("arch=x86-64-v3"), gnu::always_inline]] inline Rectification rectification_of(
    const Rectifier* rectifier) {
  Rectification result;
  const Rectifier values = rectifier ? *rectifier : Rectifier{};
  const bool relu = values.threshold == 0.0f && values.negative_slope == 0.0f && values.max_value >= 0.0f;
  result.kind = !rectifier ? Rectify::none : relu ? Rectify::relu : Rectify::general;
  result.threshold = _mm256_set1_ps(values.threshold);
  result.max_value = _mm256_set1_ps(values.max_value);
  result.negative_slope = _mm256_set1_ps(values.negative_slope);
  return result;
}

// Lanes [0, count) set.
[[gnu::target("arch=x86-64-v3"), gnu::always_inline]] inline __m256i first_lanes(std::int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// `sum` plus the first `count` lanes of what `from` holds (the others read as 0): a residual addition fused
// into the layer that writes over the skip tensor, added as kernels::add adds it.
[[gnu::target("arch=x86-64-v3"), gnu::always_inline]] inline __m256 plus_held(__m256 sum, const float* from,
                                                                              std::int64_t count) {
  return _mm256_add_ps(sum,
                       count == 8 ? _mm256_loadu_ps(from) : _mm256_maskload_ps(from, first_lanes(count)));
}

// Stores `sum` (already scaled and shifted if the level has statistics) rectified by a rectifier of kind
// kKind, its first `count` lanes.
template <Rectify kKind>
[[gnu::target("arch=x86-64-v3"), gnu::always_inline]] inline void store_rectified(
    __m256 sum, const Rectification& rectification, float* to, std::int64_t count) {
  if constexpr (kKind == Rectify::relu) {
    // The general form's values: below 0 (and -0.0) it gives 0 * sum, -0.0, which max(-0.0, sum) gives
    // too (the first operand where neither is larger); NaN stays NaN, as it does there.
    sum = _mm256_min_ps(rectification.max_value, _mm256_max_ps(_mm256_set1_ps(-0.0f), sum));
  } else if constexpr (kKind == Rectify::general) {
    // std::min(value, max_value) is max_value < value ? max_value : value.
    const __m256 capped = _mm256_min_ps(rectification.max_value, sum);
    const __m256 below =
        _mm256_mul_ps(rectification.negative_slope, _mm256_sub_ps(sum, rectification.threshold));
    sum = _mm256_blendv_ps(below, capped, _mm256_cmp_ps(sum, rectification.threshold, _CMP_GE_OQ));
  }
  if (count == 8)
    _mm256_storeu_ps(to, sum);
  else
    _mm256_maskstore_ps(to, first_lanes(count), sum);
}

}  // namespace reds::engine::kernels::avx2

#endif
