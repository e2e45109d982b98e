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
  const auto reads_only = [&](std::size_t reader, std::size_t tensor) {
    const std::vector<std::size_t>& inputs = layers[reader].inputs;
    return inputs.empty() ? tensor == reader : inputs.size() == 1 && inputs[0] == tensor;
  };
  const auto read_count = [&](std::size_t tensor) {
    std::size_t readers = 0;
    for (std::size_t index = 0; index < layers.size(); ++index) {
      const std::vector<std::size_t> inputs = layer_inputs(model, index);
      readers += static_cast<std::size_t>(std::count(inputs.begin(), inputs.end(), tensor));
    }
    return readers;
  };
  // Zero paddings read by one convolution alone become that convolution's padding: it reads the unpadded map.
  std::vector<bool> padding_fused(layers.size(), false);
  for (std::size_t index = 0; index + 1 < layers.size(); ++index) {
    const Layer& next = layers[index + 1];
    padding_fused[index] = layers[index].kind == LayerKind::zero_padding2d &&
                           ((next.kind == LayerKind::conv2d && next.groups == 1) ||
                            (next.kind == LayerKind::depthwise_conv2d && next.depth_multiplier == 1)) &&
                           reads_only(index + 1, index + 1) && read_count(index + 1) == 1;
  }
  // The maps a layer's call reads: through a fused padding, the padding's input.
  const auto operands_of = [&](std::size_t index) {
    return index > 0 && padding_fused[index - 1] ? layer_inputs(model, index - 1)
                                                 : layer_inputs(model, index);
  };
  // The last layer that reads each tensor (its producer when none does); the output is read after them all.
  std::vector<std::size_t> last_reader(tensors, 0);
  for (std::size_t tensor = 1; tensor < tensors; ++tensor) last_reader[tensor] = tensor - 1;
  for (std::size_t index = 0; index < layers.size(); ++index)
    if (!padding_fused[index])
      for (const std::size_t tensor : operands_of(index))
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
    if (padding_fused[index]) continue;
    Schedule call;
    call.layer = index;
    if (index > 0 && padding_fused[index - 1]) call.fused_padding = index - 1;
    std::vector<std::size_t> operands = operands_of(index);
    call.operands = operands;
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
    const auto dying = [&](std::size_t tensor, std::size_t at) {
      return last_reader[tensor] <= at && users[static_cast<std::size_t>(buffer_of[tensor])] == 1;
    };
    std::optional<std::size_t> skip;  // a fused addition's other operand, which the output is written over
    if (call.kind == CallKind::conv2d && layers[index].kind == LayerKind::conv2d &&
        layers[index].groups == 1 && index + 1 < layers.size() && layers[index + 1].kind == LayerKind::add &&
        last_reader[index + 1] == index + 1) {
      const std::vector<std::size_t>& added = layers[index + 1].inputs;
      if (added.size() == 2 && (added[0] == index + 1) != (added[1] == index + 1)) {
        const std::size_t other = added[0] == index + 1 ? added[1] : added[0];
        if (other != operands[0] && dying(other, index + 1)) {
          skip = other;
          call.fused_add = last = index + 1;
        }
      }
    }
    if (fusable(call.kind) && last + 1 < layers.size() && layers[last + 1].kind == LayerKind::rectifier &&
        reads_only(last + 1, last + 1) && last_reader[last + 1] == last + 1)
      call.fused_rectifier = last = last + 1;
    for (std::size_t buffer = 0; buffer < users.size(); ++buffer)
      if (users[buffer] > 0) call.resident.push_back(tensor_in[buffer]);
    for (const std::size_t tensor : operands) call.input_buffers.push_back(buffer_of[tensor]);
    std::sort(operands.begin(), operands.end());
    operands.erase(std::unique(operands.begin(), operands.end()), operands.end());
    const auto reused = in_place ? std::find_if(operands.begin(), operands.end(),
                                                [&](std::size_t tensor) { return dying(tensor, last); })
                                 : operands.end();
    if (skip) {
      call.output_buffer = buffer_of[*skip];  // the sums are added onto the skip tensor where it lies
      call.in_place = true;
    } else if (reused != operands.end()) {
      call.output_buffer = buffer_of[*reused];  // handed from the operand to the output
      call.in_place = true;
      operands.erase(reused);
    } else {
      call.output_buffer = take_free();
    }
    for (const std::size_t tensor : operands)
      if (last_reader[tensor] <= last) --users[static_cast<std::size_t>(buffer_of[tensor])];
    for (std::size_t tensor = index + 1; tensor <= last + 1; ++tensor) buffer_of[tensor] = call.output_buffer;
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
