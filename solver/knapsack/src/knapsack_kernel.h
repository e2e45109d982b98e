// The exact 0-1 knapsack kernel behind reds/knapsack.h: integer profits (64 or 128 bits), every item
// useful (weight in [1, capacity], profit >= 1). The public layer validates, scales real profits to
// integers and removes the items whose value is obvious before it calls the kernel.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "knapsack_arithmetic.h"
#include "reds/knapsack.h"

namespace reds::knapsack::detail {

class Deadline {
 public:
  explicit Deadline(std::int64_t time_limit_ms)
      : limited_(time_limit_ms > 0),
        end_(std::chrono::steady_clock::now() + std::chrono::milliseconds(time_limit_ms)) {}
  bool passed() const { return limited_ && std::chrono::steady_clock::now() >= end_; }

 private:
  bool limited_;
  std::chrono::steady_clock::time_point end_;
};

// How a kernel's search runs: until its deadline (or after creating state_budget states), and bringing
// in the costlier tools once it holds that many states (reds::knapsack::Options).
struct Search {
  Deadline deadline;
  std::size_t cardinality_states;
  std::size_t pairing_states;
  std::int64_t state_budget = std::numeric_limits<std::int64_t>::max();

  Search(const Options& options)  // NOLINT(google-explicit-constructor)
      : deadline(options.time_limit_ms),
        cardinality_states(static_cast<std::size_t>(std::max<std::int64_t>(1, options.cardinality_states))),
        pairing_states(static_cast<std::size_t>(std::max<std::int64_t>(1, options.pairing_states))) {}
  // The same search without a deadline (to complete a solution already found).
  Search unlimited() const {
    Search search = *this;
    search.deadline = Deadline(0);
    search.state_budget = std::numeric_limits<std::int64_t>::max();
    return search;
  }
};

// The weights of an instance sum to less than this: differences of sums of weights fit in 64 bits.
inline constexpr std::int64_t kWeightLimit = std::int64_t{1} << 62;

template <class P>
struct KernelItems {
  std::vector<std::int64_t> weights;
  std::vector<P> profits;
  // How many identical original items each item stands for (its weight and profit are the totals):
  // only the cardinality bounds count items.
  std::vector<std::int64_t> copies;
  std::int64_t capacity = 0;
};

// std::allocator whose resize() leaves new elements of trivial types uninitialised (default- rather than
// value-initialised), for arrays that are written before they are read.
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  using std::allocator<T>::allocator;
  template <class U>
  void construct(U* place) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(place)) U;
  }
  template <class U, class... Args>
  void construct(U* place, Args&&... args) {
    ::new (static_cast<void*>(place)) U(std::forward<Args>(args)...);
  }
};

template <class T>
using UninitializedVector = std::vector<T, DefaultInitAllocator<T>>;

// A state of the 0-1 kernel's dynamic program: a solution that differs from the break solution only on
// the core items processed so far.
template <class P>
struct ZeroOneState {
  std::int64_t weight;
  P profit;
  std::uint64_t flips;  // bit i: the i-th most recently processed core item differs from the break solution
  std::int64_t count;   // items in the solution
};

// The arrays of one entry per item that a 0-1 solve (of 64-bit profits, the kernel's outermost call only)
// takes from a reds::knapsack::Workspace and leaves there, emptied but with their capacity, when it ends.
struct ZeroOneBuffers {
  std::vector<std::int64_t> weights;
  std::vector<std::int64_t> profits;
  std::vector<std::int64_t> copies;
  std::vector<std::size_t> candidates;
  std::vector<std::size_t> listed;  // the chosen items' indices
  std::vector<std::size_t> original;
  std::vector<std::size_t> slots;
  std::vector<char> fixed;
  std::vector<char> incumbent;
  std::vector<char> chosen;
  std::vector<char> solution;
  // The dynamic program's state lists: hundreds of kilobytes on an easy instance of 10^4 items, which
  // the allocator would otherwise hand back to the system and fault in again on every solve.
  UninitializedVector<ZeroOneState<std::int64_t>> states;
  UninitializedVector<ZeroOneState<std::int64_t>> next_states;
};

// The stored array `stored` (none without buffers), emptied: its capacity is what is reused.
template <class T, class Allocator>
std::vector<T, Allocator> reuse(std::vector<T, Allocator>* stored) {
  std::vector<T, Allocator> taken;
  if (stored) {
    taken.swap(*stored);
    taken.clear();
  }
  return taken;
}

// Leaves `used` in `stored` for the next solve when it holds more memory than what is stored there.
template <class T, class Allocator>
void give_back(std::vector<T, Allocator>&& used, std::vector<T, Allocator>* stored) {
  if (stored && used.capacity() > stored->capacity()) stored->swap(used);
}

template <class P>
struct KernelOutcome {
  bool optimal = true;
  P profit = 0;
  P upper_bound = 0;
  std::vector<char> chosen;  // per item
  Statistics statistics;
};

// Solves the 0-1 knapsack problem over `items` exactly (unless the deadline passes). With a `target`,
// the caller knows a solution of profit >= target exists and wants one: solutions below it are not
// recorded. Preconditions: weights >= 1, profits >= 1, copies >= 1, the weights sum to less than
// kWeightLimit and the profits to less than 2^62 (64-bit profits) or 2^125 (128-bit profits). With
// `buffers`, the arrays come from there and go back there (`items`' arrays included).
template <class P>
KernelOutcome<P> solve_zero_one(KernelItems<P> items, const Search& search,
                                std::optional<P> target = std::nullopt, ZeroOneBuffers* buffers = nullptr);

extern template KernelOutcome<std::int64_t> solve_zero_one(KernelItems<std::int64_t>, const Search&,
                                                           std::optional<std::int64_t>, ZeroOneBuffers*);
extern template KernelOutcome<int128> solve_zero_one(KernelItems<int128>, const Search&,
                                                     std::optional<int128>, ZeroOneBuffers*);

// The multiple-choice knapsack problem in integers: every class nonempty, weights >= 0 summing to less
// than kWeightLimit, profits of any sign whose absolute values sum below the same limits as above.
template <class P>
struct ChoiceClasses {
  std::vector<std::vector<std::int64_t>> weights;
  std::vector<std::vector<P>> profits;
  std::int64_t capacity = 0;
};

template <class P>
struct ChoiceOutcome {
  bool feasible = true;
  bool optimal = true;
  P profit = 0;
  P upper_bound = 0;
  std::vector<std::size_t> choice;  // per class, the chosen item (empty when infeasible)
  Statistics statistics;
};

// Solves the multiple-choice knapsack problem exactly (unless the deadline passes); `target` as above.
template <class P>
ChoiceOutcome<P> solve_multiple_choice(const ChoiceClasses<P>& classes, const Search& search,
                                       std::optional<P> target = std::nullopt);

extern template ChoiceOutcome<std::int64_t> solve_multiple_choice(const ChoiceClasses<std::int64_t>&,
                                                                  const Search&, std::optional<std::int64_t>);
extern template ChoiceOutcome<int128> solve_multiple_choice(const ChoiceClasses<int128>&, const Search&,
                                                            std::optional<int128>);

}  // namespace reds::knapsack::detail
