// reds/knapsack.h: the classic knapsack problems REDS is built from, solved exactly.
//
// 0-1 knapsack. Given items j = 0..n-1 with weight w_j >= 0 (an integer) and profit p_j, and a capacity
// c >= 0, choose a subset S maximising sum_{j in S} p_j subject to sum_{j in S} w_j <= c.
//
// Multiple-choice knapsack (MCKP). The items come in classes; choose exactly one item of every class,
// maximising the total profit subject to the total weight <= c. Infeasible when even the lightest item
// of every class together weigh more than c.
//
// Profits are integers (std::int64_t) or real numbers (double). Either way the optimum is exact: a double
// is a dyadic rational m * 2^e, the solver scales every profit of an instance by one power of two into an
// integer and works in exact integer arithmetic (64 or 128 bits), so the reported optimum is the exact sum
// of the chosen profits rounded once to the nearest double, never a sum that drifted with rounding.
//
//   reds::knapsack::Problem<std::int64_t> problem;
//   problem.capacity = 10;
//   problem.items = {{5, 10}, {4, 40}, {6, 30}, {3, 50}};   // {weight, profit}
//   const auto solution = reds::knapsack::solve(problem);
//   if (!solution) return fail(solution.error().message);
//   // solution->profit == 90, solution->items == {1, 3}, solution->status == Status::optimal
//
// Algorithms (n items, c capacity; see knapsack_generator.h for the instance classes they are measured on)
//   * 0-1 knapsack: a primal-dual dynamic program on an expanding core (Pisinger's minknap, 1997): the
//     items are ordered by efficiency p_j / w_j as far as the core reaches (partial sorting around the
//     break item, in expected linear time), the break solution (the greedy prefix) is the start, and
//     the items nearest the break item enter the core one by one, each doubling at most the set of states
//     (weight, profit), which are kept only when undominated and when their linear-relaxation bound can
//     beat the best solution known. Items that provably keep their break-solution value never enter.
//     When the state set grows (the hard, strongly correlated classes), a bound from the surrogate
//     relaxation with a cardinality constraint and lower bounds from pairing states with items outside
//     the core close the gap (Martello, Pisinger and Toth's combo, 1999). O(n log n + c * core) time in the
//     worst case, usually O(n) with a core of a few dozen items.
//   * MCKP: per class, dominated and LP-dominated items are removed (O(n log n)); the LP relaxation gives
//     the break class; a dynamic program over the classes, nearest the break class first, keeps Pareto
//     states (weight, profit) that pass an LP bound test (Pisinger's minimal MCKP algorithm, 1995).
//     When the state set grows, a count bound (an item's position in its class as its count, the
//     largest total count that fits, a Lagrangian multiplier on it) ends the search once the best
//     solution reaches it and prunes states: it closes the strongly correlated class, whose classes
//     are chains of increments. O(n log n + c * sum of class sizes) in the worst case.
//
// Nothing here throws; invalid input is an invalid_argument error naming the offending item.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "reds/status.h"

namespace reds::knapsack {

enum class Status {
  optimal,     // the solution is proved optimal: upper_bound == profit
  feasible,    // the time limit stopped the search; the solution is the best found, upper_bound is valid
  infeasible,  // no solution exists (MCKP only: the lightest items of the classes exceed the capacity)
};

// "optimal", "feasible", "infeasible".
const char* to_string(Status status);

struct Options {
  // Wall-clock limit of one solve in milliseconds; 0 means none. When it is reached, the best solution
  // found so far is returned with status feasible and a valid upper bound.
  std::int64_t time_limit_ms = 0;
  // Advanced: how many states the dynamic programs hold before they bring in their costlier tools, the
  // cardinality bound (0-1) and pairing states with single items or moves (0-1 and MCKP). The defaults
  // suit every instance class measured; the tests lower them to exercise the tools on small instances.
  // They never change the optimum, only the time to prove it.
  std::int64_t cardinality_states = 2000;
  std::int64_t pairing_states = 256;
};

// How the solve went; for benchmarks and curiosity, no promise about the exact values.
struct Statistics {
  double seconds = 0.0;            // wall-clock time of the solve
  std::int64_t free_items = 0;     // items left after the reductions (whose value was open)
  std::int64_t core_items = 0;     // items the dynamic program enumerated
  std::int64_t states = 0;         // states the dynamic program created
  std::int64_t max_states = 0;     // largest state set held at once
  std::int64_t passes = 0;         // dynamic-program runs (more than one to recover a large core's solution)
  bool cardinality_bound = false;  // the cardinality bound was computed
  std::int64_t restarts = 0;       // searches restarted from scratch with a stronger bound
};

template <class Profit>
struct Item {
  std::int64_t weight = 0;  // >= 0
  Profit profit{};          // any finite value; items with profit <= 0 are never chosen by the 0-1 solver
};

// 0-1 knapsack. Rules (else invalid_argument): capacity >= 0; weights >= 0; the weights sum to at most
// 2^63 - 1; profits finite; integer profits: the positive ones sum to at most 2^63 - 1; real profits:
// their positive sum is finite and needs at most 125 bits once scaled to integers (profits whose exponents
// span more than about 70 binary orders of magnitude are refused rather than rounded).
template <class Profit>
struct Problem {
  std::vector<Item<Profit>> items;
  std::int64_t capacity = 0;
};

template <class Profit>
struct Solution {
  Status status = Status::optimal;
  Profit profit{};                 // sum of the chosen items' profits
  Profit upper_bound{};            // no solution is better; equal to profit when optimal
  std::int64_t weight = 0;         // sum of the chosen items' weights, <= capacity
  std::vector<std::size_t> items;  // the chosen items' indices, ascending
  Statistics statistics;
};

Result<Solution<std::int64_t>> solve(const Problem<std::int64_t>& problem, const Options& options = {});
Result<Solution<double>> solve(const Problem<double>& problem, const Options& options = {});

namespace detail {
struct ZeroOneBuffers;
}

// Memory for solving many 0-1 problems in turn (a file of instances, a benchmark, a service): a solve
// given a workspace keeps its arrays of one entry per item in it when it returns, and the next solve
// reuses them instead of allocating and touching fresh pages (up to a fifth of the time of an easy
// instance of 10^4 to 10^5 items). The answers are those of solve(problem, options), for problems of any
// size in any order. One workspace serves one solve at a time; it holds on to the memory of the largest
// problem solved until it is destroyed. A moved-from workspace is empty and still usable.
class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(Workspace&&) noexcept;
  Workspace& operator=(Workspace&&) noexcept;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // The arrays themselves, for the solver.
  detail::ZeroOneBuffers& buffers();

 private:
  std::unique_ptr<detail::ZeroOneBuffers> buffers_;
};

Result<Solution<std::int64_t>> solve(const Problem<std::int64_t>& problem, const Options& options,
                                     Workspace& workspace);
Result<Solution<double>> solve(const Problem<double>& problem, const Options& options, Workspace& workspace);

// Multiple-choice knapsack. Rules (else invalid_argument): at least one class, no empty class, capacity
// >= 0, weights >= 0 summing to at most 2^63 - 1, profits finite (negative allowed) with absolute values
// summing to at most 2^63 - 1 (integers) or to a finite double needing at most 125 bits once scaled.
template <class Profit>
struct MultipleChoiceProblem {
  std::vector<std::vector<Item<Profit>>> classes;
  std::int64_t capacity = 0;
};

template <class Profit>
struct MultipleChoiceSolution {
  Status status = Status::optimal;
  Profit profit{};                  // sum of the chosen items' profits (0 when infeasible)
  Profit upper_bound{};             // no solution is better; equal to profit when optimal
  std::int64_t weight = 0;          // sum of the chosen items' weights, <= capacity
  std::vector<std::size_t> choice;  // per class, the index of its chosen item (empty when infeasible)
  Statistics statistics;
};

Result<MultipleChoiceSolution<std::int64_t>> solve(const MultipleChoiceProblem<std::int64_t>& problem,
                                                   const Options& options = {});
Result<MultipleChoiceSolution<double>> solve(const MultipleChoiceProblem<double>& problem,
                                             const Options& options = {});

}  // namespace reds::knapsack
