// The strategies of the plan contract on top of the exact level solver.
#include "reds/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "chain_model.h"
#include "graph_model.h"
#include "joint_solver.h"
#include "level_solver.h"
#include "level_solving.h"
#include "reds/detail/saturating.h"

namespace reds {
namespace {

using detail::ChainModel;
using detail::GraphModel;
using detail::LevelConstraints;
using detail::LevelOutcome;

// Widths `widths` satisfy the nesting bounds of `constraints`.
bool within(const std::vector<std::int64_t>& widths, const LevelConstraints& constraints) {
  for (std::size_t g = 0; g < widths.size(); ++g) {
    if (widths[g] < constraints.min_width[g] || widths[g] > constraints.max_width[g]) return false;
  }
  return true;
}

// The strategies over a model of the request: ChainModel for version 1 requests, GraphModel for those with
// the contract 1.1 fields. Widths are per width group of the model.
template <class Model>
class Planner {
 public:
  Planner(const PlanRequest& request, const PlanOptions& options, std::chrono::steady_clock::time_point start)
      : request_(request), options_(options), start_(start), model_(Model::build(request.network)) {
    if (request.time_limit_ms) {
      deadline_ = detail::Deadline(start + std::chrono::milliseconds(*request.time_limit_ms));
    }
  }

  Result<PlanResult> run();

 private:
  LevelConstraints unnested(std::size_t level) const;
  LevelOutcome solve(std::size_t level, const LevelConstraints& constraints, bool independent) const;
  // The level under its strategy's nesting, reusing the independent optimum when it already nests.
  LevelOutcome solve_nested(std::size_t level, LevelConstraints constraints) const;
  Result<LevelPlan> describe(std::size_t level, const LevelOutcome& outcome) const;
  // Solves every level alone (for independent_importance) and, for bottom_up, with its widths at least
  // the last feasible level's below, or, for top_down, from the largest level down with its widths at
  // most the feasible level's above. Levels are solved in that order so that a time limit cuts the
  // smallest (bottom_up) or largest (top_down) levels last.
  std::vector<LevelOutcome> solve_levels();
  // joint: the best nested chain over the levels feasible on their own. Each chained level reports the
  // chain's status and, as its bound, the bound of its independent optimum (contract, precise rule 6).
  detail::JointOutcome solve_joint_chain() const;

  const PlanRequest& request_;
  const PlanOptions& options_;
  std::chrono::steady_clock::time_point start_;
  Model model_;
  detail::Deadline deadline_;
  std::vector<std::map<std::string, std::int64_t>> limits_;  // resolved, per level
  std::vector<LevelOutcome> independent_;
  // The independent solves differ only in their budgets: each lends its dual tangents to the next.
  mutable detail::DualCutPool independent_cuts_;
  // Solves levels, reusing their storage from one to the next.
  mutable detail::LevelSolving<Model> solve_level_;
};

template <class Model>
LevelConstraints Planner<Model>::unnested(std::size_t level) const {
  LevelConstraints constraints;
  for (const auto& resource : model_.resources) {
    const auto found = limits_[level].find(resource.name);
    constraints.limit.push_back(found == limits_[level].end() ? detail::kCostInfinity : found->second);
  }
  constraints.min_width.assign(model_.groups.size(), 0);
  constraints.max_width.assign(model_.groups.size(), detail::kCostInfinity);
  return constraints;
}

template <class Model>
LevelOutcome Planner<Model>::solve(std::size_t level, const LevelConstraints& constraints,
                                   bool independent) const {
  detail::LevelProgress progress;
  if (options_.on_progress) {
    progress = [&](double best, double bound) {
      PlanProgress report;
      report.level = level;
      report.independent = independent;
      report.best_importance = best;
      report.upper_bound = bound;
      report.elapsed_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      options_.on_progress(report);
    };
  }
  return solve_level_(model_, constraints, deadline_, progress, independent ? &independent_cuts_ : nullptr);
}

template <class Model>
LevelOutcome Planner<Model>::solve_nested(std::size_t level, LevelConstraints constraints) const {
  const LevelOutcome& alone = independent_[level];
  if (alone.kind == LevelOutcome::Kind::infeasible) return alone;  // nesting only removes plans
  if (alone.kind == LevelOutcome::Kind::optimal && within(alone.widths, constraints)) return alone;
  return solve(level, constraints, false);
}

template <class Model>
Result<LevelPlan> Planner<Model>::describe(std::size_t level, const LevelOutcome& outcome) const {
  LevelPlan plan;
  plan.limits = limits_[level];
  switch (outcome.kind) {
    case LevelOutcome::Kind::infeasible:
      plan.status = PlanStatus::infeasible;
      return plan;
    case LevelOutcome::Kind::unknown:
      return Error{ErrorCode::deadline_exceeded,
                   "time_limit_ms of " + std::to_string(request_.time_limit_ms.value_or(0)) +
                       " ms passed before any plan was found for level " + std::to_string(level),
                   "/time_limit_ms"};
    case LevelOutcome::Kind::optimal:
      plan.status = PlanStatus::optimal;
      break;
    case LevelOutcome::Kind::feasible:
      plan.status = PlanStatus::feasible;
      break;
  }
  plan.widths = model_.layer_widths(outcome.widths, request_.network.layers.size());
  const std::vector<std::int64_t> cost = model_.cost_of(outcome.widths);
  for (std::size_t r = 0; r < model_.resources.size(); ++r) plan.cost[model_.resources[r].name] = cost[r];
  plan.importance = model_.value_of(outcome.widths);
  plan.upper_bound = std::max(outcome.upper_bound, plan.importance);
  plan.gap = plan.upper_bound > 0.0 ? (plan.upper_bound - plan.importance) / plan.upper_bound : 0.0;
  const LevelOutcome& alone = independent_[level];
  if (alone.kind == LevelOutcome::Kind::optimal || alone.kind == LevelOutcome::Kind::feasible) {
    plan.independent_importance = model_.value_of(alone.widths);
  }
  return plan;
}

template <class Model>
std::vector<LevelOutcome> Planner<Model>::solve_levels() {
  const std::size_t level_count = request_.levels.size();
  const bool top_down = request_.strategy == Strategy::top_down;
  independent_.resize(level_count);
  std::vector<LevelOutcome> outcomes(level_count);
  const LevelOutcome* alone_before = nullptr;  // the independent plan of the level solved before
  const LevelOutcome* neighbour = nullptr;     // the last feasible level of the strategy's chain
  for (std::size_t step = 0; step < level_count; ++step) {
    const std::size_t j = top_down ? level_count - 1 - step : step;
    LevelConstraints alone = unnested(j);
    if (alone_before != nullptr) {
      alone.start = alone_before->widths;
      alone.start_multipliers = alone_before->multipliers;
    }
    independent_[j] = solve(j, alone, true);
    alone_before = &independent_[j];
    if (request_.strategy == Strategy::independent || request_.strategy == Strategy::joint) {
      outcomes[j] = independent_[j];
      continue;
    }
    LevelConstraints nested = unnested(j);
    if (neighbour != nullptr) {
      (top_down ? nested.max_width : nested.min_width) = neighbour->widths;
      nested.start = neighbour->widths;
    }
    nested.start_multipliers = independent_[j].multipliers;  // the same budget
    nested.start_multipliers_at_unnested_minimum = independent_[j].kind == LevelOutcome::Kind::optimal;
    nested.unnested_dual_minimum = independent_[j].dual_bound;
    outcomes[j] = solve_nested(j, std::move(nested));
    if (!outcomes[j].widths.empty()) neighbour = &outcomes[j];
  }
  return outcomes;
}

template <class Model>
detail::JointOutcome Planner<Model>::solve_joint_chain() const {
  std::vector<LevelConstraints> constraints;
  for (std::size_t j = 0; j < independent_.size(); ++j) constraints.push_back(unnested(j));
  std::vector<double> weights = request_.weights;
  weights.resize(independent_.size(), 1.0);
  detail::JointOutcome joint = detail::solve_joint(model_, constraints, independent_, weights, deadline_);
  for (std::size_t j = 0; j < joint.levels.size(); ++j) {
    LevelOutcome& level = joint.levels[j];
    if (level.widths.empty()) {
      // Outside the chain: infeasible alone, or no common nested chain exists (or none was found in time).
      const bool unknown = !joint.proved && independent_[j].kind != LevelOutcome::Kind::infeasible;
      level.kind = unknown ? LevelOutcome::Kind::unknown : LevelOutcome::Kind::infeasible;
      continue;
    }
    level.kind = joint.proved ? LevelOutcome::Kind::optimal : LevelOutcome::Kind::feasible;
    level.upper_bound = std::max(independent_[j].upper_bound, level.value);
  }
  return joint;
}

template <class Model>
Result<PlanResult> Planner<Model>::run() {
  const std::map<std::string, std::int64_t> full_cost = full_network_cost(request_.network);
  for (const Level& level : request_.levels) {
    std::map<std::string, std::int64_t> limits;
    for (const auto& [resource, limit] : level.limits) {
      limits[resource] = limit.kind == Limit::Kind::max
                             ? limit.maximum
                             : resolve_fraction(limit.fraction, full_cost.at(resource));
    }
    limits_.push_back(std::move(limits));
  }

  const std::size_t level_count = request_.levels.size();
  std::vector<LevelOutcome> outcomes = solve_levels();
  std::optional<detail::JointOutcome> joint;
  if (request_.strategy == Strategy::joint) {
    joint = solve_joint_chain();
    outcomes = joint->levels;
  }
  PlanResult result;
  result.strategy = request_.strategy;
  for (const Layer& layer : request_.network.layers) result.layer_names.push_back(layer.name);
  result.full_cost = full_cost;
  std::vector<std::int64_t> full_widths;
  for (const auto& group : model_.groups) full_widths.push_back(group.units);
  result.full_importance = model_.value_of(full_widths);
  result.order.resize(request_.network.layers.size());
  for (const auto& group : model_.groups) {
    for (std::size_t layer : group.layers) result.order[layer] = group.order;
  }
  result.status = PlanStatus::optimal;
  for (std::size_t j = 0; j < level_count; ++j) {
    Result<LevelPlan> level = describe(j, outcomes[j]);
    if (!level) return level.error();
    result.status = std::max(result.status, level->status);
    result.levels.push_back(std::move(level).value());
  }
  if (joint) {
    result.objective = joint->objective;
    result.objective_upper_bound = std::max(joint->upper_bound, joint->objective);
    result.objective_gap =
        *result.objective_upper_bound > 0.0
            ? (*result.objective_upper_bound - joint->objective) / *result.objective_upper_bound
            : 0.0;
  }
  return result;
}

}  // namespace

Result<PlanResult> plan(const PlanRequest& request, const PlanOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (std::optional<Error> error = validate(request)) return *std::move(error);
  try {
    // Another objective is the contract's sum over rescaled importances.
    std::optional<PlanRequest> rescaled;
    if (request.objective != Objective::sum) {
      rescaled = request;
      std::vector<std::vector<double>> importance = objective_importance(request.network, request.objective);
      for (std::size_t layer = 0; layer < importance.size(); ++layer)
        rescaled->network.layers[layer].importance = std::move(importance[layer]);
    }
    const PlanRequest& planned = rescaled ? *rescaled : request;
    // Only requests with the contract 1.1 fields need the graph of open widths; the others are chains.
    Result<PlanResult> result = first_residual_field(request.network)
                                    ? Planner<GraphModel>(planned, options, start).run()
                                    : Planner<ChainModel>(planned, options, start).run();
    if (result) {
      result.value().solve_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return result;
  } catch (const std::bad_alloc&) {
    return Error{ErrorCode::resource_exhausted, "out of memory while planning", ""};
  } catch (const std::exception& e) {
    return Error{ErrorCode::internal, std::string("internal error while planning: ") + e.what(), ""};
  }
}

}  // namespace reds
