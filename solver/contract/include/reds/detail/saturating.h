// reds/detail/saturating.h (shared by reds::contract and reds::solver; not an API).
//
// Saturating integer arithmetic for costs. Valid costs stay below 2^53; anything that would overflow is
// clamped to kCostInfinity, which exceeds every limit, so an overflowing plan is simply over budget.
#pragma once

#include <cstdint>
#include <limits>

namespace reds::detail {

inline constexpr std::int64_t kCostInfinity = std::numeric_limits<std::int64_t>::max();

inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? kCostInfinity : sum;
}

inline std::int64_t saturating_mul(std::int64_t a, std::int64_t b) {
  std::int64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? kCostInfinity : product;
}

}  // namespace reds::detail
