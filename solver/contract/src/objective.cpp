// The importances behind each objective (reds/contract.h, objective_importance): every objective is the
// contract's sum over rescaled importances, so the planner solves them all alike.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

#include "reds/contract.h"
#include "reds/network.h"

namespace reds {

std::vector<std::vector<double>> objective_importance(const Network& network, Objective objective) {
  std::vector<std::vector<double>> importance;
  importance.reserve(network.layers.size());
  for (const Layer& layer : network.layers) importance.push_back(layer.importance);
  if (objective == Objective::sum) return importance;
  for (std::size_t leader = 0; leader < importance.size();) {
    std::size_t end = leader + 1;
    while (end < importance.size() && network.layers[end].tied) ++end;
    const std::size_t units = importance[leader].size();
    std::vector<double> group(units, 0.0);
    for (std::size_t member = leader; member < end; ++member)
      for (std::size_t unit = 0; unit < units; ++unit) group[unit] += importance[member][unit];
    const double total = std::accumulate(group.begin(), group.end(), 0.0);
    if (objective == Objective::normalized) {
      if (total > 0)
        for (std::size_t member = leader; member < end; ++member)
          for (double& score : importance[member]) score /= total;
    } else {
      std::vector<std::size_t> order(units);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return group[a] > group[b]; });
      std::vector<double>& worth = importance[leader];
      std::fill(worth.begin(), worth.end(), 0.0);
      if (total > 0) {
        // log1p keeps a tiny share positive, so no two units of different importance tie.
        double kept = group[order[0]];
        for (std::size_t rank = 1; rank < units; ++rank) {
          worth[order[rank]] = std::log1p(group[order[rank]] / kept);
          kept += group[order[rank]];
        }
        worth[order[0]] = std::log(2 * total / group[order[0]]);
      }
      for (std::size_t member = leader + 1; member < end; ++member)
        std::fill(importance[member].begin(), importance[member].end(), 0.0);
    }
    leader = end;
  }
  return importance;
}

}  // namespace reds
