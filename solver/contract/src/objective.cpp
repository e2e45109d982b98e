// The importances behind each objective (reds/contract.h, objective_importance): every objective is the
// contract's sum over rescaled importances, so the planner solves them all alike.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

#include "reds/contract.h"
#include "reds/network.h"
#include "width_spans.h"

namespace reds {

std::vector<std::vector<double>> objective_importance(const Network& network, Objective objective) {
  std::vector<std::vector<double>> importance;
  importance.reserve(network.layers.size());
  for (const Layer& layer : network.layers) importance.push_back(layer.importance);
  if (objective == Objective::sum) return importance;
  for (const WidthGroup& group : detail::width_spans(network).variables.groups) {
    const std::size_t first = group.layers.front();
    const std::size_t units = importance[first].size();
    std::vector<double> summed(units, 0.0);
    for (std::size_t member : group.layers)
      for (std::size_t unit = 0; unit < units; ++unit) summed[unit] += importance[member][unit];
    const double total = std::accumulate(summed.begin(), summed.end(), 0.0);
    if (objective == Objective::normalized) {
      if (total > 0)
        for (std::size_t member : group.layers)
          for (double& score : importance[member]) score /= total;
    } else {
      std::vector<std::size_t> order(units);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return summed[a] > summed[b]; });
      std::vector<double>& worth = importance[first];
      std::fill(worth.begin(), worth.end(), 0.0);
      if (total > 0) {
        // log1p keeps a tiny share positive, so no two units of different importance tie.
        double kept = summed[order[0]];
        for (std::size_t rank = 1; rank < units; ++rank) {
          worth[order[rank]] = std::log1p(summed[order[rank]] / kept);
          kept += summed[order[rank]];
        }
        worth[order[0]] = std::log(2 * total / summed[order[0]]);
      }
      for (std::size_t member : group.layers)
        if (member != first) std::fill(importance[member].begin(), importance[member].end(), 0.0);
    }
  }
  return importance;
}

}  // namespace reds
