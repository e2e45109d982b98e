// The Pareto front of one node's labels: a candidate label is kept unless a label kept before it has at
// least its value at no more cost in every resource.
//
// Candidates are offered best first (decreasing value, ties by increasing cost), so a kept label is never
// dominated later and a candidate needs comparing with the kept costs only. The comparison depends on the
// number of resources: none (the first candidate wins), one (kept costs decrease: only the last one
// matters), two (the kept cost pairs form a staircase, searched in a map) or more (every kept label).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <vector>

namespace reds::detail {

class ParetoFront {
 public:
  // Starts a node whose kept labels' costs (`dims` per label) will be appended to `kept_costs` from label
  // `first_kept` on.
  void begin(std::size_t dims, std::size_t first_kept) {
    dims_ = dims;
    first_kept_ = first_kept;
    staircase_.clear();
  }

  // Whether the candidate of cost `cost` is dominated by the labels kept since begin() (`kept_costs` holds
  // `kept_count` labels' costs in all). If it is not, the caller keeps it: its costs go to `kept_costs`.
  bool dominated(const std::int64_t* cost, const std::vector<std::int64_t>& kept_costs,
                 std::size_t kept_count) {
    const bool any_kept = kept_count > first_kept_;
    if (dims_ == 0) return any_kept;
    if (dims_ == 1) return any_kept && kept_costs.back() <= cost[0];
    if (dims_ == 2) return dominated_on_staircase(cost);
    for (std::size_t kept = first_kept_; kept < kept_count; ++kept) {
      if (covers(&kept_costs[kept * dims_], cost)) return true;
    }
    return false;
  }

 private:
  // The step at or below the candidate's first cost is low enough, or the candidate becomes a step (and
  // drops the steps it dominates).
  bool dominated_on_staircase(const std::int64_t* cost) {
    const auto step = staircase_.upper_bound(cost[0]);
    if (step != staircase_.begin() && std::prev(step)->second <= cost[1]) return true;
    const auto erase_from = staircase_.lower_bound(cost[0]);
    auto erase_to = erase_from;
    while (erase_to != staircase_.end() && erase_to->second >= cost[1]) ++erase_to;
    staircase_.erase(erase_from, erase_to);
    staircase_.emplace(cost[0], cost[1]);
    return false;
  }

  // Every cost of `kept` is at most the candidate's.
  bool covers(const std::int64_t* kept, const std::int64_t* cost) const {
    for (std::size_t t = 0; t < dims_; ++t) {
      if (kept[t] > cost[t]) return false;
    }
    return true;
  }

  std::size_t dims_ = 0;
  std::size_t first_kept_ = 0;
  std::map<std::int64_t, std::int64_t> staircase_;  // two resources: first cost -> least second cost
};

}  // namespace reds::detail
