// tests/support/knapsack_oracle.h: reference optima for the knapsack tests, written from the problem
// statements in reds/knapsack.h and independent of the solvers: brute force over all subsets (or all
// choices) and the textbook dynamic program over capacities.
//
// Real profits are summed exactly: every profit of a test instance is a multiple of 2^-kProfitBits whose
// scaled value fits in 64 bits, and the oracles add the scaled integers in 128 bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reds/knapsack.h"

namespace reds::test {

// Real test profits are multiples of 2^-kProfitBits.
inline constexpr int kProfitBits = 20;

struct KnapsackOptimum {
  bool feasible = true;      // MCKP: some choice fits
  long double profit = 0.0;  // exact for the test instances (at most 64 significant bits)
};

// 0-1 knapsack by enumerating all 2^n subsets (Gray code order); n <= 24.
KnapsackOptimum brute_force(const knapsack::Problem<std::int64_t>& problem);
KnapsackOptimum brute_force(const knapsack::Problem<double>& problem);

// 0-1 knapsack by the dynamic program over capacities 0..c, O(n c); c <= 10^7.
KnapsackOptimum dynamic_program(const knapsack::Problem<std::int64_t>& problem);
KnapsackOptimum dynamic_program(const knapsack::Problem<double>& problem);

// MCKP by enumerating every choice (the product of the class sizes <= 10^6).
KnapsackOptimum brute_force(const knapsack::MultipleChoiceProblem<std::int64_t>& problem);
KnapsackOptimum brute_force(const knapsack::MultipleChoiceProblem<double>& problem);

// MCKP by the dynamic program over classes and capacities, O(c * items).
KnapsackOptimum dynamic_program(const knapsack::MultipleChoiceProblem<std::int64_t>& problem);
KnapsackOptimum dynamic_program(const knapsack::MultipleChoiceProblem<double>& problem);

// The profit, weight and feasibility of a 0-1 solution, recomputed from its items.
struct Recomputed {
  bool valid = false;  // indices in range, ascending, no repeats, weight within the capacity
  long double profit = 0.0;
  std::int64_t weight = 0;
};
Recomputed recompute(const knapsack::Problem<std::int64_t>& problem, const std::vector<std::size_t>& items);
Recomputed recompute(const knapsack::Problem<double>& problem, const std::vector<std::size_t>& items);
Recomputed recompute(const knapsack::MultipleChoiceProblem<std::int64_t>& problem,
                     const std::vector<std::size_t>& choice);
Recomputed recompute(const knapsack::MultipleChoiceProblem<double>& problem,
                     const std::vector<std::size_t>& choice);

}  // namespace reds::test
