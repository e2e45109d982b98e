// The state lists of the knapsack kernels' dynamic programs (the 0-1 kernel's primal-dual states and the
// multiple-choice kernel's): states (weight, profit) by increasing weight with strictly increasing profit.
// A kernel processes an item or class by merging the current states with their moved copies, lightest
// first and, at equal weight, most profitable first; the steps below build the next list from that merge.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "reds/knapsack.h"

namespace reds::knapsack::detail {

// Takes the merge's next state `candidate` into `kept`. It is dropped if a state kept before it is at least
// as profitable (that one is no heavier); if it fits `capacity` and reaches `threshold` it is offered to
// `record` as a solution; then it is dropped if `prunable` (its bound cannot beat the best solution, with
// what `record` may have raised the threshold to), and otherwise kept, replacing a kept state of its
// weight (which is less profitable). `capacity` and `threshold` are the kernel's own, by reference so
// that a dominated candidate costs no reading of them.
template <class States, class State, class P, class Record, class Prunable>
inline void keep_state(States& kept, const State& candidate, const std::int64_t& capacity, const P& threshold,
                       Record&& record, Prunable&& prunable) {
  if (!kept.empty() && candidate.profit <= kept.back().profit) return;  // dominated
  if (candidate.weight <= capacity && candidate.profit >= threshold) record(candidate);
  if (prunable(candidate)) return;
  if (!kept.empty() && kept.back().weight == candidate.weight)
    kept.back() = candidate;
  else
    kept.push_back(candidate);
}

// Ends a merge: the kept states become the current ones (`kept` keeps the old list's storage), and the
// statistics count them.
template <class States>
void adopt_states(States& states, States& kept, Statistics& statistics) {
  states.swap(kept);
  statistics.states += static_cast<std::int64_t>(states.size());
  statistics.max_states = std::max(statistics.max_states, static_cast<std::int64_t>(states.size()));
}

}  // namespace reds::knapsack::detail
