#include "reds/models/peak_activation.h"

#include <algorithm>
#include <map>

#include "reds/contract.h"

namespace reds::models {
namespace {

// c + sum over width variables g of a_g * k_g: a step's live bytes, or a layer's cost without its table.
struct Linear {
  std::map<std::size_t, std::int64_t> per_group;  // unpinned groups only
  std::int64_t constant = 0;
};

class Pricing {
 public:
  explicit Pricing(Network& network) : network_(network), variables_(width_variables(network)) {
    for (const WidthGroup& group : variables_.groups) {
      const Layer& first = network.layers[group.layers.front()];
      low_.push_back(group.pinned ? first.units : first.min_units);
      high_.push_back(first.units);
    }
  }

  std::size_t group(std::size_t layer) const { return variables_.group_of_layer[layer]; }
  bool pinned(std::size_t layer) const { return variables_.groups[group(layer)].pinned; }

  // `bytes` per kept channel of `layer` added to `into`.
  void add_width(Linear& into, std::size_t layer, std::int64_t bytes) const {
    if (pinned(layer))
      into.constant += bytes * network_.layers[layer].units;
    else
      into.per_group[group(layer)] += bytes;
  }

  Linear of_maps(const std::vector<LiveMap>& maps) const {
    Linear total;
    for (const LiveMap& map : maps) {
      if (map.layer)
        add_width(total, *map.layer, map.bytes);
      else
        total.constant += map.bytes;
    }
    return total;
  }

  // The layer's cost, table excluded.
  Linear of_layer(std::size_t index, const CostTerms& terms) const {
    Linear total;
    total.constant = terms.fixed;
    add_width(total, index, terms.unit);
    const std::size_t input = variables_.input_of_layer[index];
    if (input == WidthVariables::kNetworkInputs)
      total.constant += terms.input * network_.inputs;
    else
      add_width(total, input, terms.input);
    for (const auto& [name, bytes] : terms.held)
      if (const std::optional<std::size_t> held = layer_index(network_, name)) add_width(total, *held, bytes);
    return total;
  }

  // True when a >= b at every width the network allows (linear: checked at the box's worst corner).
  bool at_least(const Linear& a, const Linear& b) const {
    std::map<std::size_t, std::int64_t> difference = a.per_group;
    for (const auto& [group, coefficient] : b.per_group) difference[group] -= coefficient;
    std::int64_t worst = a.constant - b.constant;
    for (const auto& [group, coefficient] : difference)
      worst += coefficient * (coefficient >= 0 ? low_[group] : high_[group]);
    return worst >= 0;
  }

  // The cost terms of layer `index` whose value is `live`, when its widths are ones the layer can name:
  // its own (`unit`), its k_in's (`input`), an earlier layer's (`held`).
  std::optional<CostTerms> terms_of(std::size_t index, const Linear& live) const {
    CostTerms terms;
    terms.fixed = live.constant;
    const std::size_t input = variables_.input_of_layer[index];
    for (const auto& [width, bytes] : live.per_group) {
      if (width == group(index)) {
        terms.unit += bytes;
      } else if (input != WidthVariables::kNetworkInputs && !pinned(input) && width == group(input)) {
        terms.input += bytes;
      } else {
        // The latest earlier layer of that width.
        std::optional<std::size_t> named;
        for (std::size_t earlier = 0; earlier < index; ++earlier)
          if (group(earlier) == width) named = earlier;
        if (!named) return std::nullopt;
        terms.held[network_.layers[*named].name] += bytes;
      }
    }
    return terms;
  }

  bool depends_only_on_own_width(std::size_t index, const Linear& live) const {
    return std::all_of(live.per_group.begin(), live.per_group.end(),
                       [&](const auto& entry) { return entry.first == group(index) || entry.second == 0; });
  }

  std::int64_t value_at(const Linear& live, std::size_t index, std::int64_t width) const {
    const auto own = live.per_group.find(group(index));
    return live.constant + (own == live.per_group.end() ? 0 : own->second * width);
  }

 private:
  Network& network_;
  WidthVariables variables_;
  std::vector<std::int64_t> low_, high_;  // per group: the widths a plan may give it
};

std::string describe(const Network& network, std::size_t layer) {
  return "layer '" + network.layers[layer].name + "'";
}

}  // namespace

std::optional<Error> set_peak_activation(Network& network, const std::vector<ScheduleStep>& steps,
                                         const std::string& resource) {
  const Pricing pricing(network);
  const WidthVariables variables = width_variables(network);
  std::vector<bool> priced(network.layers.size(), false);
  for (const ScheduleStep& step : steps) {
    if (!step.layer) continue;
    const std::size_t index = *step.layer;
    CostTerms terms;
    std::vector<LiveMap> others = step.live;
    if (step.input) {
      const auto input = std::find(others.begin(), others.end(), *step.input);
      if (input == others.end())
        return invalid_argument(describe(network, index) + ": the map it reads is not live while it runs");
      others.erase(input);
      const std::size_t k_in = variables.input_of_layer[index];
      const bool reads_inputs = k_in == WidthVariables::kNetworkInputs;
      if (reads_inputs != !step.input->layer ||
          (!reads_inputs && pricing.group(*step.input->layer) != pricing.group(k_in)) ||
          (reads_inputs && step.input->bytes % network.inputs != 0))
        return invalid_argument(describe(network, index) + " reads a map whose width is not its k_in");
      terms.input = reads_inputs ? step.input->bytes / network.inputs : step.input->bytes;
    }
    for (const LiveMap& map : others) {
      if (!map.layer)
        terms.fixed += map.bytes;
      else if (*map.layer == index)
        terms.unit += map.bytes;
      else
        terms.held[network.layers[*map.layer].name] += map.bytes;
    }
    network.layers[index].cost[resource] = std::move(terms);
    priced[index] = true;
  }
  for (std::size_t index = 0; index < network.layers.size(); ++index)
    if (!priced[index]) return invalid_argument(describe(network, index) + " has no step in the schedule");

  const auto linear_cost = [&](std::size_t index) {
    return pricing.of_layer(index, network.layers[index].cost[resource]);
  };
  for (const ScheduleStep& step : steps) {
    if (step.layer) continue;
    const Linear live = pricing.of_maps(step.live);
    bool covered = false;
    for (std::size_t index = 0; index < network.layers.size() && !covered; ++index)
      covered = pricing.at_least(linear_cost(index), live);
    // The layers computed just before and just after the step.
    for (std::size_t host = step.layers_before == 0 ? 0 : step.layers_before - 1;
         !covered && host <= step.layers_before && host < network.layers.size(); ++host) {
      CostTerms& terms = network.layers[host].cost[resource];
      const Linear cost = pricing.of_layer(host, terms);
      if (terms.table.empty() && pricing.at_least(live, cost)) {
        if (std::optional<CostTerms> larger = pricing.terms_of(host, live)) {
          terms = std::move(larger).value();
          covered = true;
          continue;
        }
      }
      if (pricing.depends_only_on_own_width(host, live) && pricing.depends_only_on_own_width(host, cost)) {
        // cost + table = max(cost + table, live) at every width.
        const std::int64_t units = network.layers[host].units;
        terms.table.resize(static_cast<std::size_t>(units), 0);
        for (std::int64_t width = 1; width <= units; ++width) {
          const std::int64_t base = pricing.value_at(cost, host, width);
          std::int64_t& extra = terms.table[static_cast<std::size_t>(width - 1)];
          extra = std::max(base + extra, pricing.value_at(live, host, width)) - base;
        }
        covered = true;
      }
    }
    if (!covered)
      return invalid_argument(
          "a step after " +
          (step.layers_before == 0 ? std::string("the input") : describe(network, step.layers_before - 1)) +
          " keeps maps live whose bytes no layer's cost can state");
  }
  return std::nullopt;
}

}  // namespace reds::models
