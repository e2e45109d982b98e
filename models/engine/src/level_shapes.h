// The shapes of a model's feature maps at one level of its plan: which prefix of every map's channels is
// used, and how a flat map's used features sit among the full model's (a Flatten of a narrowed map keeps
// C of C_full channels of every pixel). Shared by validate() and the Session, which precomputes them per
// level.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine::detail {

struct LevelShape {
  Shape full;                 // the map in the full model
  std::int64_t channels = 0;  // channels used at the level (features, for a flat map)
  // A flat map's used features are `groups` runs of `group_features`, run g standing for features
  // [g * group_stride, g * group_stride + group_features) of the full map. A map that is not flat: one run.
  std::int64_t groups = 1;
  std::int64_t group_features = 0;
  std::int64_t group_stride = 0;
};

// The plan's width of every model layer at `level` (-1 for a layer the plan does not name), or
// invalid_argument for a plan layer that is not a unit layer of the model.
Result<std::vector<std::int64_t>> plan_widths(const Model& model, const EmbeddedPlan& plan,
                                              std::size_t level);

// The shape after every layer (index 0: the input, index i + 1: after layers[i]) at the given widths
// (one per layer, -1 for full width; nullopt for the full model). `shapes` are layer_shapes(model).
// invalid_argument when a width is out of range, a depthwise layer's width is not its input's, a grouped
// convolution is narrowed, the operands of an addition keep different widths or the output loses units.
// An addition's output keeps its operands' width (a stream narrowed as a whole).
Result<std::vector<LevelShape>> level_shapes(const Model& model, const std::vector<Shape>& shapes,
                                             const std::optional<std::vector<std::int64_t>>& widths);

// Multiply-accumulates of layer `index` between the level shapes around it (convolutions and dense layers;
// 0 for the others).
std::int64_t layer_macs(const Layer& layer, const LevelShape& input, const LevelShape& output);

// True for Conv2D, DepthwiseConv2D and Dense.
bool is_unit_layer(LayerKind kind);

}  // namespace reds::engine::detail
