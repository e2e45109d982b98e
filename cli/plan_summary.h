// `reds plan --summary`: a plan response for people, one line per level.
#pragma once

#include <string>

#include "reds/plan.h"

namespace reds::cli {

// A first line for the whole plan (its status, strategy, the full network's cost of every limited
// resource and its importance, the solve time), then one line per level: its status, cost against limit
// per limited resource (and the share of the limit used), importance, gap and kept width per layer.
// Columns are aligned across the levels, the widths layer by layer, so that a level's growth reads
// downwards; with many layers a line is long rather than wrapped.
//
//   plan     optimal  bottom_up  full macs 28,327,812  importance 6022.96  solved in 0.0106 s
//   level 1  optimal  macs  7,081,563/7,081,953  (100.0%)  importance 4169.54  gap 0  widths conv1=69  ...
//   level 2  optimal  macs 14,162,927/14,163,906 (100.0%)  importance 4971.48  gap 0  widths conv1=200 ...
std::string plan_summary(const PlanResult& plan);

}  // namespace reds::cli
