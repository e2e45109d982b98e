// Exact solve of one budget level of a residual request (contract 1.1) over the graph of open widths.
//
// The cut after layer i opens at most two width variables (rule 10); its states are the assignments of
// those variables within their allowed widths and the level's box. Layer i is a step from the states of the
// cut before it to those of the cut after it: it may introduce its own variable (whose value then counts),
// and its cost depends only on the widths of the step's variables (graph_model.h). Width vectors are
// exactly the paths from the empty first cut to the empty last one, with the same value and costs, so a
// level is a resource-constrained longest path in a layered graph, solved as the chain is (level_solver.h):
//  1. limited max resources forbid edges;
//  2. the Lagrangian relaxation of the sum budgets is a backward pass over the cut states; where a step's
//     product of widths pairs the variable it introduces with one it drops, the maximum over the new width
//     is an upper envelope of lines, so that the step costs O(states) rather than O(states x widths);
//  3. relaxed paths and the neighbouring level's plan, repaired and improved by local search, give plans;
//  4. a label-setting search over the cut states with Pareto labels (value, cost per budget), pruned by the
//     relaxations' bounds and by the cheapest completion per budget, at thresholds stepping down from the
//     bound, proves one optimal. Two labels at one state have the same futures, so dominance is exact.
#pragma once

#include "graph_model.h"
#include "level_solver.h"

namespace reds::detail {

// Widths in LevelConstraints and LevelOutcome are per group of the model (pinned groups at full width).
LevelOutcome solve_level(const GraphModel& model, const LevelConstraints& constraints,
                         const Deadline& deadline = {}, const LevelProgress& progress = {});

}  // namespace reds::detail
