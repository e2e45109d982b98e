// Uses the installed libraries as a user's program would: reads a plan request from its JSON form (the
// contract, with simdjson), plans it (the planner), solves a knapsack problem (the knapsack library) and
// prints the version. tests/install/consumer_test.sh checks every line.
#include <iostream>

#include "reds/json.h"
#include "reds/knapsack.h"
#include "reds/plan.h"
#include "reds/version.h"

int main() {
  // One prunable layer of 4 units over 4 inputs and a head of 2 classes: MACs = 6 per kept unit of fc1,
  // 24 in full. Limits of 12 and 18 MACs keep the 2 and 3 most important units.
  const auto request = reds::parse_plan_request(R"({
    "network": {"inputs": 4, "layers": [
      {"name": "fc1", "units": 4, "importance": [0.1, 0.4, 0.3, 0.2], "cost": {"macs": {"unit_input": 1}}},
      {"name": "head", "units": 2, "importance": [1, 1], "prunable": false,
       "cost": {"macs": {"unit_input": 1}}}]},
    "levels": [{"macs": {"max": 12}}, {"macs": {"max": 18}}]})");
  if (!request) {
    std::cerr << request.error().message << '\n';
    return 1;
  }
  const auto plan = reds::plan(*request);
  if (!plan) {
    std::cerr << plan.error().message << '\n';
    return 1;
  }
  for (const reds::LevelPlan& level : plan->levels) {
    std::cout << "level " << reds::to_string(level.status) << " macs " << level.cost.at("macs") << " widths";
    for (const std::int64_t width : level.widths) std::cout << ' ' << width;
    std::cout << '\n';
  }

  reds::knapsack::Problem<std::int64_t> problem;
  problem.capacity = 10;
  problem.items = {{5, 10}, {4, 40}, {6, 30}, {3, 50}};
  const auto solution = reds::knapsack::solve(problem);
  if (!solution) {
    std::cerr << solution.error().message << '\n';
    return 1;
  }
  std::cout << "knapsack " << reds::knapsack::to_string(solution->status) << " profit " << solution->profit
            << '\n';
  std::cout << "version " << reds::kVersion << '\n';
  return 0;
}
