// A residual request (contract 1.1) compiled into width groups and per-layer costs over them, the form the
// graph level solver works on.
//
// Every width group (a stream with the tied layers following its members, or a layer with its tied
// followers) keeps one width; an unpinned group is a width variable. Layer i costs, per resource,
//
//     constant + sum over groups g of unary_g(k_g) + coupling * k_P * k_Q
//
// where the terms of pinned groups and of the network's inputs are folded into the constant, every term in
// one group's width into its unary function (own cost, input when k_in is a single group's, held widths,
// and unit_input when the layer reads its own group), and the only product of two widths left is the
// layer's unit_input between its own variable P and its input's variable Q. Every group the layer's cost
// depends on is open across the cut before it, or is the layer's own group entering there: a level is a
// longest path over the cut states (assignments of the open variables), graph_solver.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "chain_model.h"
#include "reds/network.h"

namespace reds::detail {

struct GraphGroup {
  std::vector<std::size_t> layers;  // in list order
  std::int64_t units = 0;
  bool pinned = false;
  std::vector<std::int64_t> widths;  // allowed widths, ascending ({units} when pinned)
  std::vector<std::int64_t> order;   // original unit indices, most important first
  std::vector<double> value;         // value[k] = importance of the k best units, k = 0..units
};

// One layer's cost for one resource in the form above.
struct LayerCost {
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  struct Unary {
    std::size_t group = 0;
    std::vector<std::int64_t> cost;  // indexed by width 0..units
  };
  std::int64_t constant = 0;
  std::vector<Unary> unary;  // one per group, distinct
  std::int64_t coupling = 0;
  std::size_t p = kNone, q = kNone;  // the two distinct groups of the product, or kNone

  std::int64_t at(const std::vector<std::int64_t>& group_widths) const;
};

struct GraphModel : GroupPlans<GraphModel> {
  std::int64_t inputs = 1;
  std::vector<ChainResource> resources;  // every resource the network mentions, sorted by name
  std::vector<GraphGroup> groups;        // width groups, in the order of their first layers
  std::vector<std::size_t> group_of_layer;
  std::vector<std::vector<LayerCost>> layer_costs;  // per layer, per resource
  // Per layer: the unpinned groups open across the cut right after it, ascending (none after the last).
  std::vector<std::vector<std::size_t>> open_after;

  // Precondition: the network is valid (reds::validate), contract 1.1 included.
  static GraphModel build(const Network& network);

  using GroupPlans::cost_of;
  // Cost of a plan given by its group widths for one resource (exact, saturating; max resources aggregate
  // the largest single layer cost).
  std::int64_t cost_of(const std::vector<std::int64_t>& group_widths, std::size_t resource) const;
};

}  // namespace reds::detail
