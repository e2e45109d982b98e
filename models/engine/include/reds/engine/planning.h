// reds/engine/planning.h: from a trained model to a plan request, and from a plan back to a model.
//
// plan_request() states the plan contract's problem for a model: one layer of the request per unit layer
// (Conv2D, DepthwiseConv2D, Dense; see model.h), named as in the model, with
//   importance  per output unit, L1 magnitude by default (l1_importance), or scores given by the caller;
//   cost        exact coefficients from the model's shapes, the same resources as the bundled architectures
//               (reds/models/architectures.h): macs (multiply-accumulates of convolutions and dense
//               layers), params (weights + biases; batch norm is folded already), activation (float32
//               bytes of a layer's input and output maps) and output_activation (its output map alone);
//   structure   a DepthwiseConv2D is tied to the layer before it; the model's last unit layer (the
//               classifier) and the layers named in RequestOptions::fixed keep their full width; every other
//               layer keeps at least ceil(min_width_fraction * units) units.
// The solver (reds/plan.h) answers with a plan: per layer an order of the units, most important first,
// and per level the widths that keep a prefix of that order.
//
// apply_plan() makes a model run that plan: it permutes every unit layer's output units into the plan's
// order (weights and bias together; batch norm is folded in already), the next unit layer's input channels
// or rows accordingly (through activations, pools and Flatten: a Dense layer after Flatten reads
// height x width x channels features in NHWC order, so each pixel's rows are permuted alike), and every
// DepthwiseConv2D's channels with its input's. In a residual model the unit layers whose outputs are added
// (directly or through activations, pools, padding and depthwise layers) form a stream, the plan contract's
// `stream`: one permutation serves all its members' filters and every consumer's input channels (each
// block's first convolution, the next projection shortcut, the head). The full network computes the same
// function, and each level of the plan keeps a prefix of every unit layer (what a Session runs, session.h).
//
//   reds::Result<reds::PlanRequest> request = reds::engine::plan_request(model);
//   reds::Result<reds::PlanResult> plan = reds::plan(request.value());              // reds/plan.h
//   reds::Result<reds::engine::Model> planned = reds::engine::apply_plan(model, plan.value());
//   reds::engine::save_native(planned.value(), "planned.reds");
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "reds/contract.h"
#include "reds/engine/model.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds::engine {

// The L1 magnitude of every output unit of a unit layer: the sum of |w| over the weights that compute the
// unit (a filter's taps x input channels, a depthwise channel's taps, a dense unit's column), bias excluded,
// in double precision. This is the paper's "L1" baseline (reds-paper section 3): cheap, needs no data, and
// scores units within a layer. Across layers the sums grow with the fan-in (taps x inputs), so a wide
// layer's units count for more; the planner maximises the sum over layers as given. Empty for other kinds.
std::vector<double> l1_importance(const Layer& layer);

struct RequestOptions {
  // One level per fraction of the full network's `resource`, smallest first.
  std::vector<double> fractions = {0.25, 0.5, 0.75};
  std::string resource = "macs";  // any resource the request prices: macs, params, activation, ...
  // Every prunable layer keeps at least ceil(fraction * units) units (as in reds/models/architectures.h).
  double min_width_fraction = 0.25;
  std::int64_t block = 1;          // prunable layers keep multiples of `block` units (or all of them)
  std::vector<std::string> fixed;  // unit layers (not depthwise: they are tied) kept at full width
  Strategy strategy = Strategy::bottom_up;
  // Importance per unit of any unit layer, by layer name, in the model's unit order; layers not listed get
  // l1_importance().
  std::map<std::string, std::vector<double>> importance;
  // What the plan maximises (reds/network.h): the product over layers of the kept share of importance by
  // default, which keeps plans free of one-unit bottlenecks (README, "Plans that train well").
  Objective objective = Objective::product;
};

// The plan request of a model. invalid_argument for an invalid model, one the contract cannot describe (a
// grouped convolution, a depthwise depth multiplier above 1) or bad options; the request is validated.
Result<PlanRequest> plan_request(const Model& model, const RequestOptions& options = {});

// Per unit layer (by name): new unit j is old unit order[j]. A permutation of 0..units-1.
using UnitOrders = std::map<std::string, std::vector<std::int64_t>>;

// The model with its units permuted (see above): the same function, up to float rounding, because the
// same products are summed in another order. Layers not named keep their order, and the members of a
// stream not named take the order of the members named; a DepthwiseConv2D follows its input. Errors, each
// naming the layer: members of one stream named with different orders, a layer whose output is added to the
// model's input named with any order but the identity, a DepthwiseConv2D named with another order than its
// input's, reordering the model's output units, a grouped convolution or a depth multiplier above 1. Drops
// any embedded plan (its widths would no longer describe prefixes of the right units).
Result<Model> permute_units(const Model& model, const UnitOrders& orders);

// Permutes the model into the plan's order (the response's `order`; reds/json.h's parse_plan_result reads
// one from its JSON) and embeds the plan with its widths (attach_plan). The embedded plan's `order` becomes
// the identity, since the units now are in that order, and its JSON keeps the plan's own order under
// "applied_order", so applying the embedded plan again changes nothing. invalid_argument naming the
// offending part of the plan: a layer the model has not (or not as a unit layer), an order that is not a
// permutation of the layer's units, a width outside 1..units, an infeasible level, the members of a stream
// with different orders or widths (contract 1.1: members repeat the stream's width and order).
Result<Model> apply_plan(const Model& model, const PlanResult& plan);

}  // namespace reds::engine
