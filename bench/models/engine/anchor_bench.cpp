// The engine against the two native engines a user would pick instead, in one process: the same networks
// at the same level widths through our Session, XNNPACK's subgraph API and oneDNN's primitives (both
// Debian's, built in only when found: the engine itself depends on neither), single thread, batch 1, batch
// norm folded (as the engine's Keras reader folds it, model.h).
//
// For every model, level and engine the program first checks that the outputs equal ours within 5e-5 on
// a few random images, then times: repetition after repetition it runs every (model, level) in every
// engine back to back, in an order that rotates with the repetition, `calls` single-image calls at a time
// (thread CPU time, which leaves out the time the benchmark waits for a core on a shared machine). It prints
// the median time per call and its ratio to ours, and with --layers where the full network's time goes
// layer by layer in our engine and in oneDNN.
//
//   build/bin/reds_engine_anchors [--repetitions 21] [--block 8] [--layers] [--models ds_cnn_s_fmnist,...]
//
// Models: the REDS authors' Fashion-MNIST DS-CNN S (tests/data/reds-pretrained), DS-CNN L, DNN S and
// MobileNetV2 0.35 at 96x96 (random weights, reds/engine/architectures.h) and MLPerf Tiny's MobileNetV1 0.25
// and ResNet-8 (tests/data/mlperf-tiny vww_96.h5, pretrainedResnet.h5); the residual ones with their
// additions (XNNPACK: an add node, oneDNN: a binary primitive, each with the rectifier after it fused).
// Levels: a plan at 25, 50, 75 and 100 % of the MACs (L1 importance, bottom_up, widths in multiples of
// --block), as the engine benchmark (engine_bench.cpp) plans them.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels.h"
#include "named_models.h"
#include "reds/engine/architectures.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/plan.h"

#ifdef REDS_HAVE_XNNPACK
#include <xnnpack.h>
#endif
#ifdef REDS_HAVE_ONEDNN
#include <omp.h>

#include <dnnl.hpp>
#endif

namespace {

using namespace reds::engine;

const std::vector<double> kFractions = {0.25, 0.5, 0.75, 1.0};
constexpr float kTolerance = 5e-5f;

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "reds_engine_anchors: " << message << '\n';
  std::exit(1);
}

template <class T>
T value_or_fail(reds::Result<T> result, const std::string& what) {
  if (!result) fail(what + ": " + result.error().message);
  return std::move(result).value();
}

double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// --- The level as a model of its own ------------------------------------------------------------------

// The model a level computes: every unit layer cut to its width and to its input's kept channels (a Dense
// layer after Flatten keeps, for every pixel, the rows of the kept channels), without a plan. The other
// engines run this; ours runs the level of the planned session.
Model level_model(const Model& planned, const LevelInfo& level) {
  const std::map<std::string, std::int64_t> widths(level.widths.begin(), level.widths.end());
  const std::vector<Shape> shapes = value_or_fail(layer_shapes(planned), "shapes");
  Model model = planned;
  model.plan.reset();
  // Per tensor (0 the input, i + 1 the output of layer i): the channels kept (per pixel, for a flat map
  // made by Flatten) and the pixels a flat map holds.
  std::vector<std::int64_t> kept(model.layers.size() + 1, model.input.channels);
  std::vector<std::int64_t> pixels(model.layers.size() + 1, 1);
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    Layer& layer = model.layers[index];
    const std::size_t read = layer_inputs(model, index)[0];
    const Shape& in = read == 0 ? planned.input : shapes[read - 1];
    const std::int64_t full = in.flat ? in.channels / pixels[read] : in.channels;
    kept[index + 1] = kept[read];
    pixels[index + 1] = pixels[read];
    switch (layer.kind) {
      case LayerKind::conv2d:
      case LayerKind::dense: {
        if (layer.groups != 1) fail(layer.name + ": grouped convolutions are not narrowed");
        const std::int64_t width = widths.at(layer.name);
        const std::int64_t taps =
            layer.kind == LayerKind::dense ? pixels[read] : layer.kernel_height * layer.kernel_width;
        std::vector<float> kernel;
        for (std::int64_t tap = 0; tap < taps; ++tap)
          for (std::int64_t row = 0; row < kept[read]; ++row)
            for (std::int64_t unit = 0; unit < width; ++unit)
              kernel.push_back(
                  layer.kernel[static_cast<std::size_t>((tap * full + row) * layer.units + unit)]);
        layer.kernel = std::move(kernel);
        if (!layer.bias.empty()) layer.bias.resize(static_cast<std::size_t>(width));
        layer.units = width;
        kept[index + 1] = width;
        pixels[index + 1] = 1;
        break;
      }
      case LayerKind::depthwise_conv2d: {
        if (layer.depth_multiplier != 1) fail(layer.name + ": depth multiplier above 1");
        std::vector<float> kernel;
        for (std::int64_t tap = 0; tap < layer.kernel_height * layer.kernel_width; ++tap)
          for (std::int64_t channel = 0; channel < kept[read]; ++channel)
            kernel.push_back(layer.kernel[static_cast<std::size_t>(tap * full + channel)]);
        layer.kernel = std::move(kernel);
        if (!layer.bias.empty()) layer.bias.resize(static_cast<std::size_t>(kept[read]));
        break;
      }
      case LayerKind::flatten:
        pixels[index + 1] = in.height * in.width;
        break;
      case LayerKind::add:
        // The operands are one stream: the plan keeps one prefix of their channels.
        for (const std::size_t operand : layer_inputs(model, index))
          if (kept[operand] != kept[read]) fail(layer.name + ": operands of different widths");
        break;
      default:
        break;
    }
  }
  if (auto error = validate(model)) fail("level model: " + error->message);
  return model;
}

// How many layers read each tensor (the last one also counts as the model's output): a layer's rectifier
// can be fused into it only when the rectifier is the one reader of its output.
std::vector<int> tensor_readers(const Model& model) {
  std::vector<int> readers(model.layers.size() + 1, 0);
  for (std::size_t index = 0; index < model.layers.size(); ++index)
    for (const std::size_t tensor : layer_inputs(model, index)) ++readers[tensor];
  ++readers.back();
  return readers;
}

// --- Engines ------------------------------------------------------------------------------------------

class Engine {
 public:
  virtual ~Engine() = default;
  // One image; the output stays valid until the next run.
  virtual std::span<const float> run(std::span<const float> input) = 0;
};

class Ours : public Engine {
 public:
  Ours(Session* session, std::size_t level) : session_(session), level_(level) {}
  std::span<const float> run(std::span<const float> input) override {
    session_->set_level(level_);
    return session_->run(input);
  }

 private:
  Session* session_;
  std::size_t level_;
};

// A rectifier another engine fuses into the layer before it: ReLU with threshold 0, capped or not (XNNPACK:
// as the layer's output range), and for oneDNN (an eltwise post-op) also LeakyReLU without a cap.
bool fusable_kind(const Rectifier& rectifier, bool leaky) {
  if (rectifier.threshold != 0.0f) return false;
  return rectifier.negative_slope == 0.0f || (leaky && std::isinf(rectifier.max_value));
}

// Layer `index` is a rectifier of that kind.
bool fusable_rectifier(const Model& model, std::size_t index, bool leaky) {
  if (index >= model.layers.size() || model.layers[index].kind != LayerKind::rectifier) return false;
  return fusable_kind(model.layers[index].rectifier, leaky);
}

// Layer `index` fused with the rectifier after it: the rectifier reads its output, and nothing else does.
bool fuses_next_rectifier(const Model& model, const std::vector<int>& readers, std::size_t index,
                          bool leaky) {
  const LayerKind kind = model.layers[index].kind;
  if (kind != LayerKind::conv2d && kind != LayerKind::depthwise_conv2d && kind != LayerKind::dense &&
      kind != LayerKind::add)
    return false;
  return fusable_rectifier(model, index + 1, leaky) && layer_inputs(model, index + 1)[0] == index + 1 &&
         readers[index + 1] == 1;
}

struct Padding4 {
  std::int64_t top = 0, bottom = 0, left = 0, right = 0;
};

// A window's padding by Keras' rule, plus any ZeroPadding2D before it.
Padding4 window_padding(const Layer& layer, const Shape& in, const Padding4& extra) {
  const std::int64_t height = in.height + extra.top + extra.bottom,
                     width = in.width + extra.left + extra.right;
  Padding4 padding = extra;
  if (layer.padding == Padding::same) {
    const auto rows = kernels::axis_geometry(height, layer.kernel_height, layer.stride_height,
                                             layer.dilation_height, Padding::same);
    const auto columns = kernels::axis_geometry(width, layer.kernel_width, layer.stride_width,
                                                layer.dilation_width, Padding::same);
    const std::int64_t total_rows = std::max<std::int64_t>(
        (rows.out - 1) * layer.stride_height + (layer.kernel_height - 1) * layer.dilation_height + 1 - height,
        0);
    const std::int64_t total_columns = std::max<std::int64_t>(
        (columns.out - 1) * layer.stride_width + (layer.kernel_width - 1) * layer.dilation_width + 1 - width,
        0);
    padding.top += rows.pad_before;
    padding.bottom += total_rows - rows.pad_before;
    padding.left += columns.pad_before;
    padding.right += total_columns - columns.pad_before;
  }
  return padding;
}

#ifdef REDS_HAVE_XNNPACK
void xnn_check(xnn_status status, const std::string& what) {
  if (status != xnn_status_success)
    fail("XNNPACK: " + what + " failed (status " + std::to_string(status) + ")");
}

// The model as one XNNPACK subgraph: value 0 the input, value 1 the output; rectifiers fused into the
// layer before them as its output range, ZeroPadding2D into the next window's padding.
class Xnnpack : public Engine {
 public:
  explicit Xnnpack(const Model& model) {
    static const bool initialized = [] {
      xnn_check(xnn_initialize(nullptr), "xnn_initialize");
      return true;
    }();
    (void)initialized;
    const std::vector<Shape> shapes = value_or_fail(layer_shapes(model), "shapes");
    xnn_subgraph_t subgraph = nullptr;
    xnn_check(xnn_create_subgraph(2, 0, &subgraph), "create_subgraph");
    std::vector<std::size_t> dims = {1, static_cast<std::size_t>(model.input.height),
                                     static_cast<std::size_t>(model.input.width),
                                     static_cast<std::size_t>(model.input.channels)};
    // Per tensor (0 the input, i + 1 the output of layer i): its value, and the zero padding around it
    // that the next window takes as its own.
    std::vector<std::uint32_t> values(model.layers.size() + 1, XNN_INVALID_VALUE_ID);
    std::vector<Padding4> paddings(model.layers.size() + 1);
    xnn_check(xnn_define_tensor_value(subgraph, xnn_datatype_fp32, 4, dims.data(), nullptr, 0,
                                      XNN_VALUE_FLAG_EXTERNAL_INPUT, &values[0]),
              "input");
    const std::vector<int> readers = tensor_readers(model);
    const std::size_t last = model.layers.size() - 1;
    for (std::size_t index = 0; index < model.layers.size(); ++index) {
      const Layer& layer = model.layers[index];
      const std::vector<std::size_t> reads = layer_inputs(model, index);
      const Shape& in = reads[0] == 0 ? model.input : shapes[reads[0] - 1];
      const Shape& out = shapes[index];
      std::uint32_t current = values[reads[0]];
      Padding4 pending = paddings[reads[0]];
      const bool fused = fuses_next_rectifier(model, readers, index, false);
      const float low = fused ? 0.0f : -INFINITY;
      const float high = fused ? model.layers[index + 1].rectifier.max_value : INFINITY;
      const bool is_output = index + (fused ? 1 : 0) == last;
      const auto output_value = [&](std::vector<std::size_t> shape) {
        std::uint32_t id = 0;
        xnn_check(xnn_define_tensor_value(subgraph, xnn_datatype_fp32, shape.size(), shape.data(), nullptr,
                                          is_output ? 1 : XNN_INVALID_VALUE_ID,
                                          is_output ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : 0, &id),
                  layer.name + " output");
        return id;
      };
      const auto map_shape = [](const Shape& shape) {
        return std::vector<std::size_t>{1, static_cast<std::size_t>(shape.height),
                                        static_cast<std::size_t>(shape.width),
                                        static_cast<std::size_t>(shape.channels)};
      };
      const auto bias_value = [&](std::int64_t count) {
        if (layer.bias.empty()) return XNN_INVALID_VALUE_ID;
        return constant({static_cast<std::size_t>(count)}, layer.bias, subgraph);
      };
      switch (layer.kind) {
        case LayerKind::conv2d: {
          const std::int64_t per_group = in.channels / layer.groups, units = layer.units;
          // Keras [kh][kw][in / groups][units] to XNNPACK's [units][kh][kw][in / groups].
          std::vector<float> filter;
          for (std::int64_t unit = 0; unit < units; ++unit)
            for (std::int64_t tap = 0; tap < layer.kernel_height * layer.kernel_width; ++tap)
              for (std::int64_t channel = 0; channel < per_group; ++channel)
                filter.push_back(
                    layer.kernel[static_cast<std::size_t>((tap * per_group + channel) * units + unit)]);
          const std::uint32_t filter_id =
              constant({static_cast<std::size_t>(units), static_cast<std::size_t>(layer.kernel_height),
                        static_cast<std::size_t>(layer.kernel_width), static_cast<std::size_t>(per_group)},
                       std::move(filter), subgraph);
          const Padding4 padding = window_padding(layer, in, pending);
          pending = {};
          const std::uint32_t output = output_value(map_shape(out));
          xnn_check(
              xnn_define_convolution_2d(
                  subgraph, static_cast<std::uint32_t>(padding.top),
                  static_cast<std::uint32_t>(padding.right), static_cast<std::uint32_t>(padding.bottom),
                  static_cast<std::uint32_t>(padding.left), static_cast<std::uint32_t>(layer.kernel_height),
                  static_cast<std::uint32_t>(layer.kernel_width),
                  static_cast<std::uint32_t>(layer.stride_height),
                  static_cast<std::uint32_t>(layer.stride_width),
                  static_cast<std::uint32_t>(layer.dilation_height),
                  static_cast<std::uint32_t>(layer.dilation_width), static_cast<std::uint32_t>(layer.groups),
                  static_cast<std::size_t>(per_group), static_cast<std::size_t>(units / layer.groups), low,
                  high, current, filter_id, bias_value(units), output, 0),
              layer.name);
          current = output;
          break;
        }
        case LayerKind::depthwise_conv2d: {
          const std::int64_t channels = in.channels * layer.depth_multiplier;
          const std::uint32_t filter_id =
              constant({1, static_cast<std::size_t>(layer.kernel_height),
                        static_cast<std::size_t>(layer.kernel_width), static_cast<std::size_t>(channels)},
                       layer.kernel, subgraph);
          const Padding4 padding = window_padding(layer, in, pending);
          pending = {};
          const std::uint32_t output = output_value(map_shape(out));
          xnn_check(
              xnn_define_depthwise_convolution_2d(
                  subgraph, static_cast<std::uint32_t>(padding.top),
                  static_cast<std::uint32_t>(padding.right), static_cast<std::uint32_t>(padding.bottom),
                  static_cast<std::uint32_t>(padding.left), static_cast<std::uint32_t>(layer.kernel_height),
                  static_cast<std::uint32_t>(layer.kernel_width),
                  static_cast<std::uint32_t>(layer.stride_height),
                  static_cast<std::uint32_t>(layer.stride_width),
                  static_cast<std::uint32_t>(layer.dilation_height),
                  static_cast<std::uint32_t>(layer.dilation_width),
                  static_cast<std::uint32_t>(layer.depth_multiplier), static_cast<std::size_t>(in.channels),
                  low, high, current, filter_id, bias_value(channels), output, 0),
              layer.name);
          current = output;
          break;
        }
        case LayerKind::dense: {
          const std::int64_t inputs = in.size(), units = layer.units;
          std::vector<float> filter;  // [units][inputs]
          for (std::int64_t unit = 0; unit < units; ++unit)
            for (std::int64_t row = 0; row < inputs; ++row)
              filter.push_back(layer.kernel[static_cast<std::size_t>(row * units + unit)]);
          const std::uint32_t filter_id =
              constant({static_cast<std::size_t>(units), static_cast<std::size_t>(inputs)}, std::move(filter),
                       subgraph);
          const std::uint32_t output = output_value({1, static_cast<std::size_t>(units)});
          xnn_check(xnn_define_fully_connected(subgraph, low, high, current, filter_id, bias_value(units),
                                               output, XNN_FLAG_TENSORFLOW_RESHAPE_2D),
                    layer.name);
          current = output;
          break;
        }
        case LayerKind::rectifier: {
          const Rectifier& rectifier = layer.rectifier;
          const std::uint32_t output =
              output_value(out.flat ? std::vector<std::size_t>{1, static_cast<std::size_t>(out.channels)}
                                    : map_shape(out));
          if (fusable_rectifier(model, index, false))
            xnn_check(xnn_define_clamp(subgraph, 0.0f, rectifier.max_value, current, output, 0), layer.name);
          else if (fusable_rectifier(model, index, true))
            xnn_check(xnn_define_leaky_relu(subgraph, rectifier.negative_slope, current, output, 0),
                      layer.name);
          else
            fail("XNNPACK: " + layer.name + ": only ReLU, ReLU6 and LeakyReLU are translated");
          current = output;
          break;
        }
        case LayerKind::average_pool2d: {
          const Padding4 padding = window_padding(layer, in, pending);
          if (padding.top || padding.bottom || padding.left || padding.right)
            fail("XNNPACK: " + layer.name + ": padded average pooling counts the padding");
          const std::uint32_t output = output_value(map_shape(out));
          xnn_check(xnn_define_average_pooling_2d(subgraph, 0, 0, 0, 0,
                                                  static_cast<std::uint32_t>(layer.kernel_height),
                                                  static_cast<std::uint32_t>(layer.kernel_width),
                                                  static_cast<std::uint32_t>(layer.stride_height),
                                                  static_cast<std::uint32_t>(layer.stride_width), -INFINITY,
                                                  INFINITY, current, output, 0),
                    layer.name);
          current = output;
          break;
        }
        case LayerKind::global_average_pool2d: {
          const std::uint32_t output = output_value({1, 1, 1, static_cast<std::size_t>(in.channels)});
          xnn_check(xnn_define_global_average_pooling_2d(subgraph, -INFINITY, INFINITY, current, output, 0),
                    layer.name);
          current = output;
          break;
        }
        case LayerKind::softmax: {
          const std::uint32_t output = output_value({1, static_cast<std::size_t>(out.size())});
          xnn_check(xnn_define_softmax(subgraph, current, output, 0), layer.name);
          current = output;
          break;
        }
        case LayerKind::zero_padding2d:
          pending = {pending.top + layer.pad_top, pending.bottom + layer.pad_bottom,
                     pending.left + layer.pad_left, pending.right + layer.pad_right};
          break;
        case LayerKind::flatten:
          break;  // the fully connected node reads any shape as one row
        case LayerKind::add: {
          if (reads.size() != 2) fail("XNNPACK: " + layer.name + ": only additions of two maps");
          for (const std::size_t operand : reads)
            if (paddings[operand].top || paddings[operand].bottom || paddings[operand].left ||
                paddings[operand].right)
              fail("XNNPACK: " + layer.name + ": adds a zero-padded map");
          const std::uint32_t output = output_value(map_shape(out));
          xnn_check(xnn_define_add2(subgraph, low, high, values[reads[0]], values[reads[1]], output, 0),
                    layer.name);
          current = output;
          break;
        }
        case LayerKind::max_pool2d:
          fail("XNNPACK: max pooling is not translated");
      }
      if (layer.kind != LayerKind::zero_padding2d) pending = {};
      values[index + 1] = current;
      paddings[index + 1] = pending;
      if (fused) {
        ++index;
        values[index + 1] = current;
      }
    }
    xnn_check(xnn_create_runtime_v2(subgraph, nullptr, 0, &runtime_), "create_runtime");
    xnn_delete_subgraph(subgraph);
    input_.resize(static_cast<std::size_t>(model.input.size()) + 16);
    output_.resize(static_cast<std::size_t>(shapes.back().size()) + 16);
    const xnn_external_value externals[2] = {{0, input_.data()}, {1, output_.data()}};
    xnn_check(xnn_setup_runtime(runtime_, 2, externals), "setup_runtime");
    output_size_ = static_cast<std::size_t>(shapes.back().size());
  }
  ~Xnnpack() override { xnn_delete_runtime(runtime_); }
  Xnnpack(const Xnnpack&) = delete;
  Xnnpack& operator=(const Xnnpack&) = delete;

  std::span<const float> run(std::span<const float> input) override {
    std::copy(input.begin(), input.end(), input_.begin());
    xnn_check(xnn_invoke_runtime(runtime_), "invoke_runtime");
    return {output_.data(), output_size_};
  }

 private:
  std::uint32_t constant(std::vector<std::size_t> shape, std::vector<float> values, xnn_subgraph_t subgraph) {
    constants_.push_back(std::make_unique<std::vector<float>>(std::move(values)));
    std::uint32_t id = 0;
    xnn_check(xnn_define_tensor_value(subgraph, xnn_datatype_fp32, shape.size(), shape.data(),
                                      constants_.back()->data(), XNN_INVALID_VALUE_ID, 0, &id),
              "constant");
    return id;
  }

  xnn_runtime_t runtime_ = nullptr;
  std::vector<std::unique_ptr<std::vector<float>>> constants_;  // XNNPACK keeps pointers to them
  std::vector<float> input_, output_;
  std::size_t output_size_ = 0;
};
#endif

#ifdef REDS_HAVE_ONEDNN
// The model as oneDNN primitives: activations in the layouts oneDNN picks (format `any`) from the NHWC
// input on, weights reordered once into the layout each primitive asks for, rectifiers as eltwise post-ops,
// ZeroPadding2D folded into the next window's padding.
class OneDnn : public Engine {
 public:
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;

  explicit OneDnn(const Model& model) : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    const std::vector<Shape> shapes = value_or_fail(layer_shapes(model), "shapes");
    input_ = dnnl::memory(
        {{1, model.input.channels, model.input.height, model.input.width}, dt::f32, tag::nhwc}, engine_);
    // Per tensor (0 the input, i + 1 the output of layer i): its memory, and the zero padding around it
    // that the next window takes as its own.
    std::vector<dnnl::memory> tensors(model.layers.size() + 1);
    std::vector<Padding4> paddings(model.layers.size() + 1);
    tensors[0] = input_;
    const std::vector<int> readers = tensor_readers(model);
    for (std::size_t index = 0; index < model.layers.size(); ++index) {
      const Layer& layer = model.layers[index];
      const std::vector<std::size_t> reads = layer_inputs(model, index);
      const Shape& in = reads[0] == 0 ? model.input : shapes[reads[0] - 1];
      const Shape& out = shapes[index];
      dnnl::memory current = tensors[reads[0]];
      Padding4 pending = paddings[reads[0]];
      const bool fused = fuses_next_rectifier(model, readers, index, true);
      dnnl::primitive_attr attr;
      if (fused) {
        dnnl::post_ops ops;
        const Rectifier& rectifier = model.layers[index + 1].rectifier;
        const float cap = rectifier.max_value;
        if (std::isinf(cap))
          ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, rectifier.negative_slope, 0.0f);
        else
          ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, 0.0f, cap);
        attr.set_post_ops(ops);
      }
      const dnnl::memory::desc any_map({1, out.channels, out.height, out.width}, dt::f32, tag::any);
      switch (layer.kind) {
        case LayerKind::conv2d:
        case LayerKind::depthwise_conv2d: {
          const bool depthwise = layer.kind == LayerKind::depthwise_conv2d;
          const std::int64_t groups = depthwise ? in.channels : layer.groups;
          const std::int64_t units = depthwise ? in.channels * layer.depth_multiplier : layer.units;
          const std::int64_t kh = layer.kernel_height, kw = layer.kernel_width;
          // Plain goihw / oihw weights from Keras' [kh][kw][in / groups][units / groups per group].
          const std::int64_t per_group_in = in.channels / groups, per_group_out = units / groups;
          std::vector<float> plain;
          for (std::int64_t unit = 0; unit < units; ++unit)
            for (std::int64_t channel = 0; channel < per_group_in; ++channel)
              for (std::int64_t tap = 0; tap < kh * kw; ++tap) {
                const std::int64_t group = unit / per_group_out;
                const std::size_t at =
                    depthwise ? static_cast<std::size_t>(tap * units + unit)
                              : static_cast<std::size_t>((tap * per_group_in + channel) * units + unit);
                (void)group;
                plain.push_back(layer.kernel[at]);
              }
          const dnnl::memory::dims weight_dims =
              groups > 1 ? dnnl::memory::dims{groups, per_group_out, per_group_in, kh, kw}
                         : dnnl::memory::dims{units, per_group_in, kh, kw};
          const dnnl::memory::desc user_weights(weight_dims, dt::f32, groups > 1 ? tag::goihw : tag::oihw);
          const dnnl::memory::desc any_weights(weight_dims, dt::f32, tag::any);
          const Padding4 padding = window_padding(layer, in, pending);
          pending = {};
          const dnnl::memory::desc bias_desc({units}, dt::f32, tag::x);
          const dnnl::convolution_forward::desc desc(
              dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, current.get_desc(),
              any_weights, layer.bias.empty() ? dnnl::memory::desc() : bias_desc, any_map,
              {layer.stride_height, layer.stride_width},
              {layer.dilation_height - 1, layer.dilation_width - 1}, {padding.top, padding.left},
              {padding.bottom, padding.right});
          const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);
          dnnl::memory output(pd.dst_desc(), engine_);
          std::unordered_map<int, dnnl::memory> args = {
              {DNNL_ARG_SRC, current},
              {DNNL_ARG_WEIGHTS, weights(plain, user_weights, pd.weights_desc())},
              {DNNL_ARG_DST, output}};
          if (!layer.bias.empty()) args[DNNL_ARG_BIAS] = weights(layer.bias, bias_desc, pd.bias_desc());
          steps_.push_back({dnnl::convolution_forward(pd), std::move(args), layer.name});
          current = output;
          break;
        }
        case LayerKind::dense: {
          const dnnl::memory::desc src = current.get_desc();
          const std::int64_t units = layer.units;
          // Keras rows are NHWC features of the input map: weights {units, C, H, W} in hwio order, or
          // {units, inputs} in io order for a flat input.
          const bool map = src.dims().size() == 4;
          dnnl::memory::dims weight_dims;
          if (map) {
            const dnnl::memory::dims src_dims = src.dims();
            weight_dims = {units, src_dims[1], src_dims[2], src_dims[3]};
          } else {
            weight_dims = {units, src.dims()[1]};
          }
          const dnnl::memory::desc user_weights(weight_dims, dt::f32, map ? tag::hwio : tag::io);
          const dnnl::memory::desc bias_desc({units}, dt::f32, tag::x);
          const dnnl::memory::desc any_out({1, units}, dt::f32, tag::any);
          const dnnl::inner_product_forward::desc desc(
              dnnl::prop_kind::forward_inference, src, dnnl::memory::desc(weight_dims, dt::f32, tag::any),
              layer.bias.empty() ? dnnl::memory::desc() : bias_desc, any_out);
          const dnnl::inner_product_forward::primitive_desc pd(desc, attr, engine_);
          dnnl::memory output(pd.dst_desc(), engine_);
          std::unordered_map<int, dnnl::memory> args = {
              {DNNL_ARG_SRC, current},
              {DNNL_ARG_WEIGHTS, weights(layer.kernel, user_weights, pd.weights_desc())},
              {DNNL_ARG_DST, output}};
          if (!layer.bias.empty()) args[DNNL_ARG_BIAS] = weights(layer.bias, bias_desc, pd.bias_desc());
          steps_.push_back({dnnl::inner_product_forward(pd), std::move(args), layer.name});
          current = output;
          break;
        }
        case LayerKind::rectifier: {
          const Rectifier& rectifier = layer.rectifier;
          if (rectifier.threshold != 0.0f ||
              (rectifier.negative_slope != 0.0f && !std::isinf(rectifier.max_value)))
            fail("oneDNN: " + layer.name + ": only ReLU, ReLU6 and LeakyReLU are translated");
          const bool capped = !std::isinf(rectifier.max_value);
          const dnnl::eltwise_forward::desc desc(
              dnnl::prop_kind::forward_inference,
              capped ? dnnl::algorithm::eltwise_clip : dnnl::algorithm::eltwise_relu, current.get_desc(),
              capped ? 0.0f : rectifier.negative_slope, capped ? rectifier.max_value : 0.0f);
          const dnnl::eltwise_forward::primitive_desc pd(desc, engine_);
          // In place unless another layer reads the map too.
          dnnl::memory output = readers[reads[0]] == 1 ? current : dnnl::memory(current.get_desc(), engine_);
          steps_.push_back(
              {dnnl::eltwise_forward(pd), {{DNNL_ARG_SRC, current}, {DNNL_ARG_DST, output}}, layer.name});
          current = output;
          break;
        }
        case LayerKind::average_pool2d:
        case LayerKind::global_average_pool2d: {
          const bool global = layer.kind == LayerKind::global_average_pool2d;
          const Padding4 padding = global ? Padding4{} : window_padding(layer, in, pending);
          pending = {};
          const dnnl::memory::desc any_pooled(
              {1, in.channels, global ? 1 : out.height, global ? 1 : out.width}, dt::f32, tag::any);
          const dnnl::pooling_forward::desc desc(
              dnnl::prop_kind::forward_inference, dnnl::algorithm::pooling_avg_exclude_padding,
              current.get_desc(), any_pooled,
              {global ? 1 : layer.stride_height, global ? 1 : layer.stride_width},
              {global ? in.height : layer.kernel_height, global ? in.width : layer.kernel_width},
              {padding.top, padding.left}, {padding.bottom, padding.right});
          const dnnl::pooling_forward::primitive_desc pd(desc, engine_);
          dnnl::memory output(pd.dst_desc(), engine_);
          steps_.push_back(
              {dnnl::pooling_forward(pd), {{DNNL_ARG_SRC, current}, {DNNL_ARG_DST, output}}, layer.name});
          current = output;
          break;
        }
        case LayerKind::softmax: {
          const dnnl::softmax_forward::desc desc(dnnl::prop_kind::forward_inference, current.get_desc(), 1);
          const dnnl::softmax_forward::primitive_desc pd(desc, engine_);
          steps_.push_back(
              {dnnl::softmax_forward(pd), {{DNNL_ARG_SRC, current}, {DNNL_ARG_DST, current}}, layer.name});
          break;
        }
        case LayerKind::zero_padding2d:
          pending = {pending.top + layer.pad_top, pending.bottom + layer.pad_bottom,
                     pending.left + layer.pad_left, pending.right + layer.pad_right};
          break;
        case LayerKind::flatten:
          break;  // the inner product reads the map as it is
        case LayerKind::add: {
          // A binary addition (its rectifier a post-op), the second operand in the first one's layout.
          if (reads.size() != 2) fail("oneDNN: " + layer.name + ": only additions of two maps");
          dnnl::memory second = tensors[reads[1]];
          if (second.get_desc() != current.get_desc()) {
            dnnl::memory reordered(current.get_desc(), engine_);
            steps_.push_back({dnnl::reorder(second, reordered),
                              {{DNNL_ARG_FROM, second}, {DNNL_ARG_TO, reordered}},
                              layer.name + " operand"});
            second = reordered;
          }
          const dnnl::binary::desc desc(dnnl::algorithm::binary_add, current.get_desc(), second.get_desc(),
                                        current.get_desc());
          const dnnl::binary::primitive_desc pd(desc, attr, engine_);
          dnnl::memory output(pd.dst_desc(), engine_);
          steps_.push_back({dnnl::binary(pd),
                            {{DNNL_ARG_SRC_0, current}, {DNNL_ARG_SRC_1, second}, {DNNL_ARG_DST, output}},
                            layer.name});
          current = output;
          break;
        }
        case LayerKind::max_pool2d:
          fail("oneDNN: max pooling is not translated");
      }
      if (layer.kind != LayerKind::zero_padding2d) pending = {};
      tensors[index + 1] = current;
      paddings[index + 1] = pending;
      if (fused) {
        ++index;
        tensors[index + 1] = current;
      }
    }
    // The output in plain order.
    const dnnl::memory& current = tensors.back();
    const dnnl::memory::dims out_dims = current.get_desc().dims();
    const dnnl::memory::desc plain(out_dims, dt::f32, out_dims.size() == 2 ? tag::nc : tag::nhwc);
    if (current.get_desc() == plain) {
      output_ = current;
    } else {
      output_ = dnnl::memory(plain, engine_);
      steps_.push_back(
          {dnnl::reorder(current, output_), {{DNNL_ARG_FROM, current}, {DNNL_ARG_TO, output_}}, "output"});
    }
    output_size_ = static_cast<std::size_t>(shapes.back().size());
  }

  std::span<const float> run(std::span<const float> input) override {
    std::copy(input.begin(), input.end(), static_cast<float*>(input_.get_data_handle()));
    for (Step& step : steps_) step.primitive.execute(stream_, step.args);
    stream_.wait();
    return {static_cast<const float*>(output_.get_data_handle()), output_size_};
  }

  // Median time of every primitive over `rounds` runs of `input`.
  std::vector<std::pair<std::string, double>> step_times(std::span<const float> input, int rounds) {
    std::vector<std::vector<double>> times(steps_.size());
    for (int round = 0; round < rounds; ++round) {
      std::copy(input.begin(), input.end(), static_cast<float*>(input_.get_data_handle()));
      for (std::size_t step = 0; step < steps_.size(); ++step) {
        const double start = thread_seconds();
        for (int call = 0; call < 20; ++call) steps_[step].primitive.execute(stream_, steps_[step].args);
        times[step].push_back((thread_seconds() - start) / 20);
      }
    }
    std::vector<std::pair<std::string, double>> medians;
    for (std::size_t step = 0; step < steps_.size(); ++step) {
      std::sort(times[step].begin(), times[step].end());
      medians.emplace_back(steps_[step].name, times[step][times[step].size() / 2]);
    }
    return medians;
  }

 private:
  // Constant weights in the layout a primitive wants, reordered once from the user's.
  dnnl::memory weights(const std::vector<float>& values, const dnnl::memory::desc& user,
                       const dnnl::memory::desc& wanted) {
    auto held = std::make_unique<std::vector<float>>(values);
    dnnl::memory from(user, engine_, held->data());
    held_.push_back(std::move(held));
    if (user == wanted) return from;
    dnnl::memory to(wanted, engine_);
    dnnl::reorder(from, to).execute(stream_, from, to);
    stream_.wait();
    return to;
  }

  struct Step {
    dnnl::primitive primitive;
    std::unordered_map<int, dnnl::memory> args;
    std::string name;
  };
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::memory input_, output_;
  std::vector<Step> steps_;
  std::vector<std::unique_ptr<std::vector<float>>> held_;
  std::size_t output_size_ = 0;
};
#endif

// --- Models -------------------------------------------------------------------------------------------

Model named_model(const std::string& name) { return value_or_fail(bench::named_model(name), name); }

struct Level {
  std::string model;
  std::size_t level = 0;
  double mac_fraction = 0;
  std::vector<std::unique_ptr<Engine>> engines;  // ours first
  std::vector<std::vector<double>> times;        // per engine, seconds per call of every repetition
};

struct Bench {
  std::vector<std::string> engine_names;
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<std::string> names;  // per model
  std::vector<Model> planned;      // per model, for --layers
  std::vector<Level> levels;
  std::vector<std::vector<float>> inputs;  // per model
  std::vector<std::size_t> model_of;       // per level: index into inputs
};

std::vector<float> random_input(const Model& model, std::uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  std::vector<float> input(static_cast<std::size_t>(model.input.size()));
  for (float& value : input) value = pixel(generator);
  return input;
}

void add_model(Bench& bench, const std::string& name, std::int64_t block) {
  Model model = named_model(name);
  RequestOptions options;
  options.fractions = kFractions;
  options.block = block;
  options.objective = reds::Objective::sum;
  const reds::PlanRequest request = value_or_fail(plan_request(model, options), name + " request");
  const reds::PlanResult plan = value_or_fail(reds::plan(request), name + " plan");
  Model planned = value_or_fail(apply_plan(model, plan), name + " apply");
  bench.sessions.push_back(std::make_unique<Session>(value_or_fail(Session::create(planned), name)));
  Session& session = *bench.sessions.back();
  const std::size_t model_index = bench.inputs.size();
  bench.inputs.push_back(random_input(planned, 1));
  const double full_macs = static_cast<double>(session.level_info(session.level_count() - 1).macs);
  for (std::size_t level = 0; level < session.level_count(); ++level) {
    Level entry;
    entry.model = name;
    entry.level = level;
    entry.mac_fraction = static_cast<double>(session.level_info(level).macs) / full_macs;
    entry.engines.push_back(std::make_unique<Ours>(&session, level));
    [[maybe_unused]] const Model narrowed = level_model(planned, session.level_info(level));
#ifdef REDS_HAVE_XNNPACK
    entry.engines.push_back(std::make_unique<Xnnpack>(narrowed));
#endif
#ifdef REDS_HAVE_ONEDNN
    entry.engines.push_back(std::make_unique<OneDnn>(narrowed));
#endif
    // Equal outputs before any timing.
    for (std::uint32_t seed = 1; seed <= 3; ++seed) {
      const std::vector<float> input = random_input(planned, seed);
      const std::span<const float> reference = entry.engines[0]->run(input);
      const std::vector<float> ours(reference.begin(), reference.end());
      for (std::size_t engine = 1; engine < entry.engines.size(); ++engine) {
        const std::span<const float> theirs = entry.engines[engine]->run(input);
        if (theirs.size() != ours.size()) fail(name + ": output sizes differ");
        for (std::size_t i = 0; i < ours.size(); ++i)
          if (!(std::fabs(theirs[i] - ours[i]) <= kTolerance))
            fail(name + " level " + std::to_string(level + 1) + ": " + bench.engine_names[engine] +
                 " output " + std::to_string(i) + " is " + std::to_string(theirs[i]) + ", ours " +
                 std::to_string(ours[i]));
      }
    }
    entry.times.resize(entry.engines.size());
    bench.levels.push_back(std::move(entry));
    bench.model_of.push_back(model_index);
  }
  bench.planned.push_back(std::move(planned));
  bench.names.push_back(name);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

// Calls per timing so that one timing takes about 2 ms.
int calls_for(Engine& engine, std::span<const float> input) {
  const double start = thread_seconds();
  int calls = 0;
  while (thread_seconds() - start < 2e-3) {
    engine.run(input);
    ++calls;
  }
  return std::max(calls, 1);
}

void measure(Bench& bench, int repetitions) {
  std::vector<int> calls;
  for (std::size_t entry = 0; entry < bench.levels.size(); ++entry)
    calls.push_back(calls_for(*bench.levels[entry].engines[0], bench.inputs[bench.model_of[entry]]));
  for (int repetition = 0; repetition < repetitions; ++repetition)
    for (std::size_t entry = 0; entry < bench.levels.size(); ++entry) {
      Level& level = bench.levels[entry];
      const std::vector<float>& input = bench.inputs[bench.model_of[entry]];
      const std::size_t engines = level.engines.size();
      for (std::size_t turn = 0; turn < engines; ++turn) {
        const std::size_t engine = (turn + static_cast<std::size_t>(repetition)) % engines;
        const double start = thread_seconds();
        for (int call = 0; call < calls[entry]; ++call) level.engines[engine]->run(input);
        level.times[engine].push_back((thread_seconds() - start) / calls[entry]);
      }
    }
}

void print_table(const Bench& bench, int repetitions) {
  std::ostringstream out;
  out << std::fixed << "\nMedian time per single-image call (us) over " << repetitions
      << " interleaved repetitions, one thread; in parentheses the ratio to ours:\n";
  out << std::left << std::setw(17) << "model" << std::right << std::setw(6) << "level" << std::setw(9)
      << "MACs";
  for (const std::string& name : bench.engine_names) out << std::setw(name == "ours" ? 10 : 18) << name;
  out << '\n';
  for (const Level& level : bench.levels) {
    const double ours = median(level.times[0]);
    out << std::left << std::setw(17) << level.model << std::right << std::setw(6)
        << ("L" + std::to_string(level.level + 1)) << std::setprecision(3) << std::setw(9)
        << level.mac_fraction << std::setprecision(1) << std::setw(10) << ours * 1e6;
    for (std::size_t engine = 1; engine < level.engines.size(); ++engine) {
      const double theirs = median(level.times[engine]);
      std::ostringstream cell;
      cell << std::fixed << std::setprecision(1) << theirs * 1e6 << " (" << std::setprecision(2)
           << theirs / ours << ")";
      out << std::setw(18) << cell.str();
    }
    out << '\n';
  }
  std::cout << out.str() << std::flush;
}

// Per kernel call of the full level: our time, and oneDNN's per primitive.
void print_layers(Bench& bench) {
  for (std::size_t model = 0; model < bench.sessions.size(); ++model) {
    Session& session = *bench.sessions[model];
    const std::size_t full = session.level_count() - 1;
    const std::vector<float>& input = bench.inputs[model];
    session.set_level(full);
    session.run(input);  // fills the buffers every call reads
    const std::span<const KernelCall> calls = session.level_calls(full);
    std::vector<std::vector<double>> times(calls.size());
    for (int round = 0; round < 21; ++round)
      for (std::size_t index = 0; index < calls.size(); ++index) {
        const KernelCall& call = calls[index];
        if (call.kind != CallKind::conv2d && call.kind != CallKind::depthwise_conv2d &&
            call.kind != CallKind::dense)
          continue;
        const double start = thread_seconds();
        for (int repeat = 0; repeat < 20; ++repeat) {
          if (call.kind == CallKind::conv2d)
            kernels::conv2d_segmented(call.window, call.input, call.segmented, call.bias, call.rectifier,
                                      call.output, call.accumulate);
          else if (call.kind == CallKind::depthwise_conv2d)
            kernels::depthwise_conv2d_segmented(call.window, call.input, call.segmented, call.bias,
                                                call.rectifier, call.output);
          else
            kernels::dense_segmented(call.dense_input, call.segmented, call.bias, call.rectifier,
                                     call.output.data);
        }
        times[index].push_back((thread_seconds() - start) / 20);
      }
    std::cout << "\nThe full " << bench.names[model] << ", per layer (us): ours";
#ifdef REDS_HAVE_ONEDNN
    std::cout << ", oneDNN";
    Level* entry = nullptr;
    for (Level& level : bench.levels)
      if (bench.model_of[static_cast<std::size_t>(&level - bench.levels.data())] == model &&
          level.level == full)
        entry = &level;
    const auto theirs = static_cast<OneDnn*>(entry->engines.back().get())->step_times(input, 21);
#endif
    std::cout << '\n';
    std::size_t unit = 0;
    for (std::size_t index = 0; index < calls.size(); ++index) {
      if (times[index].empty()) continue;
      const kernels::Window& window = calls[index].window;
      std::cout << std::fixed << std::setprecision(2) << "  " << std::setw(3) << unit << ' ' << std::setw(9)
                << (calls[index].kind == CallKind::depthwise_conv2d ? "depthwise"
                    : calls[index].kind == CallKind::dense          ? "dense"
                                                                    : "conv")
                << ' ' << window.kernel_height << 'x' << window.kernel_width << "/" << window.stride_height
                << ' ' << window.in_height << 'x' << window.in_width << 'x' << calls[index].input.channels
                << " -> " << calls[index].output.channels << std::setw(10) << median(times[index]) * 1e6;
#ifdef REDS_HAVE_ONEDNN
      // oneDNN's steps follow the unit layers one to one (rectifiers fused, pools and softmax after).
      std::size_t seen = 0;
      for (const auto& [name, time] : theirs) {
        const Layer* layer = nullptr;
        for (const Layer& candidate : bench.planned[model].layers)
          if (candidate.name == name) layer = &candidate;
        if (!layer || (layer->kind != LayerKind::conv2d && layer->kind != LayerKind::depthwise_conv2d &&
                       layer->kind != LayerKind::dense))
          continue;
        if (seen++ == unit) std::cout << std::setw(10) << time * 1e6 << "  " << name;
      }
#endif
      std::cout << '\n';
      ++unit;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int repetitions = 21;
  std::int64_t block = 8;
  bool layers = false;
  std::vector<std::string> names = {"ds_cnn_s_fmnist", "ds_cnn_l",       "dnn_s",
                                    "vww_96",          "resnet8_mlperf", "mobilenet_v2_035_96"};
  for (int arg = 1; arg < argc; ++arg) {
    const std::string flag = argv[arg];
    const auto value = [&]() -> std::string {
      if (arg + 1 >= argc) fail(flag + " needs a value");
      return argv[++arg];
    };
    if (flag == "--help" || flag == "-h") {
      std::cout
          << "Usage: reds_engine_anchors [--repetitions N] [--block B] [--layers] [--models a,b,...]\n"
             "The engine, XNNPACK and oneDNN on the same networks and level widths, one thread, batch 1:\n"
             "outputs checked equal, then the median time per image of N interleaved repetitions\n"
             "(default 21) and its ratio to ours; --layers adds the full networks' per-layer times.\n"
             "Models (default all): ds_cnn_s_fmnist, ds_cnn_l, dnn_s, vww_96, resnet8_mlperf,\n"
             "mobilenet_v2_035_96 (and any bundled architecture name); plans in widths of multiples of B\n"
             "(default 8).\n";
      return 0;
    }
    if (flag == "--repetitions") {
      repetitions = std::max(1, std::atoi(value().c_str()));
    } else if (flag == "--block") {
      block = std::max<std::int64_t>(1, std::atoll(value().c_str()));
    } else if (flag == "--layers") {
      layers = true;
    } else if (flag == "--models") {
      names.clear();
      std::stringstream list(value());
      for (std::string name; std::getline(list, name, ',');) names.push_back(name);
    } else {
      fail("usage: reds_engine_anchors [--repetitions N] [--block B] [--layers] [--models a,b,...]");
    }
  }
#ifdef REDS_HAVE_ONEDNN
  omp_set_num_threads(1);  // oneDNN's OpenMP runtime; the engine and XNNPACK (no thread pool) run one thread
#endif
  Bench bench;
  bench.engine_names.push_back("ours");
#ifdef REDS_HAVE_XNNPACK
  bench.engine_names.push_back("XNNPACK");
#endif
#ifdef REDS_HAVE_ONEDNN
  bench.engine_names.push_back("oneDNN");
#endif
  for (const std::string& name : names) add_model(bench, name, block);
  std::cout << "Outputs of every level equal ours within " << kTolerance << " on 3 random images ("
            << bench.engine_names.size() << " engines, plan block " << block << ").\n";
  measure(bench, repetitions);
  print_table(bench, repetitions);
  if (layers) print_layers(bench);
  return 0;
}
