// tests/support/brute_force.h: a brute-force oracle for the plan contract (version 1.1, docs/contract.md).
//
// It enumerates every choice of the width variables (a stream, or a layer with its tied followers; a layer
// that is not prunable pins its group), writes each as the width vector of every layer, and evaluates
// importance and cost straight from the contract's definitions (k_in from `input`, `held` terms), then
// applies each strategy's definition (the contract's "Strategies" table and precise rule 5) by exhaustive
// search. It shares nothing with the planner but the request structs, so the planner can be checked against
// it on small networks (a few thousand width vectors at most).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reds/network.h"

namespace reds::test {

using Widths = std::vector<std::int64_t>;
using Costs = std::map<std::string, std::int64_t>;

// Whether two importances are equal up to the contract's relative tolerance (1e-9).
bool same_importance(double a, double b);

// Whether smaller[l] <= larger[l] for every layer l (the nesting order of width vectors).
bool component_wise_at_most(const Widths& smaller, const Widths& larger);

// Largest integer m <= fraction * full, the product taken exactly (precise rule 1).
std::int64_t floor_of_product(double fraction, std::int64_t full);

// Per layer, the layer whose width it keeps: the first member for a stream member, the source of the
// previous layer for a tied layer, itself otherwise.
std::vector<std::size_t> width_source(const Network& network);

// The widths each layer may take on its own: multiples of `block` in [min_units, units] plus `units`,
// only `units` when the layer is not prunable. A layer that keeps another's width (a tied layer, a stream
// member after the first) gets an empty list.
std::vector<Widths> layer_width_choices(const Network& network);

// How many width vectors the contract allows (the product over the width groups of their choices).
std::size_t count_width_vectors(const Network& network);

// The unit order the contract prescribes per layer: most important first, ties by lower index; the layers
// of a width group (a stream's members and their tied followers, or a layer and its tied followers) share
// the order of their importances summed unit by unit; a group whose first layer is not prunable keeps the
// identity order.
std::vector<Widths> expected_order(const Network& network);

// The best a level can do under a nesting constraint.
struct LevelOptimum {
  bool feasible = false;
  double importance = 0.0;             // max V over the admissible widths (when feasible)
  std::vector<Widths> optimal_widths;  // every admissible width vector reaching it, in enumeration order
};

class BruteForce {
 public:
  // Precondition: `request` is valid and small; every cost fits in 64 bits (checked, throws otherwise).
  explicit BruteForce(const PlanRequest& request);

  // Every width vector the contract allows, in lexicographic order.
  const std::vector<Widths>& all_widths() const { return all_widths_; }
  // Resources the network mentions (in `resources` or in some layer's cost), in name order.
  const std::vector<std::string>& resources() const { return resources_; }

  bool allowed(const Widths& widths) const;
  double importance(const Widths& widths) const;
  Costs cost(const Widths& widths) const;
  const Costs& full_cost() const { return full_cost_; }
  double full_importance() const { return full_importance_; }

  // Level `level`'s budget resolved to absolute numbers.
  const Costs& limits(std::size_t level) const { return limits_[level]; }
  bool within_budget(std::size_t level, const Costs& cost) const;

  // Max V over the allowed widths k within the level's budget and at_least <= k <= at_most component-wise.
  LevelOptimum best(std::size_t level, const std::optional<Widths>& at_least = std::nullopt,
                    const std::optional<Widths>& at_most = std::nullopt) const;

  // The strategy's definition over the whole chain: every level nests in the widths the oracle chose for
  // the last feasible level before it (bottom_up) or after it (top_down), the oracle choosing the first
  // optimal width vector in enumeration order; infeasible levels are skipped (rule 5). `joint` is not
  // supported (throws std::invalid_argument).
  std::vector<LevelOptimum> solve(Strategy strategy) const;

 private:
  bool within_budget(std::size_t level, std::size_t candidate) const;

  static constexpr std::size_t kPrevious = static_cast<std::size_t>(-1);

  Network network_;
  std::vector<std::size_t> source_;  // width_source()
  std::vector<std::size_t> input_;   // per layer: the layer its `input` names, or kPrevious
  std::vector<std::string> resources_;
  std::vector<Aggregation> aggregation_;     // per resource
  std::vector<std::vector<double>> prefix_;  // per layer: V of its group at width k (0 for tied layers)
  std::vector<Widths> all_widths_;
  std::vector<double> all_importance_;               // per candidate
  std::vector<std::vector<std::int64_t>> all_cost_;  // per candidate, per resource
  Costs full_cost_;
  double full_importance_ = 0.0;
  std::vector<Costs> limits_;
};

}  // namespace reds::test
