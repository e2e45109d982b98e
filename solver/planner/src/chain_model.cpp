#include "chain_model.h"

#include <algorithm>
#include <numeric>

#include "reds/detail/cost_model.h"
#include "reds/detail/saturating.h"

namespace reds::detail {

std::int64_t GroupResourceCost::head(std::int64_t k_in, std::int64_t k) const {
  const std::int64_t coupled = saturating_mul(saturating_mul(coupling, k), k_in);
  return saturating_add(saturating_add(coupled, saturating_mul(input, k_in)), own[k]);
}

std::int64_t GroupResourceCost::edge(std::int64_t k_in, std::int64_t k) const {
  return saturating_add(head(k_in, k), tied[k]);
}

namespace {

std::vector<std::int64_t> allowed_widths(const Layer& head) {
  if (!head.prunable) return {head.units};
  std::vector<std::int64_t> widths;
  const std::int64_t first = (head.min_units + head.block - 1) / head.block * head.block;
  for (std::int64_t k = first; k < head.units; k += head.block) widths.push_back(k);
  widths.push_back(head.units);
  return widths;
}

// Units sorted by summed importance, most important first, ties by lower index; identity when the group
// cannot be pruned (a classifier's outputs are never reordered).
std::vector<std::int64_t> unit_order(const std::vector<double>& summed, bool prunable) {
  std::vector<std::int64_t> order(summed.size());
  std::iota(order.begin(), order.end(), 0);
  if (!prunable) return order;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return summed[a] > summed[b]; });
  return order;
}

GroupResourceCost group_cost(const Network& network, const std::vector<std::size_t>& layers,
                             std::int64_t units, const ChainResource& resource) {
  GroupResourceCost cost;
  cost.own.assign(units + 1, 0);
  cost.tied.assign(units + 1, 0);
  const auto terms_of = [&](std::size_t layer) -> const CostTerms* {
    const auto& costs = network.layers[layer].cost;
    const auto found = costs.find(resource.name);
    return found == costs.end() ? nullptr : &found->second;
  };
  if (const CostTerms* head = terms_of(layers.front())) {
    cost.coupling = head->unit_input;
    cost.input = head->input;
    for (std::int64_t k = 1; k <= units; ++k) cost.own[k] = layer_cost(*head, 0, k);
  }
  for (std::size_t member = 1; member < layers.size(); ++member) {
    const CostTerms* terms = terms_of(layers[member]);
    if (terms == nullptr) continue;
    for (std::int64_t k = 1; k <= units; ++k) {
      const std::int64_t tied_cost = layer_cost(*terms, k, k);
      cost.tied[k] = resource.aggregation == Aggregation::sum ? saturating_add(cost.tied[k], tied_cost)
                                                              : std::max(cost.tied[k], tied_cost);
    }
  }
  return cost;
}

}  // namespace

ChainModel ChainModel::build(const Network& network) {
  ChainModel model;
  model.inputs = network.inputs;
  for (const std::string& name : mentioned_resources(network)) {
    model.resources.push_back({name, aggregation_of(network, name)});
  }
  for (std::size_t l = 0; l < network.layers.size(); ++l) {
    if (network.layers[l].tied && !model.groups.empty()) {
      model.groups.back().layers.push_back(l);
    } else {
      Group group;
      group.layers.push_back(l);
      model.groups.push_back(std::move(group));
    }
  }
  for (Group& group : model.groups) {
    const Layer& head = network.layers[group.layers.front()];
    group.units = head.units;
    group.widths = allowed_widths(head);
    std::vector<double> summed(head.importance);
    for (std::size_t member = 1; member < group.layers.size(); ++member) {
      const auto& importance = network.layers[group.layers[member]].importance;
      for (std::size_t u = 0; u < summed.size(); ++u) summed[u] += importance[u];
    }
    group.order = unit_order(summed, head.prunable);
    group.value.assign(group.units + 1, 0.0);
    for (std::int64_t k = 1; k <= group.units; ++k) {
      group.value[k] = group.value[k - 1] + summed[group.order[k - 1]];
    }
    for (const ChainResource& resource : model.resources) {
      group.cost.push_back(group_cost(network, group.layers, group.units, resource));
    }
  }
  return model;
}

std::int64_t ChainModel::cost_of(const std::vector<std::int64_t>& group_widths, std::size_t resource) const {
  const bool sum = resources[resource].aggregation == Aggregation::sum;
  std::int64_t total = 0;
  std::int64_t k_in = inputs;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::int64_t k = group_widths[g];
    const GroupResourceCost& cost = groups[g].cost[resource];
    total =
        sum ? saturating_add(total, cost.edge(k_in, k)) : std::max({total, cost.head(k_in, k), cost.tied[k]});
    k_in = k;
  }
  return total;
}

}  // namespace reds::detail
