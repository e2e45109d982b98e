// Cardinality bounds of the 0-1 knapsack kernel; see knapsack_cardinality_bound.h.
#include "knapsack_cardinality_bound.h"

#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <utility>

namespace reds::knapsack::detail {

namespace {

// Enough to narrow any double multiplier range to integer precision.
constexpr int kBisectionSteps = 128;

struct Candidate {
  double efficiency;
  std::int64_t weight;
  std::int64_t copies;
};

// The fractional count of copies in the fractional knapsack over `candidates` with `capacity`: a
// weighted quickselect for the break item, expected linear time.
double fractional_count(std::vector<Candidate>& candidates, double capacity) {
  double count = 0.0;
  auto first = candidates.begin();
  auto last = candidates.end();
  while (first != last) {
    const double pivot = first[(last - first) / 2].efficiency;
    // Three-way partition: [first, better) > pivot, [better, equal) == pivot, [equal, last) < pivot.
    const auto better = std::partition(first, last, [&](const Candidate& c) { return c.efficiency > pivot; });
    const auto equal = std::partition(better, last, [&](const Candidate& c) { return c.efficiency == pivot; });
    double better_weight = 0.0;
    for (auto it = first; it != better; ++it) better_weight += static_cast<double>(it->weight);
    if (better_weight > capacity) {
      last = better;
      continue;
    }
    capacity -= better_weight;
    for (auto it = first; it != better; ++it) count += static_cast<double>(it->copies);
    for (auto it = better; it != equal; ++it) {
      const auto weight = static_cast<double>(it->weight);
      const auto copies = static_cast<double>(it->copies);
      if (weight > capacity) return count + copies * capacity / weight;
      capacity -= weight;
      count += copies;
    }
    first = equal;
  }
  return count;
}

}  // namespace

template <class P>
CardinalityBound<P>::CardinalityBound(const SortedItems<P>& items, std::vector<std::size_t> free_items,
                                      std::vector<bool> outside_core, P threshold)
    : items_(items), free_items_(std::move(free_items)), outside_core_(std::move(outside_core)) {
  const std::size_t n = items.weights.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  // k_hi: the lightest copies that fit together (any number of an item's copies can be taken).
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return items.weights[a] / items.copies[a] < items.weights[b] / items.copies[b];
  });
  std::int64_t room = items.capacity;
  for (const std::size_t j : order) {
    const std::int64_t unit = items.weights[j] / items.copies[j];
    const std::int64_t taken = std::min(items.copies[j], room / unit);
    count_hi_ += taken;
    room -= taken * unit;
    if (taken < items.copies[j]) break;
  }
  // For k_lo: the most profitable copies first.
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return items.profits[a] / items.copies[a] > items.profits[b] / items.copies[b];
  });
  count_prefix_.assign(1, 0);
  profit_prefix_.assign(1, 0);
  for (const std::size_t j : order) {
    unit_profits_.push_back(static_cast<int128>(items.profits[j] / items.copies[j]));
    count_prefix_.push_back(count_prefix_.back() + items.copies[j]);
    profit_prefix_.push_back(profit_prefix_.back() + static_cast<int128>(items.profits[j]));
  }
  const int128 total_profit = profit_prefix_.back();
  const auto total_count = static_cast<int128>(count_prefix_.back());
  // |mu| * (2 * copies + 2) + total profit < 2^124 keeps every sum of the bound below 2^125.
  multiplier_limit_ = std::max<int128>(0, ((int128{1} << 124) - total_profit) / (2 * total_count + 2));
  for (std::size_t j = 0; j < items.break_item; ++j) {
    break_weight_ += items.weights[j];
    break_profit_ += items.profits[j];
    break_count_ += items.copies[j];
  }
  for (const std::size_t j : free_items_)
    largest_profit_ = std::max(largest_profit_, static_cast<P>(items.profits[j] / items.copies[j]));

  const std::int64_t b = break_count_;
  threshold_ = threshold;
  count_lo_ = smallest_count(threshold);
  for (const auto& [side_lo, side_hi] : {std::pair<std::int64_t, std::int64_t>{0, b}, {b + 1, count_hi_}}) {
    Side side;
    side.lo = side_lo;
    side.hi = std::min(side_hi, count_hi_);
    if (empty(side)) continue;
    side.mu = best_multiplier(std::max(side.lo, count_lo_), side.hi);
    side.outside = relax(side.mu, true);
    set_root(side);
    sides_.push_back(std::move(side));
  }
}

template <class P>
std::int64_t CardinalityBound<P>::smallest_count(P threshold) const {
  // The first item whose copies reach the threshold, and how many of them it takes; beyond every count
  // when even all copies fall short (every side is empty then).
  const auto target = static_cast<int128>(threshold);
  const auto reaching = std::lower_bound(profit_prefix_.begin(), profit_prefix_.end(), target);
  if (reaching == profit_prefix_.end()) return count_prefix_.back() + 1;
  const auto i = static_cast<std::size_t>(reaching - profit_prefix_.begin());
  if (i == 0) return 0;
  const int128 missing = target - profit_prefix_[i - 1];
  return count_prefix_[i - 1] + static_cast<std::int64_t>((missing + unit_profits_[i - 1] - 1) / unit_profits_[i - 1]);
}

template <class P>
void CardinalityBound<P>::raise_threshold(P threshold) {
  threshold_ = threshold;
  count_lo_ = smallest_count(threshold);
}

template <class P>
void CardinalityBound<P>::restrict(std::vector<std::size_t> free_items, std::vector<bool> outside_core) {
  free_items_ = std::move(free_items);
  outside_core_ = std::move(outside_core);
  for (Side& side : sides_) side.outside = relax(side.mu, true);
}

template <class P>
double CardinalityBound<P>::relaxed_count(double mu) const {
  // Items outside free_items_ keep their break values; those of the break solution use up capacity.
  std::vector<Candidate> candidates;
  candidates.reserve(free_items_.size());
  std::int64_t free_break_weight = 0;
  std::int64_t free_break_count = 0;
  for (const std::size_t j : free_items_) {
    if (j < items_.break_item) {
      free_break_weight += items_.weights[j];
      free_break_count += items_.copies[j];
    }
    const double modified = static_cast<double>(items_.profits[j]) - mu * static_cast<double>(items_.copies[j]);
    if (modified > 0)
      candidates.push_back({modified / static_cast<double>(items_.weights[j]), items_.weights[j], items_.copies[j]});
  }
  const std::int64_t fixed_weight = break_weight_ - free_break_weight;
  const auto fixed_count = static_cast<double>(break_count_ - free_break_count);
  return fixed_count + fractional_count(candidates, static_cast<double>(items_.capacity - fixed_weight));
}

template <class P>
int128 CardinalityBound<P>::best_multiplier(std::int64_t lo, std::int64_t hi) const {
  // The root bound mu * k + LP(p - mu) is convex in mu with slope k - count(mu), count nonincreasing in
  // mu; a bisection to integer precision finds where the count crosses k.
  const auto limit = static_cast<double>(std::min<int128>(multiplier_limit_, largest_profit_));
  if (limit < 1.0) return 0;
  const double at_zero = relaxed_count(0.0);
  if (at_zero > static_cast<double>(hi)) {
    double low = 0.0;
    double high = limit;
    for (int step = 0; step < kBisectionSteps && high - low > 1.0; ++step) {
      const double middle = (low + high) / 2;
      (relaxed_count(middle) > static_cast<double>(hi) ? low : high) = middle;
    }
    return static_cast<int128>(std::floor(high));
  }
  if (at_zero < static_cast<double>(lo)) {
    // Lowering mu favours light items; far enough down the count reaches lo, unless no solution does.
    const auto far = static_cast<double>(multiplier_limit_);
    double low = -limit;
    while (low > -far && relaxed_count(low) < static_cast<double>(lo)) low = std::max(-far, 2 * low);
    double high = 0.0;
    for (int step = 0; step < kBisectionSteps && high - low > 1.0; ++step) {
      const double middle = (low + high) / 2;
      (relaxed_count(middle) < static_cast<double>(lo) ? high : low) = middle;
    }
    return static_cast<int128>(std::ceil(low));
  }
  return 0;
}

template <class P>
typename CardinalityBound<P>::Relaxation CardinalityBound<P>::relax(int128 mu, bool outside_only) const {
  Relaxation relaxation;
  std::vector<std::size_t> positive;
  const auto modified = [&](std::size_t j) { return static_cast<int128>(items_.profits[j]) - mu * items_.copies[j]; };
  for (const std::size_t j : free_items_) {
    if (outside_only && !outside_core_[j]) continue;
    if (j < items_.break_item) {
      relaxation.break_profit += modified(j);
      relaxation.break_weight += items_.weights[j];
    }
    if (modified(j) > 0) positive.push_back(j);
  }
  std::sort(positive.begin(), positive.end(), [&](std::size_t a, std::size_t b) {
    const int sign = sign_of_sum(modified(a), items_.weights[b], -modified(b), items_.weights[a]);
    return sign != 0 ? sign > 0 : a < b;
  });
  relaxation.prefix_weight.assign(1, 0);
  relaxation.prefix_profit.assign(1, 0);
  for (const std::size_t j : positive) {
    relaxation.weights.push_back(items_.weights[j]);
    relaxation.profits.push_back(modified(j));
    relaxation.prefix_weight.push_back(relaxation.prefix_weight.back() + items_.weights[j]);
    relaxation.prefix_profit.push_back(relaxation.prefix_profit.back() + modified(j));
  }
  return relaxation;
}

template <class P>
void CardinalityBound<P>::set_root(Side& side) const {
  const int128 mu = side.mu;
  const Relaxation all = relax(mu, false);
  // The root state: the break solution, count b.
  const std::int64_t capacity = items_.capacity - break_weight_ + all.break_weight;
  const auto whole = static_cast<std::size_t>(
      std::upper_bound(all.prefix_weight.begin(), all.prefix_weight.end(), capacity) - all.prefix_weight.begin() - 1);
  side.root_constant = static_cast<int128>(break_profit_) - mu * static_cast<int128>(break_count_) -
                       all.break_profit + all.prefix_profit[whole];
  if (whole == all.weights.size()) return;
  side.root_residual = capacity - all.prefix_weight[whole];
  side.lambda_profit = all.profits[whole];
  side.lambda_weight = all.weights[whole];
}

template <class P>
bool CardinalityBound<P>::fixes(std::size_t j) const {
  // Flipping j changes the root bound by -max(0, d) for an item of the break solution and by min(0, d)
  // for another, d = p'_j - e * w_j its reduced profit; everything times lambda_weight.
  return std::all_of(sides_.begin(), sides_.end(), [&](const Side& side) {
    if (empty(side)) return true;
    const int128 mu = side.mu;
    const int128 margin = side.root_constant + mu * k(side, mu) - static_cast<int128>(threshold_);
    const int128 modified = static_cast<int128>(items_.profits[j]) - mu * items_.copies[j];
    const int reduced = sign_of_sum(modified, side.lambda_weight, -side.lambda_profit, items_.weights[j]);
    if (j < items_.break_item && reduced > 0)
      return sign_of_sum(margin - modified, side.lambda_weight, side.lambda_profit,
                         side.root_residual + items_.weights[j]) < 0;
    if (j >= items_.break_item && reduced < 0)
      return sign_of_sum(margin + modified, side.lambda_weight, side.lambda_profit,
                         side.root_residual - items_.weights[j]) < 0;
    return sign_of_sum(margin, side.lambda_weight, side.lambda_profit, side.root_residual) < 0;
  });
}

template <class P>
long double CardinalityBound<P>::flipped_bound(std::size_t j) const {
  long double best = -std::numeric_limits<long double>::infinity();
  for (const Side& side : sides_) {
    if (empty(side)) continue;
    const int128 mu = side.mu;
    const auto efficiency = static_cast<long double>(side.lambda_profit) / static_cast<long double>(side.lambda_weight);
    const long double root = static_cast<long double>(side.root_constant + mu * k(side, mu)) +
                             static_cast<long double>(side.root_residual) * efficiency;
    const long double reduced = static_cast<long double>(static_cast<int128>(items_.profits[j]) - mu * items_.copies[j]) -
                                efficiency * static_cast<long double>(items_.weights[j]);
    best = std::max(best, j < items_.break_item ? root - std::max(0.0L, reduced) : root + std::min(0.0L, reduced));
  }
  return best;
}

template <class P>
bool CardinalityBound<P>::below(const Side& side, std::int64_t weight, P profit, std::int64_t count) const {
  if (empty(side)) return true;  // no improving solution has a count in this side
  const Relaxation& relaxation = side.outside;
  const std::int64_t capacity = items_.capacity - weight + relaxation.break_weight;
  if (capacity < 0) return true;  // removing every free item of the break solution is not enough
  const int128 base = static_cast<int128>(profit) - side.mu * count + side.mu * k(side, side.mu) -
                      relaxation.break_profit - static_cast<int128>(threshold_);
  const auto whole = static_cast<std::size_t>(
      std::upper_bound(relaxation.prefix_weight.begin(), relaxation.prefix_weight.end(), capacity) -
      relaxation.prefix_weight.begin() - 1);
  const int128 margin = base + relaxation.prefix_profit[whole];
  if (whole == relaxation.weights.size()) return margin < 0;
  return sign_of_sum(margin, relaxation.weights[whole], relaxation.profits[whole],
                     capacity - relaxation.prefix_weight[whole]) < 0;
}

template <class P>
bool CardinalityBound<P>::cannot_reach(std::int64_t weight, P profit, std::int64_t count) const {
  return std::all_of(sides_.begin(), sides_.end(),
                     [&](const Side& side) { return below(side, weight, profit, count); });
}

template class CardinalityBound<std::int64_t>;
template class CardinalityBound<int128>;

}  // namespace reds::knapsack::detail
