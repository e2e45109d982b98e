// The state of one level solve, shared by the files that implement it: relaxation.cpp, label_search.cpp and
// level_solver.cpp (level_solver.h describes the method).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "chain_model.h"
#include "level_graph.h"
#include "level_solver.h"
#include "max_line_set.h"
#include "multiplier_search.h"
#include "pareto_front.h"

namespace reds::detail {

inline constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

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
  std::vector<int> reachable;  // indices into `labelled` that pass the pair test
  // Per budget: the capacity with slack for rounding, which a label's cost and cheapest completion must fit.
  std::vector<double> room;
  std::vector<double> price_of_capacity;       // per relaxation: lambda . capacity
  std::vector<double> node_price, node_slope;  // per relaxation, for the node being labelled
  std::vector<double> node_min_to_go;          // per budget, for the node being labelled
  std::vector<double> node_to_go;              // per relaxation, for the node being labelled
  std::vector<std::int64_t> edge, cost;        // per budget
  ParetoFront front;                           // the labels kept at the node being labelled
  std::vector<std::int64_t> path;              // the best label's plan (group widths)
};

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

// One solve of one level. Its containers are the workspace's, moved in for the solve and back out after it.
// Its methods are defined by concept: relaxation.cpp (the Lagrangian dual and its envelope),
// label_search.cpp (the label-setting search) and level_solver.cpp (the solve that combines them).
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
  const std::vector<std::int64_t>& predecessor_widths(std::size_t stage) const {
    return stage == 0 ? source_width_ : stages_[stage - 1].width;
  }
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
  using Point = DualPoint;
  struct Bracket {
    Point left, right;  // slope < 0 at left, >= 0 at right
  };
  std::optional<Bracket> pooled_bracket();
  void share(const Relaxation& relaxation);
  friend class MultiplierSearch<LevelSolver>;
  bool usable(const Relaxation& relaxation) const {
    return relaxation.path.size() == stages_.size() && std::isfinite(relaxation.dual);
  }
  Relaxation& best_relaxation() { return best_relaxation_; }
  Relaxation& trial_relaxation() { return trial_; }
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
  // Its steps are label_search.cpp's own.
  SearchEnd label_search(double threshold, std::size_t labels_per_node_cap = 0);
  void consider_best_label();
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

}  // namespace reds::detail
