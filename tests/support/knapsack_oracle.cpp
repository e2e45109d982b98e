#include "support/knapsack_oracle.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace reds::test {

namespace {

__extension__ typedef __int128 int128;

// A profit as an exact integer in units of 2^-kProfitBits.
int128 scaled(std::int64_t profit) { return static_cast<int128>(profit) << kProfitBits; }
int128 scaled(double profit) {
  const double units = std::ldexp(profit, kProfitBits);
  if (units != std::floor(units) || std::fabs(units) >= 0x1p63)
    throw std::invalid_argument("test profit is not a multiple of 2^-kProfitBits below 2^63");
  return static_cast<int128>(static_cast<std::int64_t>(units));
}
long double unscaled(int128 units) { return std::ldexp(static_cast<long double>(units), -kProfitBits); }

constexpr int128 kNone = std::numeric_limits<int128>::min();

template <class Profit>
KnapsackOptimum brute_force_zero_one(const knapsack::Problem<Profit>& problem) {
  const std::size_t n = problem.items.size();
  if (n > 24) throw std::invalid_argument("brute force needs n <= 24");
  // Gray code: step k flips the item of its lowest set bit, so every subset is visited once.
  std::int64_t weight = 0;
  int128 profit = 0;
  int128 best = 0;
  std::vector<bool> in(n, false);
  for (std::uint64_t step = 1; step < (std::uint64_t{1} << n); ++step) {
    const auto j = static_cast<std::size_t>(__builtin_ctzll(step));
    const int sign = in[j] ? -1 : 1;
    in[j] = !in[j];
    weight += sign * problem.items[j].weight;
    profit += sign * scaled(problem.items[j].profit);
    if (weight <= problem.capacity) best = std::max(best, profit);
  }
  return {true, unscaled(best)};
}

template <class Profit>
KnapsackOptimum dynamic_program_zero_one(const knapsack::Problem<Profit>& problem) {
  if (problem.capacity > 10'000'000) throw std::invalid_argument("the capacity DP needs c <= 10^7");
  // best[w]: the best profit of a subset of weight at most w.
  std::vector<int128> best(static_cast<std::size_t>(problem.capacity) + 1, 0);
  for (const knapsack::Item<Profit>& item : problem.items) {
    if (item.weight > problem.capacity) continue;
    const int128 profit = scaled(item.profit);
    for (auto w = static_cast<std::size_t>(problem.capacity); w + 1 > static_cast<std::size_t>(item.weight);
         --w)
      best[w] = std::max(best[w], best[w - static_cast<std::size_t>(item.weight)] + profit);
  }
  return {true, unscaled(best.back())};
}

template <class Profit>
KnapsackOptimum brute_force_multiple_choice(const knapsack::MultipleChoiceProblem<Profit>& problem) {
  std::uint64_t choices = 1;
  for (const auto& items : problem.classes) {
    choices *= items.size();
    if (choices > 1'000'000) throw std::invalid_argument("brute force needs at most 10^6 choices");
  }
  int128 best = kNone;
  std::vector<std::size_t> choice(problem.classes.size(), 0);
  for (std::uint64_t step = 0; step < choices; ++step) {
    std::int64_t weight = 0;
    int128 profit = 0;
    for (std::size_t k = 0; k < choice.size(); ++k) {
      weight += problem.classes[k][choice[k]].weight;
      profit += scaled(problem.classes[k][choice[k]].profit);
    }
    if (weight <= problem.capacity) best = std::max(best, profit);
    // Next choice, odometer style.
    for (std::size_t k = 0; k < choice.size(); ++k) {
      if (++choice[k] < problem.classes[k].size()) break;
      choice[k] = 0;
    }
  }
  if (best == kNone) return {false, 0.0};
  return {true, unscaled(best)};
}

template <class Profit>
KnapsackOptimum dynamic_program_multiple_choice(const knapsack::MultipleChoiceProblem<Profit>& problem) {
  if (problem.capacity > 10'000'000) throw std::invalid_argument("the capacity DP needs c <= 10^7");
  // best[w]: the best profit of one item from every class so far with total weight exactly w.
  const auto size = static_cast<std::size_t>(problem.capacity) + 1;
  std::vector<int128> best(size, kNone);
  best[0] = 0;
  for (const auto& items : problem.classes) {
    std::vector<int128> next(size, kNone);
    for (std::size_t w = 0; w < size; ++w) {
      if (best[w] == kNone) continue;
      for (const knapsack::Item<Profit>& item : items) {
        const std::size_t total = w + static_cast<std::size_t>(item.weight);
        if (item.weight > problem.capacity || total >= size) continue;
        next[total] = std::max(next[total], best[w] + scaled(item.profit));
      }
    }
    best = std::move(next);
  }
  const int128 optimum = *std::max_element(best.begin(), best.end());
  if (optimum == kNone) return {false, 0.0};
  return {true, unscaled(optimum)};
}

template <class Profit>
Recomputed recompute_zero_one(const knapsack::Problem<Profit>& problem,
                              const std::vector<std::size_t>& items) {
  Recomputed result;
  int128 profit = 0;
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (items[k] >= problem.items.size() || (k > 0 && items[k] <= items[k - 1])) return result;
    result.weight += problem.items[items[k]].weight;
    profit += scaled(problem.items[items[k]].profit);
  }
  result.profit = unscaled(profit);
  result.valid = result.weight <= problem.capacity;
  return result;
}

template <class Profit>
Recomputed recompute_multiple_choice(const knapsack::MultipleChoiceProblem<Profit>& problem,
                                     const std::vector<std::size_t>& choice) {
  Recomputed result;
  if (choice.size() != problem.classes.size()) return result;
  int128 profit = 0;
  for (std::size_t k = 0; k < choice.size(); ++k) {
    if (choice[k] >= problem.classes[k].size()) return result;
    result.weight += problem.classes[k][choice[k]].weight;
    profit += scaled(problem.classes[k][choice[k]].profit);
  }
  result.profit = unscaled(profit);
  result.valid = result.weight <= problem.capacity;
  return result;
}

}  // namespace

KnapsackOptimum brute_force(const knapsack::Problem<std::int64_t>& problem) {
  return brute_force_zero_one(problem);
}
KnapsackOptimum brute_force(const knapsack::Problem<double>& problem) {
  return brute_force_zero_one(problem);
}
KnapsackOptimum dynamic_program(const knapsack::Problem<std::int64_t>& problem) {
  return dynamic_program_zero_one(problem);
}
KnapsackOptimum dynamic_program(const knapsack::Problem<double>& problem) {
  return dynamic_program_zero_one(problem);
}
KnapsackOptimum brute_force(const knapsack::MultipleChoiceProblem<std::int64_t>& problem) {
  return brute_force_multiple_choice(problem);
}
KnapsackOptimum brute_force(const knapsack::MultipleChoiceProblem<double>& problem) {
  return brute_force_multiple_choice(problem);
}
KnapsackOptimum dynamic_program(const knapsack::MultipleChoiceProblem<std::int64_t>& problem) {
  return dynamic_program_multiple_choice(problem);
}
KnapsackOptimum dynamic_program(const knapsack::MultipleChoiceProblem<double>& problem) {
  return dynamic_program_multiple_choice(problem);
}
Recomputed recompute(const knapsack::Problem<std::int64_t>& problem, const std::vector<std::size_t>& items) {
  return recompute_zero_one(problem, items);
}
Recomputed recompute(const knapsack::Problem<double>& problem, const std::vector<std::size_t>& items) {
  return recompute_zero_one(problem, items);
}
Recomputed recompute(const knapsack::MultipleChoiceProblem<std::int64_t>& problem,
                     const std::vector<std::size_t>& choice) {
  return recompute_multiple_choice(problem, choice);
}
Recomputed recompute(const knapsack::MultipleChoiceProblem<double>& problem,
                     const std::vector<std::size_t>& choice) {
  return recompute_multiple_choice(problem, choice);
}

}  // namespace reds::test
