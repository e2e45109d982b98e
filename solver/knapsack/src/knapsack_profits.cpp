// Exact integer profits: a double is m * 2^e with an integer m of at most 53 bits, so one common power of
// two turns every profit of an instance into an integer without rounding.
#include "knapsack_profits.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>

namespace reds::knapsack::detail {

namespace {

constexpr int kMantissaBits = 53;

// The exponent of the lowest set bit of a nonzero finite double: |x| = odd * 2^result.
int lowest_bit_exponent(double x) {
  int exponent = 0;
  const double fraction = std::frexp(std::fabs(x), &exponent);  // |x| = fraction * 2^exponent
  auto mantissa = static_cast<std::uint64_t>(std::ldexp(fraction, kMantissaBits));
  int lowest = exponent - kMantissaBits;
  while ((mantissa & 1) == 0) {
    mantissa >>= 1;
    ++lowest;
  }
  return lowest;
}

}  // namespace

Error integer_profit_overflow(const std::string& where) {
  return invalid_argument("the absolute values of the profits sum to more than 2^63 - 1 (at " + where +
                          "); the optimum could not be represented");
}

Result<ExactProfits> exact_profits(const std::vector<std::int64_t>& profits, const ProfitName& name) {
  ExactProfits exact;
  exact.scaled.reserve(profits.size());
  for (std::size_t j = 0; j < profits.size(); ++j) {
    const int128 profit = profits[j];
    exact.absolute_sum += profit < 0 ? -profit : profit;
    if (exact.absolute_sum > std::numeric_limits<std::int64_t>::max())
      return integer_profit_overflow(name(j));
    exact.scaled.push_back(profit);
  }
  return exact;
}

Result<ExactProfits> exact_profits(const std::vector<double>& profits, const ProfitName& name) {
  ExactProfits exact;
  bool any_nonzero = false;
  int finest = INT_MAX;
  int coarsest = INT_MIN;
  for (std::size_t j = 0; j < profits.size(); ++j) {
    const double profit = profits[j];
    if (!std::isfinite(profit))
      return invalid_argument(name(j) + " has profit " + (std::isnan(profit) ? "NaN" : "infinite") +
                              "; profits must be finite numbers");
    if (profit == 0.0) continue;
    any_nonzero = true;
    int exponent = 0;
    std::frexp(profit, &exponent);
    finest = std::min(finest, lowest_bit_exponent(profit));
    coarsest = std::max(coarsest, exponent);
  }
  if (!any_nonzero) {
    exact.scaled.assign(profits.size(), 0);
    return exact;
  }
  // Every scaled profit is below 2^(coarsest - finest); the sum check below catches the rest.
  if (coarsest - finest > 124)
    return invalid_argument("the profits span " + std::to_string(coarsest - finest) +
                            " binary orders of magnitude (from 2^" + std::to_string(finest) + " to 2^" +
                            std::to_string(coarsest) + "); at most 124 can be summed exactly");
  exact.exponent = finest;
  exact.scaled.reserve(profits.size());
  for (std::size_t j = 0; j < profits.size(); ++j) {
    // ldexp by a non-positive power is exact here: the result is an integer below 2^124.
    const double magnitude = std::ldexp(std::fabs(profits[j]), -finest);
    int int_exponent = 0;
    const double fraction = std::frexp(magnitude, &int_exponent);
    const auto mantissa =
        static_cast<int128>(static_cast<std::uint64_t>(std::ldexp(fraction, kMantissaBits)));
    const int shift = int_exponent - kMantissaBits;
    const int128 scaled = magnitude == 0.0 ? 0 : shift >= 0 ? mantissa << shift : mantissa >> -shift;
    exact.absolute_sum += scaled;
    if (exact.absolute_sum >= kLargeProfitLimit)
      return invalid_argument("the profits' absolute values, scaled to integers by 2^" +
                              std::to_string(-finest) + ", sum to 2^125 or more (at " + name(j) +
                              "); they cannot be summed exactly");
    exact.scaled.push_back(profits[j] < 0 ? -scaled : scaled);
  }
  return exact;
}

template <>
std::int64_t unscale<std::int64_t>(int128 scaled, const ExactProfits&, bool) {
  return static_cast<std::int64_t>(scaled);
}

template <>
double unscale<double>(int128 scaled, const ExactProfits& profits, bool round_up) {
  double nearest = static_cast<double>(scaled);  // correctly rounded to nearest
  if (round_up && static_cast<int128>(nearest) < scaled)
    nearest = std::nextafter(nearest, std::numeric_limits<double>::infinity());
  return std::ldexp(nearest, profits.exponent);
}

}  // namespace reds::knapsack::detail
