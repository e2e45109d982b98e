#include "channel_streams.h"

#include <algorithm>

namespace reds::engine::detail {

namespace {

// Union-find over the provisional groups: one per unit layer's output and one for the model's input.
class Partition {
 public:
  std::size_t add() {
    parent_.push_back(parent_.size());
    return parent_.size() - 1;
  }
  std::size_t find(std::size_t group) {
    while (parent_[group] != group) group = parent_[group] = parent_[parent_[group]];
    return group;
  }
  // The lower root survives, so that a group is named after its earliest member.
  void join(std::size_t a, std::size_t b) {
    a = find(a), b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<std::size_t> parent_;
};

std::string describe(const Layer& layer) {
  return "layer '" + layer.name + "' (" + to_string(layer.kind) + ")";
}

}  // namespace

ChannelStreams channel_streams(const Model& model) {
  Partition partition;
  std::vector<std::size_t> provisional(model.layers.size() + 1);
  provisional[0] = partition.add();  // the model's input
  std::vector<std::optional<std::size_t>> first_addition;
  first_addition.emplace_back();
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    const std::vector<std::size_t> inputs = layer_inputs(model, index);
    if (layer.kind == LayerKind::conv2d || layer.kind == LayerKind::dense) {
      provisional[index + 1] = partition.add();
      first_addition.emplace_back();
      continue;
    }
    provisional[index + 1] = provisional[inputs[0]];
    if (layer.kind != LayerKind::add) continue;
    for (const std::size_t tensor : inputs) {
      // The joined group keeps the earlier addition of the two (any is earlier than this one).
      const std::size_t a = partition.find(provisional[inputs[0]]);
      const std::size_t b = partition.find(provisional[tensor]);
      const std::optional<std::size_t> earlier =
          first_addition[a] && first_addition[b]
              ? std::min(first_addition[a], first_addition[b])
              : (first_addition[a] ? first_addition[a] : first_addition[b]);
      partition.join(a, b);
      first_addition[partition.find(a)] = earlier ? earlier : std::optional<std::size_t>(index);
    }
  }

  // Number the roots in order of first appearance.
  ChannelStreams streams;
  std::vector<std::size_t> number(first_addition.size(), first_addition.size());
  streams.group_of_tensor.resize(provisional.size());
  for (std::size_t tensor = 0; tensor < provisional.size(); ++tensor) {
    const std::size_t root = partition.find(provisional[tensor]);
    if (number[root] == first_addition.size()) {
      number[root] = streams.groups.size();
      streams.groups.emplace_back().addition = first_addition[root];
    }
    streams.group_of_tensor[tensor] = number[root];
  }
  streams.groups[streams.group_of_tensor[0]].model_input = true;
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const LayerKind kind = model.layers[index].kind;
    if (kind == LayerKind::conv2d || kind == LayerKind::dense)
      streams.groups[streams.group_of_layer(index)].members.push_back(index);
  }
  return streams;
}

std::optional<Error> check_stream_widths(const Model& model, const ChannelStreams& streams,
                                         const std::vector<std::int64_t>& widths) {
  const auto width_of = [&](std::size_t index) {
    return widths[index] < 0 ? model.layers[index].units : widths[index];
  };
  for (const ChannelGroup& group : streams.groups) {
    if (!group.addition || group.members.empty()) continue;
    const std::string addition = "'" + model.layers[*group.addition].name + "'";
    const std::size_t first = group.members.front();
    for (const std::size_t member : group.members) {
      const Layer& layer = model.layers[member];
      if (group.model_input && width_of(member) != layer.units)
        return invalid_argument(describe(layer) + " keeps " + std::to_string(width_of(member)) + " of its " +
                                std::to_string(layer.units) + " units, but " + addition +
                                " adds its output to the model's input, whose channels are all kept");
      if (width_of(member) != width_of(first))
        return invalid_argument(describe(layer) + " keeps " + std::to_string(width_of(member)) +
                                " units and '" + model.layers[first].name + "' " +
                                std::to_string(width_of(first)) + ", but their outputs are added (" +
                                addition + "): the layers of one stream keep one width");
    }
  }
  return std::nullopt;
}

}  // namespace reds::engine::detail
