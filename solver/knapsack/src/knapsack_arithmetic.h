// Exact arithmetic of the knapsack solvers: profits are integers of 64 or 128 bits, weights of 64 bits,
// and every bound test compares sums of products profit * weight exactly.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "knapsack_radix_sort.h"

namespace reds::knapsack::detail {

__extension__ typedef __int128 int128;
__extension__ typedef unsigned __int128 uint128;

// The sign (-1, 0, 1) of a * u + b * v.
inline int sign_of_sum(std::int64_t a, std::int64_t u, std::int64_t b, std::int64_t v) {
  const int128 sum = static_cast<int128>(a) * u + static_cast<int128>(b) * v;
  return (sum > 0) - (sum < 0);
}

namespace wide {

// A 192-bit two's complement integer: value = high * 2^128 + low.
struct Int192 {
  uint128 low = 0;
  std::int64_t high = 0;
};

inline Int192 multiply(int128 a, std::int64_t u) {
  const bool negative = (a < 0) != (u < 0);
  const uint128 magnitude_a = a < 0 ? -static_cast<uint128>(a) : static_cast<uint128>(a);
  const std::uint64_t magnitude_u = u < 0 ? -static_cast<std::uint64_t>(u) : static_cast<std::uint64_t>(u);
  const uint128 low_product = static_cast<std::uint64_t>(magnitude_a) * static_cast<uint128>(magnitude_u);
  const uint128 high_product =
      static_cast<std::uint64_t>(magnitude_a >> 64) * static_cast<uint128>(magnitude_u);
  Int192 product;
  product.low = low_product + (high_product << 64);
  product.high = static_cast<std::int64_t>((high_product >> 64) + (product.low < low_product ? 1 : 0));
  if (!negative) return product;
  // Two's complement negation: invert and add one.
  product.low = ~product.low + 1;
  product.high =
      static_cast<std::int64_t>(~static_cast<std::uint64_t>(product.high) + (product.low == 0 ? 1 : 0));
  return product;
}

inline Int192 add(const Int192& x, const Int192& y) {
  Int192 sum;
  sum.low = x.low + y.low;
  sum.high = static_cast<std::int64_t>(static_cast<std::uint64_t>(x.high) +
                                       static_cast<std::uint64_t>(y.high) + (sum.low < x.low ? 1 : 0));
  return sum;
}

inline int sign(const Int192& x) {
  if (x.high != 0) return x.high < 0 ? -1 : 1;
  return x.low != 0 ? 1 : 0;
}

}  // namespace wide

// The sign of sum_i a_i * u_i for 128-bit factors a (|a_i| < 2^126) and 64-bit u, at most four terms:
// a long double estimate decides unless the sum is within a relative 2^-50 of zero, then the exact
// 192-bit sum does.
template <std::size_t N>
int sign_of_products(const int128 (&a)[N], const std::int64_t (&u)[N]) {
  static_assert(N <= 4, "the 192-bit sum holds four products below 2^189");
  long double estimate = 0;
  long double scale = 0;
  for (std::size_t i = 0; i < N; ++i) {
    const long double product = static_cast<long double>(a[i]) * static_cast<long double>(u[i]);
    estimate += product;
    scale += std::fabs(product);
  }
  if (std::fabs(estimate) > scale * 0x1p-50L) return estimate > 0 ? 1 : -1;
  wide::Int192 sum;
  for (std::size_t i = 0; i < N; ++i) sum = wide::add(sum, wide::multiply(a[i], u[i]));
  return wide::sign(sum);
}

// The sign of a * u + b * v for 128-bit profits (|a|, |b| < 2^126): exactly in 128 bits when a and b fit
// in 64, else a long double estimate decides unless the sum is within a relative 2^-50 of zero, then the
// exact 192-bit sum does.
inline int sign_of_sum(int128 a, std::int64_t u, int128 b, std::int64_t v) {
  if (a == static_cast<std::int64_t>(a) && b == static_cast<std::int64_t>(b))
    return sign_of_sum(static_cast<std::int64_t>(a), u, static_cast<std::int64_t>(b), v);
  const long double first = static_cast<long double>(a) * static_cast<long double>(u);
  const long double second = static_cast<long double>(b) * static_cast<long double>(v);
  const long double estimate = first + second;
  const long double scale = std::fabs(first) + std::fabs(second);
  if (std::fabs(estimate) > scale * 0x1p-50L) return estimate > 0 ? 1 : -1;
  return wide::sign(wide::add(wide::multiply(a, u), wide::multiply(b, v)));
}

// Sorts `order` by efficiency profit(j) / weight(j) (weights >= 1), best first, ties by index, exactly:
// a radix sort on double quotients, then an insertion pass with exact comparisons that moves the few
// items rounding misplaced (near ties), in a few passes over the quotients and about n exact comparisons.
template <class ProfitOf, class WeightOf>
void sort_by_efficiency(std::vector<std::size_t>& order, ProfitOf profit, WeightOf weight) {
  // Radix sorted (stable: equal quotients keep the order given, by index when `order` ascends).
  std::vector<KeyedItem> keyed;
  keyed.reserve(order.size());
  for (const std::size_t j : order)
    keyed.push_back({descending_key(static_cast<double>(profit(j)) / static_cast<double>(weight(j))), j});
  radix_sort(keyed);
  const auto before = [&](std::size_t a, std::size_t b) {
    const int sign = sign_of_sum(profit(a), weight(b), -profit(b), weight(a));
    return sign != 0 ? sign > 0 : a < b;
  };
  for (std::size_t i = 0; i < keyed.size(); ++i) {
    order[i] = keyed[i].item;
    for (std::size_t k = i; k > 0 && before(order[k], order[k - 1]); --k) std::swap(order[k], order[k - 1]);
  }
}

}  // namespace reds::knapsack::detail
