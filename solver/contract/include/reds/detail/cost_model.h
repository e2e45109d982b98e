// reds/detail/cost_model.h: the contract's cost model, shared by validation, full-network costs and the
// planner (reds::contract and reds::solver). Not an API: reds::detail may change with any release.
//
// Layer l costs, per resource, c(k_in, k) = fixed + unit*k + input*k_in + unit_input*k*k_in
// (+ table[k-1]), k_in being the previous layer's kept width (the network's inputs for the first layer).
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "reds/network.h"

namespace reds::detail {

// Costs are exact integers below 2^53 (contract, precise rule 2).
inline constexpr std::int64_t kCostBound = std::int64_t{1} << 53;

// Every resource the network mentions: the keys of `resources` and of every layer's `cost`.
std::set<std::string> mentioned_resources(const Network& network);

// c(k_in, k) for one layer and resource, saturating at INT64_MAX on overflow.
// Precondition: the terms are non-negative, 1 <= k, and k <= table.size() when a table is given.
std::int64_t layer_cost(const CostTerms& terms, std::int64_t k_in, std::int64_t k);

}  // namespace reds::detail
