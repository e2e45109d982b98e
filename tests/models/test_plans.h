// Plans for the engine's and training's tests: a plan response with given widths, without the planner.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "reds/contract.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"

namespace reds::engine::testing {

// A feasible plan of `model` with one level per map of widths (by layer name; every map names the layers
// of the first). Each layer's order is the identity over its units (the model's units are in plan order).
inline PlanResult plan_with_widths(const Model& model,
                                   const std::vector<std::map<std::string, std::int64_t>>& levels) {
  PlanResult plan;
  for (const auto& [name, width] : levels.front()) {
    plan.layer_names.push_back(name);
    const auto layer = std::find_if(model.layers.begin(), model.layers.end(),
                                    [&layer_name = name](const Layer& l) { return l.name == layer_name; });
    std::vector<std::int64_t>& order = plan.order.emplace_back();
    if (layer != model.layers.end()) {
      order.resize(l1_importance(*layer).size());
      std::iota(order.begin(), order.end(), 0);
    }
  }
  for (const std::map<std::string, std::int64_t>& widths : levels) {
    LevelPlan& level = plan.levels.emplace_back();
    level.status = PlanStatus::optimal;
    for (const std::string& name : plan.layer_names) level.widths.push_back(widths.at(name));
  }
  return plan;
}

}  // namespace reds::engine::testing
