// One call to solve a level of either model, so that the strategies (plan.cpp, joint_solver.cpp) are written
// once over both: the chain of width groups (version 1 requests) and the graph of open widths (requests with
// the contract 1.1 fields).
#pragma once

#include "chain_model.h"
#include "graph_model.h"
#include "graph_solver.h"
#include "level_solver.h"

namespace reds::detail {

template <class Model>
class LevelSolving;

// The chain solver keeps its storage from one solve to the next and shares dual tangents between solves
// that differ only in their budgets.
template <>
class LevelSolving<ChainModel> {
 public:
  LevelOutcome operator()(const ChainModel& model, const LevelConstraints& constraints,
                          const Deadline& deadline, const LevelProgress& progress = {},
                          DualCutPool* cuts = nullptr) {
    return solve_level(model, constraints, deadline, progress, cuts, workspace_.get());
  }

 private:
  LevelWorkspacePtr workspace_ = make_level_workspace();
};

template <>
class LevelSolving<GraphModel> {
 public:
  LevelOutcome operator()(const GraphModel& model, const LevelConstraints& constraints,
                          const Deadline& deadline, const LevelProgress& progress = {},
                          DualCutPool* /*cuts: the chain's only*/ = nullptr) {
    return solve_level(model, constraints, deadline, progress);
  }
};

}  // namespace reds::detail
