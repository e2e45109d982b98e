#include "level_solver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "max_line_set.h"
#include "saturating.h"

namespace reds::detail {
namespace {

constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

// One group restricted to a level: its admissible widths (nodes) and, per node, the largest admissible
// node of the previous stage (the source, width `inputs`, for the first stage).
struct Stage {
  const Group* group = nullptr;
  std::vector<std::int64_t> width;          // ascending
  std::vector<int> last_predecessor;        // index into the previous stage's nodes
};

// A sum resource with a limit at this level.
struct Budget {
  std::size_t resource = 0;
  double capacity = 0.0;
  std::int64_t limit = 0;
};

class LevelSolver {
 public:
  LevelSolver(const ChainModel& model, const LevelConstraints& constraints, const Deadline& deadline)
      : model_(model), constraints_(constraints), deadline_(deadline) {}

  LevelOutcome solve();

 private:
  // Relaxed longest path for multipliers `lambda` (one per budget).
  struct Relaxation {
    double dual = 0.0;                         // upper bound on the level's optimum
    std::vector<std::vector<double>> to_go;    // per stage and node: best reduced completion value
    std::vector<std::int64_t> path;            // a maximising path (group widths)
  };

  bool build_stages();
  const std::vector<std::int64_t>& predecessor_widths(std::size_t stage) const;
  // Max-plus transition shared by every backward pass: for each node j of stage s-1 (or the source),
  //   out[j] = max over nodes i of stage s admitting j of (alpha[i] + next[i] - beta[i] * width_{s-1}[j]).
  void backward_step(std::size_t stage, const std::vector<double>& alpha, const std::vector<double>& beta,
                     const std::vector<double>& next, std::vector<double>& out, std::vector<int>& arg) const;
  Relaxation relax(const std::vector<double>& lambda) const;
  std::vector<std::vector<double>> cheapest_completion(const Budget& budget) const;
  void consider(const std::vector<std::int64_t>& path);
  void search_multipliers();
  void line_search(std::size_t b);
  // Label-setting DP keeping only labels that can reach `threshold`. Returns false on deadline.
  bool label_search(double threshold);
  double tolerance() const;

  const ChainModel& model_;
  const LevelConstraints& constraints_;
  const Deadline& deadline_;

  std::vector<Stage> stages_;
  std::vector<std::int64_t> source_width_;
  std::vector<Budget> budgets_;
  std::vector<std::vector<std::vector<double>>> min_to_go_;  // per budget, stage, node

  std::vector<double> lambda_;
  Relaxation best_relaxation_;
  bool have_relaxation_ = false;
  double upper_bound_ = std::numeric_limits<double>::infinity();

  std::vector<std::int64_t> incumbent_;  // best feasible plan found (group widths)
  double incumbent_value_ = kMinusInfinity;
};

const std::vector<std::int64_t>& LevelSolver::predecessor_widths(std::size_t stage) const {
  return stage == 0 ? source_width_ : stages_[stage - 1].width;
}

bool LevelSolver::build_stages() {
  source_width_ = {model_.inputs};
  stages_.resize(model_.groups.size());
  for (std::size_t g = 0; g < model_.groups.size(); ++g) {
    const Group& group = model_.groups[g];
    Stage& stage = stages_[g];
    stage.group = &group;
    const std::vector<std::int64_t>& previous = predecessor_widths(g);
    for (std::int64_t k : group.widths) {
      if (k < constraints_.min_width[g] || k > constraints_.max_width[g]) continue;
      // The largest admissible input width under every max resource: the head layer's cost grows with
      // k_in, the tied layers' does not depend on it.
      std::int64_t max_input = kCostInfinity;
      for (std::size_t r = 0; r < model_.resources.size(); ++r) {
        if (model_.resources[r].aggregation != Aggregation::max) continue;
        const std::int64_t limit = constraints_.limit[r];
        if (limit == kCostInfinity) continue;
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
  return true;
}

void LevelSolver::backward_step(std::size_t s, const std::vector<double>& alpha,
                                const std::vector<double>& beta, const std::vector<double>& next,
                                std::vector<double>& out, std::vector<int>& arg) const {
  const Stage& stage = stages_[s];
  const std::vector<std::int64_t>& previous = predecessor_widths(s);
  std::vector<double> points(previous.begin(), previous.end());
  MaxLineSet lines(std::move(points));
  // Node i admits previous nodes 0..last_predecessor[i]: activate lines by decreasing prefix length.
  std::vector<int> by_prefix(stage.width.size());
  std::iota(by_prefix.begin(), by_prefix.end(), 0);
  std::stable_sort(by_prefix.begin(), by_prefix.end(), [&](int a, int b) {
    return stage.last_predecessor[a] > stage.last_predecessor[b];
  });
  out.assign(previous.size(), kMinusInfinity);
  arg.assign(previous.size(), -1);
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

LevelSolver::Relaxation LevelSolver::relax(const std::vector<double>& lambda) const {
  Relaxation relaxation;
  const std::size_t stage_count = stages_.size();
  relaxation.to_go.resize(stage_count);
  std::vector<std::vector<int>> successor(stage_count + 1);
  std::vector<double> next(stages_.back().width.size(), 0.0);
  std::vector<double> alpha, beta, out;
  for (std::size_t s = stage_count; s-- > 0;) {
    const Stage& stage = stages_[s];
    relaxation.to_go[s] = next;
    alpha.resize(stage.width.size());
    beta.resize(stage.width.size());
    for (std::size_t i = 0; i < stage.width.size(); ++i) {
      const std::int64_t k = stage.width[i];
      double a = stage.group->value[k];
      double b = 0.0;
      for (std::size_t t = 0; t < budgets_.size(); ++t) {
        const GroupResourceCost& cost = stage.group->cost[budgets_[t].resource];
        a -= lambda[t] * static_cast<double>(saturating_add(cost.own[k], cost.tied[k]));
        b += lambda[t] * (static_cast<double>(cost.coupling) * static_cast<double>(k) +
                          static_cast<double>(cost.input));
      }
      alpha[i] = a;
      beta[i] = b;
    }
    backward_step(s, alpha, beta, next, out, successor[s]);
    next = out;
  }
  double dual = next[0];
  for (std::size_t t = 0; t < budgets_.size(); ++t) dual += lambda[t] * budgets_[t].capacity;
  relaxation.dual = dual;
  int node = successor[0][0];
  for (std::size_t s = 0; s < stage_count && node >= 0; ++s) {
    relaxation.path.push_back(stages_[s].width[node]);
    if (s + 1 < stage_count) node = successor[s + 1][node];
  }
  return relaxation;
}

std::vector<std::vector<double>> LevelSolver::cheapest_completion(const Budget& budget) const {
  std::vector<std::vector<double>> to_go(stages_.size());
  std::vector<double> next(stages_.back().width.size(), 0.0);
  std::vector<double> alpha, beta, out;
  std::vector<int> unused;
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
    backward_step(s, alpha, beta, next, out, unused);
    next = out;
  }
  return to_go;
}

void LevelSolver::consider(const std::vector<std::int64_t>& path) {
  if (path.size() != stages_.size()) return;
  const std::vector<std::int64_t> cost = model_.cost_of(path);
  for (const Budget& budget : budgets_) {
    if (cost[budget.resource] > budget.limit) return;
  }
  const double value = model_.value_of(path);
  if (value > incumbent_value_) {
    incumbent_value_ = value;
    incumbent_ = path;
  }
}

double LevelSolver::tolerance() const {
  double scale = 1.0 + std::abs(upper_bound_ == std::numeric_limits<double>::infinity() ? 0.0 : upper_bound_);
  for (std::size_t t = 0; t < budgets_.size(); ++t) scale += lambda_[t] * budgets_[t].capacity;
  if (std::isfinite(incumbent_value_)) scale += std::abs(incumbent_value_);
  return 1e-9 * scale;
}

// Minimises the dual along multiplier b: it is convex and piecewise linear in lambda_b, with slope
// capacity_b - cost_b(maximising path), so intersecting the tangents at both sides of the minimum
// (Kelley's cutting planes in one dimension) reaches it in a few relaxations.
void LevelSolver::line_search(std::size_t b) {
  const Budget& budget = budgets_[b];
  struct Point {
    double lambda, dual, slope;
  };
  auto evaluate = [&](double t) {
    std::vector<double> lambda = lambda_;
    lambda[b] = t;
    Relaxation relaxation = relax(lambda);
    consider(relaxation.path);
    const double used = static_cast<double>(model_.cost_of(relaxation.path)[budget.resource]);
    const Point point{t, relaxation.dual, budget.capacity - used};
    if (relaxation.dual < upper_bound_) {
      upper_bound_ = relaxation.dual;
      lambda_[b] = t;
      best_relaxation_ = std::move(relaxation);
      have_relaxation_ = true;
    }
    return point;
  };
  Point current = evaluate(lambda_[b]);
  Point left = current, right = current;
  if (current.slope >= 0.0) {
    if (current.lambda == 0.0) return;
    left = evaluate(0.0);
    if (left.slope >= 0.0) return;
  } else {
    // Grow lambda until the maximising path fits the budget; start from the path's value per unit cost.
    const double used = budget.capacity - current.slope;
    double t = std::max({current.lambda * 2.0, std::abs(current.dual) / used, 1e-300});
    for (int attempt = 0;; ++attempt) {
      right = evaluate(t);
      if (right.slope >= 0.0) break;
      left = right;
      if (attempt == 200 || deadline_.passed()) return;
      t *= 4.0;
    }
  }
  for (int iteration = 0; iteration < 100 && !deadline_.passed(); ++iteration) {
    if (left.slope >= right.slope) return;
    const double t = (right.dual - left.dual + left.slope * left.lambda - right.slope * right.lambda) /
                     (left.slope - right.slope);
    if (!(t > left.lambda && t < right.lambda)) return;
    const Point middle = evaluate(t);
    const double tangent = left.dual + left.slope * (t - left.lambda);
    if (middle.dual >= tangent - tolerance()) return;  // the two tangents meet on the dual: minimum
    (middle.slope < 0.0 ? left : right) = middle;
  }
}

void LevelSolver::search_multipliers() {
  lambda_.assign(budgets_.size(), 0.0);
  const Relaxation start = relax(lambda_);
  consider(start.path);
  upper_bound_ = start.dual;
  best_relaxation_ = start;
  have_relaxation_ = true;
  const int rounds = budgets_.size() == 1 ? 1 : 3;
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t b = 0; b < budgets_.size(); ++b) {
      if (deadline_.passed()) return;
      line_search(b);
    }
  }
}

bool LevelSolver::label_search(double threshold) {
  const std::size_t dims = budgets_.size();
  const double tol = tolerance();
  const std::vector<std::vector<double>>& to_go = best_relaxation_.to_go;
  double lambda_capacity = 0.0;
  for (std::size_t t = 0; t < dims; ++t) lambda_capacity += lambda_[t] * budgets_[t].capacity;

  // Labels of one stage, grouped by node: value, costs (dims per label), parent label, node.
  struct Labels {
    std::vector<double> value;
    std::vector<std::int64_t> cost;
    std::vector<int> parent;
    std::vector<int> node;
    std::vector<std::size_t> node_begin;  // labels of node i: [node_begin[i], node_begin[i+1])
  };
  std::vector<Labels> stage_labels(stages_.size());

  // A candidate survives when its cheapest completion fits every budget and its Lagrangian completion
  // bound can still reach the threshold.
  auto survives = [&](std::size_t s, std::size_t i, double value, const std::int64_t* cost) {
    double reduced = value;
    for (std::size_t t = 0; t < dims; ++t) {
      const double total = static_cast<double>(cost[t]) + min_to_go_[t][s][i];
      if (cost[t] > budgets_[t].limit || total > budgets_[t].capacity * (1.0 + 1e-12) + 1.0) return false;
      reduced -= lambda_[t] * static_cast<double>(cost[t]);
    }
    return reduced + to_go[s][i] + lambda_capacity >= threshold - tol;
  };

  std::vector<std::size_t> candidate_order;
  std::vector<double> cand_value;
  std::vector<std::int64_t> cand_cost;
  std::vector<int> cand_parent;
  std::vector<std::int64_t> edge(dims);
  std::vector<std::int64_t> cost(dims);

  for (std::size_t s = 0; s < stages_.size(); ++s) {
    if (deadline_.passed()) return false;
    const Stage& stage = stages_[s];
    const std::vector<std::int64_t>& previous = predecessor_widths(s);
    Labels& labels = stage_labels[s];
    labels.node_begin.push_back(0);
    // Best reduced value of any label at each previous node: a cheap test for a whole (j, i) pair.
    std::vector<double> best_reduced;
    if (s > 0) {
      const Labels& before = stage_labels[s - 1];
      best_reduced.assign(previous.size(), kMinusInfinity);
      for (std::size_t label = 0; label < before.value.size(); ++label) {
        double reduced = before.value[label];
        for (std::size_t t = 0; t < dims; ++t) {
          reduced -= lambda_[t] * static_cast<double>(before.cost[label * dims + t]);
        }
        best_reduced[before.node[label]] = std::max(best_reduced[before.node[label]], reduced);
      }
    }
    for (std::size_t i = 0; i < stage.width.size(); ++i) {
      if (i % 64 == 63 && deadline_.passed()) return false;
      const std::int64_t k = stage.width[i];
      const double gain = stage.group->value[k];
      cand_value.clear();
      cand_cost.clear();
      cand_parent.clear();
      double beta = 0.0, alpha_cost = 0.0;
      for (std::size_t t = 0; t < dims; ++t) {
        const GroupResourceCost& c = stage.group->cost[budgets_[t].resource];
        beta += lambda_[t] * (static_cast<double>(c.coupling) * static_cast<double>(k) + static_cast<double>(c.input));
        alpha_cost += lambda_[t] * static_cast<double>(saturating_add(c.own[k], c.tied[k]));
      }
      for (int j = 0; j <= stage.last_predecessor[i]; ++j) {
        const std::int64_t k_in = previous[j];
        for (std::size_t t = 0; t < dims; ++t) {
          edge[t] = stage.group->cost[budgets_[t].resource].edge(k_in, k);
        }
        if (s == 0) {
          if (survives(s, i, gain, edge.data())) {
            cand_value.push_back(gain);
            cand_cost.insert(cand_cost.end(), edge.begin(), edge.end());
            cand_parent.push_back(-1);
          }
          continue;
        }
        const double pair_bound = best_reduced[j] + gain - alpha_cost - beta * static_cast<double>(k_in) +
                                  to_go[s][i] + lambda_capacity;
        if (pair_bound < threshold - tol) continue;
        const Labels& before = stage_labels[s - 1];
        for (std::size_t label = before.node_begin[j]; label < before.node_begin[j + 1]; ++label) {
          const double value = before.value[label] + gain;
          for (std::size_t t = 0; t < dims; ++t) {
            cost[t] = saturating_add(before.cost[label * dims + t], edge[t]);
          }
          if (!survives(s, i, value, cost.data())) continue;
          cand_value.push_back(value);
          cand_cost.insert(cand_cost.end(), cost.begin(), cost.end());
          cand_parent.push_back(static_cast<int>(label));
        }
      }
      // Keep the Pareto-optimal candidates: no other has at least the value at no more cost.
      candidate_order.resize(cand_value.size());
      std::iota(candidate_order.begin(), candidate_order.end(), 0);
      std::sort(candidate_order.begin(), candidate_order.end(), [&](std::size_t a, std::size_t b) {
        if (cand_value[a] != cand_value[b]) return cand_value[a] > cand_value[b];
        for (std::size_t t = 0; t < dims; ++t) {
          if (cand_cost[a * dims + t] != cand_cost[b * dims + t]) return cand_cost[a * dims + t] < cand_cost[b * dims + t];
        }
        return a < b;
      });
      const std::size_t first_kept = labels.value.size();
      for (std::size_t c : candidate_order) {
        const std::int64_t* candidate_cost = &cand_cost[c * dims];
        bool dominated = false;
        if (dims == 0) {
          dominated = labels.value.size() > first_kept;
        } else if (dims == 1) {
          // Kept labels have decreasing value and decreasing cost: only the last can dominate.
          dominated = labels.value.size() > first_kept && labels.cost.back() <= candidate_cost[0];
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
    }
  }
  const Labels& last = stage_labels.back();
  int best = -1;
  for (std::size_t label = 0; label < last.value.size(); ++label) {
    if (best < 0 || last.value[label] > last.value[best]) best = static_cast<int>(label);
  }
  if (best < 0) return true;
  std::vector<std::int64_t> path(stages_.size());
  int label = best;
  for (std::size_t s = stages_.size(); s-- > 0;) {
    path[s] = stages_[s].width[stage_labels[s].node[label]];
    label = stage_labels[s].parent[label];
  }
  consider(path);
  return true;
}

LevelOutcome LevelSolver::solve() {
  LevelOutcome outcome;
  if (!build_stages()) return outcome;  // infeasible: no widths meet the max resources and nesting

  for (std::size_t r = 0; r < model_.resources.size(); ++r) {
    if (model_.resources[r].aggregation != Aggregation::sum) continue;
    if (constraints_.limit[r] == kCostInfinity) continue;
    budgets_.push_back({r, static_cast<double>(constraints_.limit[r]), constraints_.limit[r]});
  }
  for (const Budget& budget : budgets_) {
    min_to_go_.push_back(cheapest_completion(budget));
    // Even the cheapest plan for this resource alone breaks its limit: infeasible.
    const Stage& first = stages_.front();
    double cheapest = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < first.width.size(); ++i) {
      const double entry =
          static_cast<double>(first.group->cost[budget.resource].edge(model_.inputs, first.width[i]));
      cheapest = std::min(cheapest, entry + min_to_go_.back()[0][i]);
    }
    if (cheapest > budget.capacity * (1.0 + 1e-12) + 1.0) return outcome;
  }

  search_multipliers();
  const auto finish = [&](LevelOutcome::Kind kind) {
    outcome.kind = kind;
    outcome.widths = incumbent_;
    outcome.value = incumbent_value_;
    outcome.upper_bound = kind == LevelOutcome::Kind::optimal ? incumbent_value_ : std::max(upper_bound_, incumbent_value_);
    return outcome;
  };
  const bool have_plan = std::isfinite(incumbent_value_);
  if (have_plan && incumbent_value_ >= upper_bound_ - tolerance()) return finish(LevelOutcome::Kind::optimal);

  // Thresholds between the bound and the best plan: the DP at a high threshold keeps few labels; if the
  // optimum lies below it, lower the threshold. The last try uses the best known plan (or -infinity).
  const double floor_value = have_plan ? incumbent_value_ : kMinusInfinity;
  std::vector<double> thresholds;
  if (have_plan) {
    for (const double fraction : {0.02, 0.2}) {
      thresholds.push_back(upper_bound_ - fraction * (upper_bound_ - floor_value));
    }
  }
  thresholds.push_back(floor_value);
  for (const double threshold : thresholds) {
    if (!label_search(threshold)) break;
    if (std::isfinite(incumbent_value_) && incumbent_value_ >= threshold - tolerance()) {
      return finish(LevelOutcome::Kind::optimal);
    }
    if (threshold == floor_value) {
      // Nothing at or above the best known plan: it is optimal, or (without a plan) none exists.
      return std::isfinite(incumbent_value_) ? finish(LevelOutcome::Kind::optimal) : outcome;
    }
  }
  // The deadline passed.
  if (!std::isfinite(incumbent_value_)) {
    outcome.kind = LevelOutcome::Kind::unknown;
    return outcome;
  }
  return finish(LevelOutcome::Kind::feasible);
}

}  // namespace

LevelOutcome solve_level(const ChainModel& model, const LevelConstraints& constraints,
                         const Deadline& deadline) {
  return LevelSolver(model, constraints, deadline).solve();
}

}  // namespace reds::detail
