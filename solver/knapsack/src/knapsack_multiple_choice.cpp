// The multiple-choice knapsack kernel, after D. Pisinger, "A minimal algorithm for the multiple-choice
// knapsack problem", European Journal of Operational Research 83 (1995) 394-410.
//
// Per class, items heavier than the capacity and dominated items (another is no heavier and at least as
// profitable) go; the rest, lightest first, are strictly increasing in weight and profit, and weights and
// profits are taken relative to the lightest item. The linear relaxation walks the classes' upper convex
// hulls: the increments between consecutive hull points, by decreasing slope, are applied while they fit;
// the first that does not is the break increment, its slope lambda the price of capacity, and the class
// positions before it the LP choices. Item i of class k has the reduced cost
//   rc_i = (p_lp - lambda * w_lp) - (p_i - lambda * w_i) >= 0,
// and the LP bound with i chosen is LP - rc_i: items whose bound cannot reach the threshold go (Dembo and
// Hammer), and a class left with its LP choice alone is fixed.
//
// A dynamic program over the remaining classes, the most promising first, keeps states (weight, profit) of
// solutions that differ from the LP choices only on the classes processed, sorted by weight with strictly
// increasing profit, while their bound reaches the threshold: below the capacity, profit + room * the
// steepest upward hull slope of a class still to come (no upward move of such a class is steeper);
// above it, profit - overweight * the flattest downward slope. The search ends when no state is left.
//
// The count bound, once the states outnumber Options::cardinality_states (the MCKP twin of the 0-1
// cardinality bound): the position of an item in its class (lightest first, dominated items gone) is its
// count, and no solution has a larger total count than J, the linear relaxation of maximising the total
// count within the capacity, rounded down. For any multiplier mu >= 0,
//   sum p_x = sum (p_x - mu * count_x) + mu * sum count_x <= LP(p - mu * count) + mu * J,
// both relaxations over the items still free. mu minimises the right-hand side (a bisection on integers;
// the bound is convex in mu). On the strongly correlated class, whose items are chains of increments
// (w', w' + K), p - K * count is the weight and the bound at mu = K is c + K * J: a solution filling the
// capacity with J increments proves itself optimal, which the plain LP bound (c + K * J + a fraction of
// K) and the DP's state bounds could not do without enumerating most of the classes.
//
// Every state remembers the choices of its last classes in 64 bits; a solution whose older choices were
// shifted out is completed by solving the multiple-choice problem over those classes with its profit
// known.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <queue>
#include <tuple>
#include <utility>

#include "knapsack_kernel.h"
#include "knapsack_states.h"

namespace reds::knapsack::detail {

namespace {

constexpr int kChoiceBits = 64;

template <class P>
struct ChoiceState {
  std::int64_t weight;
  P profit;
  std::uint64_t choices;  // the recent classes' choices, the latest in the low bits
  std::int64_t count;  // the total count (sum of positions) of the solution, unprocessed classes at the LP's
};

// The best solution found: a state after `processed` core classes, possibly with one more class moved
// (its position in `moved`) by pairing.
template <class P>
struct ChoiceRecord {
  ChoiceState<P> state;
  std::size_t processed = 0;
  std::optional<std::pair<std::size_t, std::size_t>> moved;
};

// A class, its undominated items relative to the lightest, and its place in the LP solution.
template <class P>
struct ChoiceClass {
  std::vector<std::int64_t> weights;  // strictly increasing, from 0
  std::vector<P> profits;             // strictly increasing, from 0
  std::vector<std::size_t> items;     // indices in the input class
  std::vector<std::size_t> hull;      // positions of the upper convex hull, from 0
  std::size_t lp_hull = 0;            // hull index of the LP choice
  std::vector<std::size_t> free;      // positions that may still reach the threshold (with the LP choice)

  std::size_t lp() const { return hull[lp_hull]; }
  bool has_up() const { return lp_hull + 1 < hull.size(); }
  bool has_down() const { return lp_hull > 0; }
  // The hull increments around the LP choice: (weight, profit) to the next point, from the previous.
  std::int64_t up_weight() const { return weights[hull[lp_hull + 1]] - weights[lp()]; }
  P up_profit() const { return profits[hull[lp_hull + 1]] - profits[lp()]; }
  std::int64_t down_weight() const { return weights[lp()] - weights[hull[lp_hull - 1]]; }
  P down_profit() const { return profits[lp()] - profits[hull[lp_hull - 1]]; }
  int bits() const { return static_cast<int>(std::bit_width(free.size() - 1)); }
};

// True when slope a (dp_a / dw_a) is steeper than slope b, dw > 0.
template <class P>
bool steeper(P dp_a, std::int64_t dw_a, P dp_b, std::int64_t dw_b) {
  return sign_of_sum(dp_a, dw_b, static_cast<P>(-dp_b), dw_a) > 0;
}

template <class P>
class MultipleChoice {
 public:
  MultipleChoice(const ChoiceClasses<P>& input, const Search& search, std::optional<P> target)
      : input_(input), search_(search), target_(target), next_pairing_(search.pairing_states) {}

  ChoiceOutcome<P> solve();

 private:
  bool build_classes();
  void build_hulls();
  // The LP relaxation; false when every increment fits (each class takes its most profitable item).
  bool relax();
  void greedy();
  void reduce();
  void run();
  void process(std::size_t k);
  void advance_frontier();
  bool cannot_improve(const ChoiceState<P>& state) const;
  void improve(const ChoiceState<P>& state, std::optional<std::pair<std::size_t, std::size_t>> moved);
  // Pairs every state with the best single move of a class still to come that fits (the MCKP twin of
  // pairing states with items in the 0-1 kernel): a lower bound, which the strongly correlated classes
  // need, whose optimum fills the capacity exactly.
  void pair_states();
  P upper_bound() const;
  // The count bound (see the file comment), over the free items: computed once the states outnumber
  // search_.cardinality_states; empty when the multiplied profits could overflow.
  void build_count_bound();
  // The linear relaxation over the free items with values profit - mu * position, rounded down (any
  // solution's value is an integer), or nullopt when no choice of free items fits.
  // `slope`: the break slope; `exact`: the relaxation's value before rounding, in floating point; `count`:
  // the total count of the relaxation's solution (fractional at the break class).
  std::optional<P> free_relaxation(P mu, bool positions_only, long double* slope = nullptr,
                                   long double* exact = nullptr, long double* count = nullptr) const;
  // The count bound's Lagrangian bound on the state's completions (floating point, pruning only with a
  // safety margin): (p - mu * count) + mu * J + lambda * (c - w) + the unprocessed classes' gains, lambda
  // the break slope of LP(p - mu * count).
  bool count_prunes(const ChoiceState<P>& state) const;
  // Per class, the chosen position.
  std::vector<std::size_t> reconstruct(std::int64_t& passes) const;

  const ChoiceClasses<P>& input_;
  const Search& search_;
  std::optional<P> target_;

  std::vector<ChoiceClass<P>> classes_;
  std::int64_t capacity_ = 0;  // after the lightest items
  P base_profit_ = 0;          // of the lightest items

  // The LP: the break increment (weight, profit), the integral part and its residual capacity.
  std::int64_t break_weight_ = 1;
  P break_profit_ = 0;
  std::int64_t lp_weight_ = 0;
  P lp_profit_ = 0;

  P best_ = 0;
  P threshold_ = 0;
  std::vector<std::size_t> best_positions_;  // the best solution when the DP has not recorded one
  std::optional<ChoiceRecord<P>> record_;

  std::vector<std::size_t> core_;  // classes with a choice, in processing order
  std::vector<bool> processed_class_;
  std::vector<std::size_t> by_up_;    // core classes with an upward move, steepest first
  std::vector<std::size_t> by_down_;  // core classes with a downward move, flattest first
  std::size_t up_ = 0;                // first unprocessed in by_up_
  std::size_t down_ = 0;
  std::int64_t sheddable_ = 0;  // weight the unprocessed core classes can still shed
  std::vector<ChoiceState<P>> states_;
  std::vector<ChoiceState<P>> next_states_;
  std::size_t processed_ = 0;
  std::size_t next_pairing_;
  bool timed_out_ = false;
  bool count_bound_built_ = false;
  std::optional<P> count_bound_;  // no solution reaching the threshold exceeds it (or none exists: below 0)
  bool count_pruning_ = false;
  long double count_mu_ = 0;
  long double count_most_ = 0;           // J
  long double count_slope_ = 0;          // lambda
  std::vector<long double> count_gain_;  // per class, max over free i of (v_i - lambda w_i) - the LP choice's
  long double count_gains_ = 0;          // over the unprocessed classes
  // The fewest counts a solution reaching the threshold has: profit <= LP(p - mu * count) + mu * count.
  P count_relaxation_ = 0;  // LP(p - mu * count) at the best mu
  P count_multiplier_ = 0;  // the best mu
  long double fewest_counts_ = 0;
  // The most counts a state's completions reach: count + lambda_a * (c - w) + gains, lambda_a the break
  // slope of the count relaxation J.
  long double count_weight_slope_ = 0;
  std::vector<long double> count_reach_;
  long double count_reaches_ = 0;
  void update_fewest_counts();
  Statistics statistics_;
};

template <class P>
bool MultipleChoice<P>::build_classes() {
  std::int64_t lightest_total = 0;
  for (std::size_t k = 0; k < input_.weights.size(); ++k) {
    const std::vector<std::int64_t>& weights = input_.weights[k];
    const std::vector<P>& profits = input_.profits[k];
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < weights.size(); ++i)
      if (weights[i] <= input_.capacity) order.push_back(i);
    if (order.empty()) return false;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::tie(weights[a], profits[b], a) < std::tie(weights[b], profits[a], b);
    });
    ChoiceClass<P> item_class;
    const std::int64_t lightest = weights[order.front()];
    const P lightest_profit = profits[order.front()];
    for (const std::size_t i : order) {
      if (!item_class.profits.empty() && profits[i] - lightest_profit <= item_class.profits.back()) continue;
      item_class.weights.push_back(weights[i] - lightest);
      item_class.profits.push_back(static_cast<P>(profits[i] - lightest_profit));
      item_class.items.push_back(i);
    }
    lightest_total += lightest;
    base_profit_ += lightest_profit;
    classes_.push_back(std::move(item_class));
  }
  capacity_ = input_.capacity - lightest_total;
  return capacity_ >= 0;
}

template <class P>
void MultipleChoice<P>::build_hulls() {
  for (ChoiceClass<P>& item_class : classes_) {
    std::vector<std::size_t>& hull = item_class.hull;
    const auto& w = item_class.weights;
    const auto& p = item_class.profits;
    for (std::size_t i = 0; i < w.size(); ++i) {
      // Drop the last point while it lies on or below the segment from its predecessor to i.
      while (hull.size() >= 2) {
        const std::size_t a = hull[hull.size() - 2];
        const std::size_t b = hull.back();
        if (steeper(static_cast<P>(p[i] - p[b]), w[i] - w[b], static_cast<P>(p[b] - p[a]), w[b] - w[a]) ||
            sign_of_sum(static_cast<P>(p[i] - p[b]), w[b] - w[a], static_cast<P>(p[a] - p[b]), w[i] - w[b]) ==
                0)
          hull.pop_back();
        else
          break;
      }
      hull.push_back(i);
    }
  }
}

template <class P>
bool MultipleChoice<P>::relax() {
  struct Increment {
    std::size_t k;
    std::size_t index;  // hull index it leads to
    std::int64_t weight;
    P profit;
  };
  std::vector<Increment> increments;
  for (std::size_t k = 0; k < classes_.size(); ++k) {
    const ChoiceClass<P>& c = classes_[k];
    for (std::size_t h = 1; h < c.hull.size(); ++h)
      increments.push_back({k, h, c.weights[c.hull[h]] - c.weights[c.hull[h - 1]],
                            static_cast<P>(c.profits[c.hull[h]] - c.profits[c.hull[h - 1]])});
  }
  // By slope, exactly (double slopes, then an exact insertion pass), ties in creation order, i.e. by
  // (class, hull index): within a class the slopes strictly decrease, so each class's stay in order.
  std::vector<std::size_t> order(increments.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  sort_by_efficiency(
      order, [&](std::size_t j) { return increments[j].profit; },
      [&](std::size_t j) { return increments[j].weight; });
  std::int64_t room = capacity_;
  for (const std::size_t j : order) {
    const Increment& increment = increments[j];
    if (increment.weight > room) {
      break_weight_ = increment.weight;
      break_profit_ = increment.profit;
      lp_weight_ = capacity_ - room;
      return true;
    }
    room -= increment.weight;
    lp_profit_ += increment.profit;
    classes_[increment.k].lp_hull = increment.index;
  }
  return false;
}

template <class P>
void MultipleChoice<P>::greedy() {
  // The LP choices, then each class in turn upgraded to its most profitable item that still fits.
  best_positions_.resize(classes_.size());
  std::int64_t weight = lp_weight_;
  P profit = lp_profit_;
  for (std::size_t k = 0; k < classes_.size(); ++k) {
    const ChoiceClass<P>& c = classes_[k];
    std::size_t choice = c.lp();
    for (std::size_t i = c.lp() + 1; i < c.weights.size(); ++i)
      if (weight - c.weights[c.lp()] + c.weights[i] <= capacity_) choice = i;
    weight += c.weights[choice] - c.weights[c.lp()];
    profit += c.profits[choice] - c.profits[c.lp()];
    best_positions_[k] = choice;
  }
  if (!target_ || profit >= *target_) {
    best_ = profit;
  } else {
    best_ = *target_ - 1;
  }
  threshold_ = best_ + 1;
}

template <class P>
void MultipleChoice<P>::reduce() {
  // Item i reaches the threshold only if LP - rc_i >= threshold; times the break weight:
  //   (lp_profit - threshold - p_lp + p_i) * w_b + p_b * (room + w_lp - w_i) >= 0.
  const std::int64_t room = capacity_ - lp_weight_;
  std::vector<std::pair<long double, std::size_t>> promise;
  for (std::size_t k = 0; k < classes_.size(); ++k) {
    ChoiceClass<P>& c = classes_[k];
    c.free.clear();
    long double best_alternative = -std::numeric_limits<long double>::infinity();
    for (std::size_t i = 0; i < c.weights.size(); ++i) {
      const P margin = static_cast<P>(lp_profit_ - threshold_ - c.profits[c.lp()] + c.profits[i]);
      const std::int64_t slack = room + c.weights[c.lp()] - c.weights[i];
      if (i != c.lp() && sign_of_sum(margin, break_weight_, break_profit_, slack) < 0) continue;
      c.free.push_back(i);
      if (i == c.lp()) continue;
      const long double bound = static_cast<long double>(margin) +
                                static_cast<long double>(slack) * static_cast<long double>(break_profit_) /
                                    static_cast<long double>(break_weight_);
      best_alternative = std::max(best_alternative, bound);
    }
    statistics_.free_items += static_cast<std::int64_t>(c.free.size());
    if (c.free.size() > 1) promise.emplace_back(best_alternative, k);
  }
  std::stable_sort(promise.begin(), promise.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [bound, k] : promise) core_.push_back(k);
}

template <class P>
void MultipleChoice<P>::advance_frontier() {
  while (up_ < by_up_.size() && processed_class_[by_up_[up_]]) ++up_;
  while (down_ < by_down_.size() && processed_class_[by_down_[down_]]) ++down_;
}

template <class P>
bool MultipleChoice<P>::cannot_improve(const ChoiceState<P>& state) const {
  const P margin = static_cast<P>(state.profit - threshold_);
  if (state.weight <= capacity_) {
    if (up_ == by_up_.size()) return margin < 0;
    const ChoiceClass<P>& c = classes_[by_up_[up_]];
    return sign_of_sum(margin, c.up_weight(), c.up_profit(), capacity_ - state.weight) < 0;
  }
  if (down_ == by_down_.size() || state.weight - capacity_ > sheddable_) return true;
  const ChoiceClass<P>& c = classes_[by_down_[down_]];
  return sign_of_sum(margin, c.down_weight(), c.down_profit(), capacity_ - state.weight) < 0;
}

template <class P>
void MultipleChoice<P>::improve(const ChoiceState<P>& state,
                                std::optional<std::pair<std::size_t, std::size_t>> moved) {
  const ChoiceClass<P>* c = moved ? &classes_[moved->first] : nullptr;
  const P profit =
      moved ? static_cast<P>(state.profit + c->profits[moved->second] - c->profits[c->lp()]) : state.profit;
  if (profit < threshold_) return;
  best_ = profit;
  threshold_ = best_ + 1;
  record_ = ChoiceRecord<P>{state, processed_, moved};
  update_fewest_counts();
}

template <class P>
void MultipleChoice<P>::pair_states() {
  struct Move {
    std::int64_t weight;
    P profit;
    std::size_t k;
    std::size_t position;
  };
  std::vector<Move> moves;
  for (const std::size_t k : core_) {
    if (processed_class_[k]) continue;
    const ChoiceClass<P>& c = classes_[k];
    for (const std::size_t i : c.free)
      if (i != c.lp())
        moves.push_back(
            {c.weights[i] - c.weights[c.lp()], static_cast<P>(c.profits[i] - c.profits[c.lp()]), k, i});
  }
  if (moves.empty()) return;
  std::sort(moves.begin(), moves.end(), [](const Move& a, const Move& b) { return a.weight < b.weight; });
  // best[i]: the most profitable of moves[0..i].
  std::vector<std::size_t> best(moves.size(), 0);
  for (std::size_t i = 1; i < moves.size(); ++i)
    best[i] = moves[i].profit > moves[best[i - 1]].profit ? i : best[i - 1];
  for (const ChoiceState<P>& state : states_) {
    const std::int64_t room = capacity_ - state.weight;
    const auto end =
        std::upper_bound(moves.begin(), moves.end(), room,
                         [](std::int64_t weight, const Move& move) { return weight < move.weight; });
    if (end == moves.begin()) continue;
    const Move& move = moves[best[static_cast<std::size_t>(end - moves.begin()) - 1]];
    improve(state, std::make_pair(move.k, move.position));
  }
}

template <class P>
void MultipleChoice<P>::process(std::size_t k) {
  const ChoiceClass<P>& c = classes_[k];
  processed_class_[k] = true;
  ++processed_;
  if (count_pruning_) {
    count_gains_ -= count_gain_[k];
    count_reaches_ -= count_reach_[k];
  }
  sheddable_ -= c.weights[c.lp()] - c.weights[c.free.front()];
  advance_frontier();
  const int bits = c.bits();
  // A k-way merge of the states shifted by each choice's move, lightest first, most profitable first.
  using Cursor = std::tuple<std::int64_t, P, std::size_t, std::size_t>;  // weight, -profit, choice, state
  const auto later = [](const Cursor& a, const Cursor& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) > std::tie(std::get<0>(b), std::get<1>(b));
  };
  std::priority_queue<Cursor, std::vector<Cursor>, decltype(later)> heap(later);
  const auto move_weight = [&](std::size_t t) { return c.weights[c.free[t]] - c.weights[c.lp()]; };
  const auto move_profit = [&](std::size_t t) {
    return static_cast<P>(c.profits[c.free[t]] - c.profits[c.lp()]);
  };
  const auto push = [&](std::size_t t, std::size_t s) {
    heap.emplace(states_[s].weight + move_weight(t), static_cast<P>(-(states_[s].profit + move_profit(t))), t,
                 s);
  };
  for (std::size_t t = 0; t < c.free.size(); ++t)
    if (!states_.empty()) push(t, 0);
  next_states_.clear();
  while (!heap.empty()) {
    const auto [weight, negative_profit, t, s] = heap.top();
    heap.pop();
    if (s + 1 < states_.size()) push(t, s + 1);
    const ChoiceState<P> candidate{
        weight, static_cast<P>(-negative_profit), bits == kChoiceBits ? t : (states_[s].choices << bits) | t,
        states_[s].count + static_cast<std::int64_t>(c.free[t]) - static_cast<std::int64_t>(c.lp())};
    keep_state(
        next_states_, candidate, capacity_, threshold_,
        [&](const ChoiceState<P>& state) { improve(state, std::nullopt); },
        [&](const ChoiceState<P>& state) {
          return cannot_improve(state) || (count_pruning_ && count_prunes(state));
        });
  }
  adopt_states(states_, next_states_, statistics_);
}

template <class P>
void MultipleChoice<P>::run() {
  processed_class_.assign(classes_.size(), false);
  for (const std::size_t k : core_) {
    const ChoiceClass<P>& c = classes_[k];
    if (c.has_up()) by_up_.push_back(k);
    if (c.has_down()) by_down_.push_back(k);
    sheddable_ += c.weights[c.lp()] - c.weights[c.free.front()];
  }
  std::sort(by_up_.begin(), by_up_.end(), [&](std::size_t a, std::size_t b) {
    return steeper(classes_[a].up_profit(), classes_[a].up_weight(), classes_[b].up_profit(),
                   classes_[b].up_weight());
  });
  std::sort(by_down_.begin(), by_down_.end(), [&](std::size_t a, std::size_t b) {
    return steeper(classes_[b].down_profit(), classes_[b].down_weight(), classes_[a].down_profit(),
                   classes_[a].down_weight());
  });
  std::int64_t lp_count = 0;
  for (const ChoiceClass<P>& c : classes_) lp_count += static_cast<std::int64_t>(c.lp());
  states_.push_back({lp_weight_, lp_profit_, 0, lp_count});
  if (cannot_improve(states_.front())) states_.clear();
  for (const std::size_t k : core_) {
    if (count_bound_ && *count_bound_ < threshold_) states_.clear();
    if (states_.empty()) return;
    if (search_.deadline.passed()) {
      timed_out_ = true;
      return;
    }
    process(k);
    if (states_.size() >= next_pairing_) {
      pair_states();
      next_pairing_ = 2 * states_.size();
    }
    if (!count_bound_built_ && states_.size() >= search_.cardinality_states) build_count_bound();
  }
}

template <class P>
P MultipleChoice<P>::upper_bound() const {
  // Every solution better than best_ completes a state left; bound each in long double (reported only).
  long double bound = static_cast<long double>(best_);
  for (const ChoiceState<P>& state : states_) {
    long double value = static_cast<long double>(state.profit);
    const std::int64_t room = capacity_ - state.weight;
    if (room >= 0 && up_ < by_up_.size()) {
      const ChoiceClass<P>& c = classes_[by_up_[up_]];
      value += static_cast<long double>(room) * static_cast<long double>(c.up_profit()) /
               static_cast<long double>(c.up_weight());
    } else if (room < 0) {
      if (down_ == by_down_.size()) continue;
      const ChoiceClass<P>& c = classes_[by_down_[down_]];
      value += static_cast<long double>(room) * static_cast<long double>(c.down_profit()) /
               static_cast<long double>(c.down_weight());
    }
    bound = std::max(bound, value);
  }
  const P state_bound = static_cast<P>(std::ceil(bound * (1 + 0x1p-56L)));
  return count_bound_ ? std::max(best_, std::min(state_bound, *count_bound_)) : state_bound;
}

// room * profit / weight rounded down (0 <= room < weight, profit > 0), or a little above for 128-bit
// profits whose product does not fit: an upper bound stays an upper bound.
inline std::int64_t fraction_floor(std::int64_t room, std::int64_t profit, std::int64_t weight) {
  return static_cast<std::int64_t>(static_cast<int128>(room) * profit / weight);
}
inline int128 fraction_floor(std::int64_t room, int128 profit, std::int64_t weight) {
  if (profit == static_cast<std::int64_t>(profit))
    return fraction_floor(room, static_cast<std::int64_t>(profit), weight);
  const long double estimate =
      static_cast<long double>(room) * static_cast<long double>(profit) / static_cast<long double>(weight);
  return static_cast<int128>(std::floor(estimate * (1 + 0x1p-56L))) + 1;
}

template <class P>
std::optional<P> MultipleChoice<P>::free_relaxation(P mu, bool positions_only, long double* slope,
                                                    long double* exact, long double* count) const {
  struct Increment {
    std::int64_t weight;
    P value;
    std::int64_t positions;
  };
  const auto value_of = [&](const ChoiceClass<P>& c, std::size_t i) {
    return positions_only ? static_cast<P>(i) : static_cast<P>(c.profits[i] - mu * static_cast<P>(i));
  };
  std::vector<Increment> increments;
  std::vector<std::size_t> hull;
  std::int64_t room = capacity_;
  P total = 0;
  std::int64_t positions = 0;
  for (const ChoiceClass<P>& c : classes_) {
    const std::size_t first = c.free.front();
    room -= c.weights[first];
    total += value_of(c, first);
    positions += static_cast<std::int64_t>(first);
    // The upper hull of the free items from the lightest, while it rises.
    hull.clear();
    for (const std::size_t i : c.free) {
      while (hull.size() >= 2) {
        const std::size_t a = hull[hull.size() - 2];
        const std::size_t b = hull.back();
        const P rise_b = static_cast<P>(value_of(c, b) - value_of(c, a));
        const P rise_i = static_cast<P>(value_of(c, i) - value_of(c, a));
        if (sign_of_sum(rise_b, c.weights[i] - c.weights[a], static_cast<P>(-rise_i),
                        c.weights[b] - c.weights[a]) > 0)
          break;
        hull.pop_back();
      }
      hull.push_back(i);
    }
    for (std::size_t h = 1; h < hull.size(); ++h) {
      const P rise = static_cast<P>(value_of(c, hull[h]) - value_of(c, hull[h - 1]));
      if (rise <= 0) break;
      increments.push_back({c.weights[hull[h]] - c.weights[hull[h - 1]], rise,
                            static_cast<std::int64_t>(hull[h] - hull[h - 1])});
    }
  }
  if (room < 0) return std::nullopt;
  // By slope, exactly; within a class the slopes strictly decrease and keep their order.
  std::vector<std::size_t> order(increments.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  sort_by_efficiency(
      order, [&](std::size_t j) { return increments[j].value; },
      [&](std::size_t j) { return increments[j].weight; });
  if (slope) *slope = 0;
  if (exact) *exact = 0;
  for (const std::size_t j : order) {
    const Increment& increment = increments[j];
    if (increment.weight > room) {
      const long double fraction =
          static_cast<long double>(room) / static_cast<long double>(increment.weight);
      if (slope)
        *slope = static_cast<long double>(increment.value) / static_cast<long double>(increment.weight);
      if (exact)
        *exact = static_cast<long double>(total) + fraction * static_cast<long double>(increment.value);
      if (count)
        *count =
            static_cast<long double>(positions) + fraction * static_cast<long double>(increment.positions);
      return static_cast<P>(total + fraction_floor(room, increment.value, increment.weight));
    }
    room -= increment.weight;
    total += increment.value;
    positions += increment.positions;
  }
  if (exact) *exact = static_cast<long double>(total);
  if (count) *count = static_cast<long double>(positions);
  return total;
}

template <class P>
void MultipleChoice<P>::build_count_bound() {
  count_bound_built_ = true;
  statistics_.cardinality_bound = true;
  // Overflow guard: |profit - mu * position| summed over the classes, mu up to the largest profit.
  long double largest = 0;
  long double magnitude = 0;
  long double positions = 0;
  for (const ChoiceClass<P>& c : classes_) {
    largest = std::max(largest, static_cast<long double>(c.profits.back()));
    magnitude += static_cast<long double>(c.profits.back());
    positions += static_cast<long double>(c.weights.size() - 1);
  }
  const long double limit = sizeof(P) == 8 ? 0x1p61L : 0x1p123L;
  if (magnitude + 2 * largest * (positions + 1) >= limit) return;
  long double count_weight_slope = 0;
  const std::optional<P> positions_bound = free_relaxation(0, true, &count_weight_slope);
  if (!positions_bound) {
    count_bound_ = best_;  // no solution uses free items only: none reaches the threshold
    return;
  }
  const P most = *positions_bound;
  // The bound at mu, rounded down, and the relaxation solution's count.
  const auto bound_at = [&](P mu, long double& count) -> P {
    const std::optional<P> relaxation = free_relaxation(mu, false, nullptr, nullptr, &count);
    return relaxation ? static_cast<P>(*relaxation + mu * most) : best_;
  };
  // f(mu) = LP(mu) + mu * most is convex in mu, and most - (the relaxation solution's count) is a
  // subgradient at mu: bisect on its sign. (The rounded values step where the slope is below 1: their
  // differences would mislead the bisection.)
  P low = 0;
  P high = static_cast<P>(largest);
  P bound = std::numeric_limits<P>::max();
  P best_mu = 0;
  while (low <= high) {
    const P middle = static_cast<P>(low + (high - low) / 2);
    long double count = 0;
    const P here = bound_at(middle, count);
    if (here < bound) bound = here, best_mu = middle;
    const long double subgradient = static_cast<long double>(most) - count;
    if (subgradient < 0)
      low = static_cast<P>(middle + 1);  // f falls beyond middle
    else if (subgradient > 0 && middle > 0)
      high = static_cast<P>(middle - 1);
    else
      break;
  }
  count_bound_ = bound;
  // The states' bound at the best multiplier.
  long double slope = 0;
  if (!free_relaxation(best_mu, false, &slope)) return;
  count_multiplier_ = best_mu;
  count_relaxation_ = static_cast<P>(bound - best_mu * most);
  count_weight_slope_ = count_weight_slope;
  count_reach_.assign(classes_.size(), 0);
  count_reaches_ = 0;
  count_mu_ = static_cast<long double>(best_mu);
  count_most_ = static_cast<long double>(most);
  count_slope_ = slope;
  count_gain_.assign(classes_.size(), 0);
  count_gains_ = 0;
  for (std::size_t k = 0; k < classes_.size(); ++k) {
    const ChoiceClass<P>& c = classes_[k];
    const auto reduced = [&](std::size_t i) {
      return static_cast<long double>(c.profits[i]) - count_mu_ * static_cast<long double>(i) -
             count_slope_ * static_cast<long double>(c.weights[i]);
    };
    long double best = -std::numeric_limits<long double>::infinity();
    for (const std::size_t i : c.free) best = std::max(best, reduced(i));
    count_gain_[k] = best - reduced(c.lp());
    if (!processed_class_[k]) count_gains_ += count_gain_[k];
    const auto reduced_count = [&](std::size_t i) {
      return static_cast<long double>(i) - count_weight_slope_ * static_cast<long double>(c.weights[i]);
    };
    long double reach = -std::numeric_limits<long double>::infinity();
    for (const std::size_t i : c.free) reach = std::max(reach, reduced_count(i));
    count_reach_[k] = reach - reduced_count(c.lp());
    if (!processed_class_[k]) count_reaches_ += count_reach_[k];
  }
  count_pruning_ = true;
  update_fewest_counts();
  std::erase_if(states_, [&](const ChoiceState<P>& state) { return count_prunes(state); });
}

template <class P>
void MultipleChoice<P>::update_fewest_counts() {
  if (!count_pruning_ || count_multiplier_ <= 0) return;
  const P needed = static_cast<P>(threshold_ - count_relaxation_);
  // ceil(needed / mu)
  const P fewest = needed > 0 ? static_cast<P>((needed + count_multiplier_ - 1) / count_multiplier_)
                              : static_cast<P>(-((-needed) / count_multiplier_));
  fewest_counts_ = static_cast<long double>(fewest);
}

template <class P>
bool MultipleChoice<P>::count_prunes(const ChoiceState<P>& state) const {
  if (count_multiplier_ > 0) {
    const long double room_count = count_weight_slope_ * static_cast<long double>(capacity_ - state.weight);
    const long double most = static_cast<long double>(state.count) + room_count + count_reaches_;
    const long double error =
        (static_cast<long double>(state.count) + std::fabs(room_count) + count_reaches_) * 0x1p-40L;
    if (most < fewest_counts_ - error) return true;
  }
  const long double reduced_profit =
      static_cast<long double>(state.profit) - count_mu_ * static_cast<long double>(state.count);
  const long double room_value = count_slope_ * static_cast<long double>(capacity_ - state.weight);
  const long double rest = count_mu_ * count_most_ + count_gains_;
  const long double bound = reduced_profit + room_value + rest;
  const long double scale = std::fabs(static_cast<long double>(state.profit)) +
                            std::fabs(count_mu_ * static_cast<long double>(state.count)) +
                            std::fabs(room_value) + std::fabs(rest);
  // Solutions' profits are integers: below threshold - 1/2 by more than the rounding error, none reaches it.
  return bound < static_cast<long double>(threshold_) - 0.5L - scale * 0x1p-40L;
}

template <class P>
std::vector<std::size_t> MultipleChoice<P>::reconstruct(std::int64_t& passes) const {
  if (!record_) return best_positions_;
  std::vector<std::size_t> positions(classes_.size());
  for (std::size_t k = 0; k < classes_.size(); ++k) positions[k] = classes_[k].lp();
  if (record_->moved) positions[record_->moved->first] = record_->moved->second;
  // The latest classes' choices, as far as their bits reach back.
  std::uint64_t choices = record_->state.choices;
  int bits_left = kChoiceBits;
  std::size_t known = record_->processed;
  while (known > 0) {
    const ChoiceClass<P>& c = classes_[core_[known - 1]];
    const int bits = c.bits();
    if (bits > bits_left) break;
    const std::uint64_t mask = bits == kChoiceBits ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
    positions[core_[known - 1]] = c.free[static_cast<std::size_t>(choices & mask)];
    choices = bits == kChoiceBits ? 0 : choices >> bits;
    bits_left -= bits;
    --known;
  }
  if (known == 0) return positions;
  // The older core classes' choices were shifted out: solve their problem with the rest fixed, knowing
  // the profit they must reach.
  ChoiceClasses<P> older;
  older.capacity = capacity_;
  P target = best_;
  std::vector<bool> is_older(classes_.size(), false);
  for (std::size_t i = 0; i < known; ++i) is_older[core_[i]] = true;
  for (std::size_t k = 0; k < classes_.size(); ++k) {
    const ChoiceClass<P>& c = classes_[k];
    if (!is_older[k]) {
      older.capacity -= c.weights[positions[k]];
      target -= c.profits[positions[k]];
      continue;
    }
    older.weights.emplace_back();
    older.profits.emplace_back();
    for (const std::size_t i : c.free) {
      older.weights.back().push_back(c.weights[i]);
      older.profits.back().push_back(c.profits[i]);
    }
  }
  const ChoiceOutcome<P> completion =
      solve_multiple_choice(older, search_.unlimited(), std::optional<P>(target));
  passes += completion.statistics.passes;
  std::size_t next = 0;
  for (std::size_t k = 0; k < classes_.size(); ++k)
    if (is_older[k]) positions[k] = classes_[k].free[completion.choice[next++]];
  return positions;
}

template <class P>
ChoiceOutcome<P> MultipleChoice<P>::solve() {
  ChoiceOutcome<P> outcome;
  if (!build_classes()) {
    outcome.feasible = false;
    return outcome;
  }
  build_hulls();
  if (target_) target_ = static_cast<P>(*target_ - base_profit_);  // the kernel's profits are relative
  std::vector<std::size_t> positions;
  if (!relax()) {
    // Everything fits: every class takes its most profitable item.
    for (const ChoiceClass<P>& c : classes_) positions.push_back(c.weights.size() - 1);
  } else {
    greedy();
    reduce();
    run();
    statistics_.core_items = static_cast<std::int64_t>(processed_);
    statistics_.passes = 1;
    positions = reconstruct(statistics_.passes);
  }
  outcome.optimal = !timed_out_;
  outcome.profit = base_profit_;
  for (std::size_t k = 0; k < classes_.size(); ++k) {
    outcome.choice.push_back(classes_[k].items[positions[k]]);
    outcome.profit += classes_[k].profits[positions[k]];
  }
  outcome.upper_bound = timed_out_ ? static_cast<P>(base_profit_ + upper_bound()) : outcome.profit;
  outcome.statistics = statistics_;
  return outcome;
}

}  // namespace

template <class P>
ChoiceOutcome<P> solve_multiple_choice(const ChoiceClasses<P>& classes, const Search& search,
                                       std::optional<P> target) {
  MultipleChoice<P> solver(classes, search, target);
  return solver.solve();
}

template ChoiceOutcome<std::int64_t> solve_multiple_choice(const ChoiceClasses<std::int64_t>&, const Search&,
                                                           std::optional<std::int64_t>);
template ChoiceOutcome<int128> solve_multiple_choice(const ChoiceClasses<int128>&, const Search&,
                                                     std::optional<int128>);

}  // namespace reds::knapsack::detail
