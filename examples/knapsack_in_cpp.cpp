// The knapsack library in C++ (reds/knapsack.h, reds/knapsack_generator.h): a small 0-1 problem, a
// multiple-choice problem, and a hard generated instance with a time limit.
#include <iostream>
#include <string_view>

#include "reds/knapsack.h"
#include "reds/knapsack_generator.h"

int main(int argc, char** argv) {
  if (argc > 1) {
    const std::string_view word = argv[1];
    const bool help = word == "--help" || word == "-h";
    (help ? std::cout : std::cerr)
        << "Usage: reds_knapsack_in_cpp\n\n"
           "Solves a small 0-1 knapsack problem, a multiple-choice problem and a hard generated\n"
           "instance with a time limit with the knapsack library. Takes no arguments.\n";
    return help ? 0 : 2;
  }
  // 0-1: items {weight, profit}, capacity 10.
  reds::knapsack::Problem<std::int64_t> problem;
  problem.capacity = 10;
  problem.items = {{5, 10}, {4, 40}, {6, 30}, {3, 50}};
  const auto solution = reds::knapsack::solve(problem);
  if (!solution) {
    std::cerr << solution.error().message << '\n';
    return 2;
  }
  std::cout << "0-1: " << reds::knapsack::to_string(solution->status) << " profit " << solution->profit
            << " weight " << solution->weight << " items";
  for (const std::size_t j : solution->items) std::cout << ' ' << j;
  std::cout << '\n';

  // Multiple choice, real profits: exactly one item per class (say, a layer at one of three widths).
  reds::knapsack::MultipleChoiceProblem<double> choice;
  choice.capacity = 10;
  choice.classes = {{{2, 0.3}, {5, 0.8}, {8, 1.0}}, {{1, 0.1}, {4, 0.6}, {6, 0.7}}};
  const auto chosen = reds::knapsack::solve(choice);
  if (!chosen) {
    std::cerr << chosen.error().message << '\n';
    return 2;
  }
  std::cout << "multiple choice: " << reds::knapsack::to_string(chosen->status) << " profit "
            << chosen->profit << " weight " << chosen->weight << " choice";
  for (const std::size_t i : chosen->choice) std::cout << ' ' << i;
  std::cout << '\n';

  // A circle instance of the literature, 10,000 items, coefficients up to 10^7, at most one second.
  reds::knapsack::GeneratorOptions generator;
  generator.instance_class = reds::knapsack::InstanceClass::circle;
  generator.items = 10'000;
  generator.range = 10'000'000;
  const auto instance = reds::knapsack::generate(generator);
  if (!instance) {
    std::cerr << instance.error().message << '\n';
    return 2;
  }
  reds::knapsack::Options options;
  options.time_limit_ms = 1000;
  const auto hard = reds::knapsack::solve(instance->problem, options);
  if (!hard) {
    std::cerr << hard.error().message << '\n';
    return 2;
  }
  std::cout << instance->name << ": " << reds::knapsack::to_string(hard->status) << " profit " << hard->profit
            << " <= " << hard->upper_bound << ", " << hard->items.size() << " items, "
            << hard->statistics.seconds * 1e3 << " ms\n";
  return 0;
}
