#include "graph_model.h"

#include <algorithm>

#include "reds/contract.h"
#include "reds/detail/cost_model.h"
#include "reds/detail/saturating.h"

namespace reds::detail {
namespace {

std::vector<std::int64_t> allowed_widths(const Layer& first) {
  if (!first.prunable) return {first.units};
  std::vector<std::int64_t> widths;
  const std::int64_t from = (first.min_units + first.block - 1) / first.block * first.block;
  for (std::int64_t k = from; k < first.units; k += first.block) widths.push_back(k);
  widths.push_back(first.units);
  return widths;
}

// Builds one layer's LayerCost while its terms are added.
class CostBuilder {
 public:
  explicit CostBuilder(const GraphModel& model) : model_(model) {}

  // Adds coefficient * k_group (a constant when the group is pinned or is the network's inputs).
  void add_linear(std::size_t group, std::int64_t coefficient) {
    if (coefficient == 0) return;
    if (group == LayerCost::kNone || model_.groups[group].pinned) {
      cost_.constant = saturating_add(cost_.constant, saturating_mul(coefficient, width_of(group)));
      return;
    }
    std::vector<std::int64_t>& unary = unary_of(group);
    for (std::size_t k = 1; k < unary.size(); ++k)
      unary[k] = saturating_add(unary[k], saturating_mul(coefficient, static_cast<std::int64_t>(k)));
  }

  // Adds own[k_group], own indexed by width.
  void add_table(std::size_t group, const std::vector<std::int64_t>& own) {
    if (model_.groups[group].pinned) {
      cost_.constant = saturating_add(cost_.constant, own[model_.groups[group].units]);
      return;
    }
    std::vector<std::int64_t>& unary = unary_of(group);
    for (std::size_t k = 1; k < unary.size(); ++k) unary[k] = saturating_add(unary[k], own[k]);
  }

  // Adds coefficient * k_own * k_input.
  void add_product(std::size_t own, std::size_t input, std::int64_t coefficient) {
    if (coefficient == 0) return;
    const bool own_fixed = model_.groups[own].pinned;
    const bool input_fixed = input == LayerCost::kNone || model_.groups[input].pinned;
    if (own_fixed) return add_linear(input, saturating_mul(coefficient, width_of(own)));
    if (input_fixed) return add_linear(own, saturating_mul(coefficient, width_of(input)));
    if (own == input) {
      std::vector<std::int64_t>& unary = unary_of(own);
      for (std::size_t k = 1; k < unary.size(); ++k) {
        const auto width = static_cast<std::int64_t>(k);
        unary[k] = saturating_add(unary[k], saturating_mul(coefficient, saturating_mul(width, width)));
      }
      return;
    }
    cost_.coupling = coefficient;
    cost_.p = own;
    cost_.q = input;
  }

  LayerCost take() { return std::move(cost_); }

 private:
  std::int64_t width_of(std::size_t group) const {
    return group == LayerCost::kNone ? model_.inputs : model_.groups[group].units;
  }
  std::vector<std::int64_t>& unary_of(std::size_t group) {
    for (LayerCost::Unary& unary : cost_.unary) {
      if (unary.group == group) return unary.cost;
    }
    cost_.unary.push_back({group, std::vector<std::int64_t>(model_.groups[group].units + 1, 0)});
    return cost_.unary.back().cost;
  }

  const GraphModel& model_;
  LayerCost cost_;
};

}  // namespace

std::int64_t LayerCost::at(const std::vector<std::int64_t>& group_widths) const {
  std::int64_t total = constant;
  for (const Unary& term : unary) total = saturating_add(total, term.cost[group_widths[term.group]]);
  if (p != kNone) {
    total = saturating_add(total, saturating_mul(saturating_mul(coupling, group_widths[p]), group_widths[q]));
  }
  return total;
}

GraphModel GraphModel::build(const Network& network) {
  GraphModel model;
  model.inputs = network.inputs;
  for (const std::string& name : mentioned_resources(network)) {
    model.resources.push_back({name, aggregation_of(network, name)});
  }
  WidthVariables variables = width_variables(network);
  const std::vector<std::vector<std::int64_t>> orders = unit_orders(network);
  for (const WidthGroup& width_group : variables.groups) {
    GraphGroup group;
    group.layers = width_group.layers;
    const Layer& first = network.layers[group.layers.front()];
    group.units = first.units;
    group.pinned = width_group.pinned;
    group.widths = allowed_widths(first);
    group.order = orders[group.layers.front()];
    std::vector<double> summed(first.importance.size(), 0.0);
    for (std::size_t layer : group.layers) {
      for (std::size_t u = 0; u < summed.size(); ++u) summed[u] += network.layers[layer].importance[u];
    }
    group.value.assign(group.units + 1, 0.0);
    for (std::int64_t k = 1; k <= group.units; ++k)
      group.value[k] = group.value[k - 1] + summed[group.order[k - 1]];
    model.groups.push_back(std::move(group));
  }
  model.group_of_layer = variables.group_of_layer;
  model.open_after = std::move(variables.open_after);
  const LayerReferences references(network);
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    const Layer& layer = network.layers[index];
    const std::size_t own = model.group_of_layer[index];
    const std::size_t input_layer = variables.input_of_layer[index];
    const std::size_t input =
        input_layer == WidthVariables::kNetworkInputs ? LayerCost::kNone : model.group_of_layer[input_layer];
    std::vector<LayerCost>& costs = model.layer_costs.emplace_back();
    for (const ChainResource& resource : model.resources) {
      CostBuilder builder(model);
      const auto found = layer.cost.find(resource.name);
      if (found != layer.cost.end()) {
        const CostTerms& terms = found->second;
        std::vector<std::int64_t> table(layer.units + 1, 0);
        for (std::int64_t k = 1; k <= layer.units; ++k) table[k] = layer_cost(terms, 0, k);
        builder.add_table(own, table);
        builder.add_linear(input, terms.input);
        builder.add_product(own, input, terms.unit_input);
        for (const auto& [name, coefficient] : terms.held) {
          const std::size_t held = references.index_of(name);
          if (held != WidthVariables::kNetworkInputs)
            builder.add_linear(model.group_of_layer[held], coefficient);
        }
      }
      costs.push_back(builder.take());
    }
  }
  return model;
}

std::int64_t GraphModel::cost_of(const std::vector<std::int64_t>& group_widths, std::size_t resource) const {
  const bool sum = resources[resource].aggregation == Aggregation::sum;
  std::int64_t total = 0;
  for (const std::vector<LayerCost>& layer : layer_costs) {
    const std::int64_t cost = layer[resource].at(group_widths);
    total = sum ? saturating_add(total, cost) : std::max(total, cost);
  }
  return total;
}

}  // namespace reds::detail
