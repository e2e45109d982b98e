// reds/detail/cost_model.h: the contract's cost model, shared by validation, full-network costs and the
// planner (reds::contract and reds::solver). Not an API: reds::detail may change with any release.
//
// Layer l costs, per resource, c(k_in, k) = fixed + unit*k + input*k_in + unit_input*k*k_in
// (+ table[k-1]), k_in being the previous layer's kept width (the network's inputs for the first layer) or
// the kept width of the layer named in `input`, plus c*k for every `held` entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "reds/network.h"

namespace reds::detail {

// Costs are exact integers below 2^53 (contract, precise rule 2).
inline constexpr std::int64_t kCostBound = std::int64_t{1} << 53;

// Every resource the network mentions: the keys of `resources` and of every layer's `cost`.
std::set<std::string> mentioned_resources(const Network& network);

// c(k_in, k) for one layer and resource, saturating at INT64_MAX on overflow.
// Precondition: the terms are non-negative, 1 <= k, and k <= table.size() when a table is given.
// Without the `held` terms, which need the other layers' widths.
std::int64_t layer_cost(const CostTerms& terms, std::int64_t k_in, std::int64_t k);

// The layers that `input` and `held` name, by index. A network without either field costs no lookup table.
class LayerReferences {
 public:
  explicit LayerReferences(const Network& network);  // keeps a reference to `network`

  // The first layer named `name`, or WidthVariables::kNetworkInputs (-1) when there is none.
  std::size_t index_of(const std::string& name) const;
  // The layer whose width is `layer`'s k_in: its `input` when that names an earlier layer, else the
  // previous layer, or -1 (the network's inputs) for the first layer.
  std::size_t input_of(std::size_t layer) const;

 private:
  const Network& network_;
  std::unordered_map<std::string_view, std::size_t> by_name_;
};

}  // namespace reds::detail
