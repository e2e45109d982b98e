// The solve of one level: build the graph of admissible widths, bound it by the Lagrangian relaxation
// (relaxation.cpp), find plans by local search from the relaxed paths, and prove one optimal by label
// searches (label_search.cpp) at thresholds stepping down from the bound.
#include "level_solver.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <vector>

#include "level_solver_state.h"
#include "local_search.h"
#include "multiplier_search.h"
#include "reds/detail/saturating.h"

namespace reds::detail {

void LevelWorkspaceDeleter::operator()(LevelWorkspace* workspace) const { delete workspace; }

LevelWorkspacePtr make_level_workspace() { return LevelWorkspacePtr(new LevelWorkspace); }

namespace {

// The first search at the best known plan gives up beyond this many labels per node on average.
constexpr std::size_t kLabelsPerNodeOfFirstSearch = 4;

}  // namespace

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
  // The last search, at the best known plan (or unbounded without one), always decides: finding nothing
  // better proves that plan optimal, or, without one, the level infeasible.
  const std::vector<double> thresholds =
      label_search_thresholds(incumbent_value_, upper_bound_, budgets_.size());
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
