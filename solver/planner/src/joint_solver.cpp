#include "joint_solver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>

#include "level_solving.h"

namespace reds::detail {
namespace {

struct Node {
  std::vector<LevelConstraints> boxes;  // per active level
  std::vector<LevelOutcome> optima;     // per active level, inside its box
  double bound = 0.0;
};

bool solvable(const LevelOutcome& outcome) {
  return outcome.kind == LevelOutcome::Kind::optimal || outcome.kind == LevelOutcome::Kind::feasible;
}

template <class Model>
class JointSolver {
 public:
  JointSolver(const Model& model, const std::vector<LevelConstraints>& constraints,
              const std::vector<LevelOutcome>& alone, const std::vector<double>& weights,
              const Deadline& deadline)
      : model_(model), constraints_(constraints), alone_(alone), weights_(weights), deadline_(deadline) {
    for (std::size_t j = 0; j < alone.size(); ++j) {
      if (solvable(alone[j])) active_.push_back(j);
    }
  }

  JointOutcome solve();

 private:
  double weight(std::size_t a) const { return weights_[active_[a]]; }
  // Re-solves the levels whose boxes changed and recomputes the bound; false if a level has no plan.
  bool evaluate(Node& node, const std::vector<bool>& changed) const;
  // The first group and pair of consecutive levels whose optima do not nest, or nothing.
  bool find_violation(const Node& node, std::size_t& level, std::size_t& group) const;
  double tolerance() const { return 1e-12 * (1.0 + std::abs(best_objective_)); }
  // A first chain to prune with: bottom-up from the first level's optimum.
  void seed_with_bottom_up(const Node& root);

  const Model& model_;
  const std::vector<LevelConstraints>& constraints_;
  const std::vector<LevelOutcome>& alone_;
  const std::vector<double>& weights_;
  const Deadline& deadline_;
  std::vector<std::size_t> active_;          // levels feasible on their own
  mutable LevelSolving<Model> solve_level_;  // keeps the level solves' storage

  std::vector<LevelOutcome> best_chain_;  // per active level
  double best_objective_ = -std::numeric_limits<double>::infinity();
};

template <class Model>
bool JointSolver<Model>::evaluate(Node& node, const std::vector<bool>& changed) const {
  node.bound = 0.0;
  for (std::size_t a = 0; a < active_.size(); ++a) {
    if (changed[a]) {
      const LevelConstraints& box = node.boxes[a];
      for (std::size_t g = 0; g < box.min_width.size(); ++g) {
        if (box.min_width[g] > box.max_width[g]) return false;
      }
      node.optima[a] = solve_level_(model_, box, deadline_);
    }
    if (!solvable(node.optima[a])) return false;
    node.bound += weight(a) * node.optima[a].upper_bound;
  }
  return true;
}

template <class Model>
bool JointSolver<Model>::find_violation(const Node& node, std::size_t& level, std::size_t& group) const {
  std::int64_t largest = 0;
  for (std::size_t a = 0; a + 1 < active_.size(); ++a) {
    const auto& lower = node.optima[a].widths;
    const auto& upper = node.optima[a + 1].widths;
    for (std::size_t g = 0; g < lower.size(); ++g) {
      if (lower[g] - upper[g] > largest) {
        largest = lower[g] - upper[g];
        level = a;
        group = g;
      }
    }
  }
  return largest > 0;
}

template <class Model>
void JointSolver<Model>::seed_with_bottom_up(const Node& root) {
  std::vector<LevelOutcome> chain;
  double objective = 0.0;
  for (std::size_t a = 0; a < active_.size(); ++a) {
    LevelConstraints box = root.boxes[a];
    if (a > 0) {
      box.min_width = chain.back().widths;
      box.start = chain.back().widths;
    }
    LevelOutcome level = a == 0 ? root.optima[0] : solve_level_(model_, box, deadline_);
    if (!solvable(level)) return;
    objective += weight(a) * level.value;
    chain.push_back(std::move(level));
  }
  if (objective > best_objective_) {
    best_objective_ = objective;
    best_chain_ = std::move(chain);
  }
}

template <class Model>
JointOutcome JointSolver<Model>::solve() {
  JointOutcome outcome;
  outcome.levels.resize(alone_.size());
  if (active_.empty()) {
    outcome.proved = true;
    outcome.upper_bound = 0.0;
    return outcome;
  }
  Node root;
  for (std::size_t level : active_) {
    root.boxes.push_back(constraints_[level]);
    root.boxes.back().wide_envelope =
        true;  // boxes narrow the widths, which the single best relaxation prices poorly
    root.optima.push_back(alone_[level]);
  }
  std::vector<bool> unchanged(active_.size(), false);
  evaluate(root, unchanged);
  seed_with_bottom_up(root);

  auto by_bound = [](const Node& a, const Node& b) { return a.bound < b.bound; };
  std::priority_queue<Node, std::vector<Node>, decltype(by_bound)> open(by_bound);
  open.push(std::move(root));
  double open_bound = -std::numeric_limits<double>::infinity();
  bool exhausted = true;
  while (!open.empty()) {
    if (open.top().bound <= best_objective_ + tolerance()) break;  // nothing left can beat the chain
    if (deadline_.passed()) {
      exhausted = false;
      open_bound = open.top().bound;
      break;
    }
    Node node = open.top();
    open.pop();
    std::size_t level = 0, group = 0;
    if (!find_violation(node, level, group)) {
      double objective = 0.0;
      for (std::size_t a = 0; a < active_.size(); ++a) objective += weight(a) * node.optima[a].value;
      if (objective > best_objective_) {
        best_objective_ = objective;
        best_chain_ = node.optima;
      }
      // A chain whose levels were all solved exactly closes its node; one cut short stays unproved.
      const bool exact = std::all_of(node.optima.begin(), node.optima.end(), [](const LevelOutcome& o) {
        return o.kind == LevelOutcome::Kind::optimal;
      });
      if (!exact) {
        exhausted = false;
        open_bound = std::max(open_bound, node.bound);
      }
      continue;
    }
    const std::int64_t t = (node.optima[level].widths[group] + node.optima[level + 1].widths[group]) / 2;
    // Child 1: k_g <= t for every level up to `level`.
    Node narrow = node;
    std::vector<bool> changed(active_.size(), false);
    for (std::size_t a = 0; a <= level; ++a) {
      if (narrow.optima[a].widths[group] > t) changed[a] = true;
      narrow.boxes[a].max_width[group] = std::min(narrow.boxes[a].max_width[group], t);
    }
    if (evaluate(narrow, changed)) open.push(std::move(narrow));
    // Child 2: k_g > t for every level from `level` on.
    Node wide = std::move(node);
    changed.assign(active_.size(), false);
    for (std::size_t a = level; a < active_.size(); ++a) {
      if (wide.optima[a].widths[group] <= t) changed[a] = true;
      wide.boxes[a].min_width[group] = std::max(wide.boxes[a].min_width[group], t + 1);
    }
    if (evaluate(wide, changed)) open.push(std::move(wide));
  }
  if (!best_chain_.empty()) {
    for (std::size_t a = 0; a < active_.size(); ++a) outcome.levels[active_[a]] = best_chain_[a];
    outcome.objective = best_objective_;
  }
  outcome.proved = exhausted;
  outcome.upper_bound = exhausted ? std::max(best_objective_, 0.0) : std::max(open_bound, best_objective_);
  if (exhausted && best_chain_.empty()) outcome.upper_bound = 0.0;
  return outcome;
}

}  // namespace

JointOutcome solve_joint(const ChainModel& model, const std::vector<LevelConstraints>& constraints,
                         const std::vector<LevelOutcome>& alone, const std::vector<double>& weights,
                         const Deadline& deadline) {
  return JointSolver<ChainModel>(model, constraints, alone, weights, deadline).solve();
}

JointOutcome solve_joint(const GraphModel& model, const std::vector<LevelConstraints>& constraints,
                         const std::vector<LevelOutcome>& alone, const std::vector<double>& weights,
                         const Deadline& deadline) {
  return JointSolver<GraphModel>(model, constraints, alone, weights, deadline).solve();
}

}  // namespace reds::detail
