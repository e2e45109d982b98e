// Exact solve of one budget level over the chain of width groups.
//
// Maximise V(k) = sum_g value_g(k_g) subject to, per limited resource, sum or max of the layer costs
// within the limit and per group min_width[g] <= k_g <= max_width[g] (the nesting of bottom_up/top_down).
//
// Method (a resource-constrained longest path in the layered graph of widths):
//  1. Max resources only forbid transitions: for every width k of a group the admissible previous widths
//     form a prefix, so they are applied as a filter on the graph.
//  2. Lagrangian relaxation of the sum resources: for multipliers lambda >= 0 the relaxed problem is a
//     longest path with transition weight alpha(k) - beta(k) * k_in, solved for all widths at once by an
//     upper envelope of lines (a hull in O(n), or MaxLineSet in O(n log n) under max resources) per group.
//     Minimising over lambda (exact line search on the piecewise-linear dual) gives an upper bound and
//     usually a feasible plan.
//  3. A label-setting dynamic program over (group, width) keeps Pareto labels (cost..., importance) and
//     discards every label whose Lagrangian completion bound falls below a threshold or whose cheapest
//     completion breaks a limit. If it finds a plan at or above the threshold, that plan is optimal; if not,
//     the threshold is lowered towards the best known plan, which it always reaches.
// Every pruning rule only drops labels that cannot lead to a plan better than the threshold, so the result
// is exact; the Lagrangian bound only decides how much work that takes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "chain_model.h"
#include "level_graph.h"

namespace reds::detail {

class Deadline {
 public:
  Deadline() = default;  // never passes
  explicit Deadline(std::chrono::steady_clock::time_point at) : at_(at) {}
  bool passed() const { return at_ && std::chrono::steady_clock::now() >= *at_; }

 private:
  std::optional<std::chrono::steady_clock::time_point> at_;
};

struct LevelConstraints {
  std::vector<std::int64_t> limit;      // per model resource; kCostInfinity when not limited
  std::vector<std::int64_t> min_width;  // per group
  std::vector<std::int64_t> max_width;  // per group
  // Group widths worth trying first (e.g. the neighbouring level's plan); ignored when not admissible.
  std::vector<std::int64_t> start;
  // Lagrange multipliers per model resource worth starting the dual search from (e.g. the neighbouring
  // level's); empty: start from zero. Only the search's cost depends on them, never its result's bound.
  std::vector<double> start_multipliers;
  // Bound labels by relaxations at the best multipliers scaled by 0 to 8 as well, not only at the best
  // ones: it pays where many solves have narrow width boxes (the joint strategy's branch and bound: 3 times
  // fewer instructions for DS-CNN L with 4 levels) and costs 10-30 % elsewhere.
  bool wide_envelope = false;
  // The start multipliers minimise this budget's dual without the nesting bounds. The nested dual's minimum
  // is usually at the same kink, so the search first steps across it by a hair instead of by 1/16.
  bool start_multipliers_at_unnested_minimum = false;
  // With those multipliers: the unnested dual's minimum. Where the nested relaxation reaches it at the start
  // multipliers, the nested dual's minimum is almost always there too, and the dual search is skipped.
  double unnested_dual_minimum = std::numeric_limits<double>::infinity();
};

// Tangents of the Lagrangian dual shared by solves over one graph that differ only in their budget (the
// levels' independent solves). With one priced resource the relaxed value
//   g(lambda) = max over plans P of (V(P) - lambda * cost(P))
// does not depend on the budget B; the dual is g(lambda) + lambda * B. Every relaxation one solve evaluates
// is therefore a tangent of every other solve's dual: together they bracket its minimum before it
// evaluates anything, and their plans are candidates for its budget.
class DualCutPool {
 public:
  struct Cut {
    double lambda = 0.0;
    double value = 0.0;     // V(P) of the relaxation's plan P
    std::int64_t cost = 0;  // cost(P) of the priced resource
    std::vector<std::int64_t> widths;
  };
  // Empties the pool unless it holds tangents of this graph (the stages' widths and predecessors) and
  // priced resource already.
  void bind(const std::vector<Stage>& stages, std::size_t resource);
  void add(Cut cut) { cuts_.push_back(std::move(cut)); }
  const std::vector<Cut>& cuts() const { return cuts_; }

 private:
  std::vector<std::vector<std::int64_t>> stage_widths_;
  std::vector<std::vector<int>> stage_predecessors_;
  std::size_t resource_ = 0;
  bool bound_ = false;
  std::vector<Cut> cuts_;
};

// Called whenever the best plan's importance or the upper bound improves: (best importance, or -infinity
// before any plan; upper bound).
using LevelProgress = std::function<void(double best, double bound)>;

struct LevelOutcome {
  enum class Kind {
    optimal,     // widths are proved optimal
    feasible,    // the deadline passed; widths are the best plan found, upper_bound is a valid bound
    infeasible,  // proved: no widths meet the constraints
    unknown,     // the deadline passed before any plan was found
  };
  Kind kind = Kind::infeasible;
  std::vector<std::int64_t> widths;  // per group, for optimal and feasible
  double value = 0.0;
  double upper_bound = 0.0;
  std::vector<double> multipliers;  // per model resource: the dual search's best multipliers (0 if unlimited)
  double dual_bound = std::numeric_limits<double>::infinity();  // the Lagrangian bound at those multipliers
};

// The level solver's containers, kept from one solve to the next so that a sequence of solves (the levels of
// one plan, the joint strategy's branch and bound) reuses their capacity instead of allocating anew. Defined
// in level_solver_state.h; one per thread of solves.
struct LevelWorkspace;
struct LevelWorkspaceDeleter {
  void operator()(LevelWorkspace* workspace) const;
};
using LevelWorkspacePtr = std::unique_ptr<LevelWorkspace, LevelWorkspaceDeleter>;
LevelWorkspacePtr make_level_workspace();

// `cuts`, when given, lends its tangents to this solve (if they are of its graph) and receives this solve's.
// `workspace`, when given, lends the solve its storage; the result does not depend on it.
LevelOutcome solve_level(const ChainModel& model, const LevelConstraints& constraints,
                         const Deadline& deadline = {}, const LevelProgress& progress = {},
                         DualCutPool* cuts = nullptr, LevelWorkspace* workspace = nullptr);

}  // namespace reds::detail
