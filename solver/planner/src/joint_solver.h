// The `joint` strategy: the nested chain k(1) <= ... <= k(m) that maximises sum_j w_j V(k(j)) with every
// level within its own budget.
//
// Branch and bound over the nesting. A node gives every level a box of widths per group; its bound is the
// weighted sum of each level's exact optimum inside its box, solved independently (dropping the nesting
// can only help). When the levels' optima nest, they are the node's best chain. Otherwise some group has
// k_g(j) > k_g(j+1) and the node splits at t between them: either k_g(j) <= t, and then every level up to j
// too, or k_g(j) > t, and then every level from j on too. Both children exclude the node's solution and
// together keep every nested chain, so exhausting the tree proves the best chain found optimal.
#pragma once

#include <vector>

#include "chain_model.h"
#include "graph_model.h"
#include "level_solver.h"

namespace reds::detail {

struct JointOutcome {
  std::vector<LevelOutcome> levels;  // per level; infeasible for levels outside any chain
  double objective = 0.0;            // sum of w_j * importance_j over the chain
  double upper_bound = 0.0;          // >= the best chain's objective
  bool proved = false;               // the chain is optimal (the tree was exhausted)
};

// `alone[j]` must be level j solved on its own under `constraints[j]`; levels infeasible alone stay out.
// Widths are per width group of the model: a chain's groups, or a residual network's (pinned ones included).
JointOutcome solve_joint(const ChainModel& model, const std::vector<LevelConstraints>& constraints,
                         const std::vector<LevelOutcome>& alone, const std::vector<double>& weights,
                         const Deadline& deadline);
JointOutcome solve_joint(const GraphModel& model, const std::vector<LevelConstraints>& constraints,
                         const std::vector<LevelOutcome>& alone, const std::vector<double>& weights,
                         const Deadline& deadline);

}  // namespace reds::detail
