// reds/models/layer_schedule.h: the calls in which the REDS inference engine runs a graph of layers, the
// buffer every feature map lives in, and the `activation` costs of the request that follow from them.
//
// A map takes the first free buffer when it is written and frees it after its last reader; the model's
// input is in buffer 0. Layers right after a call join it: a residual addition of two maps right after the
// one-group convolution computing one of them, its only reader, when the other map dies at the addition and
// is not what the convolution reads (the convolution adds its sums onto that map in its own buffer, so the
// block never holds its output beside the skip tensor); then a rectifier that alone reads the map before
// it, after a convolution, a dense layer or an addition. A zero padding whose map only the next layer reads,
// a one-group or depthwise convolution, is no call: that layer reads the unpadded map with the padding as
// part of its window. A rectifier, softmax or addition writes over an operand that has no later reader, and
// a flatten's output is its input's buffer.
//
// The engine's Session runs this schedule (models/engine/src/schedule.h), and the engine's plan_request(),
// reds.torch (through the Python extension) and the bundled architectures' requests (reds/models/
// architectures.h) price a request's peak activation from it, so what a model costs is what runs.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "reds/models/peak_activation.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds::models {

// What the schedule needs to know of a layer.
enum class ScheduledKind {
  convolution,            // one group: a zero padding before it and an addition after it may join it
  depthwise_convolution,  // one output channel per input channel: a zero padding before it may join it
  grouped_convolution,    // any other grouped convolution (or depth multiplier above 1)
  dense,
  rectifier,  // any elementwise activation
  softmax,
  addition,
  pool,  // average, max or global pooling
  zero_padding,
  flatten,
};

struct ScheduledLayer {
  ScheduledKind kind = ScheduledKind::rectifier;
  std::vector<std::size_t> inputs;  // the maps it reads: 0 is the model's input, i + 1 layer i's output
  std::optional<std::size_t> request_layer;  // the request layer it computes (a unit layer), for pricing
};

// One call: the layer it runs and the layers fused into it.
struct LayerCall {
  std::size_t layer = 0;
  // A zero padding before the layer, whose map the call never writes: the layer reads the padding's input
  // with the padding added to its window's.
  std::optional<std::size_t> fused_padding;
  std::optional<std::size_t> fused_add;
  std::optional<std::size_t> fused_rectifier;
  std::vector<std::size_t> operands;  // the maps the call reads (tensor numbers, as in `resident`)
  std::vector<int> input_buffers;     // one per operand (an addition's in the layer's order)
  int output_buffer = 0;
  // The maps in memory when the call starts, one tensor per buffer in use; its operands are among them.
  std::vector<std::size_t> resident;
  bool in_place = false;  // the output is written over an operand that has no later reader
  // The last layer the call computes: its output is the call's.
  std::size_t last_layer() const { return fused_rectifier.value_or(fused_add.value_or(layer)); }
};

struct LayerSchedule {
  std::vector<LayerCall> calls;
  int buffer_count = 1;
  int output_buffer = 0;  // where the model's output ends up
};

// The calls of a graph whose layers are in an order that computes every map before its readers.
LayerSchedule schedule_layers(const std::vector<ScheduledLayer>& layers);

// The steps of the schedule for set_peak_activation() (peak_activation.h): per call, the maps in memory
// (resident ones and its output, unless written in place) and, for a call computing a request layer, the
// map it reads. `maps` holds one LiveMap per tensor (0: the model's input, i + 1: layer i's output).
std::vector<ScheduleStep> schedule_steps(const std::vector<ScheduledLayer>& layers,
                                         const std::vector<LiveMap>& maps);

// Sets `resource` (a max resource) of every layer of `network` to the peak bytes of the graph's schedule:
// set_peak_activation(network, schedule_steps(layers, maps), resource), with its preconditions and errors.
std::optional<Error> set_scheduled_activation(Network& network, const std::vector<ScheduledLayer>& layers,
                                              const std::vector<LiveMap>& maps,
                                              const std::string& resource = "activation");

}  // namespace reds::models
