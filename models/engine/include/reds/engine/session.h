// reds/engine/session.h: a model ready to run, one image at a time, at any level of its plan.
//
// A session copies the model's weights once and plans its memory once, for the full network: feature map
// buffers of the largest map, each map written to the first buffer free while it is live (until its last
// reader has run). A chain uses two buffers in turn; a residual block keeps its input in a third until the
// addition reads it. A rectifier or softmax overwrites its input when nothing reads that later, and an
// addition writes over an operand that has no later reader. An addition right after a convolution computing
// one of its operands is that convolution's: it adds its sums onto the other operand in place, so a block's
// last convolution never holds its output beside the skip tensor. Every level's kernel calls (shapes,
// strides, weight and buffer pointers) are computed when the session is created, so set_level() only selects
// another precomputed list: O(1), no allocation, no copy. Levels are numbered from 0, smallest first as in
// the plan; a model without a plan has one level, the full network.
//
// A level narrows every unit layer to a prefix of its units (see model.h); an addition adds the first w
// channels of its operands, the width w its stream keeps (planning.h). A plan with per-level statistics
// (EmbeddedPlan::level_maps) gives a level's calls their own scale and bias per output channel, which the
// kernels apply where they store their sums (before a fused addition or rectifier); a level without them
// runs the calls of a model without them. How the weights are stored
// (SessionOptions::layout):
//   nested   (default) every level reads ONE CONTIGUOUS PREFIX of every layer's weights: a Conv2D or Dense
//            layer's weights are stored as the smallest level's block (its kept inputs x kept units, per
//            tap), then, level after level, the strips that level adds: the new units' weights from every
//            kept input, and the new inputs' weights to the units kept before. Level j reads the blocks and
//            strips up to its own; the kernels sum each range of units over the strips that hold it
//            (kernels::SegmentedWeights). Strips start at multiples of 8 units, so that only a level's last
//            range ends in a partial vector block: the up to 7 units before a strip's start are stored
//            twice (session.cpp). A DepthwiseConv2D is stored in panels of 8 channels (all taps of channels
//            8b..8b+7 together), a level reading the panels its channels need. A layer whose widths do not
//            grow level after level (a plan of the `independent` strategy) is stored as below.
//   strided  the full matrices in Keras' layout; a level reads a prefix of their rows and columns with the
//            full row length (what the REDS authors' TensorFlow Lite Micro patch does).
// Either way grouped convolutions (which no plan narrows) keep the full layout.
//
// A session is not thread-safe (run() writes its buffers); create one per thread. It may be moved, not
// copied.
//
//   reds::Result<reds::engine::Session> session = reds::engine::Session::create(model);
//   session->set_level(1);
//   std::span<const float> logits = session->run(image);  // valid until the next run()
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "reds/engine/kernel_views.h"
#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine {

namespace detail {
// Allocates on 64-byte boundaries (a cache line, two AVX vectors): the kernels' vector loads and stores of
// feature maps and weight panels then never straddle a line.
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t count) { return static_cast<T*>(::operator new(count * sizeof(T), kAlignment)); }
  void deallocate(T* pointer, std::size_t) { ::operator delete(pointer, kAlignment); }
  friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator&) { return true; }
};
using AlignedFloats = std::vector<float, CacheLineAllocator<float>>;
}  // namespace detail

enum class CallKind {
  conv2d,
  depthwise_conv2d,
  dense,
  rectifier,
  average_pool2d,
  max_pool2d,
  global_average_pool2d,
  softmax,
  add,
  zero_padding2d
};

// One kernel call of a level, with everything it needs precomputed.
struct KernelCall {
  CallKind kind = CallKind::rectifier;
  kernels::Window window;
  kernels::MapView input;
  kernels::MutableMapView output;
  // conv2d, depthwise_conv2d and dense: the weights as ranges of units over segments; a grouped convolution
  // (groups > 1) has no ranges and reads `weights` instead.
  kernels::SegmentedWeights segmented;
  kernels::WeightView weights;
  const float* bias = nullptr;
  // Per-level statistics of the layer at this level (model.h's ChannelMap): its outputs are scale * sum +
  // bias, `bias` being the map's. Null: the layer as its weights and bias say.
  const float* scale = nullptr;
  std::int64_t groups = 1;
  // Applied to the outputs: an activation fused into a convolution or dense call, or a rectifier call's own.
  const Rectifier* rectifier = nullptr;
  kernels::DenseInput dense_input;
  const float* addend = nullptr;  // add: the second operand (`input` is the first)
  std::size_t layer = 0;          // the model layer it computes (Model::layers), for per-layer timing
  // conv2d: the sums are added to what `output` holds (a residual addition fused into the convolution,
  // which writes over the skip tensor), before the rectifier.
  bool accumulate = false;
};

struct LevelInfo {
  // The width of every unit layer (Conv2D, DepthwiseConv2D, Dense) at this level, in the model's order.
  std::vector<std::pair<std::string, std::int64_t>> widths;
  // Multiply-accumulates of one image: convolutions and dense layers (bias, pooling and activations not
  // counted), as the plan contract's `macs` resource counts them.
  std::int64_t macs = 0;
};

enum class WeightLayout {
  nested,   // each level reads one contiguous prefix of every layer's weights
  strided,  // the full matrices; each level reads a strided prefix of their rows and columns
};

struct SessionOptions {
  WeightLayout layout = WeightLayout::nested;
};

class Session {
 public:
  // Validates the model (and its plan) and prepares every level. invalid_argument for an invalid model.
  static Result<Session> create(const Model& model, const SessionOptions& options = {});

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
  // The kernel calls of a level, in order, and the buffer every weight and bias they read lies in (for
  // tests and benchmarks that look at the layout).
  std::span<const KernelCall> level_calls(std::size_t level) const {
    return {calls_.data() + level * calls_per_level_, calls_per_level_};
  }
  std::span<const float> weights() const { return weights_; }

  const Shape& input_shape() const { return input_shape_; }
  std::int64_t input_size() const { return input_shape_.size(); }
  std::int64_t output_size() const { return output_size_; }

  // One image (input_size() floats, NHWC) through the current level. The result (output_size() floats)
  // stays valid until the next run(); empty when the input has the wrong size.
  std::span<const float> run(std::span<const float> input);
  // Images one after another: inputs holds n * input_size() floats, outputs n * output_size(). False (and
  // nothing computed) when the sizes do not match.
  bool run_batch(std::span<const float> inputs, std::span<float> outputs);
  // run(), timing every call: call_nanoseconds[i] receives the wall time of level_calls(level())[i] (one
  // clock read per call, some 20 ns, is counted in it). Empty (nothing computed) when a size does not match.
  std::span<const float> run_timed(std::span<const float> input, std::span<std::int64_t> call_nanoseconds);

 private:
  Session() = default;

  std::vector<Rectifier> rectifiers_;  // per model layer: what its rectifier layers (fused or not) compute
  // Every weight and bias, each buffer followed by at least kReadPadding zeros and starting on 64 bytes.
  detail::AlignedFloats weights_;
  std::vector<kernels::WeightSegment> segments_;
  std::vector<kernels::ColumnRange> ranges_;
  std::vector<detail::AlignedFloats> buffers_;  // buffers_[0] receives the input
  std::vector<KernelCall> calls_;               // calls_per_level_ per level, level after level
  std::size_t calls_per_level_ = 0;
  std::vector<LevelInfo> infos_;
  Shape input_shape_;
  std::int64_t output_size_ = 0;
  std::size_t level_ = 0;
  const KernelCall* active_ = nullptr;
  const float* output_ = nullptr;             // where the last call writes, the same at every level
  std::int64_t* call_nanoseconds_ = nullptr;  // set during run_timed() only
};

}  // namespace reds::engine
