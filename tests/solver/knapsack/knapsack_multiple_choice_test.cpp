// The multiple-choice knapsack solver (reds/knapsack.h) against brute force and the capacity dynamic
// program, with integer and real profits (negative ones too), infeasible instances, edge cases, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "reds/knapsack.h"
#include "reds/knapsack_generator.h"
#include "support/knapsack_oracle.h"

namespace {

using reds::knapsack::Item;
using reds::knapsack::MultipleChoiceProblem;
using reds::knapsack::MultipleChoiceSolution;
using reds::knapsack::Status;

// xorshift64: the tests' own seeded numbers.
class Numbers {
 public:
  explicit Numbers(std::uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL) {}
  std::int64_t between(std::int64_t low, std::int64_t high) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return low + static_cast<std::int64_t>(state_ % static_cast<std::uint64_t>(high - low + 1));
  }

 private:
  std::uint64_t state_;
};

enum class Correlation { uncorrelated, weakly, strongly };

// `classes` classes of up to `most` items with weights in [0, range]; the capacity lies between the
// lightest and the heaviest choice (a little below the lightest now and then: infeasible).
MultipleChoiceProblem<std::int64_t> random_problem(std::uint64_t seed, std::int64_t classes,
                                                   std::int64_t most, std::int64_t range,
                                                   Correlation correlation) {
  Numbers numbers(seed);
  MultipleChoiceProblem<std::int64_t> problem;
  std::int64_t lightest = 0;
  std::int64_t heaviest = 0;
  for (std::int64_t k = 0; k < classes; ++k) {
    std::vector<Item<std::int64_t>> items;
    std::int64_t low = range;
    std::int64_t high = 0;
    for (std::int64_t i = numbers.between(1, most); i > 0; --i) {
      const std::int64_t weight = numbers.between(0, range);
      std::int64_t profit = numbers.between(-range / 4, range);
      if (correlation == Correlation::weakly) profit = weight + numbers.between(-range / 10, range / 10);
      if (correlation == Correlation::strongly) profit = weight + range / 10;
      items.push_back({weight, profit});
      low = std::min(low, weight);
      high = std::max(high, weight);
    }
    lightest += low;
    heaviest += high;
    problem.classes.push_back(items);
  }
  problem.capacity = numbers.between(std::max<std::int64_t>(0, lightest - range / 2), heaviest);
  return problem;
}

// Real profits: p / 4 + f / 2^20, f in [0, 2^16).
MultipleChoiceProblem<double> with_real_profits(const MultipleChoiceProblem<std::int64_t>& problem,
                                                std::uint64_t seed) {
  Numbers numbers(seed + 1000);
  MultipleChoiceProblem<double> real;
  real.capacity = problem.capacity;
  for (const auto& items : problem.classes) {
    real.classes.emplace_back();
    for (const Item<std::int64_t>& item : items)
      real.classes.back().push_back(
          {item.weight,
           static_cast<double>(item.profit) / 4 +
               std::ldexp(static_cast<double>(numbers.between(0, 65535)), -reds::test::kProfitBits)});
  }
  return real;
}

template <class Profit>
void expect_optimal_with(const MultipleChoiceProblem<Profit>& problem,
                         const reds::test::KnapsackOptimum& optimum, const std::string& label,
                         const reds::knapsack::Options& options) {
  SCOPED_TRACE(label);
  const reds::Result<MultipleChoiceSolution<Profit>> solution = reds::knapsack::solve(problem, options);
  ASSERT_TRUE(solution.ok()) << solution.error().message;
  if (!optimum.feasible) {
    EXPECT_EQ(solution->status, Status::infeasible);
    EXPECT_TRUE(solution->choice.empty());
    return;
  }
  EXPECT_EQ(solution->status, Status::optimal);
  const reds::test::Recomputed recomputed = reds::test::recompute(problem, solution->choice);
  ASSERT_TRUE(recomputed.valid) << "one choice per class within the capacity";
  EXPECT_EQ(recomputed.weight, solution->weight);
  EXPECT_EQ(recomputed.profit, optimum.profit);
  EXPECT_EQ(static_cast<long double>(solution->profit), optimum.profit);
  EXPECT_EQ(solution->upper_bound, solution->profit);
}

// Pairing and the count bound from the first states on, so that small instances exercise them too.
reds::knapsack::Options eager() {
  reds::knapsack::Options options;
  options.pairing_states = 2;
  options.cardinality_states = 1;
  return options;
}

// Everything a solution promises, checked against the optimum, with the default and the eager options.
template <class Profit>
void expect_optimal(const MultipleChoiceProblem<Profit>& problem, const reds::test::KnapsackOptimum& optimum,
                    const std::string& label) {
  expect_optimal_with(problem, optimum, label, {});
  expect_optimal_with(problem, optimum, label + " eager", eager());
}

TEST(KnapsackMultipleChoice, SolvesASmallExample) {
  // Two layers, each kept at one of three widths (weight = cost, profit = importance).
  MultipleChoiceProblem<std::int64_t> problem;
  problem.capacity = 10;
  problem.classes = {{{2, 3}, {5, 8}, {8, 10}}, {{1, 1}, {4, 6}, {6, 7}}};
  const auto solution = reds::knapsack::solve(problem);
  ASSERT_TRUE(solution.ok());
  EXPECT_EQ(solution->status, Status::optimal);
  EXPECT_EQ(solution->choice, (std::vector<std::size_t>{1, 1}));
  EXPECT_EQ(solution->profit, 14);
  EXPECT_EQ(solution->weight, 9);
}

TEST(KnapsackMultipleChoice, MatchesBruteForce) {
  for (std::uint64_t seed = 1; seed <= 1500; ++seed) {
    const auto correlation = static_cast<Correlation>(seed % 3);
    const MultipleChoiceProblem<std::int64_t> problem = random_problem(
        seed, static_cast<std::int64_t>(1 + seed % 6), 6, seed % 2 == 0 ? 20 : 1000, correlation);
    const std::string label = "seed " + std::to_string(seed);
    expect_optimal(problem, reds::test::brute_force(problem), label);
    const MultipleChoiceProblem<double> real = with_real_profits(problem, seed);
    expect_optimal(real, reds::test::brute_force(real), label + " real");
  }
}

// More classes than the 64 bits of a state's recent choices cover, and thousands of states.
TEST(KnapsackMultipleChoice, MatchesTheCapacityDynamicProgram) {
  for (std::uint64_t seed = 1; seed <= 120; ++seed) {
    const auto correlation = static_cast<Correlation>(seed % 3);
    const MultipleChoiceProblem<std::int64_t> problem = random_problem(
        seed, static_cast<std::int64_t>(10 + seed % 90), 16, seed % 2 == 0 ? 50 : 400, correlation);
    const std::string label = "seed " + std::to_string(seed);
    expect_optimal(problem, reds::test::dynamic_program(problem), label);
    if (seed % 3 == 0) {
      const MultipleChoiceProblem<double> real = with_real_profits(problem, seed);
      expect_optimal(real, reds::test::dynamic_program(real), label + " real");
    }
  }
}

// A thousand small weakly correlated classes: the core runs through hundreds of them, far beyond the
// choices a state remembers, before the optimum turns up.
TEST(KnapsackMultipleChoice, CompletesSolutionsFromLargeCores) {
  bool completed_large_core = false;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const MultipleChoiceProblem<std::int64_t> problem =
        random_problem(seed, 1000, 16, 10, Correlation::weakly);
    expect_optimal(problem, reds::test::dynamic_program(problem), "seed " + std::to_string(seed));
    completed_large_core = completed_large_core || reds::knapsack::solve(problem)->statistics.passes > 1;
  }
  EXPECT_TRUE(completed_large_core) << "no instance needed more choices than a state remembers";
}

// The literature's classes (reds/knapsack_generator.h), small enough for the capacity DP: the strongly
// correlated classes leave every item on its class's hull.
TEST(KnapsackMultipleChoice, MatchesTheCapacityDynamicProgramOnTheLiteratureClasses) {
  for (const reds::knapsack::ChoiceClass choice_class : reds::knapsack::choice_classes()) {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      reds::knapsack::ChoiceGeneratorOptions options;
      options.choice_class = choice_class;
      options.classes = static_cast<std::int64_t>(5 + seed * 7);
      options.class_size = static_cast<std::int64_t>(2 + seed % 5);
      options.range = seed % 2 == 0 ? 100 : 1000;
      options.instance = static_cast<std::int64_t>(1 + (seed * 31) % 100);
      options.seed = seed;
      const auto instance = reds::knapsack::generate(options);
      ASSERT_TRUE(instance.ok()) << instance.error().message;
      expect_optimal(instance->problem, reds::test::dynamic_program(instance->problem), instance->name);
    }
  }
}

// Strongly correlated classes (chains of increments) are what the count bound is for: built from the first
// states on, it must end the search with the capacity DP's optimum, and its bound must be what proved it.
TEST(KnapsackMultipleChoice, CountBoundProvesStronglyCorrelatedOptima) {
  int proved_by_count_bound = 0;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    reds::knapsack::ChoiceGeneratorOptions options;
    options.choice_class = reds::knapsack::ChoiceClass::strongly_correlated;
    options.classes = static_cast<std::int64_t>(20 + seed * 3);
    options.class_size = static_cast<std::int64_t>(3 + seed % 4);
    options.range = seed % 2 == 0 ? 100 : 300;
    options.instance = static_cast<std::int64_t>(1 + (seed * 37) % 100);
    options.seed = seed;
    const auto instance = reds::knapsack::generate(options);
    ASSERT_TRUE(instance.ok()) << instance.error().message;
    reds::knapsack::Options counted;
    counted.cardinality_states = 1;
    expect_optimal_with(instance->problem, reds::test::dynamic_program(instance->problem), instance->name,
                        counted);
    const auto solution = reds::knapsack::solve(instance->problem, counted);
    ASSERT_TRUE(solution.ok());
    // Proved before the dynamic program ran through every class with a choice left.
    if (solution->statistics.cardinality_bound && solution->statistics.core_items < options.classes / 2)
      ++proved_by_count_bound;
  }
  EXPECT_GE(proved_by_count_bound, 6) << "the count bound rarely ended the search early";
}

// The same with profits scaled up until they sum to more than 2^62: the solver's 128-bit arithmetic,
// whose count bound rounds its break fractions up (an upper bound stays one).
TEST(KnapsackMultipleChoice, CountBoundHoldsWithWideProfits) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    reds::knapsack::ChoiceGeneratorOptions options;
    options.choice_class = reds::knapsack::ChoiceClass::strongly_correlated;
    options.classes = static_cast<std::int64_t>(6 + seed % 20);
    options.class_size = static_cast<std::int64_t>(2 + seed % 4);
    options.range = 100;
    options.instance = static_cast<std::int64_t>(1 + (seed * 13) % 100);
    options.seed = seed;
    auto instance = reds::knapsack::generate(options);
    ASSERT_TRUE(instance.ok()) << instance.error().message;
    MultipleChoiceProblem<std::int64_t> problem = instance->problem;
    std::int64_t sum = 0;
    for (const auto& items : problem.classes)
      for (const Item<std::int64_t>& item : items) sum += item.profit;
    const std::int64_t scale = (std::int64_t{3} << 61) / sum;
    // Exact chains (spread 0) and chains off by a few units.
    const auto spread = static_cast<std::int64_t>(seed % 4);
    std::int64_t perturbation = 0;
    for (auto& items : problem.classes)
      for (Item<std::int64_t>& item : items)
        item.profit = item.profit * scale + (spread == 0 ? 0 : perturbation++ % spread);
    reds::knapsack::Options counted;
    counted.cardinality_states = 1;
    expect_optimal_with(problem, reds::test::dynamic_program(problem), instance->name + " wide", counted);
  }
}

TEST(KnapsackMultipleChoice, ReportsInfeasibleInstances) {
  MultipleChoiceProblem<std::int64_t> problem;
  problem.capacity = 5;
  problem.classes = {{{3, 1}, {4, 2}}, {{3, 5}}};
  const auto solution = reds::knapsack::solve(problem);
  ASSERT_TRUE(solution.ok());
  EXPECT_EQ(solution->status, Status::infeasible);
  EXPECT_TRUE(solution->choice.empty());

  // A class whose every item is heavier than the capacity.
  problem.classes = {{{1, 1}}, {{6, 5}, {7, 9}}};
  EXPECT_EQ(reds::knapsack::solve(problem)->status, Status::infeasible);
}

TEST(KnapsackMultipleChoice, HandlesNegativeProfitsAndFreeItems) {
  MultipleChoiceProblem<std::int64_t> problem;
  problem.capacity = 0;
  problem.classes = {{{0, -5}, {0, -2}, {1, 10}}, {{0, 3}}};
  const auto solution = reds::knapsack::solve(problem);
  ASSERT_TRUE(solution.ok());
  EXPECT_EQ(solution->choice, (std::vector<std::size_t>{1, 0}));
  EXPECT_EQ(solution->profit, 1);
}

TEST(KnapsackMultipleChoice, UpperBoundHoldsWhenTheTimeLimitStopsTheSearch) {
  const MultipleChoiceProblem<std::int64_t> problem =
      random_problem(7, 400, 30, 100'000, Correlation::weakly);
  reds::knapsack::Options limited;
  limited.time_limit_ms = 1;
  const auto solution = reds::knapsack::solve(problem, limited);
  ASSERT_TRUE(solution.ok());
  ASSERT_NE(solution->status, Status::infeasible);
  const reds::test::Recomputed recomputed = reds::test::recompute(problem, solution->choice);
  ASSERT_TRUE(recomputed.valid);
  EXPECT_GE(solution->upper_bound, solution->profit);
  const auto unlimited = reds::knapsack::solve(problem);
  ASSERT_TRUE(unlimited.ok());
  EXPECT_LE(unlimited->profit, solution->upper_bound);
  EXPECT_GE(unlimited->profit, solution->profit);
}

TEST(KnapsackMultipleChoice, RejectsInvalidInput) {
  const auto message = [](const auto& problem) {
    const auto solution = reds::knapsack::solve(problem);
    EXPECT_FALSE(solution.ok());
    if (solution.ok()) return std::string();
    EXPECT_EQ(solution.error().code, reds::ErrorCode::invalid_argument);
    return solution.error().message;
  };
  MultipleChoiceProblem<std::int64_t> problem;
  problem.capacity = 10;
  EXPECT_NE(message(problem).find("no classes"), std::string::npos);
  problem.classes = {{{1, 1}}, {}};
  EXPECT_NE(message(problem).find("class 1"), std::string::npos);
  problem.classes = {{{1, 1}, {-1, 2}}};
  EXPECT_NE(message(problem).find("class 0, item 1"), std::string::npos);
  problem.classes = {{{1, 1}}};
  problem.capacity = -3;
  EXPECT_NE(message(problem).find("capacity"), std::string::npos);

  MultipleChoiceProblem<double> real;
  real.capacity = 10;
  real.classes = {{{1, 1.0}}, {{2, std::nan("")}}};
  EXPECT_NE(message(real).find("class 1, item 0"), std::string::npos);
}

}  // namespace
