// Plans for the engine's and training's tests: a plan response with given widths, without the planner.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <random>
#include <set>
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

// A nested plan of `levels` levels for a model whose unit layers keep one order and one width in the given
// groups (a stream's members; a DepthwiseConv2D with the layer it follows; a layer alone): each group takes
// a random order and random widths in 1..units that grow level after level, the last level keeping every
// unit. Unit layers in no group keep their identity order and full width. Every unit layer is named, as a
// plan response names them.
inline PlanResult random_group_plan(const Model& model, const std::vector<std::vector<std::string>>& groups,
                                    std::size_t levels, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::map<std::string, std::vector<std::int64_t>> orders;
  std::map<std::string, std::vector<std::int64_t>> widths;  // per level
  for (const std::vector<std::string>& group : groups) {
    const auto first = std::find_if(model.layers.begin(), model.layers.end(),
                                    [&](const Layer& layer) { return layer.name == group.front(); });
    const auto units = static_cast<std::int64_t>(l1_importance(*first).size());
    std::vector<std::int64_t> order(static_cast<std::size_t>(units));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), generator);
    std::vector<std::int64_t> level_widths;
    std::uniform_int_distribution<std::int64_t> width(1, units);
    for (std::size_t level = 0; level + 1 < levels; ++level) level_widths.push_back(width(generator));
    std::sort(level_widths.begin(), level_widths.end());
    level_widths.push_back(units);
    for (const std::string& name : group) orders[name] = order, widths[name] = level_widths;
  }
  PlanResult plan;
  plan.levels.resize(levels);
  for (const Layer& layer : model.layers) {
    const std::vector<double> units = l1_importance(layer);
    if (units.empty()) continue;
    plan.layer_names.push_back(layer.name);
    std::vector<std::int64_t> identity(units.size());
    std::iota(identity.begin(), identity.end(), 0);
    plan.order.push_back(orders.contains(layer.name) ? orders[layer.name] : identity);
    for (std::size_t level = 0; level < levels; ++level) {
      plan.levels[level].status = PlanStatus::optimal;
      plan.levels[level].widths.push_back(
          widths.contains(layer.name) ? widths[layer.name][level] : static_cast<std::int64_t>(units.size()));
    }
  }
  return plan;
}

}  // namespace reds::engine::testing
