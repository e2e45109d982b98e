// Cardinality bounds of the 0-1 knapsack kernel; see knapsack_cardinality_bound.h.
#include "knapsack_cardinality_bound.h"

#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>

namespace reds::knapsack::detail {

namespace {

// The bound counting only heavier items is chosen when its root gap is below this share of the bound
// over all items' (measured at n = 10,000: circle instances 0.0004 to 0.002; the other classes 0.43 to
// 1, where it only slowed the search).
constexpr double kDecisiveCut = 0.1;
// Nor is it built when the bound over all items leaves at most this share of the linear relaxation's gap
// above the threshold (measured at n = 10^3 to 10^5: inverse strongly and strongly correlated instances
// below 0.0002 or closed, where the other bound never cut it further; circle instances 0.8 to 0.99, but
// for one at 0.0004 whose other bound did not cut it either).
constexpr double kTightGap = 0.01;

// Enough to narrow any double multiplier range to integer precision.
constexpr int kBisectionSteps = 128;
// The candidate bounds of build() are compared with multipliers this close (relatively) to their best:
// the estimates err upward, so a candidate wins only on its merit. The chosen one is refined.
constexpr double kRoughTolerance = 1e-3;

// The fractional knapsack over `candidates` with `capacity`, by a weighted quickselect for the break
// item (expected linear time): its fractional count of copies, its value and its break efficiency (0
// when everything fits).
// An item's weight or profit per copy (copies >= 1). Most items stand for one copy, and a division costs
// the bound's passes over all items more than the rest of their work. (The test is copies > 1: GCC folds
// copies == 1 ? total : total / copies into the division.)
template <class T>
T per_copy(T total, std::int64_t copies) {
  return copies > 1 ? static_cast<T>(total / copies) : total;
}

template <class Candidate>
std::array<double, 3> fractional_knapsack(std::vector<Candidate>& candidates, double capacity) {
  double count = 0.0;
  double value = 0.0;
  auto first = candidates.begin();
  auto last = candidates.end();
  while (first != last) {
    const double pivot = first[(last - first) / 2].efficiency;
    // Three-way partition: [first, better) > pivot, [better, equal) == pivot, [equal, last) < pivot.
    const auto better = std::partition(first, last, [&](const Candidate& c) { return c.efficiency > pivot; });
    const auto equal =
        std::partition(better, last, [&](const Candidate& c) { return c.efficiency == pivot; });
    double better_weight = 0.0;
    for (auto it = first; it != better; ++it) better_weight += it->weight;
    if (better_weight > capacity) {
      last = better;
      continue;
    }
    capacity -= better_weight;
    for (auto it = first; it != better; ++it) {
      count += it->copies;
      value += it->profit;
    }
    for (auto it = better; it != equal; ++it) {
      if (it->weight > capacity)
        return {count + it->copies * capacity / it->weight, value + it->profit * capacity / it->weight,
                pivot};
      capacity -= it->weight;
      count += it->copies;
      value += it->profit;
    }
    first = equal;
  }
  return {count, value, 0.0};
}

}  // namespace

template <class P>
std::unique_ptr<CardinalityBound<P>> CardinalityBound<P>::build(const SortedItems<P>& items,
                                                                std::vector<std::size_t> free_items,
                                                                std::vector<bool> outside_core, P threshold) {
  // The free items by unit weight and by unit profit, whatever the counting weight.
  // Sorted as (key, item) pairs (equal keys by item): radix sorted where the key fits 64 bits.
  Orders orders;
  const auto sorted_by = [&](auto key_of) {
    using Key = decltype(key_of(std::size_t{0}));
    std::vector<std::size_t> order;
    order.reserve(free_items.size());
    if constexpr (sizeof(Key) <= sizeof(std::uint64_t)) {
      std::vector<KeyedItem> keyed;
      keyed.reserve(free_items.size());
      for (const std::size_t j : free_items) keyed.push_back({static_cast<std::uint64_t>(key_of(j)), j});
      radix_sort(keyed);
      for (const KeyedItem& entry : keyed) order.push_back(entry.item);
    } else {
      std::vector<std::pair<Key, std::size_t>> keyed;
      keyed.reserve(free_items.size());
      for (const std::size_t j : free_items) keyed.emplace_back(key_of(j), j);
      std::sort(keyed.begin(), keyed.end());
      for (const auto& entry : keyed) order.push_back(entry.second);
    }
    return order;
  };
  // Unit weights and profits are positive: as unsigned keys they keep their order.
  orders.lightest = sorted_by([&](std::size_t j) { return per_copy(items.weights[j], items.copies[j]); });
  // Most profitable first: the profit's complement to the largest one.
  P most = 0;
  for (const std::size_t j : free_items) most = std::max(most, per_copy(items.profits[j], items.copies[j]));
  orders.most_profitable = sorted_by(
      [&](std::size_t j) { return static_cast<P>(most - per_copy(items.profits[j], items.copies[j])); });
  std::unique_ptr<CardinalityBound> best(
      new CardinalityBound(items, free_items, orders, threshold, 0, kRoughTolerance));
  // Free items cheaper than the multiplier let the relaxation dodge the count: drop a light one, add a
  // fraction of the break item, although no integer solution can swap them when the break item outweighs
  // the light one by more than the break solution's residual capacity. When there are such items, a
  // bound counting only the items of unit weight >= u may do much better (circle instances).
  int128 multiplier = 0;
  for (const Side& side : best->sides_) multiplier = std::max(multiplier, side.mu < 0 ? -side.mu : side.mu);
  const bool dodging = std::any_of(free_items.begin(), free_items.end(), [&](std::size_t j) {
    return static_cast<int128>(per_copy(items.profits[j], items.copies[j])) < 2 * multiplier;
  });
  const double linear_gap = best->relaxed(0.0).value - static_cast<double>(threshold);
  if (!dodging || best->estimate_ - static_cast<double>(threshold) <= kTightGap * linear_gap) {
    best->finish(std::move(outside_core));
    return best;
  }
  // The counting weight u: the lightest item the break item can replace within the residual capacity
  // makes the relaxation's cheapest swap one an integer solution can make too. The root bound is sharply
  // smallest there (measured on circle instances; the neighbouring unit weights change no instance's
  // states at n = 10^3 to 10^5, and trying them cost half the solve at n = 10^5).
  // (Of an item standing for several copies, as many as fit join the break solution first.)
  const std::size_t break_item = items.break_item;
  const std::int64_t break_unit = per_copy(items.weights[break_item], items.copies[break_item]);
  const std::int64_t swappable = break_unit - (items.capacity - best->break_weight_) % break_unit;
  // The smallest free unit weight of at least `swappable`, else the largest.
  std::int64_t counting_weight = std::numeric_limits<std::int64_t>::max();
  std::int64_t heaviest = 0;
  for (const std::size_t j : free_items) {
    const std::int64_t unit = per_copy(items.weights[j], items.copies[j]);
    heaviest = std::max(heaviest, unit);
    if (unit >= swappable) counting_weight = std::min(counting_weight, unit);
  }
  if (heaviest < swappable) counting_weight = heaviest;
  std::unique_ptr<CardinalityBound> counting(
      new CardinalityBound(items, free_items, orders, threshold, counting_weight, kRoughTolerance));
  // Elsewhere that bound is at best a little lower at the root, while it makes the states' bounds and
  // the surrogate problems weaker (the uncounted items escape the count): it replaces the bound over all
  // items only when it cuts the gap above the threshold decisively.
  const auto gap = [&](double estimate) { return estimate - static_cast<double>(threshold); };
  if (gap(counting->estimate_) < kDecisiveCut * gap(best->estimate_)) best = std::move(counting);
  best->finish(std::move(outside_core));
  return best;
}

template <class P>
CardinalityBound<P>::CardinalityBound(const SortedItems<P>& items, const std::vector<std::size_t>& free_items,
                                      const Orders& orders, P threshold, std::int64_t unit_weight,
                                      double tolerance)
    : items_(items), free_items_(free_items), counting_weight_(unit_weight), tolerance_(tolerance) {
  const std::size_t n = items.weights.size();
  counted_.resize(n);
  for (std::size_t j = 0; j < n; ++j)
    counted_[j] = per_copy(items.weights[j], items.copies[j]) >= unit_weight ? items.copies[j] : 0;
  // Items outside free_items_ keep their break-solution values in every solution that reaches the
  // threshold: the counts are those of the fixed items of the break solution plus free copies.
  is_free_.assign(n, false);
  for (const std::size_t j : free_items_) is_free_[j] = true;
  std::int64_t fixed_weight = 0;
  for (std::size_t j = 0; j < items.break_item; ++j) {
    break_weight_ += items.weights[j];
    break_profit_ += items.profits[j];
    break_count_ += counted_[j];
    if (is_free_[j]) continue;
    fixed_weight += items.weights[j];
    fixed_profit_ += items.profits[j];
    fixed_count_ += counted_[j];
  }
  free_capacity_ = static_cast<double>(items.capacity - fixed_weight);
  free_.reserve(free_items_.size());
  for (const std::size_t j : free_items_) {
    const auto weight = static_cast<double>(items.weights[j]);
    free_.push_back(
        {weight, 1.0 / weight, static_cast<double>(items.profits[j]), static_cast<double>(counted_[j])});
  }
  // k_hi: the fixed items and the lightest counted free copies that fit with them (any number of an
  // item's copies can be taken; the uncounted free items can all be left out).
  count_hi_ = fixed_count_;
  std::int64_t room = items.capacity - fixed_weight;
  for (const std::size_t j : orders.lightest) {
    if (counted_[j] == 0) continue;
    const std::int64_t unit = per_copy(items.weights[j], items.copies[j]);
    const std::int64_t taken = std::min(items.copies[j], room / unit);
    count_hi_ += taken;
    room -= taken * unit;
    if (taken < items.copies[j]) break;
  }
  // For k_lo: the most profitable counted free copies first, after all the uncounted ones.
  unit_profits_.reserve(orders.most_profitable.size());
  count_prefix_.reserve(orders.most_profitable.size() + 1);
  profit_prefix_.reserve(orders.most_profitable.size() + 1);
  count_prefix_.assign(1, 0);
  profit_prefix_.assign(1, 0);
  for (const std::size_t j : orders.most_profitable) {
    if (counted_[j] == 0) {
      uncounted_profit_ += items.profits[j];
      continue;
    }
    unit_profits_.push_back(static_cast<int128>(per_copy(items.profits[j], items.copies[j])));
    count_prefix_.push_back(count_prefix_.back() + items.copies[j]);
    profit_prefix_.push_back(profit_prefix_.back() + static_cast<int128>(items.profits[j]));
    largest_profit_ = std::max(largest_profit_, static_cast<P>(per_copy(items.profits[j], items.copies[j])));
  }
  int128 total_profit = 0;
  std::int64_t total_count = 0;
  for (std::size_t j = 0; j < n; ++j) {
    total_profit += items.profits[j];
    total_count += items.copies[j];
  }
  // |mu| * (2 * copies + 2) + total profit < 2^124 keeps every sum of the bound below 2^125.
  multiplier_limit_ =
      std::max<int128>(0, ((int128{1} << 124) - total_profit) / (2 * static_cast<int128>(total_count) + 2));

  const std::int64_t b = break_count_;
  threshold_ = threshold;
  count_lo_ = smallest_count(threshold);
  for (const auto& [side_lo, side_hi] : {std::pair<std::int64_t, std::int64_t>{0, b}, {b + 1, count_hi_}}) {
    Side side;
    side.lo = side_lo;
    side.hi = std::min(side_hi, count_hi_);
    if (empty(side)) continue;
    side.mu = best_multiplier(std::max(side.lo, count_lo_), side.hi, tolerance);
    const auto mu = static_cast<double>(side.mu);
    estimate_ = std::max(estimate_, mu * static_cast<double>(k(side, side.mu)) + relaxed(mu).value);
    sides_.push_back(std::move(side));
  }
}

template <class P>
void CardinalityBound<P>::finish(std::vector<bool> outside_core) {
  outside_core_ = std::move(outside_core);
  for (Side& side : sides_) {
    if (tolerance_ > 0)
      side.mu = best_multiplier(std::max(side.lo, count_lo_), side.hi, 0.0, static_cast<double>(side.mu));
    set_root(side);
  }
}

template <class P>
std::int64_t CardinalityBound<P>::smallest_count(P threshold) const {
  // The fixed items and every uncounted free item, then the first counted free item whose copies reach
  // the threshold and how many of them it takes; beyond every count when even all copies fall short
  // (every side is empty then).
  const int128 target =
      static_cast<int128>(threshold) - static_cast<int128>(fixed_profit_) - uncounted_profit_;
  if (target <= 0) return fixed_count_;
  const auto reaching = std::lower_bound(profit_prefix_.begin(), profit_prefix_.end(), target);
  if (reaching == profit_prefix_.end()) return fixed_count_ + count_prefix_.back() + 1;
  const auto i = static_cast<std::size_t>(reaching - profit_prefix_.begin());
  const int128 missing = target - profit_prefix_[i - 1];
  return fixed_count_ + count_prefix_[i - 1] +
         static_cast<std::int64_t>((missing + unit_profits_[i - 1] - 1) / unit_profits_[i - 1]);
}

template <class P>
void CardinalityBound<P>::raise_threshold(P threshold) {
  threshold_ = threshold;
  count_lo_ = smallest_count(threshold);
}

template <class P>
void CardinalityBound<P>::restrict(std::vector<std::size_t> free_items, std::vector<bool> outside_core) {
  // The items free now were free before (fixing is for good): the sides' orders hold them all.
  std::vector<bool> is_free(items_.weights.size(), false);
  bool subset = true;
  for (const std::size_t j : free_items) {
    is_free[j] = true;
    subset = subset && is_free_[j];
  }
  free_items_ = std::move(free_items);
  is_free_ = std::move(is_free);
  outside_core_ = std::move(outside_core);
  for (Side& side : sides_) {
    if (empty(side)) continue;  // for good: the threshold only rises, a closed side stays closed
    if (!subset || !side.ordered) order_by_efficiency(side);
    side.outside = relax(side, true);
  }
}

template <class P>
void CardinalityBound<P>::relax_open_sides() {
  for (Side& side : sides_) {
    if (empty(side)) continue;
    if (!side.ordered) order_by_efficiency(side);
    side.outside = relax(side, true);
  }
}

template <class P>
typename CardinalityBound<P>::Relaxed CardinalityBound<P>::relaxed(double mu,
                                                                   const std::vector<FreeItem>& items,
                                                                   const Settled& settled) const {
  // Items outside free_items_ keep their break values: those of the break solution use up capacity.
  candidates_.clear();
  for (const FreeItem& item : items) {
    const double profit = item.profit - mu * item.counted;
    if (profit > 0) candidates_.push_back({profit * item.inverse_weight, item.weight, item.counted, profit});
  }
  const double fixed_count = static_cast<double>(fixed_count_) + settled.counted;
  const auto [count, value, efficiency] = fractional_knapsack(candidates_, free_capacity_ - settled.weight);
  return {fixed_count + count, static_cast<double>(fixed_profit_) + settled.profit - mu * fixed_count + value,
          efficiency};
}

template <class P>
int128 CardinalityBound<P>::best_multiplier(std::int64_t lo, std::int64_t hi, double tolerance,
                                            std::optional<double> guess) const {
  // The root bound mu * k + LP(p - mu) is convex in mu with slope k - count(mu), count nonincreasing in
  // mu: the best multiplier is where the count crosses k, found to `tolerance` relative to the multiplier
  // (at least to integer precision). Above hi at mu = 0, k is hi and mu > 0; below lo, k is lo and mu < 0.
  const auto limit = static_cast<double>(std::min<int128>(multiplier_limit_, largest_profit_));
  if (limit < 1.0) return 0;
  const auto far = static_cast<double>(multiplier_limit_);
  struct End {
    double mu;
    double count;
    double efficiency;  // of the relaxation's break item
    double value;       // of the relaxation
  };
  const auto at = [&](double mu) {
    const Relaxed relaxation = relaxed(mu);
    return End{mu, relaxation.count, relaxation.efficiency, relaxation.value};
  };
  const auto wide = [&](const End& low, const End& high) {
    return high.mu - low.mu > std::max(1.0, tolerance * std::max(std::fabs(low.mu), std::fabs(high.mu)));
  };
  // Narrows [low, high] down to the crossing of `target`: the count is above it at low (or at it when
  // not `strict`), below at high. Raising mu lowers every efficiency, hence the break efficiency: for
  // mu in [low, high], an item more efficient at high than the break item at low is always taken whole,
  // one less efficient at low than the break item at high never, and the later steps skip both.
  // Every other step tries where the bound's tangents at the two ends meet (its minimum, when the ends
  // lie on the two pieces next to it: the strongly correlated classes' mu = K), kept half a final width
  // inside the bracket; the steps between bisect, so the bracket at least halves every two steps.
  const auto narrow = [&](End low, End high, double target, bool strict) {
    std::vector<FreeItem> open = free_;
    Settled settled;
    for (int step = 0; step < kBisectionSteps && wide(low, high); ++step) {
      double mu = (low.mu + high.mu) / 2;
      const double low_slope = target - low.count;  // of mu * target + LP(p - mu)
      const double high_slope = target - high.count;
      if (step % 2 == 0 && high_slope > low_slope) {
        const double margin = std::max(1.0, tolerance * std::max(std::fabs(low.mu), std::fabs(high.mu))) / 2;
        const double meet = (high.mu * target + high.value - low.mu * target - low.value +
                             low_slope * low.mu - high_slope * high.mu) /
                            (low_slope - high_slope);
        if (std::isfinite(meet)) mu = std::clamp(meet, low.mu + margin, high.mu - margin);
      }
      const Relaxed relaxation = relaxed(mu, open, settled);
      const End middle{mu, relaxation.count, relaxation.efficiency, relaxation.value};
      ((strict ? middle.count > target : middle.count >= target) ? low : high) = middle;
      std::size_t kept = 0;
      for (const FreeItem& item : open) {
        const double at_low = item.profit - low.mu * item.counted;
        const double at_high = item.profit - high.mu * item.counted;
        if (at_high * item.inverse_weight > low.efficiency) {
          settled.weight += item.weight;
          settled.profit += item.profit;
          settled.counted += item.counted;
        } else if (at_low > 0 && at_low * item.inverse_weight >= high.efficiency) {
          open[kept++] = item;
        }
      }
      open.resize(kept);
    }
    return std::pair<End, End>{low, high};
  };
  const auto upper = static_cast<double>(hi);
  const auto lower = static_cast<double>(lo);
  // The integer multiplier of least root bound mu * k + LP(p - mu) in a final bracket of integer
  // precision (the convex bound's minimum lies in it; an integer crossing, where items tie, may sit at
  // either end); in a rougher one, its end on the side's side of the crossing.
  const auto best_integer = [&](const std::pair<End, End>& bracket, bool positive_side) {
    if (std::ceil(bracket.second.mu) - std::floor(bracket.first.mu) > 3)
      return static_cast<int128>(positive_side ? std::floor(bracket.second.mu) : std::ceil(bracket.first.mu));
    const double k = positive_side ? upper : lower;
    double best = std::floor(bracket.first.mu);
    double best_bound = std::numeric_limits<double>::infinity();
    for (double mu = std::floor(bracket.first.mu); mu <= std::ceil(bracket.second.mu); ++mu) {
      if (positive_side ? mu < 0 || mu > limit : mu > 0 || mu < -far) continue;
      const double bound = mu * k + relaxed(mu).value;
      if (bound < best_bound) {
        best = mu;
        best_bound = bound;
      }
    }
    return static_cast<int128>(best);
  };
  std::optional<End> zero;
  if (!guess || *guess == 0) {
    zero = at(0.0);
    if (zero->count <= upper && zero->count >= lower) return 0;
  }
  const bool positive = guess && *guess != 0 ? *guess > 0 : zero->count > upper;
  if (guess && *guess != 0) {
    // A rougher search's multiplier: the crossing is within its tolerance, as two counts confirm.
    const double slack = std::max(1.0, 2 * tolerance_ * std::fabs(*guess));
    const End low = at(std::max(positive ? 0.0 : -far, *guess - slack));
    const End high = at(std::min(positive ? limit : 0.0, *guess + slack));
    if (positive && low.count > upper && high.count <= upper)
      return best_integer(narrow(low, high, upper, true), true);
    if (!positive && low.count >= lower && high.count < lower)
      return best_integer(narrow(low, high, lower, false), false);
    zero = at(0.0);
  }
  if (positive) return best_integer(narrow(*zero, at(limit), upper, true), true);
  // Lowering mu favours light items; far enough down the count reaches lo, unless no solution does.
  End low = at(-limit);
  while (low.mu > -far && low.count < lower) low = at(std::max(-far, 2 * low.mu));
  return best_integer(narrow(low, *zero, lower, false), false);
}

template <class P>
void CardinalityBound<P>::order_by_efficiency(Side& side) const {
  side.ordered = true;
  side.by_efficiency.clear();
  for (const std::size_t j : free_items_)
    if (modified(j, side.mu) > 0) side.by_efficiency.push_back(j);
  sort_by_efficiency(
      side.by_efficiency, [&](std::size_t j) { return modified(j, side.mu); },
      [&](std::size_t j) { return items_.weights[j]; });
}

template <class P>
typename CardinalityBound<P>::Relaxation CardinalityBound<P>::relax(const Side& side,
                                                                    bool outside_only) const {
  Relaxation relaxation;
  const auto relaxed_item = [&](std::size_t j) { return is_free_[j] && (!outside_only || outside_core_[j]); };
  for (const std::size_t j : free_items_) {
    if (j >= items_.break_item || !relaxed_item(j)) continue;
    relaxation.break_profit += modified(j, side.mu);
    relaxation.break_weight += items_.weights[j];
  }
  const std::size_t most = side.by_efficiency.size();
  relaxation.weights.reserve(most);
  relaxation.profits.reserve(most);
  relaxation.efficiency_estimate.reserve(most);
  relaxation.prefix_weight.reserve(most + 1);
  relaxation.prefix_profit.reserve(most + 1);
  relaxation.prefix_estimate.reserve(most + 1);
  relaxation.prefix_weight.assign(1, 0);
  relaxation.prefix_profit.assign(1, 0);
  relaxation.prefix_estimate.assign(1, 0.0);
  for (const std::size_t j : side.by_efficiency) {
    if (!relaxed_item(j)) continue;
    const int128 profit = modified(j, side.mu);
    relaxation.weights.push_back(items_.weights[j]);
    relaxation.profits.push_back(profit);
    relaxation.efficiency_estimate.push_back(static_cast<double>(profit) /
                                             static_cast<double>(items_.weights[j]));
    relaxation.prefix_weight.push_back(relaxation.prefix_weight.back() + items_.weights[j]);
    relaxation.prefix_profit.push_back(relaxation.prefix_profit.back() + profit);
    relaxation.prefix_estimate.push_back(static_cast<double>(relaxation.prefix_profit.back()));
  }
  return relaxation;
}

template <class P>
void CardinalityBound<P>::set_root(Side& side) const {
  // The relaxation over all free items of positive modified profit (in the order order_by_efficiency
  // gives them: by modified efficiency, ties by index), up to its break item, found by a weighted
  // quickselect instead of a sort: a side that its surrogate problem closes never needs the order.
  const int128 mu = side.mu;
  int128 break_profit = 0;
  std::int64_t break_weight = 0;
  std::vector<std::size_t> open;
  open.reserve(free_items_.size());
  for (const std::size_t j : free_items_) {
    if (j < items_.break_item) {
      break_profit += modified(j, mu);
      break_weight += items_.weights[j];
    }
    if (modified(j, mu) > 0) open.push_back(j);
  }
  const auto before = [&](std::size_t a, std::size_t b) {
    const int sign = sign_of_sum(modified(a, mu), items_.weights[b], -modified(b, mu), items_.weights[a]);
    return sign != 0 ? sign > 0 : a < b;
  };
  // The root state: the break solution, count b.
  std::int64_t room = items_.capacity - break_weight_ + break_weight;
  int128 whole_profit = 0;
  side.root_residual = 0;
  side.lambda_profit = 0;
  side.lambda_weight = 1;
  auto first = open.begin();
  auto last = open.end();
  while (first != last) {
    std::iter_swap(first + (last - first) / 2, last - 1);
    const std::size_t pivot = last[-1];
    const auto better = std::partition(first, last - 1, [&](std::size_t j) { return before(j, pivot); });
    std::int64_t better_weight = 0;
    int128 better_profit = 0;
    for (auto it = first; it != better; ++it) {
      better_weight += items_.weights[*it];
      better_profit += modified(*it, mu);
    }
    if (better_weight > room) {
      last = better;
      continue;
    }
    room -= better_weight;
    whole_profit += better_profit;
    if (items_.weights[pivot] > room) {
      side.root_residual = room;
      side.lambda_profit = modified(pivot, mu);
      side.lambda_weight = items_.weights[pivot];
      break;
    }
    room -= items_.weights[pivot];
    whole_profit += modified(pivot, mu);
    std::iter_swap(better, last - 1);
    first = better + 1;
  }
  side.root_constant = static_cast<int128>(break_profit_) - mu * static_cast<int128>(break_count_) -
                       break_profit + whole_profit;
}

template <class P>
bool CardinalityBound<P>::fixes(std::size_t j) const {
  // Flipping j changes the root bound by -max(0, d) for an item of the break solution and by min(0, d)
  // for another, d = p'_j - e * w_j its reduced profit; everything times lambda_weight.
  return std::all_of(sides_.begin(), sides_.end(), [&](const Side& side) {
    if (empty(side)) return true;
    const int128 mu = side.mu;
    const int128 margin = side.root_constant + mu * k(side, mu) - static_cast<int128>(threshold_);
    const int128 profit = modified(j, mu);
    const int reduced = sign_of_sum(profit, side.lambda_weight, -side.lambda_profit, items_.weights[j]);
    if (j < items_.break_item && reduced > 0)
      return sign_of_sum(margin - profit, side.lambda_weight, side.lambda_profit,
                         side.root_residual + items_.weights[j]) < 0;
    if (j >= items_.break_item && reduced < 0)
      return sign_of_sum(margin + profit, side.lambda_weight, side.lambda_profit,
                         side.root_residual - items_.weights[j]) < 0;
    return sign_of_sum(margin, side.lambda_weight, side.lambda_profit, side.root_residual) < 0;
  });
}

template <class P>
long double CardinalityBound<P>::root_bound() const {
  long double best = static_cast<long double>(threshold_) - 1;
  for (const Side& side : sides_) {
    if (empty(side)) continue;
    const auto efficiency =
        static_cast<long double>(side.lambda_profit) / static_cast<long double>(side.lambda_weight);
    best = std::max(best, static_cast<long double>(side.root_constant + side.mu * k(side, side.mu)) +
                              static_cast<long double>(side.root_residual) * efficiency);
  }
  return best;
}

template <class P>
long double CardinalityBound<P>::flipped_bound(std::size_t j) const {
  long double best = -std::numeric_limits<long double>::infinity();
  for (const Side& side : sides_) {
    if (empty(side)) continue;
    const int128 mu = side.mu;
    const auto efficiency =
        static_cast<long double>(side.lambda_profit) / static_cast<long double>(side.lambda_weight);
    const long double root = static_cast<long double>(side.root_constant + mu * k(side, mu)) +
                             static_cast<long double>(side.root_residual) * efficiency;
    const long double reduced =
        static_cast<long double>(modified(j, mu)) - efficiency * static_cast<long double>(items_.weights[j]);
    best = std::max(best,
                    j < items_.break_item ? root - std::max(0.0L, reduced) : root + std::min(0.0L, reduced));
  }
  return best;
}

template <class P>
bool CardinalityBound<P>::below(const Side& side, std::int64_t weight, P profit, std::int64_t count,
                                std::size_t& whole) const {
  if (empty(side)) return true;  // no improving solution has a count in this side
  const Relaxation& relaxation = side.outside;
  const std::int64_t capacity = items_.capacity - weight + relaxation.break_weight;
  if (capacity < 0) return true;  // removing every free item of the break solution is not enough
  const int128 base = static_cast<int128>(profit) - side.mu * count + side.mu * k(side, side.mu) -
                      relaxation.break_profit - static_cast<int128>(threshold_);
  whole = std::min(whole, relaxation.weights.size());
  while (relaxation.prefix_weight[whole] > capacity) --whole;
  const int128 margin = base + relaxation.prefix_profit[whole];
  if (whole == relaxation.weights.size()) return margin < 0;
  return sign_of_sum(margin, relaxation.weights[whole], relaxation.profits[whole],
                     capacity - relaxation.prefix_weight[whole]) < 0;
}

template <class P>
bool CardinalityBound<P>::cannot_reach(std::int64_t weight, P profit, std::int64_t count) const {
  return std::all_of(sides_.begin(), sides_.end(), [&](const Side& side) {
    const Relaxation& relaxation = side.outside;
    const std::int64_t capacity = items_.capacity - weight + relaxation.break_weight;
    auto whole = static_cast<std::size_t>(
        std::upper_bound(relaxation.prefix_weight.begin(), relaxation.prefix_weight.end(), capacity) -
        relaxation.prefix_weight.begin());
    if (whole > 0) --whole;
    return below(side, weight, profit, count, whole);
  });
}

template <class P>
CardinalityBound<P>::Scan::Scan(const CardinalityBound& bound) : bound_(bound), lanes_(bound.sides_.size()) {
  refresh();
}

template <class P>
void CardinalityBound<P>::Scan::refresh() {
  threshold_ = bound_.threshold_;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const Side& side = bound_.sides_[i];
    Lane& lane = lanes_[i];
    lane.empty = bound_.empty(side);
    lane.mu = static_cast<double>(side.mu);
    lane.constant = static_cast<double>(side.mu * bound_.k(side, side.mu) - side.outside.break_profit -
                                        static_cast<int128>(threshold_));
    lane.capacity = bound_.items_.capacity + side.outside.break_weight;
  }
}

template <class P>
bool CardinalityBound<P>::Scan::cannot_reach(std::int64_t weight, P profit, std::int64_t count) {
  // Each term of the estimate is within a relative 2^-52 of its exact value, and so the sum within
  // 2^-48 of the sum of their magnitudes.
  constexpr double kRoundingError = 0x1p-40;
  if (bound_.threshold_ != threshold_) refresh();
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    Lane& lane = lanes_[i];
    if (lane.empty) continue;
    const Relaxation& relaxation = bound_.sides_[i].outside;
    const std::int64_t capacity = lane.capacity - weight;
    if (capacity < 0) continue;  // removing every free item of the break solution is not enough
    lane.whole = std::min(lane.whole, relaxation.weights.size());
    while (relaxation.prefix_weight[lane.whole] > capacity) --lane.whole;
    const double profit_term = static_cast<double>(profit);
    const double count_term = lane.mu * static_cast<double>(count);
    const double prefix_term = relaxation.prefix_estimate[lane.whole];
    double estimate = profit_term - count_term + lane.constant + prefix_term;
    double scale =
        std::fabs(profit_term) + std::fabs(count_term) + std::fabs(lane.constant) + std::fabs(prefix_term);
    if (lane.whole < relaxation.weights.size()) {
      const double fraction = static_cast<double>(capacity - relaxation.prefix_weight[lane.whole]) *
                              relaxation.efficiency_estimate[lane.whole];
      estimate += fraction;
      scale += fraction;
    }
    if (estimate < -kRoundingError * scale) continue;
    if (estimate > kRoundingError * scale) return false;
    if (!bound_.below(bound_.sides_[i], weight, profit, count, lane.whole)) return false;
  }
  return true;
}

template <class P>
std::vector<typename CardinalityBound<P>::Surrogate> CardinalityBound<P>::surrogates() const {
  std::vector<Surrogate> surrogates;
  std::int64_t fixed_weight = break_weight_;
  for (const std::size_t j : free_items_)
    if (j < items_.break_item) fixed_weight -= items_.weights[j];
  for (std::size_t i = 0; i < sides_.size(); ++i) {
    const Side& side = sides_[i];
    if (empty(side) || side.mu == 0 || side.lambda_profit <= 0) continue;
    // The side of at most hi items weighs each counted copy s more, that of at least k items s less.
    const bool at_most = side.mu > 0;
    const int128 ratio = (at_most ? side.mu : -side.mu) * side.lambda_weight / side.lambda_profit;
    if (!at_most && ratio == 0) continue;  // the problem itself over the free items: no easier
    const int128 multiplier = at_most ? ratio : -ratio;
    int128 capacity =
        static_cast<int128>(items_.capacity - fixed_weight) + multiplier * (k(side, side.mu) - fixed_count_);
    int128 total = 0;
    Surrogate surrogate{i, !at_most, {}, {}, {}, 0, false};
    for (const std::size_t j : free_items_) {
      const int128 weight = items_.weights[j] + multiplier * counted_[j];
      if (weight <= 0) {
        capacity -= weight;
        surrogate.taken.push_back(j);
        surrogate.taken_profit += items_.profits[j];
        continue;
      }
      total += weight;
      surrogate.items.weights.push_back(static_cast<std::int64_t>(std::min<int128>(weight, kWeightLimit)));
      surrogate.items.profits.push_back(items_.profits[j]);
      surrogate.items.copies.push_back(items_.copies[j]);
      surrogate.members.push_back(j);
    }
    surrogate.infeasible = capacity < 0;
    surrogate.items.capacity = static_cast<std::int64_t>(std::clamp<int128>(capacity, 0, kWeightLimit));
    if (surrogate.infeasible || std::max<int128>(capacity, 0) + total < kWeightLimit)
      surrogates.push_back(std::move(surrogate));
  }
  return surrogates;
}

template <class P>
void CardinalityBound<P>::close(std::size_t side) {
  sides_[side].lo = sides_[side].hi + 1;
}

template class CardinalityBound<std::int64_t>;
template class CardinalityBound<int128>;

}  // namespace reds::knapsack::detail
