// The request compiled into a chain of width groups, the form every level solve works on.
//
// A group is a layer together with the tied layers that follow it: they share one width and one unit
// order (sorted by the unit-wise sum of their importances, contract "tied"). Between consecutive groups
// the cost of a resource is bilinear in the two widths, so the whole network is a chain
//
//     source(k_0 = inputs) -> group 1 (k_1) -> group 2 (k_2) -> ... -> group G (k_G)
//
// where entering group g at width k from width k_in costs, per resource r,
//     head layer:  coupling * k * k_in + input * k_in + own[k]
//     tied layers: tied[k]      (their input width is k itself)
// with own[k] = fixed + unit * k + table[k-1] of the head layer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "group_plans.h"
#include "reds/network.h"

namespace reds::detail {

struct GroupResourceCost {
  std::int64_t coupling = 0;      // head layer's unit_input
  std::int64_t input = 0;         // head layer's input
  std::vector<std::int64_t> own;  // head layer's fixed + unit*k + table[k-1], indexed by k = 0..units
  // Tied layers at width k: their summed cost for a sum resource, their largest cost for a max resource.
  std::vector<std::int64_t> tied;  // indexed by k = 0..units

  // Cost of the head layer alone when entering at width k from k_in (saturating).
  std::int64_t head(std::int64_t k_in, std::int64_t k) const;
  // What the group adds to a sum resource: head + tied.
  std::int64_t edge(std::int64_t k_in, std::int64_t k) const;
};

struct Group {
  std::vector<std::size_t> layers;  // indices into network.layers; the first is the head
  std::int64_t units = 0;
  std::vector<std::int64_t> widths;     // allowed widths, ascending
  std::vector<std::int64_t> order;      // original unit indices, most important first
  std::vector<double> value;            // value[k] = importance of the k best units, k = 0..units
  std::vector<GroupResourceCost> cost;  // per resource, indexed like ChainModel::resources
};

struct ChainResource {
  std::string name;
  Aggregation aggregation = Aggregation::sum;
};

struct ChainModel : GroupPlans<ChainModel> {
  std::int64_t inputs = 1;
  std::vector<ChainResource> resources;  // every resource the network mentions, sorted by name
  std::vector<Group> groups;

  // Precondition: the network is valid (reds::validate).
  static ChainModel build(const Network& network);

  using GroupPlans::cost_of;
  // Cost of a plan given by its group widths for one resource (exact, saturating; max resources aggregate
  // the largest single layer cost).
  std::int64_t cost_of(const std::vector<std::int64_t>& group_widths, std::size_t resource) const;
};

}  // namespace reds::detail
