// reds/knapsack.h, 0-1 knapsack: validation, exact profits, the obvious items, and the kernel.
#include "reds/knapsack.h"

#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "knapsack_kernel.h"
#include "knapsack_profits.h"

namespace reds::knapsack {

const char* to_string(Status status) {
  switch (status) {
    case Status::optimal:
      return "optimal";
    case Status::feasible:
      return "feasible";
    case Status::infeasible:
      return "infeasible";
  }
  return "unknown";
}

namespace {

using detail::int128;

std::string item_name(std::size_t j) { return "item " + std::to_string(j); }

Result<detail::ExactProfits> exact_profits(const std::vector<Item<double>>& items) {
  std::vector<double> profits(items.size());
  for (std::size_t j = 0; j < items.size(); ++j) profits[j] = items[j].profit;
  return detail::exact_profits(profits, item_name);
}

// With `workspace_buffers`, the arrays of one entry per item come from there and go back there; without,
// from buffers of this solve, which its nested searches (surrogate problems, older core items) share.
template <class Profit>
Result<Solution<Profit>> solve_zero_one(const Problem<Profit>& problem, const Options& options,
                                        detail::ZeroOneBuffers* workspace_buffers) {
  detail::ZeroOneBuffers own_buffers;
  detail::ZeroOneBuffers* const buffers = workspace_buffers ? workspace_buffers : &own_buffers;
  const auto start = std::chrono::steady_clock::now();
  const detail::Search search(options);
  if (problem.capacity < 0)
    return invalid_argument("capacity is " + std::to_string(problem.capacity) + "; it must be >= 0");
  const std::size_t n = problem.items.size();
  constexpr bool kIntegerProfits = std::is_same_v<Profit, std::int64_t>;
  // Items of positive profit that weigh nothing are always chosen; the kernel decides the rest of the
  // items of positive profit that fit alone (the candidates), in 64-bit profits when their sum allows.
  // The candidates' indices in the problem, listed once an item is not one: until then they are 0, 1, 2, ...
  std::vector<std::size_t> candidates = detail::reuse(&buffers->candidates);
  std::size_t candidate_count = 0;
  bool every_item_so_far = true;
  detail::KernelItems<std::int64_t> small;
  small.capacity = problem.capacity;
  small.weights = detail::reuse(&buffers->weights);
  small.profits = detail::reuse(&buffers->profits);
  small.copies = detail::reuse(&buffers->copies);
  small.weights.reserve(n);
  small.profits.reserve(n);
  int128 candidate_profit = 0;
  const auto add_candidate = [&](std::size_t j, std::int64_t weight, int128 item_profit) {
    if (item_profit <= 0 || weight > problem.capacity || weight == 0) {
      if (every_item_so_far) {
        every_item_so_far = false;
        candidates.reserve(n);
        for (std::size_t k = 0; k < candidate_count; ++k) candidates.push_back(k);
      }
      return;
    }
    if (!every_item_so_far) candidates.push_back(j);
    ++candidate_count;
    candidate_profit += item_profit;
    small.weights.push_back(weight);
    small.profits.push_back(static_cast<std::int64_t>(item_profit));
  };
  // Integer profits are checked and the candidates picked in the pass that checks the weights; a weight
  // error is reported before a profit error wherever the two items are.
  std::int64_t total_weight = 0;
  int128 absolute_sum = 0;
  std::size_t profit_overflow = n;  // the first item at which integer profits overflow, n: none
  for (std::size_t j = 0; j < n; ++j) {
    const std::int64_t weight = problem.items[j].weight;
    if (weight < 0)
      return invalid_argument(item_name(j) + " has weight " + std::to_string(weight) +
                              "; weights must be >= 0");
    if (weight >= detail::kWeightLimit - total_weight)
      return invalid_argument("the weights sum to 2^62 or more (at " + item_name(j) +
                              "); the solver's sums of weights must stay below 2^62");
    total_weight += weight;
    if constexpr (kIntegerProfits) {
      const int128 profit = problem.items[j].profit;
      absolute_sum += profit < 0 ? -profit : profit;
      if (absolute_sum > std::numeric_limits<std::int64_t>::max() && profit_overflow == n)
        profit_overflow = j;
      add_candidate(j, weight, profit);
    }
  }
  detail::ExactProfits integer_profits;
  integer_profits.absolute_sum = absolute_sum;
  Result<detail::ExactProfits> exact = std::move(integer_profits);
  if constexpr (kIntegerProfits) {
    if (profit_overflow < n) return detail::integer_profit_overflow(item_name(profit_overflow));
  } else {
    exact = exact_profits(problem.items);
    if (!exact) return exact.error();
    for (std::size_t j = 0; j < n; ++j) add_candidate(j, problem.items[j].weight, exact->scaled[j]);
  }
  // The scaled profit of item j: an integer profit itself.
  const auto scaled = [&](std::size_t j) -> int128 {
    if constexpr (kIntegerProfits)
      return problem.items[j].profit;
    else
      return exact->scaled[j];
  };
  const auto free_item = [&](std::size_t j) { return problem.items[j].weight == 0 && scaled(j) > 0; };
  const auto candidate_index = [&](std::size_t k) { return every_item_so_far ? k : candidates[k]; };
  Solution<Profit> solution;
  bool optimal = true;
  int128 kernel_upper_bound = 0;
  std::vector<char> kernel_chosen;  // per candidate
  const auto adopt = [&](auto&& outcome) {
    kernel_chosen = std::move(outcome.chosen);
    optimal = outcome.optimal;
    kernel_upper_bound = outcome.upper_bound;
    solution.statistics = outcome.statistics;
  };
  if (candidate_profit < detail::kSmallProfitLimit) {
    small.copies.assign(candidate_count, 1);
    adopt(detail::solve_zero_one(std::move(small), search, std::optional<std::int64_t>(), buffers));
  } else {
    detail::KernelItems<int128> large;
    large.capacity = problem.capacity;
    large.weights = std::move(small.weights);
    for (std::size_t k = 0; k < candidate_count; ++k) large.profits.push_back(scaled(candidate_index(k)));
    large.copies = std::move(small.copies);
    large.copies.assign(candidate_count, 1);
    adopt(detail::solve_zero_one(std::move(large), search, std::optional<int128>(), buffers));
  }

  // The chosen items, without branches on the choices: about half the items are chosen, in no pattern a
  // branch could learn.
  int128 profit = 0;
  int128 fixed_profit = 0;
  // With a workspace, the indices go to its array first and the solution gets only the chosen ones: the
  // caller's array is fresh memory every solve, and a full-length one would touch twice the pages.
  std::vector<std::size_t> listed = detail::reuse(&buffers->listed);
  std::vector<std::size_t>& chosen_items = workspace_buffers ? listed : solution.items;
  chosen_items.resize(n);
  std::size_t count = 0;
  std::size_t next = 0;  // the next candidate
  for (std::size_t j = 0; j < n; ++j) {
    const bool candidate = next < candidate_count && candidate_index(next) == j;
    const bool taken = candidate ? static_cast<bool>(kernel_chosen[next]) : free_item(j);
    next += candidate ? 1 : 0;
    chosen_items[count] = j;
    count += taken ? 1 : 0;
    const std::int64_t weight = problem.items[j].weight;
    solution.weight += taken ? weight : 0;
    const int128 item_profit = taken ? scaled(j) : 0;
    profit += item_profit;
    fixed_profit += weight == 0 ? item_profit : 0;
  }
  chosen_items.resize(count);
  if (workspace_buffers) {
    solution.items.assign(listed.begin(), listed.end());
    detail::give_back(std::move(listed), &buffers->listed);
  }
  solution.status = optimal ? Status::optimal : Status::feasible;
  solution.profit = detail::unscale<Profit>(profit, *exact, false);
  solution.upper_bound =
      optimal ? solution.profit : detail::unscale<Profit>(kernel_upper_bound + fixed_profit, *exact, true);
  if (workspace_buffers) {
    detail::give_back(std::move(candidates), &buffers->candidates);
    detail::give_back(std::move(kernel_chosen), &buffers->chosen);
    detail::give_back(std::move(small.profits), &buffers->profits);  // when 128-bit profits replaced them
  }
  solution.statistics.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return solution;
}

template <class P>
detail::ChoiceOutcome<P> run_multiple_choice_kernel(const std::vector<std::vector<std::int64_t>>& weights,
                                                    const detail::ExactProfits& profits,
                                                    std::int64_t capacity, const detail::Search& search) {
  detail::ChoiceClasses<P> classes;
  classes.capacity = capacity;
  classes.weights = weights;
  std::size_t flat = 0;
  for (const std::vector<std::int64_t>& item_class : weights) {
    classes.profits.emplace_back();
    for (std::size_t i = 0; i < item_class.size(); ++i)
      classes.profits.back().push_back(static_cast<P>(profits.scaled[flat++]));
  }
  return detail::solve_multiple_choice(classes, search);
}

template <class Profit>
Result<MultipleChoiceSolution<Profit>> solve_multiple_choice(const MultipleChoiceProblem<Profit>& problem,
                                                             const Options& options) {
  const auto start = std::chrono::steady_clock::now();
  const detail::Search search(options);
  if (problem.capacity < 0)
    return invalid_argument("capacity is " + std::to_string(problem.capacity) + "; it must be >= 0");
  if (problem.classes.empty()) return invalid_argument("there are no classes; give at least one");
  std::vector<std::vector<std::int64_t>> weights(problem.classes.size());
  std::vector<Profit> profits;
  std::vector<std::pair<std::size_t, std::size_t>> where;  // flat profit index -> (class, item)
  std::int64_t total_weight = 0;
  for (std::size_t k = 0; k < problem.classes.size(); ++k) {
    if (problem.classes[k].empty())
      return invalid_argument("class " + std::to_string(k) +
                              " has no items; every class needs one to choose");
    for (std::size_t i = 0; i < problem.classes[k].size(); ++i) {
      const std::int64_t weight = problem.classes[k][i].weight;
      const auto name = [&] { return "class " + std::to_string(k) + ", item " + std::to_string(i); };
      if (weight < 0)
        return invalid_argument(name() + " has weight " + std::to_string(weight) + "; weights must be >= 0");
      if (weight >= detail::kWeightLimit - total_weight)
        return invalid_argument("the weights sum to 2^62 or more (at " + name() +
                                "); the solver's sums of weights must stay below 2^62");
      total_weight += weight;
      weights[k].push_back(weight);
      profits.push_back(problem.classes[k][i].profit);
      where.emplace_back(k, i);
    }
  }
  Result<detail::ExactProfits> exact = detail::exact_profits(profits, [&](std::size_t j) {
    return "class " + std::to_string(where[j].first) + ", item " + std::to_string(where[j].second);
  });
  if (!exact) return exact.error();

  MultipleChoiceSolution<Profit> solution;
  bool feasible = true;
  bool optimal = true;
  int128 kernel_upper_bound = 0;
  const auto adopt = [&](const auto& outcome) {
    feasible = outcome.feasible;
    optimal = outcome.optimal;
    solution.choice = outcome.choice;
    kernel_upper_bound = outcome.upper_bound;
    solution.statistics = outcome.statistics;
  };
  if (exact->absolute_sum < detail::kSmallProfitLimit)
    adopt(run_multiple_choice_kernel<std::int64_t>(weights, *exact, problem.capacity, search));
  else
    adopt(run_multiple_choice_kernel<int128>(weights, *exact, problem.capacity, search));

  if (!feasible) {
    solution.status = Status::infeasible;
    solution.choice.clear();
  } else {
    std::vector<std::size_t> first(problem.classes.size(), 0);  // flat index of each class's item 0
    for (std::size_t k = 1; k < first.size(); ++k) first[k] = first[k - 1] + problem.classes[k - 1].size();
    int128 profit = 0;
    for (std::size_t k = 0; k < solution.choice.size(); ++k) {
      solution.weight += weights[k][solution.choice[k]];
      profit += exact->scaled[first[k] + solution.choice[k]];
    }
    solution.status = optimal ? Status::optimal : Status::feasible;
    solution.profit = detail::unscale<Profit>(profit, *exact, false);
    solution.upper_bound =
        optimal ? solution.profit : detail::unscale<Profit>(kernel_upper_bound, *exact, true);
  }
  solution.statistics.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return solution;
}

}  // namespace

Workspace::Workspace() : buffers_(std::make_unique<detail::ZeroOneBuffers>()) {}
Workspace::~Workspace() = default;
Workspace::Workspace(Workspace&&) noexcept = default;
Workspace& Workspace::operator=(Workspace&&) noexcept = default;

detail::ZeroOneBuffers& Workspace::buffers() {
  if (!buffers_) buffers_ = std::make_unique<detail::ZeroOneBuffers>();  // moved from
  return *buffers_;
}

Result<Solution<std::int64_t>> solve(const Problem<std::int64_t>& problem, const Options& options) {
  return solve_zero_one(problem, options, nullptr);
}

Result<Solution<double>> solve(const Problem<double>& problem, const Options& options) {
  return solve_zero_one(problem, options, nullptr);
}

Result<Solution<std::int64_t>> solve(const Problem<std::int64_t>& problem, const Options& options,
                                     Workspace& workspace) {
  return solve_zero_one(problem, options, &workspace.buffers());
}

Result<Solution<double>> solve(const Problem<double>& problem, const Options& options, Workspace& workspace) {
  return solve_zero_one(problem, options, &workspace.buffers());
}

Result<MultipleChoiceSolution<std::int64_t>> solve(const MultipleChoiceProblem<std::int64_t>& problem,
                                                   const Options& options) {
  return solve_multiple_choice(problem, options);
}

Result<MultipleChoiceSolution<double>> solve(const MultipleChoiceProblem<double>& problem,
                                             const Options& options) {
  return solve_multiple_choice(problem, options);
}

}  // namespace reds::knapsack
