#include "reds/models/layer_schedule.h"

#include <algorithm>

namespace reds::models {

namespace {

bool is_convolution(ScheduledKind kind) {
  return kind == ScheduledKind::convolution || kind == ScheduledKind::depthwise_convolution ||
         kind == ScheduledKind::grouped_convolution;
}

// A rectifier after it can run inside its call.
bool takes_rectifier(ScheduledKind kind) {
  return is_convolution(kind) || kind == ScheduledKind::dense || kind == ScheduledKind::addition;
}

// It may write its output over an operand that dies with it.
bool writes_in_place(ScheduledKind kind) {
  return kind == ScheduledKind::rectifier || kind == ScheduledKind::softmax ||
         kind == ScheduledKind::addition;
}

}  // namespace

LayerSchedule schedule_layers(const std::vector<ScheduledLayer>& layers) {
  const std::size_t tensors = layers.size() + 1;
  const auto reads_only = [&](std::size_t reader, std::size_t tensor) {
    const std::vector<std::size_t>& inputs = layers[reader].inputs;
    return inputs.size() == 1 && inputs[0] == tensor;
  };
  std::vector<std::size_t> read_count(tensors, 0);
  for (const ScheduledLayer& layer : layers)
    for (const std::size_t tensor : layer.inputs) ++read_count[tensor];
  // Zero paddings read by one convolution alone become that convolution's padding: it reads the unpadded map.
  std::vector<bool> padding_fused(layers.size(), false);
  for (std::size_t index = 0; index + 1 < layers.size(); ++index) {
    const ScheduledKind next = layers[index + 1].kind;
    padding_fused[index] =
        layers[index].kind == ScheduledKind::zero_padding &&
        (next == ScheduledKind::convolution || next == ScheduledKind::depthwise_convolution) &&
        reads_only(index + 1, index + 1) && read_count[index + 1] == 1;
  }
  // The maps a layer's call reads: through a fused padding, the padding's input.
  const auto operands_of = [&](std::size_t index) {
    return index > 0 && padding_fused[index - 1] ? layers[index - 1].inputs : layers[index].inputs;
  };
  // The last layer that reads each tensor (its producer when none does); the output is read after them all.
  std::vector<std::size_t> last_reader(tensors, 0);
  for (std::size_t tensor = 1; tensor < tensors; ++tensor) last_reader[tensor] = tensor - 1;
  for (std::size_t index = 0; index < layers.size(); ++index)
    if (!padding_fused[index])
      for (const std::size_t tensor : operands_of(index))
        last_reader[tensor] = std::max(last_reader[tensor], index);
  last_reader.back() = layers.size();

  LayerSchedule plan;
  std::vector<int> users;  // per buffer, the live maps it holds (a flatten's output shares its input's)
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
    const ScheduledKind kind = layers[index].kind;
    std::vector<std::size_t> operands = operands_of(index);
    if (kind == ScheduledKind::flatten) {
      // NHWC order is already the flat order: the output is the input's buffer.
      const std::size_t input = operands[0];
      buffer_of[index + 1] = buffer_of[input];
      tensor_in[static_cast<std::size_t>(buffer_of[input])] = index + 1;
      ++users[static_cast<std::size_t>(buffer_of[input])];
      if (last_reader[input] <= index) --users[static_cast<std::size_t>(buffer_of[input])];
      continue;
    }
    LayerCall call;
    call.layer = index;
    if (index > 0 && padding_fused[index - 1]) call.fused_padding = index - 1;
    call.operands = operands;
    std::size_t last = index;  // the last layer this call computes
    const auto dying = [&](std::size_t tensor, std::size_t at) {
      return last_reader[tensor] <= at && users[static_cast<std::size_t>(buffer_of[tensor])] == 1;
    };
    std::optional<std::size_t> skip;  // a fused addition's other operand, which the output is written over
    if (kind == ScheduledKind::convolution && index + 1 < layers.size() &&
        layers[index + 1].kind == ScheduledKind::addition && last_reader[index + 1] == index + 1) {
      const std::vector<std::size_t>& added = layers[index + 1].inputs;
      if (added.size() == 2 && (added[0] == index + 1) != (added[1] == index + 1)) {
        const std::size_t other = added[0] == index + 1 ? added[1] : added[0];
        if (other != operands[0] && dying(other, index + 1)) {
          skip = other;
          call.fused_add = last = index + 1;
        }
      }
    }
    if (takes_rectifier(kind) && last + 1 < layers.size() &&
        layers[last + 1].kind == ScheduledKind::rectifier && reads_only(last + 1, last + 1) &&
        last_reader[last + 1] == last + 1)
      call.fused_rectifier = last = last + 1;
    for (std::size_t buffer = 0; buffer < users.size(); ++buffer)
      if (users[buffer] > 0) call.resident.push_back(tensor_in[buffer]);
    for (const std::size_t tensor : operands) call.input_buffers.push_back(buffer_of[tensor]);
    std::sort(operands.begin(), operands.end());
    operands.erase(std::unique(operands.begin(), operands.end()), operands.end());
    const auto reused = writes_in_place(kind)
                            ? std::find_if(operands.begin(), operands.end(),
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

std::vector<ScheduleStep> schedule_steps(const std::vector<ScheduledLayer>& layers,
                                         const std::vector<LiveMap>& maps) {
  std::vector<ScheduleStep> steps;
  std::size_t computed = 0;
  for (const LayerCall& call : schedule_layers(layers).calls) {
    ScheduleStep& step = steps.emplace_back();
    step.layers_before = computed;
    for (const std::size_t tensor : call.resident) step.live.push_back(maps[tensor]);
    if (!call.in_place) step.live.push_back(maps[call.last_layer() + 1]);
    if (const std::optional<std::size_t> request_layer = layers[call.layer].request_layer) {
      step.layer = request_layer;
      step.input = maps[call.operands[0]];
      ++computed;
    }
  }
  return steps;
}

std::optional<Error> set_scheduled_activation(Network& network, const std::vector<ScheduledLayer>& layers,
                                              const std::vector<LiveMap>& maps, const std::string& resource) {
  if (maps.size() != layers.size() + 1)
    return invalid_argument("the graph has " + std::to_string(layers.size()) + " layers and " +
                            std::to_string(maps.size()) + " maps; it needs one map more than layers");
  for (std::size_t index = 0; index < layers.size(); ++index) {
    const ScheduledLayer& layer = layers[index];
    const std::string name = "layer " + std::to_string(index);
    if (layer.inputs.empty()) return invalid_argument(name + " reads no map");
    for (const std::size_t tensor : layer.inputs)
      if (tensor > index)
        return invalid_argument(name + " reads map " + std::to_string(tensor) + ", computed after it");
    if (layer.kind == ScheduledKind::addition && layer.inputs.size() < 2)
      return invalid_argument(name + " is an addition of fewer than two maps");
    if (layer.kind != ScheduledKind::addition && layer.inputs.size() != 1)
      return invalid_argument(name + " reads " + std::to_string(layer.inputs.size()) + " maps, not one");
    if (layer.request_layer && *layer.request_layer >= network.layers.size())
      return invalid_argument(name + " computes request layer " + std::to_string(*layer.request_layer) +
                              " of " + std::to_string(network.layers.size()));
  }
  for (const LiveMap& map : maps)
    if (map.layer && *map.layer >= network.layers.size())
      return invalid_argument("a map's width is request layer " + std::to_string(*map.layer) + " of " +
                              std::to_string(network.layers.size()));
  return set_peak_activation(network, schedule_steps(layers, maps), resource);
}

}  // namespace reds::models
