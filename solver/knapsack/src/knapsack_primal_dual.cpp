// The 0-1 knapsack kernel: a primal-dual dynamic program on an expanding core, after D. Pisinger,
// "A minimal algorithm for the 0-1 knapsack problem", Operations Research 45 (1997) 758-767 (minknap),
// with the strong bounds of combo (Martello, Pisinger, Toth 1999) when the state set grows.
//
// The items are ordered by efficiency p/w, best first; the break solution takes the longest prefix that
// fits. The order is built only as far as the core reaches (Pisinger's partial sorting): partitions
// around a median of three find the break item in expected linear time and leave the items on either side
// in intervals, ordered among each other but not inside; when the core reaches an interval, its items
// that cannot flip are set apart without sorting, and the rest is partitioned again until the piece next
// to the core is small enough to sort. The far intervals of an easy instance are never sorted at all. A state
// is a solution that differs from the break solution only on the core, the items processed so far, which grow
// outward from the break item: adding an item to the right doubles the states into "without" and "with it",
// removing one to the left into "with" and "without". States are kept sorted by weight with strictly
// increasing profit (the others are dominated), and only while their bound reaches the threshold (the best
// profit known plus one; profits are divided by their gcd first):
//   weight <= c: profit + (c - weight) * e_t, e_t the efficiency of the next right item (no item that
//                could still be added is more efficient, and removing items only costs);
//   weight >  c: profit - (weight - c) * e_s, e_s the efficiency of the next left item (the overweight has
//                to be removed, at an efficiency of at least e_s),
// and, once the states outnumber Options::cardinality_states, the cardinality bound
// (knapsack_cardinality_bound.h).
// Items whose flip provably cannot reach the threshold (the Lagrangian bound at the break efficiency,
// Dembo and Hammer) never enter the core. Once the states outnumber Options::pairing_states, and again
// whenever they grew by a quarter since, every state is paired with one free item outside the core
// (knapsack_pairing.h) for a better solution. A cardinality bound that closes little of the root's gap and
// ranks items far from the break item first is dropped and brought in again only at ten times the states.
// The search ends when no state is left: the best solution found is optimal.
//
// Every state remembers which of the last 64 core items it flipped. A solution from a larger core is
// completed by solving the knapsack problem over the older core items with the target profit known.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <tuple>
#include <type_traits>
#include <utility>

#include "knapsack_cardinality_bound.h"
#include "knapsack_kernel.h"
#include "knapsack_pairing.h"
#include "knapsack_proportional.h"
#include "knapsack_states.h"

namespace reds::knapsack::detail {

namespace {

constexpr std::size_t kFlipBits = 64;
// The states a surrogate problem's search may create: of the side of at most b items (those of the
// classes measured need at most about 480,000) and of the side of at least b + 1 items, at most
// kAtLeastStatesPerItem per item (the classes measured need at most about 180,000 at n = 100,000 and
// 35,000 at n = 10,000; on inverse strongly correlated instances it can be a subset-sum-like problem
// harder than the problem: 700,000 states and five times the solve at n = 10,000 before it gave up).
constexpr std::int64_t kSurrogateStates = 500'000;
constexpr std::int64_t kAtLeastSurrogateStates = 200'000;
constexpr std::int64_t kAtLeastStatesPerItem = 20;
// The cardinality bound is kept when it leaves at most this share of the linear relaxation's gap above
// the threshold at the root (measured at n = 10,000: strongly, inverse strongly correlated and circle
// instances of R = 10^7 below 0.001; weakly correlated 0.94, circle of R = 10^3 0.90, almost strongly
// correlated 0.97, subset sum 1.0, grouped spanner items 1.0), else brought in again only at this many
// times the states.
constexpr long double kDecisiveGap = 0.85;
constexpr std::size_t kPostponedStates = 10;
// A weak cardinality bound is kept when its kSteeringItems best-ranked items lie within a kNearShare-th of
// the items' positions from the break item (measured at n = 10^4 and 10^5: almost strongly correlated
// within 65 positions of 8,000 to 100,000; weakly correlated and circle of R = 10^3 reach 1,000 to 80,000
// of 3,800 to 100,000; the 185 grouped items of spanner instances, 50 to 180 of them).
constexpr std::size_t kSteeringItems = 32;
constexpr std::size_t kNearShare = 32;
// ... and at least kSteeredItems items are open: with fewer, the core takes them all in any order (the
// uncorrelated and weakly correlated classes leave 40 to 160 at n = 10^4 to 10^6, almost strongly
// correlated 1,500 to 58,000).
constexpr std::size_t kSteeredItems = 512;
// A weak bound that leaves fewer than a kNearShare-th of the items open is not brought in again: on the
// uncorrelated and weakly correlated classes (under 0.7 % open at n = 10^4 to 10^6) it prunes little, and
// the core it orders by reduced profits creates up to four times the states (weakly correlated, R = 10^7,
// n = 10^6: 600 ms a solve with it at 20,000 states, 100 ms without). A few hundred grouped items, 1 to
// 35 % of them open (spanner instances whose multiples leave gaps, knapsack_proportional.h), need it back.

template <class P>
using State = ZeroOneState<P>;

// The best solution found: a state (after `processed` core items), possibly with one more item flipped.
template <class P>
struct Record {
  State<P> state;
  std::size_t processed = 0;
  std::optional<std::size_t> paired;
};

template <class P>
P gcd(P a, P b) {
  while (b != 0) a = std::exchange(b, a % b);
  return a;
}

// Whether a * u + b * v < 0: sign_of_sum's test, without its branches for 64-bit profits.
inline bool negative_sum(std::int64_t a, std::int64_t u, std::int64_t b, std::int64_t v) {
  return static_cast<int128>(a) * u + static_cast<int128>(b) * v < 0;
}
inline bool negative_sum(int128 a, std::int64_t u, int128 b, std::int64_t v) {
  return sign_of_sum(a, u, b, v) < 0;
}

// A linear bound for states on one side of the capacity (PrimalDual::cannot_improve): a state of weight w
// and profit p reaches the threshold only if (p - threshold) * weight + profit * (capacity - w) >= 0 and it
// weighs at most capacity + sheddable.
template <class P>
struct Bounds {
  std::int64_t capacity;
  P threshold;
  std::int64_t weight;
  P profit;
  std::int64_t sheddable;
};

// How a merge moves the states: unchanged (all zero), or with one item flipped.
template <class P>
struct Move {
  std::int64_t weight;
  P profit;
  std::uint64_t flip;
  std::int64_t count;
};

// Writes the states of [first, last), moved, to `out` and returns how many of them pass `bounds`: those
// are at the front. `out` may be `first` (in place). A function of its own (called for both sides and both
// lists) and without branches on the data, so that its variables stay in registers and a state costs a few
// instructions.
template <class P>
[[gnu::noinline]] std::size_t bound_states(const State<P>* first, const State<P>* last, const Move<P>& move,
                                           const Bounds<P>& bounds, State<P>* out) {
  const Move<P> by = move;
  const Bounds<P> bound = bounds;
  std::size_t kept = 0;
  for (const State<P>* state = first; state != last; ++state) {
    const std::int64_t weight = state->weight + by.weight;
    const P profit = static_cast<P>(state->profit + by.profit);
    out[kept] = {weight, profit, (state->flips << 1) | by.flip, state->count + by.count};
    const std::int64_t room = bound.capacity - weight;
    const bool passes =
        !negative_sum(static_cast<P>(profit - bound.threshold), bound.weight, bound.profit, room);
    kept += static_cast<std::size_t>(passes & (-room <= bound.sheddable));
  }
  return kept;
}

// The merge's output written over storage that also holds its unread input (merge_survivors): the
// interface keep_state uses, without a vector's capacity checks.
template <class P>
class StateSink {
 public:
  explicit StateSink(State<P>* first) : first_(first), end_(first) {}
  bool empty() const { return end_ == first_; }
  State<P>& back() { return end_[-1]; }
  void push_back(const State<P>& state) { *end_++ = state; }
  std::size_t size() const { return static_cast<std::size_t>(end_ - first_); }

 private:
  State<P>* first_;
  State<P>* end_;
};

// Where a cardinality bound's reduced profits would steer the core (PrimalDual::steering): the items
// they rank first lie near the break item or far from it, or too few items are open for the order to
// matter.
enum class Steering { near_break, far_from_break, few_open_items };

template <class P>
class PrimalDual {
 public:
  // `by_weight`: the items are in order of weight (as grouping leaves them), so that ties by index are
  // ties lightest first.
  // Takes the items over; with `buffers`, its arrays come from there and go back there.
  PrimalDual(KernelItems<P>&& items, const Search& search, std::optional<P> target, bool by_weight,
             ZeroOneBuffers* buffers)
      : search_(search), target_(target), by_weight_(by_weight), buffers_(buffers) {
    load_items(std::move(items));
  }

  KernelOutcome<P> solve();

 private:
  std::size_t size() const { return weights_.size(); }
  SortedItems<P> sorted() const { return {weights_, profits_, copies_, break_, capacity_}; }

  // Whether item a comes before item b in the efficiency order (ties lightest first, then by index), and the
  // same for item keys taken out of the arrays (a partition's pivot).
  struct Key {
    std::int64_t weight;
    P profit;
    std::size_t original;
  };
  Key key(std::size_t j) const { return {weights_[j], profits_[j], original_[j]}; }
  bool before(const Key& a, const Key& b) const;
  // before() where p_a / w_a and p_b / w_b are too close for double to tell: the exact products decide.
  bool exactly_before(const Key& a, const Key& b) const;
  [[gnu::always_inline]] void swap_items(std::size_t a, std::size_t b);
  // Moves the items of [first, last) for which `first_part` holds to its front; returns where the others
  // start.
  template <class Predicate>
  std::size_t partition(std::size_t first, std::size_t last, Predicate first_part);
  // Whether item j comes before the item of `pivot` (before()), the pivot's values converted once: a
  // partition reads only the item's weight and profit, and only near-ties, rare, take the exact test.
  struct Pivot {
    Key key;
    double weight;
    double profit;
  };
  [[gnu::always_inline]] bool precedes(std::size_t j, const Pivot& pivot) const;
  // Partitions [first, last) (at least three items) around the median of its first, middle and last
  // items, which ends at the returned position: the items before it come first in efficiency order.
  std::size_t partition_at_median(std::size_t first, std::size_t last);
  void sort_range(std::size_t first, std::size_t last);
  void load_items(KernelItems<P>&& items);
  void find_break_item();
  // Two items whose efficiencies likely bracket the break item's closely, estimated from a sample.
  struct Bracket {
    Key ahead;   // the more efficient
    Key behind;  // the less efficient
    bool early;  // the break item likely lies in the more efficient half of the items
  };
  Bracket sampled_bracket() const;
  // Brings the next interval on the right (left) of the ordered positions into order: its fixed items
  // next to the ordered ones, then its free items, the nearest of them sorted (all of them when
  // `whole`). False when there is none.
  bool extend_right(bool whole = false);
  bool extend_left(bool whole = false);
  // Extends weight_through_ to left_end_.
  void extend_weight_through();
  // Brings every item into order: the tools that look at all items need their positions to stay.
  void order_all();
  // The greedy over the items of [first, last), whose order is unknown, with `room` left.
  void greedy_over(std::size_t first, std::size_t last, std::int64_t& room, P& profit);
  // The greedy solution (the break solution, then every item that still fits) is the first incumbent.
  void greedy();
  // True when flipping item `j` away from its break-solution value cannot reach the threshold.
  bool fixed(std::size_t j) const;
  // Moves right_ and left_ past the items in the core or fixed.
  void advance_frontier();
  // The next item for the core, or none when every item is in the core or fixed.
  std::optional<std::size_t> next_core_item();
  void improve(const State<P>& state, std::optional<std::size_t> paired);
  void run();
  void process(std::size_t j, bool add);
  // process() without the cardinality bound: the candidates whose linear bound reaches the threshold
  // first, then the merge of those.
  void merge_survivors(std::int64_t delta_weight, P delta_profit, std::int64_t delta_count);
  // Whether no completion of the state reaches the threshold; a `scan` evaluates the cardinality bound
  // faster for states of nondecreasing weight.
  [[gnu::always_inline]] bool cannot_improve(const State<P>& state,
                                             typename CardinalityBound<P>::Scan* scan = nullptr) const;
  // The free items on either side of the break item by weight, for pairing.
  void sort_by_weight();
  // Whether the linear relaxation of the whole problem stays below the threshold.
  bool root_cannot_improve() const;
  // The linear relaxation's bound, approximately.
  long double linear_bound() const;
  // The free items (not fixed) and which items the core has not decided, for the cardinality bound.
  void relaxed_items(std::vector<std::size_t>& free_items, std::vector<bool>& outside_core) const;
  // Builds the cardinality bound once the states outnumber search_.cardinality_states, restarting the search
  // with it; rebuilds its relaxation when the core grew or the threshold rose since.
  void update_cardinality_bound();
  // A fresh search from the break solution, the best solution so far kept as the incumbent.
  void restart();
  // Solves the cardinality bound's surrogate problems: each closes its side, or bounds it at least.
  void solve_surrogates();
  // A better solution found outside the states, explicitly (by position).
  void adopt(const std::vector<char>& solution, P profit);
  // The core grows in the order of the cardinality bound's reduced profits from now on.
  void order_core();
  // Whether the items (of `free_items`) whose flip keeps the cardinality bound highest all lie near the
  // break item (near_break), some lie far from it (far_from_break), or too few items are open for their
  // order to matter (few_open_items).
  Steering steering(const std::vector<std::size_t>& free_items) const;
  // Whether the items (of `free_items`) outside the core are fewer than a kNearShare-th of all items.
  bool few_open(const std::vector<std::size_t>& free_items) const;
  void pair_states();
  P upper_bound();
  // The best solution, by the index among the items given; `passes` counts the solves of older core items it
  // needed.
  std::vector<char> best_solution(std::int64_t& passes) const;
  // Leaves the arrays of one entry per item in buffers_.
  void give_back_arrays();

  const Search& search_;
  std::optional<P> target_;
  bool by_weight_;
  ZeroOneBuffers* buffers_;

  // The items by position, in efficiency order on [left_end_, right_end_) (a position's item stays there
  // from then on), in intervals of unknown order outside it; original_[j] is the index among the items given.
  std::vector<std::int64_t> weights_;
  std::vector<P> profits_;
  std::vector<std::int64_t> copies_;
  bool unit_copies_ = false;  // every item stands for one: the moves leave copies_ as it is
  std::vector<std::size_t> original_;
  std::vector<char> fixed_;  // set apart as fixed when its interval came into order (fixing is for good)
  struct Interval {
    std::size_t first;
    std::size_t last;
  };
  // The intervals on either side of the ordered positions, the nearest last: they tile [0, left_end_) and
  // [right_end_, size()), and every item of an interval comes after those of the intervals before it.
  std::vector<Interval> left_intervals_;
  std::vector<Interval> right_intervals_;
  std::size_t left_end_ = 0;
  std::size_t right_end_ = 0;
  bool all_ordered_ = false;
  // The weight of the positions 0..j for j in [left_end_, break_), at index break_ - 1 - j.
  std::vector<std::int64_t> weight_through_;
  std::vector<std::size_t> candidates_;  // scratch of greedy_over
  std::int64_t capacity_ = 0;

  std::size_t break_ = 0;  // the break item: 0..break_-1 form the break solution
  std::int64_t break_weight_ = 0;
  P break_profit_ = 0;
  std::int64_t break_count_ = 0;  // original items in the break solution

  P best_ = 0;       // the best profit found, or target - 1
  P threshold_ = 0;  // best_ + 1: the smallest profit still worth finding
  // The best solution known explicitly (by the index among the items given), unless record_ beats it.
  std::vector<char> incumbent_;
  std::optional<Record<P>> record_;

  // The current states and the next merge's. Growing them writes nothing, so that only the pages the
  // states reach are touched (a fresh workspace faults in each page it writes).
  UninitializedVector<State<P>> states_;
  UninitializedVector<State<P>> next_states_;
  std::vector<std::size_t> processed_;  // core items in processing order
  std::vector<bool> in_core_;
  // The first free item outside the core from the break item on, and the last one before it: the most
  // efficient item a state can still add, the least efficient it can still remove.
  std::size_t right_ = 0;
  std::ptrdiff_t left_ = 0;
  // Once the cardinality bound exists, the core grows in the order of its reduced profits instead.
  std::vector<std::size_t> queue_;
  bool core_by_bound_ = false;
  std::size_t queued_ = 0;
  // The items from the break item on and before it by weight, from the first pairing on.
  std::vector<std::size_t> right_by_weight_;
  std::vector<std::size_t> left_by_weight_;
  std::optional<Pairing<P>> pairing_;
  std::size_t paired_core_ = 0;
  std::size_t next_pairing_ =
      0;  // the states that call for pairing again  // the core's size when pairing_ was built
  std::unique_ptr<CardinalityBound<P>> cardinality_;
  // fixed()'s terms independent of the item, (break_profit - threshold) * w_b + p_b * (c - break_weight),
  // as of fixing_threshold_ (64-bit profits only).
  mutable std::optional<P> fixing_threshold_;
  mutable int128 fixing_constant_ = 0;
  std::size_t cardinality_states_ = search_.cardinality_states;  // the states that bring it in
  std::size_t relaxed_core_ = 0;  // core size and threshold when the cardinality relaxation was built
  P relaxed_threshold_ = 0;
  bool stopped_ = false;  // by the deadline or the state budget
  Statistics statistics_;
};

// An interval of at most this many items is sorted rather than partitioned.
constexpr std::size_t kSortedPiece = 32;

template <class P>
bool PrimalDual<P>::before(const Key& a, const Key& b) const {
  // p_a * w_b against p_b * w_a in double decides unless the two are within their rounding error (three
  // roundings of a relative 2^-53 each) of each other; then the exact products do.
  constexpr double kMargin = 1 + 0x1p-48;
  const double first = static_cast<double>(a.profit) * static_cast<double>(b.weight);
  const double second = static_cast<double>(b.profit) * static_cast<double>(a.weight);
  if (first > second * kMargin) return true;
  if (second > first * kMargin) return false;
  return exactly_before(a, b);
}

template <class P>
bool PrimalDual<P>::exactly_before(const Key& a, const Key& b) const {
  const int sign = sign_of_sum(a.profit, b.weight, static_cast<P>(-b.profit), a.weight);
  // Equally efficient items lightest first (the order identical items are grouped in): the relaxations
  // of the cardinality bound partition them fastest that way.
  if (sign != 0) return sign > 0;
  return by_weight_ || a.weight == b.weight ? a.original < b.original : a.weight < b.weight;
}

template <class P>
inline void PrimalDual<P>::swap_items(std::size_t a, std::size_t b) {
  std::swap(weights_[a], weights_[b]);
  std::swap(profits_[a], profits_[b]);
  if (!unit_copies_) std::swap(copies_[a], copies_[b]);
  std::swap(original_[a], original_[b]);
}

template <class P>
template <class Predicate>
std::size_t PrimalDual<P>::partition(std::size_t first, std::size_t last, Predicate first_part) {
  while (true) {
    while (first < last && first_part(first)) ++first;
    while (first < last && !first_part(last - 1)) --last;
    if (last - first < 2) return first;
    swap_items(first++, --last);
  }
}

template <class P>
inline bool PrimalDual<P>::precedes(std::size_t j, const Pivot& pivot) const {
  constexpr double kMargin = 1 + 0x1p-48;  // before()'s
  const double first = static_cast<double>(profits_[j]) * pivot.weight;
  const double second = pivot.profit * static_cast<double>(weights_[j]);
  const bool ahead = first > second * kMargin;
  const bool behind = second > first * kMargin;
  if (ahead | behind) [[likely]]
    return ahead;
  return exactly_before(key(j), pivot.key);
}

template <class P>
std::size_t PrimalDual<P>::partition_at_median(std::size_t first, std::size_t last) {
  const std::size_t middle = first + (last - first) / 2;
  const std::size_t end = last - 1;
  // Sorts the three so that the median is in the middle, then parks it at the end.
  if (before(key(middle), key(first))) swap_items(middle, first);
  if (before(key(end), key(middle))) {
    swap_items(end, middle);
    if (before(key(middle), key(first))) swap_items(middle, first);
  }
  swap_items(middle, end);
  const Key pivot_key = key(end);
  const Pivot pivot{pivot_key, static_cast<double>(pivot_key.weight), static_cast<double>(pivot_key.profit)};
  const std::size_t split = partition(first, end, [&](std::size_t j) { return precedes(j, pivot); });
  swap_items(split, end);
  return split;
}

template <class P>
void PrimalDual<P>::sort_range(std::size_t first, std::size_t last) {
  if (last - first <= kSortedPiece) {
    for (std::size_t i = first + 1; i < last; ++i)
      for (std::size_t k = i; k > first && before(key(k), key(k - 1)); --k) swap_items(k, k - 1);
    return;
  }
  std::vector<Key> keys;
  keys.reserve(last - first);
  for (std::size_t j = first; j < last; ++j) keys.push_back(key(j));
  std::vector<std::int64_t> copies;
  if (!unit_copies_)
    copies.assign(copies_.begin() + static_cast<std::ptrdiff_t>(first),
                  copies_.begin() + static_cast<std::ptrdiff_t>(last));
  // A sort on double quotients, contiguous (before() on the keys through an index array costs a cache miss
  // a comparison: a quarter of a solve at n = 100,000), then an insertion pass with before() that moves
  // the few items rounding misplaced. Equal quotients fall back on before()'s order, so that exact ties
  // (identical efficiencies, whose quotients round alike) arrive in place.
  std::vector<KeyedItem> quotients;
  quotients.reserve(last - first);
  for (std::size_t i = 0; i < keys.size(); ++i)
    quotients.push_back(
        {descending_key(static_cast<double>(keys[i].profit) / static_cast<double>(keys[i].weight)), i});
  radix_sort(quotients);
  // Equal quotients in exactly_before()'s order of ties (subset-sum instances tie everywhere).
  for (auto run = quotients.begin(); run != quotients.end();) {
    const auto run_end =
        std::find_if(run, quotients.end(), [&](const KeyedItem& q) { return q.key != run->key; });
    if (run_end - run > 1)
      std::sort(run, run_end, [&](const KeyedItem& a, const KeyedItem& b) {
        const Key& u = keys[a.item];
        const Key& v = keys[b.item];
        return by_weight_ || u.weight == v.weight ? u.original < v.original : u.weight < v.weight;
      });
    run = run_end;
  }
  std::vector<std::size_t> order(last - first);
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = quotients[i].item;
    for (std::size_t k = i; k > 0 && before(keys[order[k]], keys[order[k - 1]]); --k)
      std::swap(order[k], order[k - 1]);
  }
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Key& item = keys[order[i]];
    weights_[first + i] = item.weight;
    profits_[first + i] = item.profit;
    original_[first + i] = item.original;
    if (!unit_copies_) copies_[first + i] = copies[order[i]];
  }
}

template <class P>
void PrimalDual<P>::load_items(KernelItems<P>&& items) {
  const std::size_t n = items.weights.size();
  weights_ = std::move(items.weights);
  profits_ = std::move(items.profits);
  copies_ = std::move(items.copies);
  unit_copies_ = std::all_of(copies_.begin(), copies_.end(), [](std::int64_t copies) { return copies == 1; });
  original_ = reuse(buffers_ ? &buffers_->original : nullptr);
  original_.resize(n);
  std::iota(original_.begin(), original_.end(), std::size_t{0});
  fixed_ = reuse(buffers_ ? &buffers_->fixed : nullptr);
  fixed_.assign(n, 0);
  if constexpr (std::is_same_v<P, std::int64_t>) {
    if (buffers_) {
      states_ = reuse(&buffers_->states);
      next_states_ = reuse(&buffers_->next_states);
    }
  }
  capacity_ = items.capacity;
}

// From this many items on, the break item is first bracketed by two pivots from a sample (at n = 10^4 the
// sample's sort took about what the partitions saved).
constexpr std::size_t kSampledItems = 32768;

template <class P>
typename PrimalDual<P>::Bracket PrimalDual<P>::sampled_bracket() const {
  // s = 4 sqrt(n) items evenly spread, in efficiency order: the weight of the items before a sampled
  // one is about n / s times the sample's, whose position where that reaches the capacity estimates the
  // break item's, give or take sqrt(s) sample positions; the pivots lie 2 sqrt(s) either side.
  const std::size_t n = size();
  const auto sampled = static_cast<std::size_t>(4 * std::sqrt(static_cast<double>(n)));
  const auto margin = static_cast<std::size_t>(std::ceil(2 * std::sqrt(static_cast<double>(sampled))));
  // The pivots need not be exact: the sample is ordered by efficiency in double, ties lightest first.
  struct Sampled {
    double efficiency;
    Key key;
  };
  std::vector<Sampled> sample;
  sample.reserve(sampled);
  for (std::size_t i = 0; i < sampled; ++i) {
    const Key item = key(i * n / sampled);
    sample.push_back({static_cast<double>(item.profit) / static_cast<double>(item.weight), item});
  }
  std::sort(sample.begin(), sample.end(), [](const Sampled& a, const Sampled& b) {
    return a.efficiency > b.efficiency || (a.efficiency == b.efficiency && a.key.weight < b.key.weight);
  });
  const long double scale = static_cast<long double>(n) / static_cast<long double>(sampled);
  long double weight = 0;
  std::size_t estimate = 0;
  while (estimate + 1 < sampled && (weight += static_cast<long double>(sample[estimate].key.weight) *
                                              scale) <= static_cast<long double>(capacity_))
    ++estimate;
  return {sample[estimate > margin ? estimate - margin : 0].key,
          sample[std::min(estimate + margin, sampled - 1)].key, 2 * estimate < sampled};
}

template <class P>
void PrimalDual<P>::find_break_item() {
  // Partitions narrow [first, last) down to the break item: the intervals before it fit whole, those
  // after it do not. A run of bad pivots (a median-of-three killer) ends in a sort.
  std::size_t first = 0;
  std::size_t last = size();
  std::int64_t weight = 0;  // of the positions before first
  if (size() >= kSampledItems) {
    // Two partitions around sampled pivots leave a part of about 4 n / sqrt(s) items around the break
    // item (Floyd and Rivest's selection): with medians of three alone, the partitions visit 1.5 to 4
    // times n items on the easy classes (n = 10^4 to 10^6), with these 1.2 to 1.7 times at 10^6. The one
    // that leaves the smaller part goes first; the other only if the break item lies on its side of the
    // first.
    const Bracket bracket = sampled_bracket();
    const auto split_at = [&](const Key& pivot_key) {
      const Pivot pivot{pivot_key, static_cast<double>(pivot_key.weight),
                        static_cast<double>(pivot_key.profit)};
      const std::size_t split = partition(first, last, [&](std::size_t j) { return precedes(j, pivot); });
      std::int64_t before_split = 0;
      for (std::size_t j = first; j < split; ++j) before_split += weights_[j];
      if (weight + before_split <= capacity_) {  // the break item comes after the pivot
        if (first < split) left_intervals_.push_back({first, split});
        weight += before_split;
        first = split;
        return false;
      }
      if (split < last) right_intervals_.push_back({split, last});
      last = split;
      return true;
    };
    if (bracket.early) {
      if (split_at(bracket.behind)) split_at(bracket.ahead);
    } else if (!split_at(bracket.ahead)) {
      split_at(bracket.behind);
    }
  }
  for (int rounds = 0; last - first > kSortedPiece; ++rounds) {
    if (rounds == 64) {
      sort_range(first, last);
      break;
    }
    const std::size_t split = partition_at_median(first, last);
    std::int64_t before_split = 0;
    for (std::size_t j = first; j < split; ++j) before_split += weights_[j];
    if (weight + before_split + weights_[split] <= capacity_) {
      left_intervals_.push_back({first, split + 1});
      weight += before_split + weights_[split];
      first = split + 1;
    } else if (weight + before_split > capacity_) {
      right_intervals_.push_back({split, last});
      last = split;
    } else {  // the pivot is the break item
      if (first < split) left_intervals_.push_back({first, split});
      if (split + 1 < last) right_intervals_.push_back({split + 1, last});
      weight += before_split;
      first = split;
      last = split + 1;
    }
  }
  if (last - first <= kSortedPiece) sort_range(first, last);
  break_ = first;
  while (break_ < last && weight + weights_[break_] <= capacity_) weight += weights_[break_++];
  left_end_ = first;
  right_end_ = last;
  for (std::size_t j = 0; j < break_; ++j) {
    break_weight_ += weights_[j];
    break_profit_ += profits_[j];
    break_count_ += copies_[j];
  }
  weight_through_.reserve(break_);
  extend_weight_through();
}

template <class P>
void PrimalDual<P>::extend_weight_through() {
  while (weight_through_.size() < break_ - left_end_) {
    const std::size_t i = weight_through_.size();
    weight_through_.push_back(i == 0 ? break_weight_ : weight_through_[i - 1] - weights_[break_ - i]);
  }
}

template <class P>
bool PrimalDual<P>::extend_right(bool whole) {
  if (right_intervals_.empty()) return false;
  const Interval interval = right_intervals_.back();
  right_intervals_.pop_back();
  const std::size_t free_first =
      partition(interval.first, interval.last, [&](std::size_t j) { return fixed(j); });
  for (std::size_t j = interval.first; j < free_first; ++j) fixed_[j] = 1;
  std::size_t last = interval.last;
  for (int rounds = 0; !whole && last - free_first > kSortedPiece && rounds < 64; ++rounds) {
    const std::size_t split = partition_at_median(free_first, last);
    if (split + 1 < last) right_intervals_.push_back({split + 1, last});
    last = split + 1;
  }
  sort_range(free_first, last);
  right_end_ = last;
  return true;
}

template <class P>
bool PrimalDual<P>::extend_left(bool whole) {
  if (left_intervals_.empty()) return false;
  const Interval interval = left_intervals_.back();
  left_intervals_.pop_back();
  const std::size_t free_last =
      partition(interval.first, interval.last, [&](std::size_t j) { return !fixed(j); });
  for (std::size_t j = free_last; j < interval.last; ++j) fixed_[j] = 1;
  std::size_t first = interval.first;
  for (int rounds = 0; !whole && free_last - first > kSortedPiece && rounds < 64; ++rounds) {
    const std::size_t split = partition_at_median(first, free_last);
    if (first < split) left_intervals_.push_back({first, split});
    first = split;
  }
  sort_range(first, free_last);
  left_end_ = first;
  extend_weight_through();
  return true;
}

template <class P>
void PrimalDual<P>::order_all() {
  if (all_ordered_) return;
  while (extend_right(true)) {
  }
  while (extend_left(true)) {
  }
  all_ordered_ = true;
}

template <class P>
void PrimalDual<P>::greedy_over(std::size_t first, std::size_t last, std::int64_t& room, P& profit) {
  // Item by item in efficiency order, as if sorted: the most efficient item that fits, again and again,
  // over the items that fit at all; a long list of those is sorted instead.
  constexpr std::size_t kScanned = 64;
  candidates_.clear();
  for (std::size_t j = first; j < last; ++j)
    if (weights_[j] <= room) candidates_.push_back(j);
  const auto take = [&](std::size_t j) {
    incumbent_[original_[j]] = true;
    room -= weights_[j];
    profit += profits_[j];
  };
  while (!candidates_.empty()) {
    if (candidates_.size() > kScanned) {
      std::sort(candidates_.begin(), candidates_.end(),
                [&](std::size_t a, std::size_t b) { return before(key(a), key(b)); });
      for (const std::size_t j : candidates_)
        if (weights_[j] <= room) take(j);
      return;
    }
    std::size_t best = candidates_.front();
    for (const std::size_t j : candidates_)
      if (before(key(j), key(best))) best = j;
    take(best);
    std::size_t kept = 0;
    for (const std::size_t j : candidates_)
      if (j != best && weights_[j] <= room) candidates_[kept++] = j;
    candidates_.resize(kept);
  }
}

template <class P>
void PrimalDual<P>::greedy() {
  incumbent_ = reuse(buffers_ ? &buffers_->incumbent : nullptr);
  incumbent_.assign(size(), false);
  for (std::size_t j = 0; j < break_; ++j) incumbent_[original_[j]] = true;
  std::int64_t room = capacity_ - break_weight_;
  P profit = break_profit_;
  for (std::size_t j = break_ + 1; j < right_end_; ++j) {
    if (weights_[j] > room) continue;
    incumbent_[original_[j]] = true;
    room -= weights_[j];
    profit += profits_[j];
  }
  for (auto interval = right_intervals_.rbegin(); interval != right_intervals_.rend() && room > 0; ++interval)
    greedy_over(interval->first, interval->last, room, profit);
  // With a target the search records the solutions that reach it; a greedy one below is of no use.
  best_ = !target_ || profit >= *target_ ? profit : static_cast<P>(*target_ - 1);
  threshold_ = best_ + 1;
}

template <class P>
inline bool PrimalDual<P>::fixed(std::size_t j) const {
  // Lagrangian bound with multiplier e_b = p_b / w_b and item j flipped, times w_b:
  //   (break_profit -/+ p_j) * w_b + p_b * (c - break_weight +/- w_j) < threshold * w_b.
  const std::int64_t w_b = weights_[break_];
  const P p_b = profits_[break_];
  if constexpr (std::is_same_v<P, std::int64_t>) {
    // In 128 bits, with the terms that do not depend on j computed once per threshold: every item
    // the core reaches is tested, on an easy instance nearly every item.
    if (!fixing_threshold_ || *fixing_threshold_ != threshold_) {
      fixing_threshold_ = threshold_;
      fixing_constant_ = static_cast<int128>(break_profit_ - threshold_) * w_b +
                         static_cast<int128>(p_b) * (capacity_ - break_weight_);
    }
    const int128 reduced = static_cast<int128>(profits_[j]) * w_b - static_cast<int128>(p_b) * weights_[j];
    const bool plain = (j >= break_ ? fixing_constant_ + reduced : fixing_constant_ - reduced) < 0;
    return plain || (cardinality_ && cardinality_->fixes(j));
  }
  const bool plain = j >= break_ ? sign_of_sum(static_cast<P>(break_profit_ + profits_[j] - threshold_), w_b,
                                               p_b, capacity_ - break_weight_ - weights_[j]) < 0
                                 : sign_of_sum(static_cast<P>(break_profit_ - profits_[j] - threshold_), w_b,
                                               p_b, capacity_ - break_weight_ + weights_[j]) < 0;
  return plain || (cardinality_ && cardinality_->fixes(j));
}

template <class P>
void PrimalDual<P>::advance_frontier() {
  const auto settled = [&](std::size_t j) { return in_core_[j] || fixed_[j] || fixed(j); };
  while (right_ < size()) {
    if (right_ == right_end_) extend_right();
    if (!settled(right_)) break;
    ++right_;
  }
  while (left_ >= 0) {
    const auto j = static_cast<std::size_t>(left_);
    if (j < left_end_) extend_left();
    if (!settled(j)) break;
    --left_;
  }
}

template <class P>
std::optional<std::size_t> PrimalDual<P>::next_core_item() {
  advance_frontier();
  if (!core_by_bound_) {
    // Alternately the next item on either side of the break item, as long as there is one.
    const bool right_turn = processed_.size() % 2 == 0;
    if (right_ < size() && (right_turn || left_ < 0)) return right_;
    if (left_ >= 0) return static_cast<std::size_t>(left_);
    return std::nullopt;
  }
  while (queued_ < queue_.size()) {
    const std::size_t j = queue_[queued_++];
    if (!in_core_[j] && !fixed(j)) return j;
  }
  return std::nullopt;
}

template <class P>
void PrimalDual<P>::improve(const State<P>& state, std::optional<std::size_t> paired) {
  const P profit =
      paired ? static_cast<P>(state.profit + (*paired >= break_ ? profits_[*paired] : -profits_[*paired]))
             : state.profit;
  if (profit < threshold_) return;
  best_ = profit;
  threshold_ = best_ + 1;
  record_ = Record<P>{state, processed_.size(), paired};
  if (cardinality_) cardinality_->raise_threshold(threshold_);
}

// Inline: called for every state of every merge, through keep_state's callback, where GCC would otherwise
// leave it a call (about 5 % more instructions on the spanner instances).
template <class P>
inline bool PrimalDual<P>::cannot_improve(const State<P>& state,
                                          typename CardinalityBound<P>::Scan* scan) const {
  const P margin = static_cast<P>(state.profit - threshold_);
  if (state.weight <= capacity_) {
    if (right_ >= size()) return margin < 0;
    if (sign_of_sum(margin, weights_[right_], profits_[right_], capacity_ - state.weight) < 0) return true;
  } else {
    if (left_ < 0) return true;
    const auto s = static_cast<std::size_t>(left_);
    if (state.weight - capacity_ > weight_through_[break_ - 1 - s])
      return true;  // cannot shed the overweight
    if (sign_of_sum(margin, weights_[s], profits_[s], capacity_ - state.weight) < 0) return true;
  }
  if (!cardinality_) return false;
  return scan ? scan->cannot_reach(state.weight, state.profit, state.count)
              : cardinality_->cannot_reach(state.weight, state.profit, state.count);
}

template <class P>
bool PrimalDual<P>::root_cannot_improve() const {
  // The linear relaxation's bound: break solution plus the break item's fraction of the residual.
  return sign_of_sum(static_cast<P>(break_profit_ - threshold_), weights_[break_], profits_[break_],
                     capacity_ - break_weight_) < 0;
}

template <class P>
long double PrimalDual<P>::linear_bound() const {
  return static_cast<long double>(break_profit_) + static_cast<long double>(capacity_ - break_weight_) *
                                                       static_cast<long double>(profits_[break_]) /
                                                       static_cast<long double>(weights_[break_]);
}

template <class P>
void PrimalDual<P>::process(std::size_t j, bool add) {
  processed_.push_back(j);
  in_core_[j] = true;
  advance_frontier();  // the bounds of the new states look past j
  const std::int64_t delta_weight = add ? weights_[j] : -weights_[j];
  const P delta_profit = add ? profits_[j] : static_cast<P>(-profits_[j]);
  const std::int64_t counted = cardinality_ ? cardinality_->counted(j) : copies_[j];
  const std::int64_t delta_count = add ? counted : -counted;
  if (!cardinality_) {
    merge_survivors(delta_weight, delta_profit, delta_count);
    return;
  }

  next_states_.clear();
  const std::size_t count = states_.size();
  next_states_.reserve(2 * count);
  typename CardinalityBound<P>::Scan scan(*cardinality_);
  std::size_t unchanged = 0;
  std::size_t flipped = 0;
  while (unchanged < count || flipped < count) {
    State<P> candidate;
    const bool take_unchanged =
        flipped == count ||
        (unchanged < count && (states_[unchanged].weight < states_[flipped].weight + delta_weight ||
                               (states_[unchanged].weight == states_[flipped].weight + delta_weight &&
                                states_[unchanged].profit >= states_[flipped].profit + delta_profit)));
    if (take_unchanged) {
      candidate = states_[unchanged++];
      candidate.flips <<= 1;
    } else {
      const State<P>& source = states_[flipped++];
      candidate = {source.weight + delta_weight, static_cast<P>(source.profit + delta_profit),
                   (source.flips << 1) | 1, source.count + delta_count};
    }
    keep_state(
        next_states_, candidate, capacity_, threshold_,
        [&](const State<P>& state) { improve(state, std::nullopt); },
        [&](const State<P>& state) { return cannot_improve(state, &scan); });
  }
  adopt_states(states_, next_states_, statistics_);
}

template <class P>
void PrimalDual<P>::merge_survivors(std::int64_t delta_weight, P delta_profit, std::int64_t delta_count) {
  // cannot_improve's linear bounds with the frontier read once: a state within the capacity is bounded
  // with the next item on the right (with none, by its profit: weight 1, profit 0), an overweight one
  // with the next on the left (with none, it dies: weight 0, profit 1 make the sum its negative room), as
  // it does when it outweighs the removable items together (`sheddable`).
  Bounds<P> under{capacity_, threshold_, 1, 0, std::numeric_limits<std::int64_t>::max()};
  if (right_ < size()) {
    under.weight = weights_[right_];
    under.profit = profits_[right_];
  }
  Bounds<P> over{capacity_, threshold_, 0, 1, -1};
  if (left_ >= 0) {
    const auto s = static_cast<std::size_t>(left_);
    over.weight = weights_[s];
    over.profit = profits_[s];
    over.sheddable = weight_through_[break_ - 1 - s];
  }
  // Every candidate's bound first: the survivors of either list, the moved states' in the idle list
  // next_states_ from position `count` on, the unchanged ones' in place (states_ holds them from then
  // on). The states are by weight, so those within the capacity come first, moved or not. The merge then
  // writes next_states_ from its start: its k-th write follows at least k reads, and at most `count` of
  // them are unchanged states, so it never overwrites a moved state before reading it. No array of its
  // own holds the moved states, whose pages a fresh workspace would fault in on every solve.
  const std::size_t count = states_.size();
  next_states_.clear();  // nothing to copy if it grows
  next_states_.resize(2 * count + 1);
  State<P>* const moves = next_states_.data() + count;
  const Move<P> unchanged{0, 0, 0, 0};
  const Move<P> flipped{delta_weight, delta_profit, 1, delta_count};
  const auto split = [&](std::int64_t shift) {
    return static_cast<std::size_t>(
        std::partition_point(states_.begin(), states_.end(),
                             [&](const State<P>& state) { return state.weight + shift <= capacity_; }) -
        states_.begin());
  };
  const std::size_t stay_over = split(0);
  const std::size_t move_over = split(delta_weight);
  State<P>* const first = states_.data();
  std::size_t move_count = bound_states(first, first + move_over, flipped, under, moves);
  move_count += bound_states(first + move_over, first + count, flipped, over, moves + move_count);
  std::size_t stay_count = bound_states(first, first + stay_over, unchanged, under, first);
  stay_count += bound_states(first + stay_over, first + count, unchanged, over, first + stay_count);
  // Sentinels heavier than every state end both lists.
  states_.resize(stay_count + 1);
  states_[stay_count].weight = kWeightLimit;
  moves[move_count].weight = kWeightLimit;
  const State<P>* const stays = states_.data();

  const P threshold = threshold_;
  StateSink<P> kept{next_states_.data()};
  std::size_t stay = 0;
  std::size_t move = 0;
  for (std::size_t step = stay_count + move_count; step > 0; --step) {
    const bool take_stay =
        stays[stay].weight < moves[move].weight ||
        (stays[stay].weight == moves[move].weight && stays[stay].profit >= moves[move].profit);
    // By reference: when it is a moved state, the kept one is written at its place or before it.
    const State<P>& candidate = take_stay ? stays[stay++] : moves[move++];
    // A candidate that survived the threshold of the pass is tested again only if a solution found
    // during the merge raised it.
    keep_state(
        kept, candidate, capacity_, threshold_, [&](const State<P>& state) { improve(state, std::nullopt); },
        [&](const State<P>& state) { return threshold_ != threshold && cannot_improve(state); });
  }
  next_states_.resize(kept.size());
  adopt_states(states_, next_states_, statistics_);
}

template <class P>
void PrimalDual<P>::relaxed_items(std::vector<std::size_t>& free_items,
                                  std::vector<bool>& outside_core) const {
  free_items.clear();
  outside_core.assign(size(), true);
  for (const std::size_t j : processed_) outside_core[j] = false;
  // fixed_ first: on an easy instance nearly every item was set apart when its interval came into order.
  for (std::size_t j = 0; j < size(); ++j)
    if (!fixed_[j] && !fixed(j)) free_items.push_back(j);
}

template <class P>
void PrimalDual<P>::update_cardinality_bound() {
  std::vector<std::size_t> free_items;
  std::vector<bool> outside_core;
  if (!cardinality_) {
    if (states_.size() < cardinality_states_) return;
    order_all();
    relaxed_items(free_items, outside_core);
    cardinality_ = CardinalityBound<P>::build(sorted(), free_items, std::move(outside_core), threshold_);
    statistics_.cardinality_bound = true;
    // A bound that closes little of the root's gap costs every state a second bound and, when its reduced
    // profits rank items far from the break item first, steers the core away from where the efficiencies'
    // bounds prune: measured on the weakly correlated and circle classes, the search is faster without it
    // until the states grow much further. The almost strongly correlated class leaves as much of the gap
    // open, but its bound ranks items next to the break item first and the search needs it early. Where
    // such a bound leaves only a few of the items open, it never comes back (few_open).
    // Brought in again, a weak bound that still ranks far items first leaves for good: on circle
    // instances of R = 10^3 and n = 10^5 the core it steers creates six times the states (30 million and
    // 450 ms on the slowest, against 4.9 million and 50 ms without it), while a few hundred grouped items
    // (spanner instances whose multiples leave gaps), which the core takes in any order, need it back.
    const bool postponed = cardinality_states_ != search_.cardinality_states;
    if (cardinality_->root_bound() - static_cast<long double>(threshold_) >
        kDecisiveGap * (linear_bound() - static_cast<long double>(threshold_))) {
      const Steering steers = steering(free_items);
      if (!postponed && steers != Steering::near_break) {
        cardinality_.reset();
        cardinality_states_ = few_open(free_items) ? std::numeric_limits<std::size_t>::max()
                                                   : kPostponedStates * search_.cardinality_states;
        return;
      }
      if (postponed && steers == Steering::far_from_break) {
        cardinality_.reset();
        cardinality_states_ = std::numeric_limits<std::size_t>::max();
        return;
      }
    }
    solve_surrogates();
    if (cardinality_->all_closed()) return;  // nothing reaches the threshold: best_ is optimal
    // The states count all their items: a bound that counts only the heavier ones needs a fresh start.
    if (!cardinality_->counts_all()) {
      cardinality_->restrict(std::move(free_items), std::vector<bool>(size(), true));
      restart();
    } else {
      cardinality_->relax_open_sides();
    }
    order_core();
  } else if (4 * processed_.size() >= 5 * relaxed_core_ || threshold_ > relaxed_threshold_) {
    // The states' relaxation still counts items the core has decided since, or that are fixed now.
    relaxed_items(free_items, outside_core);
    cardinality_->restrict(std::move(free_items), std::move(outside_core));
  } else {
    return;
  }
  relaxed_core_ = processed_.size();
  relaxed_threshold_ = threshold_;
}

template <class P>
void PrimalDual<P>::solve_surrogates() {
  // The nested searches do without the cardinality bound (no surrogate problems of surrogate problems)
  // and give up past a budget: a surrogate problem only helps, and some are harder than the problem.
  Search nested = search_;
  nested.cardinality_states = std::numeric_limits<std::size_t>::max();
  const std::vector<std::size_t>& free_items = cardinality_->free_items();
  std::vector<bool> is_free(size(), false);
  for (const std::size_t j : free_items) is_free[j] = true;
  for (auto& surrogate : cardinality_->surrogates()) {
    if (surrogate.infeasible) {
      cardinality_->close(surrogate.side);
      continue;
    }
    // What the surrogate's free items must bring to reach the threshold; nothing when the fixed and the
    // taken items reach it already (then its optimum, whatever it is, decides).
    const P target = static_cast<P>(threshold_ - cardinality_->fixed_profit() - surrogate.taken_profit);
    nested.state_budget =
        surrogate.at_least
            ? std::min(kAtLeastSurrogateStates, kAtLeastStatesPerItem * static_cast<std::int64_t>(size()))
            : kSurrogateStates;
    // The surrogate problems' searches reuse each other's arrays through buffers_.
    const KernelOutcome<P> outcome = solve_zero_one(
        std::move(surrogate.items), nested, target > 0 ? std::optional<P>(target) : std::nullopt, buffers_);
    if (!outcome.optimal) continue;
    if (outcome.profit < target) {
      cardinality_->close(surrogate.side);  // nothing on this side reaches the threshold
      continue;
    }
    // The surrogate optimum with the fixed items, if it fits the true capacity, is the side's optimum.
    std::vector<char> solution(size(), 0);
    std::int64_t weight = 0;
    P profit = 0;
    const auto take = [&](std::size_t j) {
      solution[j] = true;
      weight += weights_[j];
      profit += profits_[j];
    };
    for (std::size_t j = 0; j < break_; ++j)
      if (!is_free[j]) take(j);
    for (const std::size_t j : surrogate.taken) take(j);
    for (std::size_t k = 0; k < surrogate.members.size(); ++k)
      if (outcome.chosen[k]) take(surrogate.members[k]);
    if (weight > capacity_) continue;
    cardinality_->close(surrogate.side);
    if (profit >= threshold_) adopt(solution, profit);
  }
  if (cardinality_->all_closed()) states_.clear();  // nothing reaches the threshold: best_ is optimal
}

template <class P>
void PrimalDual<P>::adopt(const std::vector<char>& solution, P profit) {
  incumbent_.assign(size(), false);
  for (std::size_t j = 0; j < size(); ++j) incumbent_[original_[j]] = solution[j];
  record_.reset();
  best_ = profit;
  threshold_ = best_ + 1;
  if (cardinality_) cardinality_->raise_threshold(threshold_);
}

template <class P>
void PrimalDual<P>::restart() {
  ++statistics_.restarts;
  incumbent_ = best_solution(statistics_.passes);
  record_.reset();
  statistics_.core_items += static_cast<std::int64_t>(processed_.size());
  processed_.clear();
  in_core_.assign(size(), false);
  pairing_.reset();
  right_ = break_;
  left_ = static_cast<std::ptrdiff_t>(break_) - 1;
  advance_frontier();
  std::int64_t count = 0;
  for (std::size_t j = 0; j < break_; ++j) count += cardinality_->counted(j);
  states_.assign(1, {break_weight_, break_profit_, 0, count});
  if (cannot_improve(states_.front())) states_.clear();
}

template <class P>
void PrimalDual<P>::order_core() {
  queue_.clear();
  queued_ = 0;
  core_by_bound_ = true;
  std::vector<std::pair<long double, std::size_t>> ranked;  // (bound with the item flipped, item)
  for (std::size_t j = 0; j < size(); ++j)
    if (!in_core_[j] && !fixed_[j] && !fixed(j)) ranked.emplace_back(cardinality_->flipped_bound(j), j);
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  queue_.reserve(ranked.size());
  for (const auto& [bound, j] : ranked) queue_.push_back(j);
}

template <class P>
Steering PrimalDual<P>::steering(const std::vector<std::size_t>& free_items) const {
  // The near items' bounds first, then the far items' only until one ranks above the near ones' 32nd:
  // where the answer is no, it usually comes after a few of the far items (each bound costs long double
  // arithmetic, and subset sum instances have thousands of free items).
  const std::size_t reach = size() / kNearShare;
  const auto near = [&](std::size_t j) { return (j < break_ ? break_ - j : j - break_) <= reach; };
  const auto open = [&](std::size_t j) { return !in_core_[j] && !fixed(j); };
  // Whether enough items are open, first from a sample: testing every free item would cost an easy
  // instance of 10^5 items more than its search.
  constexpr std::size_t kSample = 1024;
  if (free_items.size() > kSample) {
    std::size_t sampled_open = 0;
    for (std::size_t i = 0; i < kSample; ++i)
      sampled_open += open(free_items[i * free_items.size() / kSample]);
    if (2 * sampled_open * free_items.size() < kSteeredItems * kSample) return Steering::few_open_items;
  }
  using Ranked = std::pair<long double, std::size_t>;  // (-bound, item): best first, then by position
  std::vector<Ranked> near_ranked;
  std::size_t far_open = 0;
  for (const std::size_t j : free_items) {
    if (!open(j)) continue;
    if (near(j))
      near_ranked.emplace_back(-cardinality_->flipped_bound(j), j);
    else
      ++far_open;
  }
  if (near_ranked.size() + far_open < kSteeredItems) return Steering::few_open_items;
  if (near_ranked.size() < kSteeringItems) return Steering::far_from_break;
  if (far_open == 0) return Steering::near_break;
  const auto last_ranked = near_ranked.begin() + static_cast<std::ptrdiff_t>(kSteeringItems - 1);
  std::nth_element(near_ranked.begin(), last_ranked, near_ranked.end());
  const auto ranks_above = [&](std::size_t j) {
    return !near(j) && open(j) && Ranked(-cardinality_->flipped_bound(j), j) < *last_ranked;
  };
  // A sample of the far items first: where some rank above, many usually do.
  const std::size_t stride = std::max<std::size_t>(1, free_items.size() / kSample);
  for (std::size_t i = 0; i < free_items.size(); i += stride)
    if (ranks_above(free_items[i])) return Steering::far_from_break;
  return std::none_of(free_items.begin(), free_items.end(), ranks_above) ? Steering::near_break
                                                                         : Steering::far_from_break;
}

template <class P>
bool PrimalDual<P>::few_open(const std::vector<std::size_t>& free_items) const {
  const auto open = static_cast<std::size_t>(
      std::count_if(free_items.begin(), free_items.end(), [&](std::size_t j) { return !in_core_[j]; }));
  return open * kNearShare < size();
}

template <class P>
void PrimalDual<P>::sort_by_weight() {
  // A fixed item never completes a state to a better solution: fixing bounds every solution that flips it.
  order_all();
  // Radix sorted (weight, item) pairs; equal weights by position.
  std::vector<KeyedItem> left;
  std::vector<KeyedItem> right;
  for (std::size_t j = 0; j < size(); ++j)
    if (!fixed_[j] && !fixed(j))
      (j < break_ ? left : right).push_back({static_cast<std::uint64_t>(weights_[j]), j});
  std::vector<KeyedItem> buffer;
  for (auto [keyed, by_weight] : {std::pair{&left, &left_by_weight_}, std::pair{&right, &right_by_weight_}}) {
    radix_sort(*keyed, buffer);
    for (const KeyedItem& entry : *keyed) by_weight->push_back(entry.item);
  }
}

template <class P>
void PrimalDual<P>::pair_states() {
  if (right_by_weight_.empty() && left_by_weight_.empty()) sort_by_weight();
  // Building the pairing lists costs O(n): they are rebuilt only once the core grew by a quarter since,
  // and meanwhile pass over their items that entered the core.
  if (!pairing_ || 4 * processed_.size() >= 5 * paired_core_ + 4) {
    pairing_.emplace(weights_, profits_, right_by_weight_, left_by_weight_, in_core_);
    paired_core_ = processed_.size();
  }
  // Most pairs fall short of the threshold: they are rejected here, without a call.
  pairing_->pair(states_, capacity_, in_core_, [&](const State<P>& state, std::size_t partner) {
    const P profit = partner >= break_ ? static_cast<P>(state.profit + profits_[partner])
                                       : static_cast<P>(state.profit - profits_[partner]);
    if (profit >= threshold_) improve(state, partner);
  });
}

template <class P>
void PrimalDual<P>::run() {
  in_core_.assign(size(), false);
  states_.push_back({break_weight_, break_profit_, 0, break_count_});
  right_ = break_;
  left_ = static_cast<std::ptrdiff_t>(break_) - 1;
  advance_frontier();
  if (cannot_improve(states_.front())) states_.clear();
  while (!states_.empty()) {
    if (root_cannot_improve()) return;
    if (search_.deadline.passed() || statistics_.states > search_.state_budget) {
      stopped_ = true;
      return;
    }
    const std::optional<std::size_t> item = next_core_item();
    if (!item) return;
    process(*item, *item >= break_);
    // Pairing again pays once the states grew by a quarter since: fewer new states rarely hold a new pair.
    if (states_.size() >= std::max(search_.pairing_states, next_pairing_)) {
      pair_states();
      next_pairing_ = 5 * states_.size() / 4;
    }
    update_cardinality_bound();
  }
}

template <class P>
P PrimalDual<P>::upper_bound() {
  advance_frontier();
  // Every solution better than best_ completes one of the states left; bound each state in long double
  // (only reported, never used to decide) and round outward.
  long double bound = static_cast<long double>(best_);
  const std::size_t right = right_;
  const std::ptrdiff_t left = left_;
  for (const State<P>& state : states_) {
    long double value = static_cast<long double>(state.profit);
    const std::int64_t room = capacity_ - state.weight;
    if (room >= 0 && right < size()) {
      value += static_cast<long double>(room) * static_cast<long double>(profits_[right]) /
               static_cast<long double>(weights_[right]);
    } else if (room < 0) {
      if (left < 0) continue;
      const auto s = static_cast<std::size_t>(left);
      value += static_cast<long double>(room) * static_cast<long double>(profits_[s]) /
               static_cast<long double>(weights_[s]);
    }
    bound = std::max(bound, value);
  }
  return static_cast<P>(std::ceil(bound * (1 + 0x1p-56L)));
}

template <class P>
std::vector<char> PrimalDual<P>::best_solution(std::int64_t& passes) const {
  if (!record_) return incumbent_;
  // The record's positions are those of the core and the pairing lists, which stay where they are.
  const std::size_t processed = record_->processed;
  const std::size_t known = std::min(processed, kFlipBits);
  if (processed <= kFlipBits) {
    // By the index among the items given: the break solution with the recorded state's flips applied.
    std::vector<char> solution = reuse(buffers_ ? &buffers_->solution : nullptr);
    solution.assign(size(), 0);
    for (std::size_t j = 0; j < break_; ++j) solution[original_[j]] = 1;
    for (std::size_t i = 0; i < known; ++i)
      if ((record_->state.flips >> i) & 1) solution[original_[processed_[processed - 1 - i]]] ^= 1;
    if (record_->paired) solution[original_[*record_->paired]] ^= 1;
    return solution;
  }
  // Sorted positions: the break solution, with the recorded state's known flips applied.
  std::vector<char> in(size(), 0);
  for (std::size_t j = 0; j < break_; ++j) in[j] = 1;
  for (std::size_t i = 0; i < known; ++i)
    if ((record_->state.flips >> i) & 1) in[processed_[processed - 1 - i]] ^= 1;
  if (record_->paired) in[*record_->paired] ^= 1;

  {
    // The older core items' decisions were shifted out: solve their knapsack with the rest fixed. The
    // record proves that profit best_ minus the fixed items' profit is reachable within the capacity
    // they leave, and nothing more.
    const std::size_t older = processed - kFlipBits;
    std::vector<bool> is_older(size(), false);
    for (std::size_t i = 0; i < older; ++i) is_older[processed_[i]] = true;
    KernelItems<P> subproblem;
    subproblem.capacity = capacity_;
    P target = best_;
    for (std::size_t j = 0; j < size(); ++j) {
      if (is_older[j]) {
        subproblem.weights.push_back(weights_[j]);
        subproblem.profits.push_back(profits_[j]);
        subproblem.copies.push_back(copies_[j]);
      } else if (in[j]) {
        subproblem.capacity -= weights_[j];
        target -= profits_[j];
      }
    }
    const KernelOutcome<P> completion =
        solve_zero_one(std::move(subproblem), search_.unlimited(), std::optional<P>(target), buffers_);
    passes += completion.statistics.passes;
    std::size_t next = 0;
    for (std::size_t j = 0; j < size(); ++j)
      if (is_older[j]) in[j] = completion.chosen[next++];
  }
  std::vector<char> solution(size(), 0);
  for (std::size_t j = 0; j < size(); ++j) solution[original_[j]] = in[j];
  return solution;
}

template <class P>
KernelOutcome<P> PrimalDual<P>::solve() {
  find_break_item();
  greedy();
  run();

  KernelOutcome<P> outcome;
  outcome.optimal = !stopped_;
  outcome.profit = best_;
  outcome.upper_bound = stopped_ ? upper_bound() : best_;
  statistics_.passes += 1;
  outcome.chosen = record_ ? best_solution(statistics_.passes) : std::move(incumbent_);
  statistics_.core_items += static_cast<std::int64_t>(processed_.size());
  outcome.statistics = statistics_;
  give_back_arrays();
  return outcome;
}

template <class P>
void PrimalDual<P>::give_back_arrays() {
  if (!buffers_) return;
  give_back(std::move(weights_), &buffers_->weights);
  if constexpr (std::is_same_v<P, std::int64_t>) {
    give_back(std::move(profits_), &buffers_->profits);
    give_back(std::move(states_), &buffers_->states);
    give_back(std::move(next_states_), &buffers_->next_states);
  }
  give_back(std::move(copies_), &buffers_->copies);
  give_back(std::move(original_), &buffers_->original);
  give_back(std::move(fixed_), &buffers_->fixed);
  give_back(std::move(incumbent_), &buffers_->incumbent);
}

}  // namespace

// Identical items (same weight, profit and copies) become one group, split into items of 1, 2, 4, ...
// copies and a remainder: any number of copies is a subset of those, and the core meets a few items
// instead of a long run of ties (the spanner classes have a few dozen distinct items).
template <class P>
struct Groups {
  KernelItems<P> items;
  std::vector<std::size_t> members;  // the indices of the group members, group after group
  std::vector<std::size_t>
      first_member;                   // per group, where its members start in `members` (one more: the end)
  std::vector<std::size_t> group_of;  // per grouped item, its group
  std::vector<std::int64_t> parts;    // per grouped item, how many members it stands for
};

template <class P>
Groups<P> group_identical(const KernelItems<P>& items) {
  struct Keyed {
    std::int64_t weight;
    P profit;
    std::int64_t copies;
    std::size_t index;
    bool operator<(const Keyed& other) const {
      return std::tie(weight, profit, copies, index) <
             std::tie(other.weight, other.profit, other.copies, other.index);
    }
    bool identical(const Keyed& other) const {
      return weight == other.weight && profit == other.profit && copies == other.copies;
    }
  };
  std::vector<Keyed> keyed;
  keyed.reserve(items.weights.size());
  if constexpr (std::is_same_v<P, std::int64_t>) {
    // Stable radix passes, the least significant key first (the index is the order given): a few passes
    // over the keys' varying bytes instead of comparisons of four fields (a tenth of a circle solve of
    // R = 10^3 at n = 100,000).
    std::vector<KeyedItem> entries(items.weights.size());
    std::vector<KeyedItem> buffer;
    for (std::size_t j = 0; j < entries.size(); ++j)
      entries[j] = {static_cast<std::uint64_t>(items.copies[j]), j};
    radix_sort(entries, buffer);
    for (KeyedItem& entry : entries) entry.key = static_cast<std::uint64_t>(items.profits[entry.item]);
    radix_sort(entries, buffer);
    for (KeyedItem& entry : entries) entry.key = static_cast<std::uint64_t>(items.weights[entry.item]);
    radix_sort(entries, buffer);
    for (const KeyedItem& entry : entries) {
      const std::size_t j = entry.item;
      keyed.push_back({items.weights[j], items.profits[j], items.copies[j], j});
    }
  } else {
    for (std::size_t j = 0; j < items.weights.size(); ++j)
      keyed.push_back({items.weights[j], items.profits[j], items.copies[j], j});
    std::sort(keyed.begin(), keyed.end());
  }
  Groups<P> groups;
  groups.items.capacity = items.capacity;
  groups.members.reserve(keyed.size());
  for (std::size_t first = 0; first < keyed.size();) {
    std::size_t last = first;
    while (last < keyed.size() && keyed[last].identical(keyed[first]))
      groups.members.push_back(keyed[last++].index);
    const std::size_t group = groups.first_member.size();
    groups.first_member.push_back(first);
    auto remaining = static_cast<std::int64_t>(last - first);
    for (std::int64_t part = 1; remaining > 0; part *= 2) {
      const std::int64_t taken = std::min(part, remaining);
      remaining -= taken;
      groups.items.weights.push_back(taken * keyed[first].weight);
      groups.items.profits.push_back(static_cast<P>(taken * keyed[first].profit));
      groups.items.copies.push_back(taken * keyed[first].copies);
      groups.group_of.push_back(group);
      groups.parts.push_back(taken);
    }
    first = last;
  }
  groups.first_member.push_back(keyed.size());
  return groups;
}

// Whether grouping identical items pays: small instances always (it is cheap), large ones when a sample
// of their items holds several identical pairs (the spanner classes, small coefficient ranges), since
// sorting every item to find none costs more than an easy instance's whole search.
template <class P>
bool worth_grouping(const KernelItems<P>& items, ZeroOneBuffers* buffers) {
  constexpr std::size_t kAlwaysGrouped = 4096;
  constexpr std::size_t kSample = 1024;
  constexpr std::size_t kSlots = 4 * kSample;
  constexpr int kIdenticalPairs = 8;
  const std::size_t n = items.weights.size();
  if (n <= kAlwaysGrouped) return true;
  // An open-addressing set of sampled items; n: empty.
  std::vector<std::size_t> slots = reuse(buffers ? &buffers->slots : nullptr);
  slots.assign(kSlots, n);
  int identical = 0;
  for (std::size_t i = 0; i < kSample; ++i) {
    const std::size_t j = i * n / kSample;
    const auto profit = static_cast<std::uint64_t>(items.profits[j]);
    std::uint64_t hash = static_cast<std::uint64_t>(items.weights[j]) * 0x9e3779b97f4a7c15ULL ^
                         (profit + static_cast<std::uint64_t>(items.copies[j])) * 0xc2b2ae3d27d4eb4fULL;
    for (std::size_t slot = (hash ^ hash >> 29) % kSlots;; slot = (slot + 1) % kSlots) {
      const std::size_t k = slots[slot];
      if (k == n) {
        slots[slot] = j;
        break;
      }
      if (items.weights[k] == items.weights[j] && items.profits[k] == items.profits[j] &&
          items.copies[k] == items.copies[j]) {
        ++identical;
        break;
      }
    }
  }
  give_back(std::move(slots), buffers ? &buffers->slots : nullptr);
  return identical >= kIdenticalPairs;
}

template <class P>
KernelOutcome<P> solve_zero_one(KernelItems<P> items, const Search& search, std::optional<P> target,
                                ZeroOneBuffers* buffers) {
  // Items heavier than the capacity never fit; when everything else fits, take it all. The weights and
  // the profits are divided by their greatest common divisors: the capacity rounds down, and every
  // profit is then an integer, so a bound below z + 1 proves that nothing beats z.
  const std::size_t n = items.weights.size();
  std::int64_t total_weight = 0;
  P total_profit = 0;
  std::int64_t weight_divisor = 0;
  P profit_divisor = 0;
  std::size_t useful_count = 0;
  for (std::size_t j = 0; j < n; ++j) {
    if (items.weights[j] > items.capacity) continue;
    ++useful_count;
    total_weight += items.weights[j];
    total_profit += items.profits[j];
    if (weight_divisor != 1) weight_divisor = gcd(weight_divisor, items.weights[j]);
    if (profit_divisor != 1) profit_divisor = gcd(profit_divisor, static_cast<P>(items.profits[j]));
  }
  KernelOutcome<P> outcome;
  outcome.chosen = reuse(buffers ? &buffers->chosen : nullptr);
  outcome.chosen.assign(n, false);
  outcome.statistics.free_items = static_cast<std::int64_t>(useful_count);
  // The arrays the solver does not take over (when everything fits, or it takes a reduced copy or groups).
  const auto give_back_items = [&] {
    if (!buffers) return;
    give_back(std::move(items.weights), &buffers->weights);
    if constexpr (std::is_same_v<P, std::int64_t>) give_back(std::move(items.profits), &buffers->profits);
    give_back(std::move(items.copies), &buffers->copies);
  };
  if (total_weight <= items.capacity) {
    for (std::size_t j = 0; j < n; ++j) outcome.chosen[j] = items.weights[j] <= items.capacity;
    outcome.profit = total_profit;
    outcome.upper_bound = total_profit;
    give_back_items();
    return outcome;
  }
  // The items as they are when nothing needs dividing or leaving out, else a reduced copy.
  KernelItems<P>* useful = &items;
  KernelItems<P> reduced;
  std::vector<std::size_t> useful_index;  // per item of `reduced`, its index in items
  if (useful_count < n || weight_divisor > 1 || profit_divisor > 1) {
    reduced.weights.reserve(useful_count);
    reduced.profits.reserve(useful_count);
    reduced.copies.reserve(useful_count);
    useful_index.reserve(useful_count);
    for (std::size_t j = 0; j < n; ++j) {
      if (items.weights[j] > items.capacity) continue;
      reduced.weights.push_back(items.weights[j] / weight_divisor);
      reduced.profits.push_back(static_cast<P>(items.profits[j] / profit_divisor));
      reduced.copies.push_back(items.copies[j]);
      useful_index.push_back(j);
    }
    reduced.capacity = items.capacity / weight_divisor;
    if (target) target = (*target + profit_divisor - 1) / profit_divisor;
    useful = &reduced;
  }
  const auto index_in_items = [&](std::size_t k) { return useful_index.empty() ? k : useful_index[k]; };

  KernelOutcome<P> solved;
  if (worth_grouping(*useful, buffers)) {
    Groups<P> groups = group_identical(*useful);
    const std::size_t group_count = groups.first_member.size() - 1;
    std::vector<std::int64_t> chosen_copies(group_count, 0);
    // A few directions of proportional items (knapsack_proportional.h) are solved as a bounded problem;
    // a search with a target (a surrogate problem, older core items) keeps to the kernel's contract.
    std::optional<ProportionalSolution<P>> proportional;
    if (!target && group_count <= kMaxProportionalTypes && 4 * group_count <= useful->weights.size()) {
      ItemTypes<P> types;
      for (std::size_t group = 0; group < group_count; ++group) {
        const std::size_t first = groups.members[groups.first_member[group]];
        types.weights.push_back(useful->weights[first]);
        types.profits.push_back(useful->profits[first]);
        types.counts.push_back(
            static_cast<std::int64_t>(groups.first_member[group + 1] - groups.first_member[group]));
      }
      proportional = solve_proportional(types, useful->capacity, search.deadline);
    }
    if (proportional) {
      solved.profit = proportional->profit;
      solved.upper_bound = proportional->profit;
      solved.statistics.states = proportional->nodes;
      solved.statistics.passes = 1;
      chosen_copies = std::move(proportional->taken);
    } else {
      PrimalDual<P> solver(std::move(groups.items), search, target, true, buffers);
      solved = solver.solve();
      for (std::size_t k = 0; k < groups.group_of.size(); ++k)
        if (solved.chosen[k]) chosen_copies[groups.group_of[k]] += groups.parts[k];
    }
    // Each group's chosen copies go to its first members.
    for (std::size_t group = 0; group < group_count; ++group)
      for (std::int64_t copy = 0; copy < chosen_copies[group]; ++copy)
        outcome.chosen[index_in_items(
            groups.members[groups.first_member[group] + static_cast<std::size_t>(copy)])] = true;
  } else {
    PrimalDual<P> solver(std::move(*useful), search, target, false, buffers);
    solved = solver.solve();
    if (useful_index.empty()) {
      outcome.chosen.swap(solved.chosen);
      give_back(std::move(solved.chosen), buffers ? &buffers->solution : nullptr);
    } else {
      for (std::size_t k = 0; k < solved.chosen.size(); ++k)
        outcome.chosen[useful_index[k]] = solved.chosen[k];
    }
  }
  solved.chosen = std::move(outcome.chosen);
  give_back_items();
  solved.profit *= profit_divisor;
  solved.upper_bound *= profit_divisor;
  solved.statistics.free_items = outcome.statistics.free_items;
  return solved;
}

template KernelOutcome<std::int64_t> solve_zero_one(KernelItems<std::int64_t>, const Search&,
                                                    std::optional<std::int64_t>, ZeroOneBuffers*);
template KernelOutcome<int128> solve_zero_one(KernelItems<int128>, const Search&, std::optional<int128>,
                                              ZeroOneBuffers*);

}  // namespace reds::knapsack::detail
