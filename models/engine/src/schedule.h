// schedule.h: the order in which a Session runs a model's layers and the buffer every feature map lives in
// (session.h); plan_request() prices peak activation from the same plan (planning.h).
#pragma once

#include <optional>
#include <vector>

#include "reds/engine/model.h"
#include "reds/engine/session.h"

namespace reds::engine::detail {

// What one call computes: the layer it runs, and layers right after it fused into its stores: a residual
// addition after a convolution (the convolution accumulates onto the addition's other operand, written over
// in place), then a rectifier.
struct Schedule {
  std::size_t layer = 0;
  // A zero padding before the layer, whose map the call never writes: the layer reads the padding's input
  // with the padding added to its window's.
  std::optional<std::size_t> fused_padding;
  std::optional<std::size_t> fused_add;
  std::optional<std::size_t> fused_rectifier;
  CallKind kind = CallKind::rectifier;
  std::vector<std::size_t> operands;  // the maps the call reads (tensor numbers, as in `resident`)
  std::vector<int> input_buffers;     // one per operand (an addition's in the layer's order)
  int output_buffer = 0;
  // The maps in memory when the call starts, one tensor per buffer in use (tensor 0 is the input, i + 1
  // the output of layers[i]); its operands are among them.
  std::vector<std::size_t> resident;
  bool in_place = false;  // the output is written over an operand that has no later reader
  // The last layer the call computes: its output is the call's.
  std::size_t last_layer() const { return fused_rectifier.value_or(fused_add.value_or(layer)); }
};

struct BufferPlan {
  std::vector<Schedule> calls;
  int buffer_count = 1;
  int output_buffer = 0;  // where the model's output ends up
};

// The calls of the model and the buffer every map lives in (session.h): a map takes the first free buffer
// when it is written and frees it after its last reader; the input is in buffer 0. An addition of two maps
// right after the convolution computing one of them, its only reader, joins that convolution when the other
// map dies at the addition and is not what the convolution reads: the convolution adds its sums onto that
// map in its own buffer, so the block never holds its output beside the skip tensor. A zero padding whose
// map only the next layer reads, a convolution or depthwise convolution, is no call: that layer reads the
// unpadded map with the padding as part of its window (the kernels skip taps outside their input).
BufferPlan schedule(const Model& model);

}  // namespace reds::engine::detail
