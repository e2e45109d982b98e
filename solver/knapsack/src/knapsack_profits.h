// Exact integer profits for the knapsack kernels: integer profits as they are, real profits scaled by the
// one power of two that makes all of them integers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "knapsack_arithmetic.h"
#include "reds/status.h"

namespace reds::knapsack::detail {

// Largest sums the kernels accept: 64-bit profits leave headroom for the bound arithmetic (differences of
// sums), 128-bit profits for the 192-bit products of sign_of_sum.
inline constexpr int128 kSmallProfitLimit = int128{1} << 62;
inline constexpr int128 kLargeProfitLimit = int128{1} << 125;

struct ExactProfits {
  std::vector<int128> scaled;  // profit_j = scaled_j * 2^exponent, exactly
  int exponent = 0;
  int128 absolute_sum = 0;  // of the scaled profits' absolute values
};

// Names profit j in error messages: "item 4", "class 2, item 0".
using ProfitName = std::function<std::string(std::size_t)>;

// The error of integer profits whose absolute values sum to more than 2^63 - 1, first at `where`.
Error integer_profit_overflow(const std::string& where);

// Integer profits: their absolute values must sum to at most 2^63 - 1. Real profits: finite, and their
// absolute values, once scaled, must sum to less than 2^125.
Result<ExactProfits> exact_profits(const std::vector<std::int64_t>& profits, const ProfitName& name);
Result<ExactProfits> exact_profits(const std::vector<double>& profits, const ProfitName& name);

// A scaled profit back in the caller's type. Real profits are rounded to nearest, or toward +infinity
// when `round_up` (for upper bounds).
template <class Profit>
Profit unscale(int128 scaled, const ExactProfits& profits, bool round_up);

}  // namespace reds::knapsack::detail
