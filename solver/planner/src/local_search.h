// The level solver's primal heuristic: repair and improve a plan by moving one or two group widths a
// node at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "level_graph.h"
#include "reds/detail/saturating.h"

namespace reds::detail {

// Local search on node indices with costs updated incrementally: a width change at stage s only changes
// the transitions into s and into s + 1.
class LocalSearch {
 public:
  LocalSearch(const std::vector<Stage>& stages, const std::vector<Budget>& budgets, std::int64_t inputs,
              std::vector<int> nodes)
      : stages_(stages),
        budgets_(budgets),
        inputs_(inputs),
        nodes_(std::move(nodes)),
        cost_(budgets.size(), 0) {
    for (std::size_t s = 0; s < stages_.size(); ++s) {
      value_ += stages_[s].group->value[width(s)];
      for (std::size_t t = 0; t < budgets_.size(); ++t) cost_[t] = saturating_add(cost_[t], edge(s, t));
    }
  }

  const std::vector<int>& nodes() const { return nodes_; }
  double value() const { return value_; }
  double excess() const { return excess_of(cost_); }

  // Moves stage `up` one width wider and stage `down` one narrower (either may be -1 for none); returns
  // whether the widths stay admissible, filling the resulting value and costs.
  bool try_move(int up, int down, double& value, std::vector<std::int64_t>& cost) {
    if (!shift(up, +1)) return false;
    if (!shift(down, -1)) {
      shift(up, -1);
      return false;
    }
    const bool ok = (up < 0 || admissible(up)) && (down < 0 || admissible(down));
    value = value_;
    cost = cost_;
    if (ok) {
      // Undo into the outputs the transitions around the moved stages.
      touched_.clear();
      for (int stage : {up, down}) {
        if (stage < 0) continue;
        touched_.push_back(stage);
        if (stage + 1 < static_cast<int>(stages_.size())) touched_.push_back(stage + 1);
      }
      std::sort(touched_.begin(), touched_.end());
      touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
      for (int stage : touched_) {
        for (std::size_t t = 0; t < budgets_.size(); ++t) cost[t] += edge(stage, t);
      }
      for (int stage : {up, down}) {
        if (stage >= 0) value += stages_[stage].group->value[width(stage)];
      }
    }
    shift(down, +1);
    shift(up, -1);
    if (!ok) return false;
    for (int stage : touched_) {
      for (std::size_t t = 0; t < budgets_.size(); ++t) cost[t] -= edge(stage, t);
    }
    for (int stage : {up, down}) {
      if (stage >= 0) value -= stages_[stage].group->value[width(stage)];
    }
    return true;
  }

  void apply(int up, int down, double value, const std::vector<std::int64_t>& cost) {
    shift(up, +1);
    shift(down, -1);
    value_ = value;
    cost_ = cost;
  }

  double excess_of(const std::vector<std::int64_t>& cost) const {
    double over = 0.0;
    for (std::size_t t = 0; t < budgets_.size(); ++t) {
      if (cost[t] > budgets_[t].limit) {
        over += static_cast<double>(cost[t] - budgets_[t].limit) / std::max(1.0, budgets_[t].capacity);
      }
    }
    return over;
  }

 private:
  std::int64_t width(std::size_t s) const { return stages_[s].width[nodes_[s]]; }
  std::int64_t edge(std::size_t s, std::size_t t) const {
    const std::int64_t k_in = s == 0 ? inputs_ : width(s - 1);
    return stages_[s].group->cost[budgets_[t].resource].edge(k_in, width(s));
  }
  bool shift(int stage, int by) {
    if (stage < 0) return true;
    const int moved = nodes_[stage] + by;
    if (moved < 0 || moved >= static_cast<int>(stages_[stage].width.size())) return false;
    nodes_[stage] = moved;
    return true;
  }
  bool admissible(std::size_t stage) const {
    if (stage > 0 && nodes_[stage - 1] > stages_[stage].last_predecessor[nodes_[stage]]) return false;
    return stage + 1 >= stages_.size() ||
           nodes_[stage] <= stages_[stage + 1].last_predecessor[nodes_[stage + 1]];
  }

  const std::vector<Stage>& stages_;
  const std::vector<Budget>& budgets_;
  std::int64_t inputs_;
  std::vector<int> nodes_;
  double value_ = 0.0;
  std::vector<std::int64_t> cost_;
  std::vector<int> touched_;
};

}  // namespace reds::detail
