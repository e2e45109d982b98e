// Which unit layers of a model must keep one channel order and one width: the plan contract's streams.
//
// An addition adds its operands channel by channel, so the unit layers whose outputs reach one addition
// (directly, or through layers that act on every channel alike: activations, pools, padding, a
// DepthwiseConv2D) must write their channels in the same order and keep the same prefix of them at every
// level. Such layers form one channel group; a unit layer whose output is never added forms a group of its
// own. The model's input can be a member too (an identity shortcut around the first block): then every
// layer of the group keeps the input's order and full width. Used by permute_units (one order per group),
// validate (one width per group at every level) and the plan request (one `stream` per group).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine::detail {

struct ChannelGroup {
  std::vector<std::size_t> members;     // its Conv2D and Dense layers (indices into Model::layers), in order
  bool model_input = false;             // the model's input is added to its members
  std::optional<std::size_t> addition;  // the first add layer that joins it; none for a layer never added
};

struct ChannelStreams {
  std::vector<ChannelGroup> groups;
  // Per tensor (0: the model's input, i + 1: the output of layers[i]), the group whose order its channels
  // follow (a flat map after Flatten: the group of the map it flattens).
  std::vector<std::size_t> group_of_tensor;

  // The group of a unit layer's output (a DepthwiseConv2D's: its input's).
  std::size_t group_of_layer(std::size_t index) const { return group_of_tensor[index + 1]; }
};

// The channel groups of a model whose layers read tensors computed before them (layer_shapes() succeeds).
ChannelStreams channel_streams(const Model& model);

// invalid_argument naming the first unit layer whose width differs from its group's first member's, or that
// narrows a group holding the model's input. `widths`: per model layer, -1 for its full width (as
// plan_widths() gives them). The message names the addition that couples the layers.
std::optional<Error> check_stream_widths(const Model& model, const ChannelStreams& streams,
                                         const std::vector<std::int64_t>& widths);

}  // namespace reds::engine::detail
