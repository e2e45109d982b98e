// Cardinality bounds for the 0-1 knapsack kernel (after Martello, Pisinger and Toth, "Dynamic
// programming and strong bounds for the 0-1 knapsack problem", Management Science 45 (1999) 414-424).
//
// Every solution reaching a profit threshold has between k_lo items (fewer of the most profitable items
// stay below it) and k_hi items (more of the lightest items do not fit), counted on the reduced problem:
// items fixed by reduction keep their values, so near the break item, where the free items of similar
// weight are, the counts force swaps to balance (the circle class needs this). The linear relaxation's
// solution has b + f items, b the break solution's count, 0 <= f < 1; an improving solution has either
// at most b or at least b + 1 items, and each side [lo, hi] has Lagrangian bounds: for any multiplier
// mu (k = hi when mu >= 0, k = lo when mu < 0),
//   sum p_j x_j <= sum (p_j - mu) x_j + mu * k,
// whose right-hand side the linear relaxation with the modified profits p_j - mu bounds. For the
// strongly correlated classes (p_j = w_j + K, mu = K) the modified problem is a subset-sum problem and
// the bound is c + K * hi, far below the plain linear bound.
//
// Applied to a state of the dynamic program (weight w, profit p, count N), whose completions flip free
// items outside the core (adding items outside the break solution, removing items of it):
//   B = p - mu * N + mu * k + G_mu(c - w),
// G_mu the linear relaxation of those flips with modified profits. The multiplier of each side minimises
// the root's bound (a bisection on the relaxation's item count, in floating point: any multiplier gives
// a valid bound, which is then evaluated exactly). A state is pruned when every nonempty side prunes it.
//
// Items are fixed with the root bound: flipping item j costs its reduced profit |p_j - mu - lambda * w_j|,
// lambda the relaxation's break efficiency (Dembo and Hammer).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "knapsack_arithmetic.h"
#include "knapsack_kernel.h"

namespace reds::knapsack::detail {

// The kernel's items in efficiency order and its break solution (items 0..break_item-1). An item stands
// for `copies` identical original items, and counts are of original items.
template <class P>
struct SortedItems {
  const std::vector<std::int64_t>& weights;
  const std::vector<P>& profits;
  const std::vector<std::int64_t>& copies;
  std::size_t break_item;
  std::int64_t capacity;
};

template <class P>
class CardinalityBound {
 public:
  // The best bound for the solutions that reach `threshold` and keep every item outside `free_items` at
  // its break-solution value: over all items (the cardinality bound proper) or, when light items let its
  // relaxation dodge the count, over the items of at least some unit weight (the counted items),
  // whichever bounds the root lowest. `outside_core[j]`: item j is not yet decided by the states.
  static std::unique_ptr<CardinalityBound> build(const SortedItems<P>& items,
                                                 std::vector<std::size_t> free_items,
                                                 std::vector<bool> outside_core, P threshold);

  // The counted copies of item j: its copies if their unit weight reaches the counting weight, else 0.
  std::int64_t counted(std::size_t j) const { return counted_[j]; }
  // Whether every copy counts (the counting weight is 0).
  bool counts_all() const { return counting_weight_ == 0; }
  // The threshold rose (a better solution was found): fewer items cannot reach it any more.
  void raise_threshold(P threshold);
  // The states' relaxations over fewer items from now on: the core grew, or more items were fixed.
  void restrict(std::vector<std::size_t> free_items, std::vector<bool> outside_core);
  // Builds the states' relaxations of the sides still open (build() leaves them out: the surrogate
  // problems, which need only the root, close most sides at once). Before the first state is bounded.
  void relax_open_sides();
  // Flipping item j away from its break-solution value cannot reach the threshold.
  bool fixes(std::size_t j) const;
  // The root bound with item j flipped, approximately (the best side's): the core takes the items whose
  // flip keeps the bound highest first.
  long double flipped_bound(std::size_t j) const;
  // The bound at the root (the break solution with every free item open), approximately: the largest of
  // the sides' bounds, below the threshold when every side is empty.
  long double root_bound() const;
  // No completion of the state (weight, profit, counted items) reaches the threshold.
  bool cannot_reach(std::int64_t weight, P profit, std::int64_t count) const;

  // cannot_reach for states of nondecreasing weight (as the dynamic program creates them), in amortized
  // constant time: the room a state leaves only shrinks, so each side's count of relaxation items that
  // fit whole only moves down.
  // A double estimate of each side's bound decides, unless it is within its rounding error of the
  // threshold; then the exact evaluation does.
  class Scan {
   public:
    explicit Scan(const CardinalityBound& bound);
    bool cannot_reach(std::int64_t weight, P profit, std::int64_t count);

   private:
    // A side's terms that do not depend on the state, as of the threshold the scan last saw.
    struct Lane {
      bool empty = false;
      double mu = 0;
      double constant = 0;        // mu * k - the relaxation's break profit - threshold
      std::int64_t capacity = 0;  // the room of a state of weight 0 for the relaxation's items
      std::size_t whole = std::numeric_limits<std::size_t>::max();
    };
    void refresh();

    const CardinalityBound& bound_;
    P threshold_ = 0;
    std::vector<Lane> lanes_;  // per side
  };

  // The sides' surrogate problems (Martello, Pisinger, Toth 1999): a solution of the side of at most hi
  // counted items has sum_j (w_j + s * counted_j) x_j <= c + s * hi for any s >= 0, and one of the side
  // of at least k counted items sum_j (w_j - s * counted_j) x_j <= c - s * k. With the fixed items taken
  // out, each is a 0-1 problem over the free items with those weights and capacity. On the side of at
  // least k, the items of weight w_j - s * counted_j <= 0 take no room (they give some back) and bring
  // profit: every optimal surrogate solution takes them, so they leave the problem, taken, and the
  // capacity grows by what they give back. The surrogate optimum bounds the side; an optimal surrogate
  // solution that fits the true capacity is the side's optimum. s = |mu| / lambda, the multipliers'
  // ratio, makes this the tightest linear bound.
  struct Surrogate {
    std::size_t side;
    bool at_least;  // the side of at least k items
    KernelItems<P> items;
    std::vector<std::size_t> members;  // per surrogate item, the item it is
    std::vector<std::size_t> taken;    // the free items every optimal surrogate solution takes
    P taken_profit = 0;
    bool infeasible = false;  // no solution of the side fits, whatever the other items
  };
  std::vector<Surrogate> surrogates() const;
  // No solution of the side reaches the threshold (its surrogate problem proved it).
  void close(std::size_t side);
  // Every side is closed or empty: nothing reaches the threshold.
  bool all_closed() const {
    return std::all_of(sides_.begin(), sides_.end(), [&](const Side& side) { return empty(side); });
  }
  const std::vector<std::size_t>& free_items() const { return free_items_; }
  P fixed_profit() const { return fixed_profit_; }

 private:
  // G(r) = -P'_L + F(r + W_L): L the break solution's items among the relaxed ones, F the fractional
  // knapsack over the relaxed items of positive modified profit, best first, as prefix sums.
  struct Relaxation {
    std::vector<std::int64_t> weights;
    std::vector<int128> profits;
    std::vector<std::int64_t> prefix_weight;
    std::vector<int128> prefix_profit;
    std::vector<double> prefix_estimate;      // prefix_profit in double
    std::vector<double> efficiency_estimate;  // profits / weights in double
    int128 break_profit = 0;
    std::int64_t break_weight = 0;
  };
  struct Side {
    std::int64_t lo = 0;  // count range of the side, before k_lo and k_hi narrow it
    std::int64_t hi = 0;
    int128 mu = 0;
    // The free items of positive modified profit, best first (as of relax_open_sides(); later
    // relaxations keep the order over fewer items).
    std::vector<std::size_t> by_efficiency;
    bool ordered = false;
    Relaxation outside;  // over the free items outside the core: the states' completions
    // The root's bound over all free items, without mu * k: constant + residual * e, e = lambda_profit /
    // lambda_weight the relaxation's break efficiency (0 / 1 when every item fits).
    int128 root_constant = 0;
    std::int64_t root_residual = 0;
    int128 lambda_profit = 0;
    std::int64_t lambda_weight = 1;
  };

  // The free items by unit weight, lightest first, and by unit profit, most profitable first.
  struct Orders {
    std::vector<std::size_t> lightest;
    std::vector<std::size_t> most_profitable;
  };
  struct FreeItem {
    double weight;
    double inverse_weight;
    double profit;
    double counted;
  };

  // Counts the copies of unit weight >= `unit_weight` (0: all of them); the multipliers are found to a
  // relative `tolerance` (0: integer precision).
  CardinalityBound(const SortedItems<P>& items, const std::vector<std::size_t>& free_items,
                   const Orders& orders, P threshold, std::int64_t unit_weight, double tolerance);

  // The exact multipliers and the relaxations of the chosen bound (the candidates of build() only
  // estimate their root bound).
  void finish(std::vector<bool> outside_core);
  std::int64_t smallest_count(P threshold) const;
  int128 modified(std::size_t j, int128 mu) const {
    return static_cast<int128>(items_.profits[j]) - mu * counted_[j];
  }
  // The linear relaxation with modified profits p_j - mu * counted_j, approximately (double): its
  // fractional count of counted copies, its value and its break efficiency (0 when every item fits).
  struct Relaxed {
    double count;
    double value;
    double efficiency;
  };
  // The free items a multiplier search has settled as taken whole, summed.
  struct Settled {
    double weight = 0;
    double profit = 0;
    double counted = 0;
  };
  // Over `items` (some of the free items) and the `settled` ones.
  Relaxed relaxed(double mu, const std::vector<FreeItem>& items, const Settled& settled) const;
  Relaxed relaxed(double mu) const { return relaxed(mu, free_, Settled{}); }
  // `guess`: the multiplier a search to tolerance_ found.
  int128 best_multiplier(std::int64_t lo, std::int64_t hi, double tolerance,
                         std::optional<double> guess = std::nullopt) const;
  void order_by_efficiency(Side& side) const;
  // The relaxation over the free items, or only those outside the core.
  Relaxation relax(const Side& side, bool outside_only) const;
  void set_root(Side& side) const;
  // The side's count range is empty at the current threshold.
  bool empty(const Side& side) const { return std::max(side.lo, count_lo_) > side.hi; }
  std::int64_t k(const Side& side, int128 mu) const {
    return mu >= 0 ? side.hi : std::max(side.lo, count_lo_);
  }
  // Whether the state cannot reach the threshold on the side; `whole` is the number of the side's
  // relaxation items that fit whole in the room the state leaves, or a larger number to search from.
  bool below(const Side& side, std::int64_t weight, P profit, std::int64_t count, std::size_t& whole) const;

  SortedItems<P> items_;
  std::vector<std::size_t> free_items_;
  std::vector<bool> is_free_;  // per item: in free_items_
  std::vector<bool> outside_core_;
  std::int64_t counting_weight_ = 0;
  double tolerance_ = 0;
  std::vector<std::int64_t> counted_;
  // For k_lo: the counted free items by profit per copy, best first, with running sums of copies and
  // profits; the profit of the uncounted free items, which may all join.
  std::vector<int128> unit_profits_;
  std::vector<std::int64_t> count_prefix_;
  std::vector<int128> profit_prefix_;
  int128 uncounted_profit_ = 0;
  std::int64_t count_lo_ = 0;  // k_lo at the current threshold
  std::int64_t count_hi_ = 0;  // k_hi
  std::int64_t break_weight_ = 0;
  P break_profit_ = 0;
  std::int64_t break_count_ = 0;
  // The items of the break solution that are not free: in every solution that reaches the threshold.
  P fixed_profit_ = 0;
  std::int64_t fixed_count_ = 0;
  P largest_profit_ = 0;  // per counted copy, among the free items
  P threshold_ = 0;
  int128 multiplier_limit_ = 0;  // keeps every modified sum below 2^125
  std::vector<Side> sides_;
  double estimate_ = -std::numeric_limits<double>::infinity();  // the root bound, approximately
  struct Candidate {
    double efficiency;
    double weight;
    double copies;
    double profit;
  };
  mutable std::vector<Candidate> candidates_;  // scratch of relaxed()
  std::vector<FreeItem> free_;                 // the free items for relaxed()
  double free_capacity_ = 0;                   // the capacity the fixed items leave
};

extern template class CardinalityBound<std::int64_t>;
extern template class CardinalityBound<int128>;

}  // namespace reds::knapsack::detail
