#include "reds/engine/session.h"

#include <algorithm>
#include <optional>

#include "level_shapes.h"

namespace reds::engine {

namespace {

using detail::LevelShape;

// What one call computes: the layer it runs, and a rectifier layer right after it, fused into its stores.
struct Schedule {
  std::size_t layer = 0;
  std::optional<std::size_t> fused_rectifier;
  CallKind kind = CallKind::rectifier;
  bool in_place = false;
  int input_buffer = 0;
  int output_buffer = 0;
};

std::vector<Schedule> schedule(const std::vector<Layer>& layers) {
  std::vector<Schedule> calls;
  int current = 0;  // the buffer that holds the map so far; the input is copied into buffer 0
  for (std::size_t index = 0; index < layers.size(); ++index) {
    Schedule call;
    call.layer = index;
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
        call.in_place = true;
        break;
      case LayerKind::softmax:
        call.kind = CallKind::softmax;
        call.in_place = true;
        break;
      case LayerKind::average_pool2d:
        call.kind = CallKind::average_pool2d;
        break;
      case LayerKind::global_average_pool2d:
        call.kind = CallKind::global_average_pool2d;
        break;
      case LayerKind::flatten:
        continue;  // NHWC order is already the flat order
    }
    const bool fusable = call.kind == CallKind::conv2d || call.kind == CallKind::depthwise_conv2d ||
                         call.kind == CallKind::dense;
    if (fusable && index + 1 < layers.size() && layers[index + 1].kind == LayerKind::rectifier)
      call.fused_rectifier = ++index;
    call.input_buffer = current;
    call.output_buffer = call.in_place ? current : 1 - current;
    current = call.output_buffer;
    calls.push_back(call);
  }
  return calls;
}

kernels::Window window_of(const Layer& layer, const Shape& input, const Shape& output) {
  kernels::Window window;
  window.in_height = input.height;
  window.in_width = input.width;
  window.out_height = output.height;
  window.out_width = output.width;
  window.kernel_height = layer.kernel_height;
  window.kernel_width = layer.kernel_width;
  window.stride_height = layer.stride_height;
  window.stride_width = layer.stride_width;
  window.dilation_height = layer.dilation_height;
  window.dilation_width = layer.dilation_width;
  window.pad_top = kernels::axis_geometry(input.height, layer.kernel_height, layer.stride_height,
                                          layer.dilation_height, layer.padding)
                       .pad_before;
  window.pad_left = kernels::axis_geometry(input.width, layer.kernel_width, layer.stride_width,
                                           layer.dilation_width, layer.padding)
                        .pad_before;
  return window;
}

}  // namespace

Result<Session> Session::create(const Model& model) {
  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  if (!shapes) return shapes.error();
  if (auto error = validate(model)) return *error;

  Session session;
  session.layers_ = model.layers;
  session.input_shape_ = model.input;
  session.output_size_ = shapes->back().size();
  std::int64_t largest = model.input.size();
  for (const Shape& shape : shapes.value()) largest = std::max(largest, shape.size());
  for (std::vector<float>& buffer : session.buffers_) buffer.assign(static_cast<std::size_t>(largest), 0.0f);

  const std::vector<Schedule> calls = schedule(session.layers_);
  session.calls_per_level_ = calls.size();
  session.output_ = session.buffers_[calls.empty() ? 0 : calls.back().output_buffer].data();
  const std::size_t levels = model.plan ? model.plan->widths.size() : 1;
  for (std::size_t level = 0; level < levels; ++level) {
    std::optional<std::vector<std::int64_t>> widths;
    if (model.plan) {
      Result<std::vector<std::int64_t>> planned = detail::plan_widths(model, *model.plan, level);
      if (!planned) return planned.error();
      widths = std::move(planned).value();
    }
    const Result<std::vector<LevelShape>> level_shapes = detail::level_shapes(model, shapes.value(), widths);
    if (!level_shapes) return level_shapes.error();

    LevelInfo info;
    for (std::size_t index = 0; index < model.layers.size(); ++index) {
      const Layer& layer = model.layers[index];
      if (!detail::is_unit_layer(layer.kind)) continue;
      info.widths.emplace_back(layer.name, (*level_shapes)[index + 1].channels);
      info.macs += detail::layer_macs(layer, (*level_shapes)[index], (*level_shapes)[index + 1]);
    }
    session.infos_.push_back(std::move(info));

    for (const Schedule& scheduled : calls) {
      const Layer& layer = session.layers_[scheduled.layer];
      const LevelShape& in = (*level_shapes)[scheduled.layer];
      const LevelShape& out = (*level_shapes)[scheduled.layer + 1];
      float* input_data = session.buffers_[scheduled.input_buffer].data();
      float* output_data = session.buffers_[scheduled.output_buffer].data();
      KernelCall call;
      call.kind = scheduled.kind;
      call.window = window_of(layer, in.full, out.full);
      call.input = {input_data, in.channels, in.channels};
      call.output = {output_data, out.channels, out.channels};
      call.bias = layer.bias.empty() ? nullptr : layer.bias.data();
      if (scheduled.fused_rectifier) call.rectifier = &session.layers_[*scheduled.fused_rectifier].rectifier;
      switch (scheduled.kind) {
        case CallKind::conv2d:
          if (layer.kind == LayerKind::depthwise_conv2d) {
            // Depth multiplier m: the grouped convolution with one group of m outputs per input channel.
            call.weights = {layer.kernel.data(), in.full.channels * layer.depth_multiplier, 1};
            call.groups = in.channels;
          } else {
            call.weights = {layer.kernel.data(), layer.units, in.full.channels / layer.groups};
            call.groups = layer.groups;
          }
          break;
        case CallKind::depthwise_conv2d:
          call.weights = {layer.kernel.data(), in.full.channels, 1};
          break;
        case CallKind::dense:
          call.weights = {layer.kernel.data(), layer.units, 0};
          call.dense_input = {input_data, in.groups, in.group_features, in.group_stride};
          break;
        case CallKind::rectifier:
          call.rectifier = &layer.rectifier;
          break;
        case CallKind::softmax:
        case CallKind::average_pool2d:
        case CallKind::global_average_pool2d:
          break;
      }
      session.calls_.push_back(call);
    }
  }
  session.set_level(0);
  return session;
}

std::span<const float> Session::run(std::span<const float> input) {
  if (static_cast<std::int64_t>(input.size()) != input_size()) return {};
  std::copy(input.begin(), input.end(), buffers_[0].begin());
  for (const KernelCall* call = active_; call != active_ + calls_per_level_; ++call) {
    const kernels::Window& window = call->window;
    const std::int64_t pixels = window.out_height * window.out_width;
    switch (call->kind) {
      case CallKind::conv2d:
        kernels::conv2d(window, call->input, call->weights, call->bias, call->groups, call->rectifier,
                        call->output);
        break;
      case CallKind::depthwise_conv2d:
        kernels::depthwise_conv2d(window, call->input, call->weights.data, call->weights.row_stride,
                                  call->bias, call->rectifier, call->output);
        break;
      case CallKind::dense:
        kernels::dense(call->dense_input, call->weights.data, call->weights.row_stride, call->bias,
                       call->output.channels, call->rectifier, call->output.data);
        break;
      case CallKind::rectifier:
        kernels::rectify(*call->rectifier, call->output.data, pixels * call->output.channels);
        break;
      case CallKind::softmax:
        kernels::softmax(call->output.data, pixels, call->output.channels);
        break;
      case CallKind::average_pool2d:
        kernels::average_pool2d(window, call->input, call->output);
        break;
      case CallKind::global_average_pool2d:
        kernels::global_average_pool2d(call->input, window.in_height * window.in_width, call->output.data);
        break;
    }
  }
  return {output_, static_cast<std::size_t>(output_size_)};
}

bool Session::run_batch(std::span<const float> inputs, std::span<float> outputs) {
  const auto in_size = static_cast<std::size_t>(input_size());
  const auto out_size = static_cast<std::size_t>(output_size_);
  if (inputs.size() % in_size != 0 || outputs.size() != inputs.size() / in_size * out_size) return false;
  for (std::size_t image = 0; image < inputs.size() / in_size; ++image) {
    const std::span<const float> result = run(inputs.subspan(image * in_size, in_size));
    std::copy(result.begin(), result.end(), outputs.begin() + static_cast<std::ptrdiff_t>(image * out_size));
  }
  return true;
}

}  // namespace reds::engine
