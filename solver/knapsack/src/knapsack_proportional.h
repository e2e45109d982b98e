// Proportional item types of the 0-1 kernel: when the distinct items are few and each is an integer
// multiple m * (w, p) of a primitive direction (w, p) (gcd(w, p) = 1), the items of one direction add up
// to every multiple of g * (w, p), g the gcd of their multiples, from 0 to their total as long as,
// smallest first, no multiple exceeds g plus the multiples before it together (then the largest that
// fits, again and again, reaches any such total). Such a direction is one bounded integer variable, and the
// problem a bounded knapsack problem over a few variables. The spanner classes (Pisinger 2005: multiples 1 to
// m of v spanner items) have two directions, each a single efficiency: the linear bound is flat along either
// one, so the 0-1 states of all its totals survive until the core has seen every grouped item (millions of
// states at n = 100,000), while a branch and bound over the two totals ends within a few dozen nodes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include "knapsack_arithmetic.h"
#include "knapsack_kernel.h"

namespace reds::knapsack::detail {

// Identical items counted once: per type its weight, profit and number of items.
// The most types solve_proportional() takes.
inline constexpr std::size_t kMaxProportionalTypes = 4096;

template <class P>
struct ItemTypes {
  std::vector<std::int64_t> weights;
  std::vector<P> profits;
  std::vector<std::int64_t> counts;
};

template <class P>
struct ProportionalSolution {
  P profit = 0;
  std::vector<std::int64_t> taken;  // per type, how many of its items
  std::int64_t nodes = 0;
};

// The optimum over the types (capacity `capacity`, every weight >= 1), or none when there are more than
// kMaxProportionalTypes types, more than a quarter as many as items, or kMaxDirections directions, some
// direction's multiples leave gaps, or the branch and bound needs more than kMaxNodes nodes (or the deadline
// passes): the caller's search then solves it.
template <class P>
std::optional<ProportionalSolution<P>> solve_proportional(const ItemTypes<P>& types, std::int64_t capacity,
                                                          const Deadline& deadline) {
  constexpr std::size_t kMaxDirections = 64;
  constexpr std::int64_t kMaxNodes = std::int64_t{1} << 20;
  const std::size_t type_count = types.weights.size();
  std::int64_t items = 0;
  for (const std::int64_t count : types.counts) items += count;
  // Only where identical items abound (a type for every four items at most): elsewhere the search over
  // the items does as well.
  if (type_count > kMaxProportionalTypes || items < 4 * static_cast<std::int64_t>(type_count))
    return std::nullopt;
  // kMaxDirections + 1 types of distinct efficiencies are as many directions: most instances end here,
  // after a few thousand comparisons.
  const std::size_t probed = std::min(type_count, kMaxDirections + 1);
  bool repeated = false;
  for (std::size_t a = 0; a < probed && !repeated; ++a)
    for (std::size_t b = 0; b < a && !repeated; ++b)
      repeated = sign_of_sum(types.profits[a], types.weights[b], static_cast<P>(-types.profits[b]),
                             types.weights[a]) == 0;
  if (probed == kMaxDirections + 1 && !repeated) return std::nullopt;
  struct Type {
    std::int64_t unit_weight;  // of the direction
    P unit_profit;
    std::int64_t multiple;
    std::size_t index;
  };
  std::vector<Type> sorted;
  sorted.reserve(type_count);
  for (std::size_t t = 0; t < type_count; ++t) {
    P larger = static_cast<P>(types.weights[t]);
    P smaller = types.profits[t];
    while (smaller != 0) larger = std::exchange(smaller, static_cast<P>(larger % smaller));
    const auto divisor = static_cast<std::int64_t>(larger);  // gcd(w, p) <= w
    sorted.push_back({types.weights[t] / divisor, static_cast<P>(types.profits[t] / divisor), divisor, t});
  }
  std::sort(sorted.begin(), sorted.end(), [](const Type& a, const Type& b) {
    if (a.unit_weight != b.unit_weight) return a.unit_weight < b.unit_weight;
    if (a.unit_profit != b.unit_profit) return a.unit_profit < b.unit_profit;
    return a.multiple < b.multiple;
  });
  // The directions: unit weight and profit, how many units their items hold, and their types.
  struct Direction {
    std::int64_t weight;
    P profit;
    std::int64_t units;      // of weight and profit
    std::size_t first_type;  // in `sorted`
    std::size_t last_type;
  };
  std::vector<Direction> directions;
  for (std::size_t first = 0; first < sorted.size();) {
    std::size_t last = first;
    std::int64_t step = 0;  // the gcd of the direction's multiples: its unit
    while (last < sorted.size() && sorted[last].unit_weight == sorted[first].unit_weight &&
           sorted[last].unit_profit == sorted[first].unit_profit)
      step = std::gcd(step, sorted[last++].multiple);
    std::int64_t units = 0;
    for (std::size_t s = first; s < last; ++s) {
      sorted[s].multiple /= step;
      if (sorted[s].multiple > units + 1) return std::nullopt;  // a total it cannot reach
      units += sorted[s].multiple * types.counts[sorted[s].index];
    }
    directions.push_back({sorted[first].unit_weight * step, static_cast<P>(sorted[first].unit_profit * step),
                          units, first, last});
    if (directions.size() > kMaxDirections) return std::nullopt;
    first = last;
  }
  // Most efficient first (ties in any order): the linear bound over the directions after d.
  std::sort(directions.begin(), directions.end(), [](const Direction& a, const Direction& b) {
    return sign_of_sum(a.profit, b.weight, static_cast<P>(-b.profit), a.weight) > 0;
  });
  const std::size_t count = directions.size();
  // Whether the directions from d on, filled fractionally into `room`, can lift `profit` to `threshold`.
  const auto reaches = [&](std::size_t d, std::int64_t room, P profit, P threshold) {
    for (; d < count; ++d) {
      const Direction& direction = directions[d];
      if (direction.units <= room / direction.weight) {
        room -= direction.units * direction.weight;
        profit += static_cast<P>(direction.units * direction.profit);
        continue;
      }
      return sign_of_sum(static_cast<P>(profit - threshold), direction.weight, direction.profit, room) >= 0;
    }
    return profit >= threshold;
  };
  // Depth-first, each direction's total from the largest that fits down, while the bound reaches the
  // threshold (lowering a total never raises the bound: what it frees goes to less efficient directions).
  ProportionalSolution<P> best;
  best.taken.assign(count, 0);
  P threshold = 1;  // the empty solution has profit 0
  std::vector<std::int64_t> totals(count, 0);
  std::int64_t nodes = 0;
  bool gave_up = false;
  const auto search = [&](const auto& self, std::size_t d, std::int64_t room, P profit) -> void {
    const Direction& direction = directions[d];
    const std::int64_t most = std::min(direction.units, room / direction.weight);
    for (std::int64_t total = most; total >= 0 && !gave_up; --total) {
      if (++nodes > kMaxNodes || (nodes % 4096 == 0 && deadline.passed())) {
        gave_up = true;
        return;
      }
      const std::int64_t left = room - total * direction.weight;
      const P reached = static_cast<P>(profit + total * direction.profit);
      if (!reaches(d + 1, left, reached, threshold)) return;
      totals[d] = total;
      if (d + 1 == count) {  // the largest total is the best; the bound test above let it through
        best.profit = reached;
        best.taken = totals;
        threshold = static_cast<P>(reached + 1);
        return;
      }
      self(self, d + 1, left, reached);
    }
  };
  search(search, 0, capacity, 0);
  if (gave_up) return std::nullopt;
  // Each direction's total, over its types: the largest multiple that fits, as many of its items as fit.
  ProportionalSolution<P> solution;
  solution.profit = best.profit;
  solution.nodes = nodes;
  solution.taken.assign(type_count, 0);
  for (std::size_t d = 0; d < count; ++d) {
    std::int64_t remaining = best.taken[d];
    for (std::size_t s = directions[d].last_type; s-- > directions[d].first_type;) {
      const Type& type = sorted[s];
      const std::int64_t taken = std::min(types.counts[type.index], remaining / type.multiple);
      solution.taken[type.index] = taken;
      remaining -= taken * type.multiple;
    }
    if (remaining != 0) return std::nullopt;  // unreachable: the multiples leave no gaps
  }
  return solution;
}

}  // namespace reds::knapsack::detail
