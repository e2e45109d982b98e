#include "schedule.h"

#include <algorithm>

namespace reds::engine::detail {

namespace {

bool fusable(CallKind kind) {
  return kind == CallKind::conv2d || kind == CallKind::depthwise_conv2d || kind == CallKind::dense ||
         kind == CallKind::add;
}

}  // namespace

BufferPlan schedule(const Model& model) {
  const std::vector<Layer>& layers = model.layers;
  const std::size_t tensors = layers.size() + 1;
  // The last layer that reads each tensor (its producer when none does); the output is read after them all.
  std::vector<std::size_t> last_reader(tensors, 0);
  for (std::size_t tensor = 1; tensor < tensors; ++tensor) last_reader[tensor] = tensor - 1;
  for (std::size_t index = 0; index < layers.size(); ++index)
    for (const std::size_t tensor : layer_inputs(model, index))
      last_reader[tensor] = std::max(last_reader[tensor], index);
  last_reader.back() = layers.size();

  BufferPlan plan;
  std::vector<int> users;  // per buffer, the live maps it holds (a Flatten's output shares its input's)
  std::vector<int> buffer_of(tensors, -1);
  std::vector<std::size_t> tensor_in;  // per buffer, the map written to it last
  const auto take_free = [&users]() {
    const auto free = std::find(users.begin(), users.end(), 0);
    const int buffer = static_cast<int>(free - users.begin());
    if (free == users.end()) users.push_back(0);
    users[static_cast<std::size_t>(buffer)] = 1;
    return buffer;
  };
  buffer_of[0] = take_free();
  tensor_in.push_back(0);
  for (std::size_t index = 0; index < layers.size(); ++index) {
    Schedule call;
    call.layer = index;
    std::vector<std::size_t> operands = layer_inputs(model, index);
    bool in_place = false;  // may write over an operand that has no later reader
    switch (layers[index].kind) {
      case LayerKind::conv2d:
        call.kind = CallKind::conv2d;
        break;
      case LayerKind::depthwise_conv2d:
        call.kind = layers[index].depth_multiplier == 1 ? CallKind::depthwise_conv2d : CallKind::conv2d;
        break;
      case LayerKind::dense:
        call.kind = CallKind::dense;
        break;
      case LayerKind::rectifier:
        call.kind = CallKind::rectifier;
        in_place = true;
        break;
      case LayerKind::softmax:
        call.kind = CallKind::softmax;
        in_place = true;
        break;
      case LayerKind::add:
        call.kind = CallKind::add;
        in_place = true;
        break;
      case LayerKind::average_pool2d:
        call.kind = CallKind::average_pool2d;
        break;
      case LayerKind::max_pool2d:
        call.kind = CallKind::max_pool2d;
        break;
      case LayerKind::global_average_pool2d:
        call.kind = CallKind::global_average_pool2d;
        break;
      case LayerKind::zero_padding2d:
        call.kind = CallKind::zero_padding2d;
        break;
      case LayerKind::flatten: {
        // NHWC order is already the flat order: the output is the input's buffer.
        const std::size_t input = operands[0];
        buffer_of[index + 1] = buffer_of[input];
        tensor_in[static_cast<std::size_t>(buffer_of[input])] = index + 1;
        ++users[static_cast<std::size_t>(buffer_of[input])];
        if (last_reader[input] <= index) --users[static_cast<std::size_t>(buffer_of[input])];
        continue;
      }
    }
    std::size_t last = index;  // the last layer this call computes
    const std::vector<std::size_t>& next_inputs =
        index + 1 < layers.size() ? layers[index + 1].inputs : operands;
    if (fusable(call.kind) && index + 1 < layers.size() && layers[index + 1].kind == LayerKind::rectifier &&
        (next_inputs.empty() || (next_inputs.size() == 1 && next_inputs[0] == index + 1)) &&
        last_reader[index + 1] == index + 1)
      call.fused_rectifier = last = index + 1;
    for (std::size_t buffer = 0; buffer < users.size(); ++buffer)
      if (users[buffer] > 0) call.resident.push_back(tensor_in[buffer]);
    for (const std::size_t tensor : operands) call.input_buffers.push_back(buffer_of[tensor]);
    std::sort(operands.begin(), operands.end());
    operands.erase(std::unique(operands.begin(), operands.end()), operands.end());
    const auto dying = [&](std::size_t tensor) {
      return last_reader[tensor] <= last && users[static_cast<std::size_t>(buffer_of[tensor])] == 1;
    };
    const auto reused = in_place ? std::find_if(operands.begin(), operands.end(), dying) : operands.end();
    if (reused != operands.end()) {
      call.output_buffer = buffer_of[*reused];  // handed from the operand to the output
      call.in_place = true;
      operands.erase(reused);
    } else {
      call.output_buffer = take_free();
    }
    for (const std::size_t tensor : operands)
      if (last_reader[tensor] <= last) --users[static_cast<std::size_t>(buffer_of[tensor])];
    buffer_of[index + 1] = buffer_of[last + 1] = call.output_buffer;
    tensor_in.resize(users.size());
    tensor_in[static_cast<std::size_t>(call.output_buffer)] = last + 1;
    if (last_reader[last + 1] <= last) --users[static_cast<std::size_t>(call.output_buffer)];  // unread
    plan.calls.push_back(std::move(call));
    index = last;
  }
  plan.buffer_count = static_cast<int>(users.size());
  plan.output_buffer = buffer_of.back();
  return plan;
}

}  // namespace reds::engine::detail
