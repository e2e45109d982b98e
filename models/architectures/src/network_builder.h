// network_builder.h: a spec (reds/models/architecture_spec.h) as the plan contract's network: one request
// layer per layer with weights, with exact cost coefficients from the layer geometry (kernels, strides,
// padding, feature-map sizes), c(k_in, k) = fixed + unit*k + input*k_in + unit_input*k*k_in (+ held).
//
// Batch norm, activations, pooling, zero padding, flatten and additions are no request layers: their effect
// shows in the layers around them (a pool shrinks the map the next layer reads, a flatten makes a dense layer
// read `positions` values per kept channel, an addition puts the layers whose outputs it adds into one
// stream, and a layer reading a map other than the previous layer's names the layer of that map's width as
// its `input`, as a shortcut projection does).
//
// Resources (all exact integers):
//   macs        multiply-accumulates of the layer at widths (k_in, k); biases, BN and activations excluded;
//   params      weights + biases; BN excluded;
//   activation  float32 bytes live while the engine runs the spec's layers (reds/models/layer_schedule.h
//               schedules them, reds/models/peak_activation.h prices the steps): a layer's input and output
//               maps, and every map computed earlier and read later (a residual block's input, `held`); the
//               steps without weights are covered too;
//   output_activation  float32 bytes of the layer's output map alone: the REDS reference's peak-memory
//               model (the largest single output map), for comparison with the paper.
#pragma once

#include <vector>

#include "reds/models/architecture_spec.h"
#include "reds/models/layer_schedule.h"
#include "reds/models/peak_activation.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds::models {

struct SpecNetwork {
  // Every cost but `activation`; structure (tied, stream, input, prunable) final; importance, min_units and
  // block at their defaults.
  Network network;
  // The spec's layers as the graph the engine schedules, for set_scheduled_activation(): a spec layer's
  // activation is a rectifier layer right after it, reading its map alone.
  std::vector<ScheduledLayer> graph;
  std::vector<LiveMap> maps;  // one per tensor of the graph: 0 the input, i + 1 graph layer i's output
};

// invalid_argument for a spec whose layers the contract cannot state (an input name that is not an earlier
// layer, a depthwise layer not reading the previous request layer's width).
Result<SpecNetwork> spec_network(const ArchitectureSpec& spec);

}  // namespace reds::models
