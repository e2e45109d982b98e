// Lower bounds for the 0-1 knapsack kernel by pairing states with single items outside the core (after
// Martello, Pisinger and Toth 1999): a state below the capacity takes the most profitable outside item
// that still fits, a state above it drops the least profitable item of the break solution that removes
// the overweight. On subset-sum-like instances, whose optimum fills the capacity exactly, some of
// thousands of states almost always meets its complement this way long before the dynamic program would.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace reds::knapsack::detail {

template <class P>
class Pairing {
 public:
  // The items outside the core may be added (from break_item on) or removed (before it); `weights` and
  // `profits` are in the kernel's efficiency order, `additions` and `removals` list the items on either
  // side of the break item by weight.
  Pairing(const std::vector<std::int64_t>& weights, const std::vector<P>& profits,
          const std::vector<std::size_t>& additions, const std::vector<std::size_t>& removals,
          const std::vector<bool>& in_core)
      : weights_(weights) {
    for (const std::size_t j : additions)
      if (!in_core[j]) additions_.push_back(j);
    for (const std::size_t j : removals)
      if (!in_core[j]) removals_.push_back(j);
    // best_addition_[i]: the most profitable of additions_[0..i]; best_removal_[i]: the least profitable
    // of removals_[i..].
    best_addition_ = additions_;
    for (std::size_t i = 1; i < best_addition_.size(); ++i)
      if (profits[best_addition_[i - 1]] >= profits[best_addition_[i]])
        best_addition_[i] = best_addition_[i - 1];
    best_removal_ = removals_;
    for (std::size_t i = best_removal_.size(); i-- > 1;)
      if (profits[best_removal_[i]] <= profits[best_removal_[i - 1]]) best_removal_[i - 1] = best_removal_[i];
  }

  // Pairs every state, in order of weight, with its partner: below the capacity the most profitable
  // addable item that fits, above it the least profitable removable item that sheds the overweight.
  // The rooms shrink and the overweights grow along the states, so two cursors pass the lists once.
  // A partner that entered the core since the construction (`in_core` now) is passed over: the state
  // may have flipped it already.
  template <class States, class Improve>
  void pair(const States& states, std::int64_t capacity, const std::vector<bool>& in_core,
            Improve improve) const {
    std::size_t end = additions_.size();  // additions_[0..end) fit the current room
    std::size_t first = 0;                // removals_[first..] shed the current overweight
    for (const auto& state : states) {
      if (state.weight <= capacity) {
        const std::int64_t room = capacity - state.weight;
        while (end > 0 && weights_[additions_[end - 1]] > room) --end;
        if (end > 0 && !in_core[best_addition_[end - 1]]) improve(state, best_addition_[end - 1]);
      } else {
        const std::int64_t excess = state.weight - capacity;
        while (first < removals_.size() && weights_[removals_[first]] < excess) ++first;
        if (first < removals_.size() && !in_core[best_removal_[first]]) improve(state, best_removal_[first]);
      }
    }
  }

 private:
  const std::vector<std::int64_t>& weights_;
  std::vector<std::size_t> additions_;  // outside the core, by weight
  std::vector<std::size_t> removals_;   // outside the core, by weight
  std::vector<std::size_t> best_addition_;
  std::vector<std::size_t> best_removal_;
};

}  // namespace reds::knapsack::detail
