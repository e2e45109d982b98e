#include "level_solver.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>

#include "level_graph.h"
#include "local_search.h"
#include "max_line_set.h"
#include "reds/detail/saturating.h"

namespace reds::detail {
namespace {

constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();
// The first search at the best known plan gives up beyond this many labels per node on average.
constexpr std::size_t kLabelsPerNodeOfFirstSearch = 4;

// Relaxed longest path for multipliers `lambda` (one per budget).
struct Relaxation {
  std::vector<double> lambda;
  double dual = 0.0;                       // upper bound on the level's optimum
  std::vector<std::vector<double>> to_go;  // per stage and node: best reduced completion value
  std::vector<std::int64_t> path;          // a maximising path (group widths)
};

// Labels of one stage, grouped by node: value, costs (dims per label), parent label, node.
struct Labels {
  std::vector<double> value;
  std::vector<std::int64_t> cost;
  std::vector<int> parent;
  std::vector<int> node;
  std::vector<std::size_t> node_begin;  // labels of node i: [node_begin[i], node_begin[i+1])
  // Empties them, with room for a few labels per node (most searches need no more).
  void clear(std::size_t nodes, std::size_t dims) {
    value.clear();
    cost.clear();
    parent.clear();
    node.clear();
    node_begin.clear();
    value.reserve(4 * nodes);
    cost.reserve(4 * nodes * dims);
    parent.reserve(4 * nodes);
    node.reserve(4 * nodes);
    node_begin.reserve(nodes + 1);
  }
};

// The label searches' working storage, kept from one search to the next.
struct LabelSpace {
  std::vector<Labels> stage_labels;
  std::vector<std::size_t> candidate_order;
  std::vector<double> cand_value;
  std::vector<std::int64_t> cand_cost;
  std::vector<int> cand_parent;
  std::vector<double> best_reduced;  // per previous node and relaxation: max of value - lambda . cost
  std::vector<int> labelled;         // previous nodes with labels, ascending
  std::vector<double> labelled_width, labelled_reduced;
  std::vector<int> reachable;                      // indices into `labelled` that pass the pair test
  std::vector<double> price_of_capacity;           // per relaxation: lambda . capacity
  std::vector<double> node_price, node_slope;      // per relaxation, for the node being labelled
  std::vector<std::int64_t> edge, cost;            // per budget
  std::map<std::int64_t, std::int64_t> staircase;  // two budgets: first cost -> least second cost
  std::vector<std::int64_t> path;                  // the best label's plan (group widths)
};

}  // namespace

// The containers of a level solve (a LevelSolver's members of the same names). A workspace keeps them from
// one solve to the next, so that their capacity is reused; each solve overwrites or empties them before it
// reads them.
struct LevelWorkspace {
  std::vector<Stage> stages_;
  std::vector<std::int64_t> source_width_;
  std::vector<std::size_t> limited_max_;  // max resources with a limit at this level
  std::vector<Budget> budgets_;
  std::vector<std::vector<std::vector<double>>> min_to_go_;  // per budget, stage, node
  // Per stage, budget and node: the cost of the node's own width (own + tied) and its cost per unit of
  // input width (coupling * k + input), as the relaxations price them.
  std::vector<std::vector<std::vector<double>>> node_cost_;
  std::vector<std::vector<std::vector<double>>> input_cost_;
  // Scratch space of the relaxations and cheapest completions.
  mutable std::vector<double> alpha_, beta_, out_, next_, slope_, intercept_;
  mutable std::vector<int> arg_;
  mutable std::vector<std::vector<int>> successor_;
  mutable EnvelopeScratch envelope_scratch_;
  mutable MaxLineSet line_set_;

  std::vector<double> lambda_;
  Relaxation best_relaxation_;
  Relaxation trial_;  // the latest relaxation, unless it became the best
  std::vector<double> trial_lambda_;
  std::vector<double> scaled_, slack_;  // the subgradient search's prices scaled by the capacities, slacks
  // The best relaxation and, with several budgets, relaxations with one price varied. A label's
  // completion is bounded by the smallest of their bounds, which follows the concave envelope of the
  // completion's value as a function of the remaining budgets more closely than any single multiplier.
  std::vector<Relaxation> envelope_;
  std::vector<Relaxation> spare_relaxations_;  // storage of earlier envelopes' relaxations
  LabelSpace label_space_;
  // The local search's start nodes, the costs of its moves, and the plan it ends at.
  std::vector<int> nodes_;
  std::vector<std::int64_t> move_cost_, best_move_cost_, widths_;

  std::vector<std::int64_t> incumbent_;  // best feasible plan found (group widths)
};

void LevelWorkspaceDeleter::operator()(LevelWorkspace* workspace) const { delete workspace; }

LevelWorkspacePtr make_level_workspace() { return LevelWorkspacePtr(new LevelWorkspace); }

namespace {

// Its containers are the workspace's, moved in for the solve and back out after it.
class LevelSolver : LevelWorkspace {
 public:
  LevelSolver(const ChainModel& model, const LevelConstraints& constraints, const Deadline& deadline,
              const LevelProgress& progress, DualCutPool* cuts, LevelWorkspace& workspace)
      : LevelWorkspace(std::move(workspace)),
        model_(model),
        constraints_(constraints),
        deadline_(deadline),
        progress_(progress),
        cuts_(cuts),
        workspace_(workspace) {}
  ~LevelSolver() { workspace_ = std::move(static_cast<LevelWorkspace&>(*this)); }
  LevelSolver(const LevelSolver&) = delete;
  LevelSolver& operator=(const LevelSolver&) = delete;

  LevelOutcome solve();

 private:
  bool build_stages();
  const std::vector<std::int64_t>& predecessor_widths(std::size_t stage) const;
  // Max-plus transition shared by every backward pass: for each node j of stage s-1 (or the source),
  //   out[j] = max over nodes i of stage s admitting j of (alpha[i] + next[i] - beta[i] * width_{s-1}[j]).
  void backward_step(std::size_t stage, const std::vector<double>& alpha, const std::vector<double>& beta,
                     const std::vector<double>& next, std::vector<double>& out, std::vector<int>& arg) const;
  // Reuses `relaxation`'s storage (a solve evaluates dozens of relaxations).
  void relax_into(const std::vector<double>& lambda, Relaxation& relaxation) const;
  // Per stage and node: the least cost of `budget`'s resource from the node to the end, into `to_go`.
  void cheapest_completion(const Budget& budget, std::vector<std::vector<double>>& to_go) const;
  void consider(const std::vector<std::int64_t>& path);
  // Local search from `path` (repair if over budget, then single and paired width moves).
  void improve(const std::vector<std::int64_t>& path);
  void search_multipliers();
  // One budget: the tangents of earlier solves on this graph that bracket this budget's dual minimum.
  struct Point {
    double lambda, dual, slope;
  };
  struct Bracket {
    Point left, right;  // slope < 0 at left, >= 0 at right
  };
  std::optional<Bracket> pooled_bracket();
  void share(const Relaxation& relaxation);
  void subgradient_search();
  void build_envelope();
  // Empties the envelope, keeping its relaxations' storage for the next.
  void clear_envelope();
  // Appends a relaxation to the envelope, on the storage of an earlier one when there is some.
  Relaxation& new_envelope_entry();
  // `at_current`: the relaxation at the current multipliers, when already known.
  void line_search(std::size_t b, const Relaxation* at_current, const std::optional<Bracket>& known = {});
  // Label-setting DP keeping only labels that can reach `threshold`. With a cap, it gives up (`capped`) once
  // the nodes labelled so far hold more than `labels_per_node_cap` labels each on average.
  enum class SearchEnd { finished, deadline, capped };
  SearchEnd label_search(double threshold, std::size_t labels_per_node_cap = 0);
  double tolerance() const;
  LevelOutcome finish(LevelOutcome::Kind kind) const;
  LevelOutcome finish_after_deadline();

  const ChainModel& model_;
  const LevelConstraints& constraints_;
  const Deadline& deadline_;
  const LevelProgress& progress_;
  DualCutPool* cuts_;  // null unless the pool holds tangents of this graph
  double upper_bound_ = std::numeric_limits<double>::infinity();
  double incumbent_value_ = kMinusInfinity;

  LevelWorkspace& workspace_;  // receives the containers back
};

const std::vector<std::int64_t>& LevelSolver::predecessor_widths(std::size_t stage) const {
  return stage == 0 ? source_width_ : stages_[stage - 1].width;
}

bool LevelSolver::build_stages() {
  source_width_.assign(1, model_.inputs);
  stages_.resize(model_.groups.size());
  std::vector<std::size_t>& limited_max = limited_max_;
  limited_max.clear();
  for (std::size_t r = 0; r < model_.resources.size(); ++r) {
    if (model_.resources[r].aggregation == Aggregation::max && constraints_.limit[r] != kCostInfinity)
      limited_max.push_back(r);
  }
  for (std::size_t g = 0; g < model_.groups.size(); ++g) {
    const Group& group = model_.groups[g];
    Stage& stage = stages_[g];
    stage.group = &group;
    stage.width.clear();
    stage.last_predecessor.clear();
    stage.width.reserve(group.widths.size());
    stage.last_predecessor.reserve(group.widths.size());
    const std::vector<std::int64_t>& previous = predecessor_widths(g);
    for (std::int64_t k : group.widths) {
      if (k < constraints_.min_width[g] || k > constraints_.max_width[g]) continue;
      if (limited_max.empty()) {
        stage.width.push_back(k);
        stage.last_predecessor.push_back(static_cast<int>(previous.size()) - 1);
        continue;
      }
      // The largest admissible input width under every max resource: the head layer's cost grows with
      // k_in, the tied layers' does not depend on it.
      std::int64_t max_input = kCostInfinity;
      for (const std::size_t r : limited_max) {
        const std::int64_t limit = constraints_.limit[r];
        const GroupResourceCost& cost = group.cost[r];
        if (cost.own[k] > limit || cost.tied[k] > limit) {
          max_input = -1;
          break;
        }
        const std::int64_t per_input = saturating_add(saturating_mul(cost.coupling, k), cost.input);
        if (per_input > 0) max_input = std::min(max_input, (limit - cost.own[k]) / per_input);
      }
      const auto end = std::upper_bound(previous.begin(), previous.end(), max_input);
      const int last = static_cast<int>(end - previous.begin()) - 1;
      if (last < 0) continue;
      stage.width.push_back(k);
      stage.last_predecessor.push_back(last);
    }
    if (stage.width.empty()) return false;
  }
  // Drop widths that no width of the next stage admits; they are always the widest ones.
  for (std::size_t g = stages_.size() - 1; g > 0; --g) {
    const auto& next = stages_[g].last_predecessor;
    const int keep = *std::max_element(next.begin(), next.end()) + 1;
    Stage& stage = stages_[g - 1];
    stage.width.resize(keep);
    stage.last_predecessor.resize(keep);
  }
  for (std::size_t g = 0; g < stages_.size(); ++g) {
    Stage& stage = stages_[g];
    stage.by_decreasing_prefix.resize(stage.width.size());
    std::iota(stage.by_decreasing_prefix.begin(), stage.by_decreasing_prefix.end(), 0);
    // Wider nodes usually admit fewer previous nodes, and then the order is the nodes' own.
    if (!std::is_sorted(stage.last_predecessor.begin(), stage.last_predecessor.end(), std::greater<>()))
      std::stable_sort(stage.by_decreasing_prefix.begin(), stage.by_decreasing_prefix.end(),
                       [&](int a, int b) { return stage.last_predecessor[a] > stage.last_predecessor[b]; });
    const int every_predecessor = static_cast<int>(predecessor_widths(g).size()) - 1;
    stage.admits_all = std::all_of(stage.last_predecessor.begin(), stage.last_predecessor.end(),
                                   [&](int last) { return last == every_predecessor; });
  }
  return true;
}

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

void LevelSolver::consider(const std::vector<std::int64_t>& path) {
  if (path.size() != stages_.size()) return;
  for (const Budget& budget : budgets_) {
    if (model_.cost_of(path, budget.resource) > budget.limit) return;
  }
  const double value = model_.value_of(path);
  if (value > incumbent_value_) {
    incumbent_value_ = value;
    incumbent_ = path;
    if (progress_) progress_(incumbent_value_, upper_bound_);
  }
}

// Slack for comparing bounds computed in floating point with plan importances: far above the rounding of
// the few hundred additions behind a bound, far below the contract's 1e-9 relative optimality.
double LevelSolver::tolerance() const {
  double scale = 1.0 + std::abs(upper_bound_ == std::numeric_limits<double>::infinity() ? 0.0 : upper_bound_);
  double largest_price = 0.0;
  for (const Relaxation& relaxation : envelope_) {
    double price = 0.0;
    for (std::size_t t = 0; t < budgets_.size(); ++t) price += relaxation.lambda[t] * budgets_[t].capacity;
    largest_price = std::max(largest_price, price);
  }
  for (std::size_t t = 0; t < budgets_.size(); ++t) scale += lambda_[t] * budgets_[t].capacity;
  scale += largest_price;
  if (std::isfinite(incumbent_value_)) scale += std::abs(incumbent_value_);
  return 1e-12 * scale;
}

// Minimises the dual along multiplier b: it is convex and piecewise linear in lambda_b, with slope
// capacity_b - cost_b(maximising path), so intersecting the tangents at both sides of the minimum
// (Kelley's cutting planes in one dimension) reaches it in a few relaxations.
void LevelSolver::line_search(std::size_t b, const Relaxation* at_current,
                              const std::optional<Bracket>& known) {
  const Budget& budget = budgets_[b];
  const auto point_of = [&](const Relaxation& relaxation) {
    const double used = static_cast<double>(model_.cost_of(relaxation.path, budget.resource));
    return Point{relaxation.lambda[b], relaxation.dual, budget.capacity - used};
  };
  // The dual at lambda_b = t, or nothing when the relaxation is numerically meaningless (huge prices).
  auto evaluate = [&](double t) -> std::optional<Point> {
    trial_lambda_ = lambda_;
    trial_lambda_[b] = t;
    Relaxation& relaxation = trial_;
    relax_into(trial_lambda_, relaxation);
    if (relaxation.path.size() != stages_.size() || !std::isfinite(relaxation.dual)) return std::nullopt;
    consider(relaxation.path);
    share(relaxation);
    const Point point = point_of(relaxation);
    // At an equal bound the smaller price is kept: where the dual is flat in lambda_b (every plan uses the
    // same amount of the resource) a price carried over from a neighbouring level would otherwise stay.
    if (relaxation.dual < upper_bound_ || (relaxation.dual == upper_bound_ && t < lambda_[b])) {
      upper_bound_ = relaxation.dual;
      if (progress_) progress_(incumbent_value_, upper_bound_);
      lambda_[b] = t;
      std::swap(best_relaxation_, trial_);
    }
    return point;
  };
  std::optional<Point> start;
  if (at_current != nullptr && at_current->path.size() == stages_.size() && std::isfinite(at_current->dual)) {
    start = point_of(*at_current);
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
  // A multiplier from a neighbouring level is usually close: bracket the minimum by steps growing from
  // 1/16 of it before falling back to the wide search; from the unnested minimum of this very budget, try
  // a hair's step across its kink first.
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
    const double used = budget.capacity - current.slope;
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
  for (int iteration = 0; iteration < 100 && !deadline_.passed(); ++iteration) {
    if (left.slope >= right.slope) return;
    const double t = (right.dual - left.dual + left.slope * left.lambda - right.slope * right.lambda) /
                     (left.slope - right.slope);
    if (!(t > left.lambda && t < right.lambda)) return;
    const std::optional<Point> evaluated = evaluate(t);
    if (!evaluated) return;
    const Point middle = *evaluated;
    const double tangent = left.dual + left.slope * (t - left.lambda);
    // The dual is convex, so it lies on or above its tangents; touching them where they meet is the minimum.
    if (middle.dual <= tangent + tolerance()) return;
    (middle.slope < 0.0 ? left : right) = middle;
  }
}

void LevelSolver::search_multipliers() {
  lambda_.assign(budgets_.size(), 0.0);
  if (constraints_.start_multipliers.size() == model_.resources.size()) {
    // Costs are integers, so above the whole network's importance a price only makes every plan that
    // uses more of its resource lose: no optimal multiplier lies there. Larger hints are not taken (they
    // would also inflate the tolerance of every comparison, which scales with the prices).
    double importance = 1.0;
    for (const Stage& stage : stages_) importance += std::abs(stage.group->value[stage.width.back()]);
    for (std::size_t b = 0; b < budgets_.size(); ++b) {
      const double hint = constraints_.start_multipliers[budgets_[b].resource];
      if (std::isfinite(hint) && hint > 0.0 && hint <= importance) lambda_[b] = hint;
    }
  }
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
  if (budgets_.size() > 1) subgradient_search();
}

std::optional<LevelSolver::Bracket> LevelSolver::pooled_bracket() {
  if (cuts_ == nullptr) return std::nullopt;
  const Budget& budget = budgets_[0];
  std::optional<Bracket> bracket;
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

// Several budgets: coordinate line searches stall where the dual has a kink across coordinates, so
// continue with projected subgradient steps of Polyak's length towards the best known plan, in prices
// scaled by the capacities (lambda_t * capacity_t) so that resources of very different magnitude weigh
// alike.
void LevelSolver::subgradient_search() {
  std::vector<double>& scaled = scaled_;
  std::vector<double>& lambda = trial_lambda_;
  std::vector<double>& slack = slack_;
  scaled.resize(budgets_.size());
  lambda.resize(budgets_.size());
  slack.resize(budgets_.size());
  for (std::size_t t = 0; t < budgets_.size(); ++t) scaled[t] = lambda_[t] * budgets_[t].capacity;
  double step_factor = 1.0;
  int since_improvement = 0;
  for (int iteration = 0; iteration < 200 && !deadline_.passed(); ++iteration) {
    for (std::size_t t = 0; t < budgets_.size(); ++t)
      lambda[t] = scaled[t] / std::max(1.0, budgets_[t].capacity);
    Relaxation& relaxation = trial_;
    relax_into(lambda, relaxation);
    if (relaxation.path.size() != stages_.size() || !std::isfinite(relaxation.dual)) return;
    consider(relaxation.path);
    double norm = 0.0;
    for (std::size_t t = 0; t < budgets_.size(); ++t) {
      const std::int64_t cost = model_.cost_of(relaxation.path, budgets_[t].resource);
      slack[t] = 1.0 - static_cast<double>(cost) / std::max(1.0, budgets_[t].capacity);
      norm += slack[t] * slack[t];
    }
    if (relaxation.dual < upper_bound_ - tolerance()) {
      upper_bound_ = relaxation.dual;
      lambda_ = lambda;
      std::swap(best_relaxation_, trial_);
      if (progress_) progress_(incumbent_value_, upper_bound_);
      since_improvement = 0;
    } else if (++since_improvement >= 5) {
      step_factor /= 2.0;
      since_improvement = 0;
    }
    const double floor_value = std::isfinite(incumbent_value_) ? incumbent_value_ : 0.0;
    const double distance = best_relaxation_.dual - floor_value;
    if (norm == 0.0 || distance <= tolerance() || step_factor < 1e-4) return;
    const double step = step_factor * distance / norm;
    for (std::size_t t = 0; t < budgets_.size(); ++t) scaled[t] = std::max(0.0, scaled[t] - step * slack[t]);
  }
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
  std::vector<double>& lambda = trial_lambda_;
  const auto add = [&]() {
    Relaxation& relaxation = new_envelope_entry();
    relax_into(lambda, relaxation);
    consider(relaxation.path);
  };
  if (constraints_.wide_envelope) {
    for (const double factor : {0.0, 0.125, 0.25, 0.5, 0.75, 4.0 / 3.0, 2.0, 4.0, 8.0}) {
      lambda = lambda_;
      for (double& price : lambda) price *= factor;
      add();
    }
  }
  // With several budgets the remaining budget of a label can be short in one resource and ample in
  // another: also vary each price on its own.
  if (budgets_.size() < 2) return;
  for (std::size_t t = 0; t < budgets_.size(); ++t) {
    for (const double factor : {0.25, 0.5, 2.0, 4.0}) {
      lambda = lambda_;
      lambda[t] *= factor;
      add();
    }
  }
}

void LevelSolver::improve(const std::vector<std::int64_t>& path) {
  if (path.size() != stages_.size()) return;
  std::vector<int>& nodes = nodes_;
  nodes.resize(stages_.size());
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    const auto& width = stages_[s].width;
    nodes[s] = static_cast<int>(std::lower_bound(width.begin(), width.end(), path[s]) - width.begin());
    if (nodes[s] >= static_cast<int>(width.size()) || width[nodes[s]] != path[s]) return;
    if (s > 0 && nodes[s - 1] > stages_[s].last_predecessor[nodes[s]]) return;  // a max resource forbids it
  }
  LocalSearch search(stages_, budgets_, model_.inputs, nodes);
  const int stage_count = static_cast<int>(stages_.size());
  double value = 0.0;
  std::vector<std::int64_t>& cost = move_cost_;
  std::vector<std::int64_t>& best_cost = best_move_cost_;  // assigned with every best move found
  // Repair: narrow the group that sheds the most excess per importance lost until every budget holds.
  // Repair runs even after the deadline: it is cheap, and it is what gives a level cut short a plan.
  for (double over = search.excess(); over > 0.0; over = search.excess()) {
    int best_stage = -1;
    double best_ratio = -1.0, best_value = 0.0;
    for (int s = 0; s < stage_count; ++s) {
      if (!search.try_move(-1, s, value, cost)) continue;
      const double shed = over - search.excess_of(cost);
      const double ratio = shed / (search.value() - value + 1e-300);
      if (shed > 0.0 && ratio > best_ratio) {
        best_ratio = ratio;
        best_stage = s;
        best_value = value;
        best_cost = cost;
      }
    }
    if (best_stage < 0) return;
    search.apply(-1, best_stage, best_value, best_cost);
  }
  // Improve: the best move widening one group, or widening one while narrowing another, until none helps.
  for (int iteration = 0; iteration < 100000; ++iteration) {
    if (iteration % 16 == 15 && deadline_.passed()) break;
    double best_value = search.value();
    int best_up = -1, best_down = -1;
    for (int up = 0; up < stage_count; ++up) {
      for (int down = -1; down < stage_count; ++down) {
        if (down == up || !search.try_move(up, down, value, cost)) continue;
        if (value > best_value && search.excess_of(cost) == 0.0) {
          best_value = value;
          best_up = up;
          best_down = down;
          best_cost = cost;
        }
      }
    }
    if (best_up < 0) break;
    search.apply(best_up, best_down, best_value, best_cost);
  }
  std::vector<std::int64_t>& widths = widths_;
  widths.resize(stages_.size());
  for (std::size_t s = 0; s < stages_.size(); ++s) widths[s] = stages_[s].width[search.nodes()[s]];
  consider(widths);
}

LevelSolver::SearchEnd LevelSolver::label_search(double threshold, std::size_t labels_per_node_cap) {
  const std::size_t dims = budgets_.size();
  const std::size_t prices = envelope_.size();
  const double tol = tolerance();
  // Per relaxation e: lambda_e . capacity.
  LabelSpace& space = label_space_;
  space.price_of_capacity.assign(prices, 0.0);
  double* const price_of_capacity = space.price_of_capacity.data();
  for (std::size_t e = 0; e < prices; ++e) {
    for (std::size_t t = 0; t < dims; ++t)
      price_of_capacity[e] += envelope_[e].lambda[t] * budgets_[t].capacity;
  }

  space.stage_labels.resize(stages_.size());
  for (std::size_t s = 0; s < stages_.size(); ++s) space.stage_labels[s].clear(stages_[s].width.size(), dims);
  std::vector<Labels>& stage_labels = space.stage_labels;

  // A candidate survives when its cheapest completion fits every budget and the smallest Lagrangian
  // bound on its completion can still reach the threshold.
  auto survives = [&](std::size_t s, std::size_t i, double value, const std::int64_t* cost) {
    for (std::size_t t = 0; t < dims; ++t) {
      const double total = static_cast<double>(cost[t]) + min_to_go_[t][s][i];
      if (cost[t] > budgets_[t].limit || total > budgets_[t].capacity * (1.0 + 1e-12) + 1.0) return false;
    }
    for (const Relaxation& relaxation : envelope_) {
      double bound = value + relaxation.to_go[s][i];
      for (std::size_t t = 0; t < dims; ++t) {
        bound += relaxation.lambda[t] * (budgets_[t].capacity - static_cast<double>(cost[t]));
      }
      if (bound < threshold - tol) return false;
    }
    return true;
  };

  std::vector<std::size_t>& candidate_order = space.candidate_order;
  std::vector<double>& cand_value = space.cand_value;
  std::vector<std::int64_t>& cand_cost = space.cand_cost;
  std::vector<int>& cand_parent = space.cand_parent;
  space.edge.resize(dims);
  space.cost.resize(dims);
  space.node_price.resize(prices);
  space.node_slope.resize(prices);
  std::int64_t* const edge = space.edge.data();
  std::int64_t* const cost = space.cost.data();
  double* const node_price = space.node_price.data();
  double* const node_slope = space.node_slope.data();
  std::vector<double>& best_reduced = space.best_reduced;
  std::vector<int>& labelled = space.labelled;
  std::vector<double>& labelled_width = space.labelled_width;
  std::vector<double>& labelled_reduced = space.labelled_reduced;
  std::vector<int>& reachable = space.reachable;
  std::map<std::int64_t, std::int64_t>& staircase = space.staircase;
  std::size_t nodes_seen = 0, labels_seen = 0;

  for (std::size_t s = 0; s < stages_.size(); ++s) {
    if (deadline_.passed()) return SearchEnd::deadline;
    const Stage& stage = stages_[s];
    const std::vector<std::int64_t>& previous = predecessor_widths(s);
    Labels& labels = stage_labels[s];
    labels.node_begin.push_back(0);
    labelled.clear();
    if (s == 0) labelled.push_back(0);
    if (s > 0) {
      const Labels& before = stage_labels[s - 1];
      for (std::size_t j = 0; j + 1 < before.node_begin.size(); ++j) {
        if (before.node_begin[j] < before.node_begin[j + 1]) labelled.push_back(static_cast<int>(j));
      }
      if (labelled.empty()) break;  // no label can reach the threshold
      best_reduced.assign(previous.size() * prices, kMinusInfinity);
      for (std::size_t label = 0; label < before.value.size(); ++label) {
        for (std::size_t e = 0; e < prices; ++e) {
          double reduced = before.value[label];
          for (std::size_t t = 0; t < dims; ++t) {
            reduced -= envelope_[e].lambda[t] * static_cast<double>(before.cost[label * dims + t]);
          }
          double& best = best_reduced[before.node[label] * prices + e];
          best = std::max(best, reduced);
        }
      }
    }
    // The labelled nodes' widths and best reduced values side by side, per relaxation, for the pair test.
    const std::size_t labelled_count = labelled.size();
    labelled_width.resize(labelled_count);
    labelled_reduced.resize(labelled_count * prices);
    reachable.resize(labelled_count);
    for (std::size_t p = 0; p < labelled_count; ++p) {
      labelled_width[p] = static_cast<double>(previous[labelled[p]]);
      if (s == 0) continue;
      for (std::size_t e = 0; e < prices; ++e) {
        labelled_reduced[e * labelled_count + p] = best_reduced[labelled[p] * prices + e];
      }
    }
    for (std::size_t i = 0; i < stage.width.size(); ++i) {
      if (i % 64 == 63 && deadline_.passed()) return SearchEnd::deadline;
      const std::int64_t k = stage.width[i];
      const double gain = stage.group->value[k];
      cand_value.clear();
      cand_cost.clear();
      cand_parent.clear();
      // Per relaxation: the part of the pair bound that depends on i only, and the slope in k_in.
      for (std::size_t e = 0; e < prices; ++e) {
        double price = 0.0, slope = 0.0;
        for (std::size_t t = 0; t < dims; ++t) {
          const GroupResourceCost& c = stage.group->cost[budgets_[t].resource];
          const double lambda = envelope_[e].lambda[t];
          price += lambda * static_cast<double>(saturating_add(c.own[k], c.tied[k]));
          slope += lambda *
                   (static_cast<double>(c.coupling) * static_cast<double>(k) + static_cast<double>(c.input));
        }
        node_price[e] = gain - price + envelope_[e].to_go[s][i] + price_of_capacity[e];
        node_slope[e] = slope;
      }
      // Only previous nodes that kept labels can extend (at the first stage: the source), and only those
      // whose best label's bound through this node, best reduced value + node price - node slope * k_in,
      // reaches the threshold under every relaxation: a branch-free filter, one relaxation at a time.
      const std::size_t admitted = static_cast<std::size_t>(
          std::upper_bound(labelled.begin(), labelled.end(), stage.last_predecessor[i]) - labelled.begin());
      std::size_t reachable_count = 0;
      for (std::size_t p = 0; p < admitted; ++p) reachable[reachable_count++] = static_cast<int>(p);
      for (std::size_t e = 0; s > 0 && e < prices; ++e) {
        const double need = threshold - tol - node_price[e];
        const double slope = node_slope[e];
        const double* reduced = &labelled_reduced[e * labelled_count];
        std::size_t kept = 0;
        for (std::size_t q = 0; q < reachable_count; ++q) {
          const int p = reachable[q];
          reachable[kept] = p;
          kept += reduced[p] - slope * labelled_width[p] >= need ? 1 : 0;
        }
        reachable_count = kept;
      }
      if (reachable_count == 0) {  // most nodes: nothing reaches the threshold through them
        labels.node_begin.push_back(labels.value.size());
        ++nodes_seen;
        continue;
      }
      for (std::size_t q = 0; q < reachable_count; ++q) {
        const int j = labelled[reachable[q]];
        const std::int64_t k_in = previous[j];
        for (std::size_t t = 0; t < dims; ++t) {
          edge[t] = stage.group->cost[budgets_[t].resource].edge(k_in, k);
        }
        if (s == 0) {
          if (survives(s, i, gain, edge)) {
            cand_value.push_back(gain);
            cand_cost.insert(cand_cost.end(), edge, edge + dims);
            cand_parent.push_back(-1);
          }
          continue;
        }
        const Labels& before = stage_labels[s - 1];
        for (std::size_t label = before.node_begin[j]; label < before.node_begin[j + 1]; ++label) {
          const double value = before.value[label] + gain;
          for (std::size_t t = 0; t < dims; ++t) {
            cost[t] = saturating_add(before.cost[label * dims + t], edge[t]);
          }
          if (!survives(s, i, value, cost)) continue;
          cand_value.push_back(value);
          cand_cost.insert(cand_cost.end(), cost, cost + dims);
          cand_parent.push_back(static_cast<int>(label));
        }
      }
      // Keep the Pareto-optimal candidates: no other has at least the value at no more cost.
      candidate_order.resize(cand_value.size());
      std::iota(candidate_order.begin(), candidate_order.end(), 0);
      const auto before_in_order = [&](std::size_t a, std::size_t b) {
        if (cand_value[a] != cand_value[b]) return cand_value[a] > cand_value[b];
        for (std::size_t t = 0; t < dims; ++t) {
          if (cand_cost[a * dims + t] != cand_cost[b * dims + t]) {
            return cand_cost[a * dims + t] < cand_cost[b * dims + t];
          }
        }
        return a < b;
      };
      // Candidates from one previous node come in order already (its labels are).
      if (!std::is_sorted(candidate_order.begin(), candidate_order.end(), before_in_order)) {
        std::sort(candidate_order.begin(), candidate_order.end(), before_in_order);
      }
      const std::size_t first_kept = labels.value.size();
      staircase.clear();
      for (std::size_t c : candidate_order) {
        const std::int64_t* candidate_cost = &cand_cost[c * dims];
        bool dominated = false;
        if (dims == 0) {
          dominated = labels.value.size() > first_kept;
        } else if (dims == 1) {
          // Kept labels have decreasing value and decreasing cost: only the last can dominate.
          dominated = labels.value.size() > first_kept && labels.cost.back() <= candidate_cost[0];
        } else if (dims == 2) {
          // The kept labels' cost pairs not dominated among themselves form a staircase: first cost up,
          // second cost down. The candidate is dominated if the step at or below its first cost is low
          // enough.
          auto step = staircase.upper_bound(candidate_cost[0]);
          dominated = step != staircase.begin() && std::prev(step)->second <= candidate_cost[1];
          if (!dominated) {
            // Insert it and drop the steps it now dominates.
            auto erase_from = staircase.lower_bound(candidate_cost[0]);
            auto erase_to = erase_from;
            while (erase_to != staircase.end() && erase_to->second >= candidate_cost[1]) ++erase_to;
            staircase.erase(erase_from, erase_to);
            staircase.emplace(candidate_cost[0], candidate_cost[1]);
          }
        } else {
          for (std::size_t kept = first_kept; kept < labels.value.size() && !dominated; ++kept) {
            dominated = true;
            for (std::size_t t = 0; t < dims; ++t) {
              if (labels.cost[kept * dims + t] > candidate_cost[t]) {
                dominated = false;
                break;
              }
            }
          }
        }
        if (dominated) continue;
        labels.value.push_back(cand_value[c]);
        labels.cost.insert(labels.cost.end(), candidate_cost, candidate_cost + dims);
        labels.parent.push_back(cand_parent[c]);
        labels.node.push_back(static_cast<int>(i));
      }
      labels.node_begin.push_back(labels.value.size());
      ++nodes_seen;
      labels_seen += labels.value.size() - first_kept;
      if (labels_per_node_cap > 0 && labels_seen > labels_per_node_cap * nodes_seen) return SearchEnd::capped;
    }
  }
  const Labels& last = stage_labels.back();
  int best = -1;
  for (std::size_t label = 0; label < last.value.size(); ++label) {
    if (best < 0 || last.value[label] > last.value[best]) best = static_cast<int>(label);
  }
  if (best < 0) return SearchEnd::finished;
  std::vector<std::int64_t>& path = space.path;
  path.resize(stages_.size());
  int label = best;
  for (std::size_t s = stages_.size(); s-- > 0;) {
    path[s] = stages_[s].width[stage_labels[s].node[label]];
    label = stage_labels[s].parent[label];
  }
  consider(path);
  return SearchEnd::finished;
}

LevelOutcome LevelSolver::solve() {
  LevelOutcome outcome;
  // What an earlier solve left in the workspace and is read before it is overwritten.
  budgets_.clear();
  clear_envelope();
  incumbent_.clear();
  lambda_.clear();
  if (!build_stages()) return outcome;  // infeasible: no widths meet the max resources and nesting

  for (std::size_t r = 0; r < model_.resources.size(); ++r) {
    if (model_.resources[r].aggregation != Aggregation::sum) continue;
    if (constraints_.limit[r] == kCostInfinity) continue;
    budgets_.push_back({r, static_cast<double>(constraints_.limit[r]), constraints_.limit[r]});
  }
  node_cost_.resize(stages_.size());
  input_cost_.resize(stages_.size());
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    const Stage& stage = stages_[s];
    node_cost_[s].resize(budgets_.size());
    input_cost_[s].resize(budgets_.size());
    for (std::size_t b = 0; b < budgets_.size(); ++b) {
      const GroupResourceCost& cost = stage.group->cost[budgets_[b].resource];
      std::vector<double>& own = node_cost_[s][b];
      std::vector<double>& per_input = input_cost_[s][b];
      own.resize(stage.width.size());
      per_input.resize(stage.width.size());
      for (std::size_t i = 0; i < stage.width.size(); ++i) {
        const std::int64_t k = stage.width[i];
        own[i] = static_cast<double>(saturating_add(cost.own[k], cost.tied[k]));
        per_input[i] =
            static_cast<double>(cost.coupling) * static_cast<double>(k) + static_cast<double>(cost.input);
      }
    }
  }
  min_to_go_.resize(budgets_.size());
  for (std::size_t b = 0; b < budgets_.size(); ++b) {
    const Budget& budget = budgets_[b];
    cheapest_completion(budget, min_to_go_[b]);
    // Even the cheapest plan for this resource alone breaks its limit: infeasible.
    const Stage& first = stages_.front();
    double cheapest = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < first.width.size(); ++i) {
      const double entry =
          static_cast<double>(first.group->cost[budget.resource].edge(model_.inputs, first.width[i]));
      cheapest = std::min(cheapest, entry + min_to_go_[b][0][i]);
    }
    if (cheapest > budget.capacity * (1.0 + 1e-12) + 1.0) return outcome;
  }

  // Only with one priced resource is the relaxed value free of the budget, and so worth sharing.
  if (cuts_ != nullptr && budgets_.size() != 1) cuts_ = nullptr;
  if (cuts_ != nullptr) cuts_->bind(stages_, budgets_[0].resource);
  search_multipliers();
  improve(best_relaxation_.path);
  if (std::isfinite(incumbent_value_)) improve(incumbent_);
  if (std::isfinite(incumbent_value_) && incumbent_value_ >= upper_bound_ - tolerance()) {
    return finish(LevelOutcome::Kind::optimal);
  }
  build_envelope();
  // The cheapest proof when the bound is tight: one search at the best known plan. Where the bound is loose
  // it keeps many labels; it is given up beyond a few per node, for the stepped thresholds below.
  if (std::isfinite(incumbent_value_)) {
    const SearchEnd end = label_search(incumbent_value_, kLabelsPerNodeOfFirstSearch);
    if (end == SearchEnd::finished) return finish(LevelOutcome::Kind::optimal);
    if (end == SearchEnd::deadline) return finish_after_deadline();
  }
  // A search at threshold T keeps every label that can still reach T, so if it finds a plan worth at least
  // T, that plan is optimal. High thresholds keep few labels; the optimum is usually much closer to the
  // bound than the best known plan is, so try thresholds from just below the bound down to that plan. The
  // last search, at the best known plan (or unbounded without one), always decides: finding nothing
  // better proves that plan optimal, or, without one, the level infeasible.
  std::vector<double> thresholds;
  if (std::isfinite(incumbent_value_)) {
    const double gap = upper_bound_ - incumbent_value_;
    // One budget: the bound is tight and a single intermediate try pays; several: the bound is looser and
    // the label sets grow fast below it, so step down more gradually.
    const std::vector<double> fractions =
        budgets_.size() < 2 ? std::vector<double>{0.2} : std::vector<double>{0.02, 0.1, 0.3, 0.6};
    for (const double fraction : fractions) thresholds.push_back(upper_bound_ - fraction * gap);
  }
  thresholds.push_back(std::isfinite(incumbent_value_) ? incumbent_value_ : kMinusInfinity);
  for (const double threshold : thresholds) {
    if (label_search(threshold) == SearchEnd::deadline) break;
    if (incumbent_value_ >= threshold - tolerance() || threshold == thresholds.back()) {
      return std::isfinite(incumbent_value_) ? finish(LevelOutcome::Kind::optimal) : outcome;
    }
  }
  return finish_after_deadline();
}

// A plan (kind optimal or feasible) or, with kind unknown, none.
LevelOutcome LevelSolver::finish(LevelOutcome::Kind kind) const {
  LevelOutcome outcome;
  outcome.kind = kind;
  if (kind == LevelOutcome::Kind::unknown) return outcome;
  // Worth passing on as a start only from a level with a plan: an infeasible level's search may have
  // driven a price towards infinity.
  outcome.multipliers.assign(model_.resources.size(), 0.0);
  for (std::size_t b = 0; b < budgets_.size(); ++b) outcome.multipliers[budgets_[b].resource] = lambda_[b];
  outcome.dual_bound = upper_bound_;
  outcome.widths = incumbent_;
  outcome.value = incumbent_value_;
  outcome.upper_bound =
      kind == LevelOutcome::Kind::optimal ? incumbent_value_ : std::max(upper_bound_, incumbent_value_);
  return outcome;
}

LevelOutcome LevelSolver::finish_after_deadline() {
  // The deadline passed. The neighbouring level's plan, repaired (repair ignores the deadline), may beat
  // what the cut search found. Only now: from the start, the walk from a neighbour's widths is long and the
  // dual search's path is the better start (bench/solver/planner/plan_instructions.sh: up to 4.5 times the
  // instructions with it).
  if (constraints_.start.size() == stages_.size()) improve(constraints_.start);
  return finish(std::isfinite(incumbent_value_) ? LevelOutcome::Kind::feasible : LevelOutcome::Kind::unknown);
}

}  // namespace

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

LevelOutcome solve_level(const ChainModel& model, const LevelConstraints& constraints,
                         const Deadline& deadline, const LevelProgress& progress, DualCutPool* cuts,
                         LevelWorkspace* workspace) {
  if (workspace == nullptr) {
    LevelWorkspace own;
    return LevelSolver(model, constraints, deadline, progress, cuts, own).solve();
  }
  return LevelSolver(model, constraints, deadline, progress, cuts, *workspace).solve();
}

}  // namespace reds::detail
