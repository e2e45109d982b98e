// reds/models/peak_activation.h: the plan contract's `activation` costs (peak float32 bytes, a max
// resource) from the steps an inference engine runs and the feature maps alive during each.
//
// A step's live bytes are every map in memory while it runs: its input, its output (unless it writes over an
// operand that dies there) and every map computed earlier and read later, such as a residual block's input
// kept for the addition. Each map holds a fixed number of bytes per kept channel of the request layer whose
// width is its channel count, or a fixed number of bytes (the network's input). A step that computes a
// request layer becomes that layer's cost: `input` for the map it reads (its k_in), `unit` for its output,
// `held` for the other maps (by the layer whose width they have) and `fixed` for maps of fixed size. A step
// without units (an addition, a pool, a zero padding) is no layer of the request: its live bytes are already
// covered when some layer's cost is at least as large at every width the request allows; otherwise it joins
// the cost of the layer computed just before or just after it, as the larger of the two where one is
// larger at every allowed width, else (both depending only on that layer's width) through the layer's
// `table`. Either way the network's `activation` (the largest layer cost) equals the largest step's live
// bytes at every allowed width: the engine's peak, exactly.
//
// The engine's plan_request(), reds.torch and the bundled architectures (reds/models/architectures.h) take
// their steps from the engine's schedule (reds/models/layer_schedule.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reds/network.h"
#include "reds/status.h"

namespace reds::models {

// A feature map: `bytes` per kept channel of request layer `layer`, or `bytes` in all without a layer.
struct LiveMap {
  std::optional<std::size_t> layer;
  std::int64_t bytes = 0;
  friend bool operator==(const LiveMap&, const LiveMap&) = default;
};

struct ScheduleStep {
  std::optional<std::size_t> layer;  // the request layer the step computes; none for a step without units
  std::size_t layers_before = 0;     // request layers computed before the step
  std::optional<LiveMap> input;      // a layer's step: the map it reads (its k_in's)
  std::vector<LiveMap> live;         // every map in memory during the step, the input and output included
  friend bool operator==(const ScheduleStep&, const ScheduleStep&) = default;
};

// Sets `resource` (a max resource) of every layer of `network` from the steps, in the order they run.
// Precondition: the network's structure (names, units, tied, stream, input, min_units, prunable) is final
// and valid; every layer has exactly one step. invalid_argument when a layer's step reads a map whose width
// is not the layer's k_in, or when a step without units can be priced neither way above.
std::optional<Error> set_peak_activation(Network& network, const std::vector<ScheduleStep>& steps,
                                         const std::string& resource = "activation");

}  // namespace reds::models
