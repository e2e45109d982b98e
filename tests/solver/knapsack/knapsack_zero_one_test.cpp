// The 0-1 knapsack solver (reds/knapsack.h) against brute force and the capacity dynamic program, on
// every instance class of the literature with integer and real profits, plus its edge cases and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "reds/knapsack.h"
#include "reds/knapsack_generator.h"
#include "support/knapsack_oracle.h"

namespace {

using reds::knapsack::GeneratorOptions;
using reds::knapsack::InstanceClass;
using reds::knapsack::Item;
using reds::knapsack::Problem;
using reds::knapsack::Solution;
using reds::knapsack::Status;

// A generated instance of `instance_class` with n items, range R and capacity index h of 100.
Problem<std::int64_t> generated(InstanceClass instance_class, std::int64_t n, std::int64_t range,
                                std::int64_t h, std::uint64_t seed) {
  GeneratorOptions options;
  options.instance_class = instance_class;
  options.items = n;
  options.range = range;
  options.instance = h;
  options.seed = seed;
  const auto instance = reds::knapsack::generate(options);
  EXPECT_TRUE(instance.ok()) << instance.error().message;
  return instance->problem;
}

// The same instance with real profits: each integer profit p becomes p / 8 + f / 2^20, f in [0, 2^17)
// drawn from the seed, so ties and exact sums of many binary digits both occur.
Problem<double> with_real_profits(const Problem<std::int64_t>& problem, std::uint64_t seed) {
  Problem<double> real;
  real.capacity = problem.capacity;
  std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (const Item<std::int64_t>& item : problem.items) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const double fraction = std::ldexp(static_cast<double>(state % (1u << 17)), -reds::test::kProfitBits);
    real.items.push_back({item.weight, static_cast<double>(item.profit) / 8 + fraction});
  }
  return real;
}

template <class Profit>
void expect_optimal_with(const Problem<Profit>& problem, const reds::test::KnapsackOptimum& optimum,
                         const std::string& label, const reds::knapsack::Options& options) {
  SCOPED_TRACE(label);
  const reds::Result<Solution<Profit>> solution = reds::knapsack::solve(problem, options);
  ASSERT_TRUE(solution.ok()) << solution.error().message;
  EXPECT_EQ(solution->status, Status::optimal);
  const reds::test::Recomputed recomputed = reds::test::recompute(problem, solution->items);
  ASSERT_TRUE(recomputed.valid) << "chosen items out of range, unsorted or over the capacity";
  EXPECT_EQ(recomputed.weight, solution->weight);
  EXPECT_EQ(recomputed.profit, optimum.profit);
  EXPECT_EQ(static_cast<long double>(solution->profit), optimum.profit);
  EXPECT_EQ(solution->upper_bound, solution->profit);
}

// The solver's costlier tools (the cardinality bound, pairing) from the first states on, so that small
// instances exercise them too.
reds::knapsack::Options eager() {
  reds::knapsack::Options options;
  options.cardinality_states = 2;
  options.pairing_states = 2;
  return options;
}

// Everything a solution promises, checked against the optimum, with the default and the eager options.
template <class Profit>
void expect_optimal(const Problem<Profit>& problem, const reds::test::KnapsackOptimum& optimum,
                    const std::string& label) {
  expect_optimal_with(problem, optimum, label, {});
  expect_optimal_with(problem, optimum, label + " eager", eager());
}

std::string describe(InstanceClass instance_class, std::int64_t n, std::int64_t range, std::int64_t h,
                     std::uint64_t seed) {
  return std::string(reds::knapsack::to_string(instance_class)) + " n=" + std::to_string(n) +
         " R=" + std::to_string(range) + " h=" + std::to_string(h) + " seed=" + std::to_string(seed);
}

TEST(KnapsackZeroOne, SolvesTheHeaderExample) {
  Problem<std::int64_t> problem;
  problem.capacity = 10;
  problem.items = {{5, 10}, {4, 40}, {6, 30}, {3, 50}};
  const auto solution = reds::knapsack::solve(problem);
  ASSERT_TRUE(solution.ok());
  EXPECT_EQ(solution->profit, 90);
  EXPECT_EQ(solution->items, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(solution->weight, 7);
  EXPECT_EQ(solution->status, Status::optimal);
}

// Small instances of every class, against brute force, with integer and real profits.
TEST(KnapsackZeroOne, MatchesBruteForceOnEveryClass) {
  for (const InstanceClass instance_class : reds::knapsack::instance_classes()) {
    for (std::uint64_t seed = 1; seed <= 250; ++seed) {
      const auto n = static_cast<std::int64_t>(1 + seed % 16);
      const std::int64_t range = seed % 3 == 0 ? 10 : seed % 3 == 1 ? 100 : 10'000;
      const auto h = static_cast<std::int64_t>(1 + (seed * 37) % 100);
      const Problem<std::int64_t> problem = generated(instance_class, n, range, h, seed);
      const std::string label = describe(instance_class, n, range, h, seed);
      expect_optimal(problem, reds::test::brute_force(problem), label);
      const Problem<double> real = with_real_profits(problem, seed);
      expect_optimal(real, reds::test::brute_force(real), label + " real");
    }
  }
}

// Larger instances with small capacities, against the capacity dynamic program: cores beyond the 64
// decisions a state remembers, thousands of states, the cardinality bound.
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramOnEveryClass) {
  for (const InstanceClass instance_class : reds::knapsack::instance_classes()) {
    for (std::uint64_t seed = 1; seed <= 24; ++seed) {
      const auto n = static_cast<std::int64_t>(20 + (seed * 53) % 400);
      const std::int64_t range = seed % 2 == 0 ? 100 : 500;
      const auto h = static_cast<std::int64_t>(1 + (seed * 29) % 100);
      const Problem<std::int64_t> problem = generated(instance_class, n, range, h, seed);
      const std::string label = describe(instance_class, n, range, h, seed);
      expect_optimal(problem, reds::test::dynamic_program(problem), label);
      if (seed % 4 == 0) {
        const Problem<double> real = with_real_profits(problem, seed);
        expect_optimal(real, reds::test::dynamic_program(real), label + " real");
      }
    }
  }
}

// Without the cardinality bound, every merge of the dynamic program bounds its candidates in a pass of
// their own, with the threshold of its start, and tests the survivors again only after a solution found
// during the merge raised the threshold: against the capacity dynamic program on every class, pairing
// from its default and from the first states on (pairing raises the threshold between merges).
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramWithoutTheCardinalityBound) {
  std::int64_t most_states = 0;
  for (const InstanceClass instance_class : reds::knapsack::instance_classes()) {
    for (std::uint64_t seed = 1; seed <= 16; ++seed) {
      const auto n = static_cast<std::int64_t>(30 + (seed * 71) % 500);
      const std::int64_t range = seed % 2 == 0 ? 300 : 1000;
      const auto h = static_cast<std::int64_t>(1 + (seed * 31) % 100);
      const Problem<std::int64_t> problem = generated(instance_class, n, range, h, seed);
      const std::string label = describe(instance_class, n, range, h, seed);
      reds::knapsack::Options options;
      options.cardinality_states = std::numeric_limits<std::int64_t>::max();
      options.pairing_states = seed % 2 == 0 ? 2 : options.pairing_states;
      const reds::test::KnapsackOptimum optimum = reds::test::dynamic_program(problem);
      expect_optimal_with(problem, optimum, label, options);
      most_states = std::max(most_states, reds::knapsack::solve(problem, options)->statistics.max_states);
      if (seed % 4 == 1) {
        const Problem<double> real = with_real_profits(problem, seed);
        expect_optimal_with(real, reds::test::dynamic_program(real), label + " real", options);
      }
    }
  }
  EXPECT_GT(most_states, 2000) << "no instance grew the states past the default cardinality_states";
}

// Instances big enough for every stage of the solver, still within reach of the capacity DP: some need
// the cardinality bound, some a core of more than the 64 decisions a state remembers.
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramOnHardMediumInstances) {
  bool cardinality_bound = false;
  bool completed_large_core = false;
  const InstanceClass hard[] = {InstanceClass::strongly_correlated,
                                InstanceClass::inverse_strongly_correlated,
                                InstanceClass::almost_strongly_correlated,
                                InstanceClass::subset_sum,
                                InstanceClass::profit_ceiling,
                                InstanceClass::circle,
                                InstanceClass::spanner_strongly_correlated};
  for (const InstanceClass instance_class : hard) {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      const std::int64_t n = 400;
      const std::int64_t range = 1000;
      const auto h = static_cast<std::int64_t>(1 + (seed * 7) % 50);
      const Problem<std::int64_t> problem = generated(instance_class, n, range, h, seed);
      expect_optimal(problem, reds::test::dynamic_program(problem),
                     describe(instance_class, n, range, h, seed));
      const auto solution = reds::knapsack::solve(problem);
      cardinality_bound = cardinality_bound || solution->statistics.cardinality_bound;
      completed_large_core = completed_large_core || solution->statistics.passes > 1;
    }
  }
  EXPECT_TRUE(cardinality_bound) << "no instance exercised the cardinality bound";
  EXPECT_TRUE(completed_large_core) << "no instance needed a core larger than 64 items";
}

// Circle instances: light free items would let the relaxation dodge a count of all items, so the solver
// bounds with a count of the heavier items only. Its surrogate problems close both sides of these at once
// (a side left open would restart the search with that bound, which no generated instance tried at
// n = 50 to 1,000 needs).
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramWithTheBoundOverHeavierItems) {
  bool cardinality_bound = false;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const std::int64_t n = 400;
    const std::int64_t range = 3000;
    const auto h = static_cast<std::int64_t>(1 + (seed * 7) % 50);
    const Problem<std::int64_t> problem = generated(InstanceClass::circle, n, range, h, seed);
    expect_optimal(problem, reds::test::dynamic_program(problem),
                   describe(InstanceClass::circle, n, range, h, seed));
    cardinality_bound = cardinality_bound || reds::knapsack::solve(problem)->statistics.cardinality_bound;
  }
  EXPECT_TRUE(cardinality_bound) << "no instance built the cardinality bound";
}

// Circle instances of 2,000 items and small capacities with the cardinality bound brought in at 20 states:
// it leaves most of the root's gap open and ranks items far from the break item first, so it is dropped,
// and dropped for good when it comes back at 200 states; the search completes without it.
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramWhereAWeakBoundLeavesForGood) {
  reds::knapsack::Options options;
  options.cardinality_states = 20;
  for (const std::int64_t h : {4, 8}) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const std::int64_t n = 2000;
      const std::int64_t range = 1000;
      const Problem<std::int64_t> problem = generated(InstanceClass::circle, n, range, h, seed);
      const reds::test::KnapsackOptimum optimum = reds::test::dynamic_program(problem);
      const std::string label = describe(InstanceClass::circle, n, range, h, seed);
      expect_optimal_with(problem, optimum, label, options);
      expect_optimal_with(problem, optimum, label + " default", {});
    }
  }
}

// Instances where heavy items are the most efficient (p = w - K + r, r in {0, 1, 2}) and a quarter of the
// items are light and nearly worthless: the break solution takes heavy items, and the optimum often fills
// the residual capacity with more items than it has. The cardinality bound's side of at least b + 1 items
// (b the break solution's count) has a negative multiplier, and its surrogate problem weighs each item s
// less: the lightest items weigh nothing or less there and are taken outright. Its solution is adopted,
// or it closes that side, on many of these instances.
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramWhereTheOptimumHasMoreItemsThanTheBreakSolution) {
  int more_items = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    Problem<std::int64_t> problem;
    std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL;
    const auto next = [&](std::int64_t bound) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return static_cast<std::int64_t>(state % static_cast<std::uint64_t>(bound));
    };
    std::int64_t total_weight = 0;
    for (int j = 0; j < 40; ++j) {
      const std::int64_t weight = j % 2 == 0 ? 1 + next(10) : 1 + next(1000);
      problem.items.push_back({weight, std::max<std::int64_t>(1, weight - 100 + next(3))});
      total_weight += weight;
    }
    problem.capacity = total_weight * static_cast<std::int64_t>(1 + (seed * 7) % 50) / 101;
    const std::string label = "seed=" + std::to_string(seed);
    const reds::test::KnapsackOptimum optimum = reds::test::dynamic_program(problem);
    expect_optimal(problem, optimum, label);
    reds::knapsack::Options bound_only;  // no pairing: the bound and its surrogate problems do the rest
    bound_only.cardinality_states = 2;
    bound_only.pairing_states = std::numeric_limits<std::int64_t>::max();
    expect_optimal_with(problem, optimum, label + " bound only", bound_only);
    const Problem<double> real = with_real_profits(problem, seed);
    expect_optimal(real, reds::test::dynamic_program(real), label + " real");
    // The break solution's count: the most efficient items, ties lightest first, while they fit.
    std::vector<Item<std::int64_t>> by_efficiency = problem.items;
    std::sort(by_efficiency.begin(), by_efficiency.end(), [](const auto& a, const auto& b) {
      const std::int64_t ahead = a.profit * b.weight;  // both below 10^6
      const std::int64_t behind = b.profit * a.weight;
      return ahead != behind ? ahead > behind : a.weight < b.weight;
    });
    std::size_t break_count = 0;
    for (std::int64_t room = problem.capacity;
         break_count < by_efficiency.size() && by_efficiency[break_count].weight <= room; ++break_count)
      room -= by_efficiency[break_count].weight;
    const auto solution = reds::knapsack::solve(problem, eager());
    ASSERT_TRUE(solution.ok());
    if (solution->items.size() > break_count) ++more_items;
  }
  EXPECT_GE(more_items, 10) << "too few instances whose optimum has more items than the break solution";
}

// Instances whose items are multiples m * (w, p) of two or three directions (the spanner classes' shape):
// multiples 1 to 10, which reach every total of their direction (solved as a bounded problem over the
// directions: no core item); even multiples only, which reach every even total; and multiples 1, 5 and 9
// with few items, which leave gaps (2 is no sum of them), so the kernel's search solves those.
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramOnProportionalItems) {
  const char* const kinds[] = {"multiples 1 to 10", "even multiples", "multiples with gaps"};
  for (std::uint64_t seed = 1; seed <= 24; ++seed) {
    std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL;
    const auto next = [&](std::int64_t bound) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return static_cast<std::int64_t>(state % static_cast<std::uint64_t>(bound));
    };
    const std::uint64_t kind = seed % 3;
    const std::vector<std::int64_t> multiples = kind == 0
                                                    ? std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
                                                : kind == 1 ? std::vector<std::int64_t>{2, 4, 6, 8, 10}
                                                            : std::vector<std::int64_t>{1, 5, 9};
    Problem<std::int64_t> problem;
    std::int64_t total_weight = 0;
    const std::int64_t directions = 2 + next(2);
    std::vector<Item<std::int64_t>> drawn;  // distinct directions: no two of the same efficiency
    while (static_cast<std::int64_t>(drawn.size()) < directions) {
      const Item<std::int64_t> item{1 + next(60), 1 + next(60)};
      if (std::none_of(drawn.begin(), drawn.end(), [&](const auto& other) {
            return item.profit * other.weight == other.profit * item.weight;
          }))
        drawn.push_back(item);
    }
    for (const auto& [weight, profit] : drawn) {
      for (const std::int64_t multiple : multiples) {
        const std::int64_t copies = kind == 2 ? 1 : 1 + next(12);
        for (std::int64_t copy = 0; copy < copies; ++copy) {
          problem.items.push_back({multiple * weight, multiple * profit});
          total_weight += multiple * weight;
        }
      }
    }
    problem.capacity = total_weight * static_cast<std::int64_t>(1 + (seed * 7) % 90) / 101;
    const std::string label = std::string(kinds[kind]) + " seed=" + std::to_string(seed);
    expect_optimal(problem, reds::test::dynamic_program(problem), label);
    if (kind != 2) {
      const auto solution = reds::knapsack::solve(problem);
      ASSERT_TRUE(solution.ok());
      EXPECT_EQ(solution->statistics.core_items, 0) << label << ": not solved over the directions";
    }
  }
}

// Instances of more than 4,096 items, where the solver orders the items only as far as its core reaches
// and groups identical items only when a sample finds some: uncorrelated ones (no identical items);
// nearly equal efficiencies p = K * w + r, r in {0, 1}, whose order only exact products decide (many
// identical items: grouped); and a few heavy efficient items before thousands of light ones of lower,
// similar efficiencies, which the greedy fills the residual capacity with and the core has to reach deep
// into (nothing can be fixed among them).
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramOnLargePartiallyOrderedInstances) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    Problem<std::int64_t> problem;
    problem.capacity = 3000;
    std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL;
    const auto next = [&](std::int64_t bound) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return static_cast<std::int64_t>(state % static_cast<std::uint64_t>(bound));
    };
    const char* const kinds[] = {"uncorrelated", "near ties", "heavy and light"};
    const std::uint64_t kind = seed % 3;
    for (int j = 0; j < 6000; ++j) {
      std::int64_t weight = 1 + next(4000);
      std::int64_t profit = 1 + next(10'000'000);
      if (kind == 1) profit = (std::int64_t{1} << 38) * weight + next(2);
      if (kind == 2 && j % 1000 == 0) {
        weight = 1000 + next(10);
        profit = 1'000'000 * weight + next(10);
      } else if (kind == 2) {
        weight = 1 + next(3);
        profit = 400'000 * weight + next(100'000);
      }
      problem.items.push_back({weight, profit});
    }
    expect_optimal(problem, reds::test::dynamic_program(problem),
                   std::string(kinds[kind]) + " seed=" + std::to_string(seed));
  }
}

// Instances of 33,000 items, whose break item the solver first brackets by two pivots from an evenly spread
// sample: about one item in 200 is heavy (weight 20 to 60) and more efficient than the light ones (weight
// 1), and the capacity takes every heavy item and a share of the light ones. The few heavy items the
// sample meets misjudge where the capacity runs out, so that the break item often lies outside the bracket.
TEST(KnapsackZeroOne, MatchesTheCapacityDynamicProgramWhereASampleMisjudgesTheWeights) {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    Problem<std::int64_t> problem;
    std::uint64_t state = seed * 0x9e3779b97f4a7c15ULL;
    const auto next = [&](std::int64_t bound) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return static_cast<std::int64_t>(state % static_cast<std::uint64_t>(bound));
    };
    std::int64_t heavy_weight = 0;
    std::int64_t light_weight = 0;
    for (int j = 0; j < 33'000; ++j) {
      if (next(200) == 0) {
        const std::int64_t weight = 20 + next(41);
        problem.items.push_back({weight, 2'000'000 * weight + next(1'000'000)});
        heavy_weight += weight;
      } else {
        problem.items.push_back({1, 1'000'000 + next(1'000'000)});
        light_weight += 1;
      }
    }
    const auto light_share = static_cast<std::int64_t>(1 + seed % 4);  // 16ths of the light items' weight
    problem.capacity = heavy_weight + light_weight * light_share / 16;
    expect_optimal(problem, reds::test::dynamic_program(problem),
                   "light share " + std::to_string(light_share) + "/16 seed=" + std::to_string(seed));
  }
}

TEST(KnapsackZeroOne, HandlesTrivialAndDegenerateItems) {
  Problem<std::int64_t> empty;
  empty.capacity = 5;
  const auto none = reds::knapsack::solve(empty);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->profit, 0);
  EXPECT_TRUE(none->items.empty());

  // Free items are taken, useless ones (profit <= 0, too heavy) are not, whatever the capacity.
  Problem<std::int64_t> problem;
  problem.capacity = 0;
  problem.items = {{0, 7}, {0, 0}, {0, -3}, {1, 100}, {3, 5}};
  const auto zero_capacity = reds::knapsack::solve(problem);
  ASSERT_TRUE(zero_capacity.ok());
  EXPECT_EQ(zero_capacity->profit, 7);
  EXPECT_EQ(zero_capacity->items, (std::vector<std::size_t>{0}));
  problem.capacity = 3;
  expect_optimal(problem, reds::test::brute_force(problem), "capacity 3");

  // Everything fits.
  problem.capacity = 1000;
  const auto all = reds::knapsack::solve(problem);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->profit, 112);
  EXPECT_EQ(all->items, (std::vector<std::size_t>{0, 3, 4}));

  // Many identical items.
  Problem<std::int64_t> copies;
  copies.capacity = 1000;
  for (int j = 0; j < 300; ++j) copies.items.push_back({7 + j % 3, 10 + j % 3});
  expect_optimal(copies, reds::test::dynamic_program(copies), "identical items");
}

// The optimum is decided by a difference below double precision: {1, 2} sums to 1 + 2^-53 exactly,
// which a double sum rounds to 1.0, the profit of item 0 alone.
TEST(KnapsackZeroOne, RealProfitsAreSummedExactly) {
  Problem<double> problem;
  problem.capacity = 2;
  problem.items = {{2, 1.0}, {1, 0.5}, {1, 0.5 + 0x1p-53}};
  const auto solution = reds::knapsack::solve(problem);
  ASSERT_TRUE(solution.ok());
  EXPECT_EQ(solution->items, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(solution->profit, 1.0);  // 1 + 2^-53 rounded to nearest (even)
  EXPECT_EQ(solution->upper_bound, 1.0);

  // Profits 100 binary orders of magnitude apart: both items are worth taking.
  Problem<double> wide;
  wide.capacity = 2;
  wide.items = {{1, 0x1p40}, {1, 0x1p-60}, {2, 0x1p40}};
  const auto both = reds::knapsack::solve(wide);
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_EQ(both->items, (std::vector<std::size_t>{0, 1}));
}

// Integer profits whose sum needs more than 62 bits take the 128-bit kernel.
TEST(KnapsackZeroOne, SolvesProfitsBeyondSixtyTwoBits) {
  Problem<std::int64_t> problem;
  problem.capacity = 10;
  const std::int64_t large = std::int64_t{1} << 60;
  problem.items = {{4, large + 1}, {5, large + 3}, {6, large + 8}, {4, large}, {3, 5}};
  const auto solution = reds::knapsack::solve(problem);
  ASSERT_TRUE(solution.ok()) << solution.error().message;
  EXPECT_EQ(solution->items, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(solution->profit, 2 * large + 9);
}

// One workspace through instances of every class whose sizes grow and shrink, with integer, real and
// 128-bit profits, options that bring in every tool, and an invalid problem in between: every answer is
// the one of a solve without a workspace, and the small instances' the capacity dynamic program's.
template <class Profit>
void expect_same_with_workspace(const Problem<Profit>& problem, reds::knapsack::Workspace& workspace,
                                const std::string& label, const reds::knapsack::Options& options = {}) {
  SCOPED_TRACE(label);
  const auto fresh = reds::knapsack::solve(problem, options);
  const auto reused = reds::knapsack::solve(problem, options, workspace);
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  ASSERT_TRUE(reused.ok()) << reused.error().message;
  EXPECT_EQ(reused->status, fresh->status);
  EXPECT_EQ(reused->profit, fresh->profit);
  EXPECT_EQ(reused->upper_bound, fresh->upper_bound);
  EXPECT_EQ(reused->weight, fresh->weight);
  EXPECT_EQ(reused->items, fresh->items);
}

TEST(KnapsackZeroOne, AReusedWorkspaceGivesTheAnswersOfFreshSolves) {
  reds::knapsack::Workspace workspace;
  // The hard classes' larger instances are kept small enough for a unit test.
  const std::int64_t sizes[] = {2000, 40, 20'000, 1, 300, 5000, 2, 200};
  std::uint64_t seed = 1;
  for (const InstanceClass instance_class : reds::knapsack::instance_classes()) {
    const bool easy =
        instance_class == InstanceClass::uncorrelated || instance_class == InstanceClass::weakly_correlated;
    for (const std::int64_t n : sizes) {
      if (!easy && n > 2000) continue;
      const std::int64_t range = n <= 300 ? 300 : easy ? 10'000'000 : 1000;
      const auto h = static_cast<std::int64_t>(1 + (seed * 29) % 100);
      const Problem<std::int64_t> problem = generated(instance_class, n, range, h, seed);
      const std::string label = describe(instance_class, n, range, h, seed);
      expect_same_with_workspace(problem, workspace, label);
      if (n <= 300) {
        const auto solution = reds::knapsack::solve(problem, eager(), workspace);
        ASSERT_TRUE(solution.ok()) << solution.error().message;
        EXPECT_EQ(static_cast<long double>(solution->profit), reds::test::dynamic_program(problem).profit)
            << label;
      }
      if (seed % 3 == 0)
        expect_same_with_workspace(with_real_profits(problem, seed), workspace, label + " real");
      ++seed;
    }
  }
  // Everything fits; 128-bit profits; an invalid problem, after which the workspace still serves.
  Problem<std::int64_t> light;
  light.capacity = 100;
  light.items = {{1, 3}, {2, 5}, {0, 7}, {3, -1}};
  expect_same_with_workspace(light, workspace, "everything fits");
  Problem<std::int64_t> large;
  large.capacity = 10;
  const std::int64_t big = std::int64_t{1} << 60;
  large.items = {{4, big + 1}, {5, big + 3}, {6, big + 8}, {4, big}, {3, 5}};
  expect_same_with_workspace(large, workspace, "128-bit profits");
  Problem<std::int64_t> invalid = light;
  invalid.items[1].weight = -2;
  EXPECT_FALSE(reds::knapsack::solve(invalid, {}, workspace).ok());
  expect_same_with_workspace(generated(InstanceClass::uncorrelated, 5000, 1000, 50, 7), workspace,
                             "after an error");
  // A moved-from workspace still serves; the one moved to keeps the arrays.
  reds::knapsack::Workspace moved = std::move(workspace);
  expect_same_with_workspace(light, workspace, "moved from");  // NOLINT(bugprone-use-after-move)
  expect_same_with_workspace(large, moved, "moved to");
}

TEST(KnapsackZeroOne, UpperBoundHoldsWhenTheTimeLimitStopsTheSearch) {
  GeneratorOptions options;
  options.instance_class = InstanceClass::circle;
  options.items = 1000;
  options.range = 1'000'000;
  const auto instance = reds::knapsack::generate(options);
  ASSERT_TRUE(instance.ok());
  reds::knapsack::Options limited;
  limited.time_limit_ms = 1;
  const auto solution = reds::knapsack::solve(instance->problem, limited);
  ASSERT_TRUE(solution.ok());
  const reds::test::Recomputed recomputed = reds::test::recompute(instance->problem, solution->items);
  ASSERT_TRUE(recomputed.valid);
  EXPECT_EQ(recomputed.profit, static_cast<long double>(solution->profit));
  EXPECT_GE(solution->upper_bound, solution->profit);
  if (solution->status == Status::optimal) {
    EXPECT_EQ(solution->upper_bound, solution->profit);
  }
  // No solution beats the reported bound: the optimum found without a limit respects it.
  const auto unlimited = reds::knapsack::solve(instance->problem);
  ASSERT_TRUE(unlimited.ok());
  EXPECT_LE(unlimited->profit, solution->upper_bound);
  EXPECT_GE(unlimited->profit, solution->profit);
}

TEST(KnapsackZeroOne, RejectsInvalidInput) {
  const auto message = [](const auto& problem) {
    const auto solution = reds::knapsack::solve(problem);
    EXPECT_FALSE(solution.ok());
    if (solution.ok()) return std::string();
    EXPECT_EQ(solution.error().code, reds::ErrorCode::invalid_argument);
    return solution.error().message;
  };
  Problem<std::int64_t> problem;
  problem.capacity = -1;
  EXPECT_NE(message(problem).find("capacity"), std::string::npos);

  problem.capacity = 10;
  problem.items = {{3, 4}, {-2, 5}};
  EXPECT_NE(message(problem).find("item 1"), std::string::npos);

  const std::int64_t huge = std::numeric_limits<std::int64_t>::max() / 2 + 1;
  problem.items = {{huge, 1}, {huge, 1}};
  EXPECT_NE(message(problem).find("weights sum"), std::string::npos);

  problem.items = {{1, std::numeric_limits<std::int64_t>::max()}, {1, 1}};
  EXPECT_NE(message(problem).find("profits"), std::string::npos);

  Problem<double> real;
  real.capacity = 10;
  real.items = {{1, 2.0}, {1, std::nan("")}};
  EXPECT_NE(message(real).find("item 1"), std::string::npos);
  real.items = {{1, std::numeric_limits<double>::infinity()}};
  EXPECT_NE(message(real).find("infinite"), std::string::npos);
  real.items = {{1, 0x1p100}, {1, 0x1p-100}};
  EXPECT_NE(message(real).find("binary orders"), std::string::npos);
}

}  // namespace
