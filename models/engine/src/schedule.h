// schedule.h: the order in which a Session runs a model's layers and the buffer every feature map lives in
// (session.h), as reds/models/layer_schedule.h schedules any graph of layers; plan_request() prices peak
// activation from the same schedule (planning.h).
#pragma once

#include <vector>

#include "reds/engine/model.h"
#include "reds/engine/session.h"
#include "reds/models/layer_schedule.h"

namespace reds::engine::detail {

// One call of the session: what the schedule fuses into it (a zero padding before a convolution, a residual
// addition after it, then a rectifier) and the kernel that computes it.
struct Schedule : models::LayerCall {
  CallKind kind = CallKind::rectifier;
};

struct BufferPlan {
  std::vector<Schedule> calls;
  int buffer_count = 1;
  int output_buffer = 0;  // where the model's output ends up
};

// The model's layers as the schedule sees them (inputs explicit), without request layers.
std::vector<models::ScheduledLayer> scheduled_layers(const Model& model);

// The calls of the model and the buffer every map lives in (reds/models/layer_schedule.h).
BufferPlan schedule(const Model& model);

}  // namespace reds::engine::detail
