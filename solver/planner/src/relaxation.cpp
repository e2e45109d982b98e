// The Lagrangian relaxation of a level's sum budgets: longest paths under prices (an upper envelope of lines
// per stage), the search for the prices that minimise the dual bound, the cheapest completions, and the
// envelope of relaxations that bounds every label of the label search.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "level_solver_state.h"
#include "multiplier_search.h"
#include "reds/detail/saturating.h"

namespace reds::detail {

void LevelSolver::backward_step(std::size_t s, const std::vector<double>& alpha,
                                const std::vector<double>& beta, const std::vector<double>& next,
                                std::vector<double>& out, std::vector<int>& arg) const {
  const Stage& stage = stages_[s];
  const std::vector<std::int64_t>& previous = predecessor_widths(s);
  if (stage.admits_all) {
    // Every node admits every previous node; the slopes usually fall with the width.
    slope_.resize(beta.size());
    intercept_.resize(beta.size());
    for (std::size_t i = 0; i < beta.size(); ++i) {
      slope_[i] = -beta[i];
      intercept_[i] = next[i] == kMinusInfinity ? kMinusInfinity : alpha[i] + next[i];
    }
    if (sorted_upper_envelope(slope_, intercept_, previous, out, arg, envelope_scratch_)) return;
  }
  out.assign(previous.size(), kMinusInfinity);
  arg.assign(previous.size(), -1);
  MaxLineSet& lines = line_set_;
  lines.reset(previous);
  // Node i admits previous nodes 0..last_predecessor[i]: activate lines by decreasing prefix length.
  const std::vector<int>& by_prefix = stage.by_decreasing_prefix;
  std::size_t active = 0;
  for (int j = static_cast<int>(previous.size()) - 1; j >= 0; --j) {
    while (active < by_prefix.size() && stage.last_predecessor[by_prefix[active]] >= j) {
      const int i = by_prefix[active++];
      if (next[i] != kMinusInfinity) lines.insert(-beta[i], alpha[i] + next[i], i);
    }
    const auto [best, id] = lines.query(static_cast<std::size_t>(j));
    out[j] = best;
    arg[j] = id;
  }
}

void LevelSolver::relax_into(const std::vector<double>& lambda, Relaxation& relaxation) const {
  relaxation.lambda = lambda;
  const std::size_t stage_count = stages_.size();
  relaxation.to_go.resize(stage_count);
  successor_.resize(stage_count);
  std::vector<double>* next = &relaxation.to_go[stage_count - 1];
  next->assign(stages_.back().width.size(), 0.0);
  for (std::size_t s = stage_count; s-- > 0;) {
    const Stage& stage = stages_[s];
    const std::size_t nodes = stage.width.size();
    // The values to go from stage s - 1 (the source's, when s = 0) are stage s - 1's to_go.
    std::vector<double>& before = s > 0 ? relaxation.to_go[s - 1] : out_;
    if (budgets_.size() == 1 && stage.admits_all) {
      // One price and no admissibility filter: the envelope's lines straight from the stage's costs.
      const double price = lambda[0];
      const double* own = node_cost_[s][0].data();
      const double* per_input = input_cost_[s][0].data();
      const std::vector<double>& to_go = *next;
      slope_.resize(nodes);
      intercept_.resize(nodes);
      for (std::size_t i = 0; i < nodes; ++i) {
        slope_[i] = -(price * per_input[i]);
        intercept_[i] = to_go[i] == kMinusInfinity
                            ? kMinusInfinity
                            : (stage.group->value[stage.width[i]] - price * own[i]) + to_go[i];
      }
      if (sorted_upper_envelope(slope_, intercept_, predecessor_widths(s), before, successor_[s],
                                envelope_scratch_)) {
        next = &before;
        continue;
      }
    }
    alpha_.resize(nodes);
    beta_.resize(nodes);
    for (std::size_t i = 0; i < nodes; ++i) alpha_[i] = stage.group->value[stage.width[i]];
    std::fill(beta_.begin(), beta_.end(), 0.0);
    for (std::size_t t = 0; t < budgets_.size(); ++t) {
      const double price = lambda[t];
      const double* own = node_cost_[s][t].data();
      const double* per_input = input_cost_[s][t].data();
      for (std::size_t i = 0; i < nodes; ++i) {
        alpha_[i] -= price * own[i];
        beta_[i] += price * per_input[i];
      }
    }
    backward_step(s, alpha_, beta_, *next, before, successor_[s]);
    next = &before;
  }
  double dual = out_[0];
  for (std::size_t t = 0; t < budgets_.size(); ++t) dual += lambda[t] * budgets_[t].capacity;
  relaxation.dual = dual;
  relaxation.path.clear();
  int node = successor_[0][0];
  for (std::size_t s = 0; s < stage_count && node >= 0; ++s) {
    relaxation.path.push_back(stages_[s].width[node]);
    if (s + 1 < stage_count) node = successor_[s + 1][node];
  }
}

void LevelSolver::cheapest_completion(const Budget& budget, std::vector<std::vector<double>>& to_go) const {
  to_go.resize(stages_.size());
  std::vector<double>& next = next_;
  std::vector<double>& alpha = alpha_;
  std::vector<double>& beta = beta_;
  std::vector<double>& out = out_;
  next.assign(stages_.back().width.size(), 0.0);
  for (std::size_t s = stages_.size(); s-- > 0;) {
    const Stage& stage = stages_[s];
    to_go[s].resize(next.size());
    for (std::size_t i = 0; i < next.size(); ++i) to_go[s][i] = -next[i];
    alpha.resize(stage.width.size());
    beta.resize(stage.width.size());
    const GroupResourceCost& cost = stage.group->cost[budget.resource];
    for (std::size_t i = 0; i < stage.width.size(); ++i) {
      const std::int64_t k = stage.width[i];
      alpha[i] = -static_cast<double>(saturating_add(cost.own[k], cost.tied[k]));
      beta[i] = static_cast<double>(cost.coupling) * static_cast<double>(k) + static_cast<double>(cost.input);
    }
    // Usually the narrowest node is the cheapest way on from every previous node: it costs no more on its own
    // and per unit of input width, and admits every previous node any node admits. Then no envelope is
    // needed.
    bool narrowest_cheapest = next[0] != kMinusInfinity && beta[0] >= 0.0;
    for (std::size_t i = 1; i < stage.width.size() && narrowest_cheapest; ++i) {
      narrowest_cheapest = alpha[i] + next[i] <= alpha[0] + next[0] && beta[i] >= beta[0] &&
                           stage.last_predecessor[i] <= stage.last_predecessor[0];
    }
    if (narrowest_cheapest) {
      const std::vector<std::int64_t>& previous = predecessor_widths(s);
      out.assign(previous.size(), kMinusInfinity);
      for (int j = 0; j <= stage.last_predecessor[0]; ++j) {
        out[j] = alpha[0] + next[0] - beta[0] * static_cast<double>(previous[j]);
      }
    } else {
      backward_step(s, alpha, beta, next, out, arg_);
    }
    std::swap(next, out);  // every branch above writes all of `out`
  }
}

// A bound of -infinity (no path at all) makes every comparison's slack infinite.
double LevelSolver::tolerance() const {
  const double bound = std::abs(upper_bound_ == std::numeric_limits<double>::infinity() ? 0.0 : upper_bound_);
  return bound_tolerance(bound, budgets_, lambda_, envelope_, incumbent_value_);
}

// Minimises the dual along multiplier b. A multiplier from a neighbouring level, or a bracket of earlier
// solves' tangents, is usually close to the minimum: it is bracketed from there.
void LevelSolver::line_search(std::size_t b, const Relaxation* at_current,
                              const std::optional<Bracket>& known) {
  using Search = MultiplierSearch<LevelSolver>;
  const auto evaluate = [&](double t) { return Search::evaluate(*this, b, t); };
  std::optional<Point> start;
  if (at_current != nullptr && usable(*at_current)) {
    start = Search::point_of(*this, b, *at_current);
  } else {
    start = evaluate(lambda_[b]);
  }
  if (!start) return;
  const Point current = *start;
  Point left = current, right = current;
  if (known) {
    left = current.slope < 0.0 && current.lambda > known->left.lambda ? current : known->left;
    right = current.slope >= 0.0 && current.lambda < known->right.lambda ? current : known->right;
  }
  // Bracket the minimum by steps growing from 1/16 of the multiplier before falling back to the wide
  // search; from the unnested minimum of this very budget, try a hair's step across its kink first.
  const bool hair_first = constraints_.start_multipliers_at_unnested_minimum && b == 0;
  double step = current.lambda / 16.0;
  const double hair = current.lambda * 1e-9;
  if (known) {
    // Bracketed already.
  } else if (current.slope >= 0.0) {
    if (current.lambda == 0.0) return;
    for (int attempt = 0;; ++attempt) {
      const int growth = hair_first ? attempt - 1 : attempt;
      const double t = std::max(0.0, current.lambda - (growth < 0 ? hair : std::ldexp(step, growth)));
      const std::optional<Point> point = evaluate(t);
      if (!point) return;
      left = *point;
      if (left.slope < 0.0) break;
      if (t == 0.0 || deadline_.passed()) return;  // the path at lambda_b = 0 fits: it is optimal for b
      right = left;
    }
  } else {
    // Grow lambda until the maximising path fits the budget; start from the path's value per unit cost.
    const double used = budgets_[b].capacity - current.slope;
    double t = current.lambda > 0.0 ? current.lambda + (hair_first ? hair : step)
                                    : std::max(std::abs(current.dual) / used, 1e-300);
    for (int attempt = 0;; ++attempt) {
      const std::optional<Point> point = evaluate(t);
      if (!point) return;
      right = *point;
      if (right.slope >= 0.0) break;
      left = right;
      if (attempt == 200 || deadline_.passed()) return;
      if (hair_first && attempt == 0) {
        t = current.lambda + step;
      } else {
        t = current.lambda > 0.0 && attempt < 4 ? t + (step *= 2.0) : t * 4.0;
      }
    }
  }
  Search::minimise_between(*this, b, left, right);
}

void LevelSolver::search_multipliers() {
  double importance = 1.0;
  for (const Stage& stage : stages_) importance += std::abs(stage.group->value[stage.width.back()]);
  start_prices(constraints_.start_multipliers, model_.resources.size(), importance, budgets_, lambda_);
  // Earlier solves' tangents: start where the two bracketing the minimum meet (Kelley's next point).
  const std::optional<Bracket> known = pooled_bracket();
  if (known) {
    const Point& l = known->left;
    const Point& r = known->right;
    lambda_[0] = (r.dual - l.dual + l.slope * l.lambda - r.slope * r.lambda) / (l.slope - r.slope);
  }
  relax_into(lambda_, best_relaxation_);
  const Relaxation& start = best_relaxation_;
  consider(start.path);
  share(start);
  upper_bound_ = start.dual;
  if (progress_) progress_(incumbent_value_, upper_bound_);
  if (constraints_.start_multipliers_at_unnested_minimum &&
      start.dual >= constraints_.unnested_dual_minimum - tolerance()) {
    return;
  }
  for (std::size_t b = 0; b < budgets_.size(); ++b) {
    if (deadline_.passed()) return;
    line_search(b, b == 0 ? &best_relaxation_ : nullptr, b == 0 ? known : std::nullopt);
  }
  if (budgets_.size() > 1) MultiplierSearch<LevelSolver>::subgradient_search(*this);
}

std::optional<LevelSolver::Bracket> LevelSolver::pooled_bracket() {
  if (cuts_ == nullptr) return std::nullopt;
  const Budget& budget = budgets_[0];
  const DualCutPool::Cut* left = nullptr;
  const DualCutPool::Cut* right = nullptr;
  for (const DualCutPool::Cut& cut : cuts_->cuts()) {
    if (cut.cost > budget.limit) {
      if (left == nullptr || cut.lambda > left->lambda) left = &cut;
    } else {
      if (right == nullptr || cut.lambda < right->lambda) right = &cut;
      consider(cut.widths);  // an earlier level's relaxed plan that fits this budget
    }
  }
  if (left == nullptr || right == nullptr || !(left->lambda < right->lambda)) return std::nullopt;
  const auto point_of = [&](const DualCutPool::Cut& cut) {
    const double cost = static_cast<double>(cut.cost);
    return Point{cut.lambda, cut.value - cut.lambda * cost + cut.lambda * budget.capacity,
                 budget.capacity - cost};
  };
  return Bracket{point_of(*left), point_of(*right)};
}

void LevelSolver::share(const Relaxation& relaxation) {
  if (cuts_ == nullptr || relaxation.path.size() != stages_.size() || !std::isfinite(relaxation.dual)) return;
  const std::size_t resource = budgets_[0].resource;
  cuts_->add({relaxation.lambda[0], model_.value_of(relaxation.path),
              model_.cost_of(relaxation.path, resource), relaxation.path});
}

Relaxation& LevelSolver::new_envelope_entry() {
  if (spare_relaxations_.empty()) return envelope_.emplace_back();
  envelope_.push_back(std::move(spare_relaxations_.back()));
  spare_relaxations_.pop_back();
  return envelope_.back();
}

void LevelSolver::clear_envelope() {
  for (Relaxation& relaxation : envelope_) spare_relaxations_.push_back(std::move(relaxation));
  envelope_.clear();
}

void LevelSolver::build_envelope() {
  clear_envelope();
  new_envelope_entry() = best_relaxation_;
  envelope_prices(lambda_, constraints_.wide_envelope, trial_lambda_, [&](const std::vector<double>& lambda) {
    Relaxation& relaxation = new_envelope_entry();
    relax_into(lambda, relaxation);
    consider(relaxation.path);
  });
}

void DualCutPool::bind(const std::vector<Stage>& stages, std::size_t resource) {
  const auto same_graph = [&] {
    if (stages.size() != stage_widths_.size()) return false;
    for (std::size_t s = 0; s < stages.size(); ++s) {
      if (stages[s].width != stage_widths_[s] || stages[s].last_predecessor != stage_predecessors_[s]) {
        return false;
      }
    }
    return true;
  };
  if (bound_ && resource == resource_ && same_graph()) return;
  bound_ = true;
  resource_ = resource;
  stage_widths_.resize(stages.size());
  stage_predecessors_.resize(stages.size());
  for (std::size_t s = 0; s < stages.size(); ++s) {
    stage_widths_[s] = stages[s].width;
    stage_predecessors_[s] = stages[s].last_predecessor;
  }
  cuts_.clear();
}

}  // namespace reds::detail
