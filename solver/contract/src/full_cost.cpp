// Plan costs (contract, rule 11), full-network costs and the exact resolution of fractional limits (rule 1).
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "reds/contract.h"
#include "reds/detail/cost_model.h"
#include "reds/detail/saturating.h"
#include "reds/network.h"

namespace reds {
namespace detail {

std::set<std::string> mentioned_resources(const Network& network) {
  std::set<std::string> names;
  for (const auto& [name, aggregation] : network.resources) names.insert(name);
  for (const Layer& layer : network.layers) {
    for (const auto& [name, terms] : layer.cost) names.insert(name);
  }
  return names;
}

std::int64_t layer_cost(const CostTerms& terms, std::int64_t k_in, std::int64_t k) {
  assert(k >= 1 && (terms.table.empty() || static_cast<std::size_t>(k) <= terms.table.size()));
  std::int64_t cost = terms.fixed;
  cost = saturating_add(cost, saturating_mul(terms.unit, k));
  cost = saturating_add(cost, saturating_mul(terms.input, k_in));
  cost = saturating_add(cost, saturating_mul(saturating_mul(terms.unit_input, k), k_in));
  if (!terms.table.empty()) cost = saturating_add(cost, terms.table[static_cast<std::size_t>(k - 1)]);
  return cost;
}

LayerReferences::LayerReferences(const Network& network) : network_(network) {
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    const Layer& layer = network.layers[index];
    bool holds = false;
    for (const auto& [resource, terms] : layer.cost) holds = holds || !terms.held.empty();
    if (!holds && !layer.input) continue;
    if (by_name_.empty()) {
      for (std::size_t named = 0; named < network.layers.size(); ++named)
        by_name_.try_emplace(network.layers[named].name, named);
    }
    return;
  }
}

std::size_t LayerReferences::index_of(const std::string& name) const {
  const auto found = by_name_.find(name);
  return found == by_name_.end() ? WidthVariables::kNetworkInputs : found->second;
}

std::size_t LayerReferences::input_of(std::size_t layer) const {
  const Layer& named = network_.layers[layer];
  if (named.input && !named.tied) {
    const std::size_t input = index_of(*named.input);
    if (input < layer) return input;
  }
  return layer == 0 ? WidthVariables::kNetworkInputs : layer - 1;
}

}  // namespace detail

std::int64_t resolve_fraction(double fraction, std::int64_t full) {
  if (!(fraction > 0.0) || full <= 0) return 0;
  if (fraction >= 1.0) return full;
  // fraction = mantissa * 2^(exponent - 53) with a 53-bit integer mantissa, so
  // fraction * full = (mantissa * full) / 2^(53 - exponent): an exact product of at most 116 bits, then a
  // shift.
  int exponent = 0;
  const double normalized = std::frexp(fraction, &exponent);  // in [0.5, 1)
  const auto mantissa = static_cast<std::uint64_t>(std::ldexp(normalized, 53));
  __extension__ typedef unsigned __int128 Wide;  // a GCC/Clang extension, hence __extension__
  const Wide product = static_cast<Wide>(mantissa) * static_cast<std::uint64_t>(full);
  const int shift = 53 - exponent;  // >= 53, since fraction < 1 means exponent <= 0
  if (shift >= 128) return 0;
  return static_cast<std::int64_t>(product >> shift);
}

std::map<std::string, std::int64_t> network_cost(const Network& network,
                                                 const std::vector<std::int64_t>& widths) {
  assert(widths.size() == network.layers.size());
  const detail::LayerReferences references(network);
  std::map<std::string, std::int64_t> costs;
  for (const std::string& resource : detail::mentioned_resources(network)) {
    const Aggregation aggregation = aggregation_of(network, resource);
    std::int64_t total = 0;
    for (std::size_t index = 0; index < network.layers.size(); ++index) {
      const Layer& layer = network.layers[index];
      const auto terms = layer.cost.find(resource);
      if (terms == layer.cost.end()) continue;
      const std::size_t input = references.input_of(index);
      const std::int64_t k_in = input == WidthVariables::kNetworkInputs ? network.inputs : widths[input];
      std::int64_t cost = detail::layer_cost(terms->second, k_in, widths[index]);
      for (const auto& [name, coefficient] : terms->second.held) {
        const std::size_t held = references.index_of(name);
        if (held != WidthVariables::kNetworkInputs)
          cost = detail::saturating_add(cost, detail::saturating_mul(coefficient, widths[held]));
      }
      total = aggregation == Aggregation::sum ? detail::saturating_add(total, cost) : std::max(total, cost);
    }
    costs[resource] = total;
  }
  return costs;
}

std::map<std::string, std::int64_t> full_network_cost(const Network& network) {
  std::vector<std::int64_t> widths;
  widths.reserve(network.layers.size());
  for (const Layer& layer : network.layers) widths.push_back(layer.units);
  return network_cost(network, widths);
}

}  // namespace reds
