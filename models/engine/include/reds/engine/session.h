// reds/engine/session.h: a model ready to run, one image at a time, at any level of its plan.
//
// A session copies the model's weights once and plans its memory once, for the full network: two feature
// map buffers of the largest map, used in turn. Every level's kernel calls (shapes, strides, weight and
// buffer pointers) are computed when the session is created, so set_level() only selects another
// precomputed list: O(1), no allocation, no copy. Levels are numbered from 0, smallest first as in the plan;
// a model without a plan has one level, the full network.
//
// A level narrows every unit layer to a prefix of its units (see model.h); the kernels read the prefix of
// every weight matrix with the full matrix's strides.
//
// A session is not thread-safe (run() writes its buffers); create one per thread. It may be moved, not
// copied.
//
//   reds::Result<reds::engine::Session> session = reds::engine::Session::create(model);
//   session->set_level(1);
//   std::span<const float> logits = session->run(image);  // valid until the next run()
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "reds/engine/kernels.h"
#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine {

enum class CallKind {
  conv2d,
  depthwise_conv2d,
  dense,
  rectifier,
  average_pool2d,
  global_average_pool2d,
  softmax
};

// One kernel call of a level, with everything it needs precomputed.
struct KernelCall {
  CallKind kind = CallKind::rectifier;
  kernels::Window window;
  kernels::MapView input;
  kernels::MutableMapView output;
  kernels::WeightView weights;
  const float* bias = nullptr;
  std::int64_t groups = 1;
  // Applied to the outputs: an activation fused into a convolution or dense call, or a rectifier call's own.
  const Rectifier* rectifier = nullptr;
  kernels::DenseInput dense_input;
};

struct LevelInfo {
  // The width of every unit layer (Conv2D, DepthwiseConv2D, Dense) at this level, in the model's order.
  std::vector<std::pair<std::string, std::int64_t>> widths;
  // Multiply-accumulates of one image: convolutions and dense layers (bias, pooling and activations not
  // counted), as the plan contract's `macs` resource counts them.
  std::int64_t macs = 0;
};

class Session {
 public:
  // Validates the model (and its plan) and prepares every level. invalid_argument for an invalid model.
  static Result<Session> create(const Model& model);

  Session(Session&&) = default;
  Session& operator=(Session&&) = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  std::size_t level_count() const { return infos_.size(); }
  std::size_t level() const { return level_; }
  // Selects the subnetwork that run() computes. False (and the level unchanged) when level >= level_count().
  bool set_level(std::size_t level) {
    if (level >= infos_.size()) return false;
    level_ = level;
    active_ = calls_.data() + level * calls_per_level_;
    return true;
  }
  const LevelInfo& level_info(std::size_t level) const { return infos_[level]; }

  const Shape& input_shape() const { return input_shape_; }
  std::int64_t input_size() const { return input_shape_.size(); }
  std::int64_t output_size() const { return output_size_; }

  // One image (input_size() floats, NHWC) through the current level. The result (output_size() floats)
  // stays valid until the next run(); empty when the input has the wrong size.
  std::span<const float> run(std::span<const float> input);
  // Images one after another: inputs holds n * input_size() floats, outputs n * output_size(). False (and
  // nothing computed) when the sizes do not match.
  bool run_batch(std::span<const float> inputs, std::span<float> outputs);

 private:
  Session() = default;

  std::vector<Layer> layers_;  // the model's layers: their weights, and the rectifiers fused into calls
  std::vector<float> buffers_[2];
  std::vector<KernelCall> calls_;  // calls_per_level_ per level, level after level
  std::size_t calls_per_level_ = 0;
  std::vector<LevelInfo> infos_;
  Shape input_shape_;
  std::int64_t output_size_ = 0;
  std::size_t level_ = 0;
  const KernelCall* active_ = nullptr;
  const float* output_ = nullptr;  // where the last call writes, the same at every level
};

}  // namespace reds::engine
