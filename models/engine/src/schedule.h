// schedule.h: the order in which a Session runs a model's layers and the buffer every feature map lives in
// (session.h); plan_request() prices peak activation from the same plan (planning.h).
#pragma once

#include <optional>
#include <vector>

#include "reds/engine/model.h"
#include "reds/engine/session.h"

namespace reds::engine::detail {

// What one call computes: the layer it runs, and a rectifier layer right after it, fused into its stores.
struct Schedule {
  std::size_t layer = 0;
  std::optional<std::size_t> fused_rectifier;
  CallKind kind = CallKind::rectifier;
  std::vector<int> input_buffers;  // one per operand (an addition's in the layer's order)
  int output_buffer = 0;
  // The maps in memory when the call starts, one tensor per buffer in use (tensor 0 is the input, i + 1
  // the output of layers[i]); its operands are among them.
  std::vector<std::size_t> resident;
  bool in_place = false;  // the output is written over an operand that has no later reader
};

struct BufferPlan {
  std::vector<Schedule> calls;
  int buffer_count = 1;
  int output_buffer = 0;  // where the model's output ends up
};

// The calls of the model and the buffer every map lives in (session.h): a map takes the first free buffer
// when it is written and frees it after its last reader; the input is in buffer 0.
BufferPlan schedule(const Model& model);

}  // namespace reds::engine::detail
