// simd.h: what the inference kernels (kernels.cpp) and the training loops (training_kernels.cpp) share to
// write their inner loops once for both instruction sets.
//
// On x86-64 each function marked REDS_KERNEL is compiled twice, for the baseline and for x86-64-v3 (AVX2 with
// FMA), and the loader picks one by the processor (GCC's function multi-versioning). Helpers marked
// REDS_INLINE are always inlined, so that they are compiled with the instruction set of the kernel that
// calls them. Vec<Real> is one 32-byte vector (8 floats or 4 doubles): one AVX register, two SSE registers
// on the baseline.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define REDS_KERNEL [[gnu::target_clones("arch=x86-64-v3", "default")]]
#else
#define REDS_KERNEL
#endif
#define REDS_INLINE [[gnu::always_inline]] inline

namespace reds::engine::simd {

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

}  // namespace reds::engine::simd
