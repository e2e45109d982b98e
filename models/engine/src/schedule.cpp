#include "schedule.h"

namespace reds::engine::detail {

namespace {

models::ScheduledKind scheduled_kind(const Layer& layer) {
  switch (layer.kind) {
    case LayerKind::conv2d:
      return layer.groups == 1 ? models::ScheduledKind::convolution
                               : models::ScheduledKind::grouped_convolution;
    case LayerKind::depthwise_conv2d:
      return layer.depth_multiplier == 1 ? models::ScheduledKind::depthwise_convolution
                                         : models::ScheduledKind::grouped_convolution;
    case LayerKind::dense:
      return models::ScheduledKind::dense;
    case LayerKind::rectifier:
      return models::ScheduledKind::rectifier;
    case LayerKind::softmax:
      return models::ScheduledKind::softmax;
    case LayerKind::add:
      return models::ScheduledKind::addition;
    case LayerKind::average_pool2d:
    case LayerKind::max_pool2d:
    case LayerKind::global_average_pool2d:
      return models::ScheduledKind::pool;
    case LayerKind::zero_padding2d:
      return models::ScheduledKind::zero_padding;
    case LayerKind::flatten:
      break;
  }
  return models::ScheduledKind::flatten;
}

CallKind call_kind(const Layer& layer) {
  switch (layer.kind) {
    case LayerKind::conv2d:
      return CallKind::conv2d;
    case LayerKind::depthwise_conv2d:
      // A depth multiplier above 1 is the grouped convolution with one group per input channel.
      return layer.depth_multiplier == 1 ? CallKind::depthwise_conv2d : CallKind::conv2d;
    case LayerKind::dense:
      return CallKind::dense;
    case LayerKind::rectifier:
      return CallKind::rectifier;
    case LayerKind::softmax:
      return CallKind::softmax;
    case LayerKind::add:
      return CallKind::add;
    case LayerKind::average_pool2d:
      return CallKind::average_pool2d;
    case LayerKind::max_pool2d:
      return CallKind::max_pool2d;
    case LayerKind::global_average_pool2d:
      return CallKind::global_average_pool2d;
    case LayerKind::zero_padding2d:
    case LayerKind::flatten:  // never a call of its own
      break;
  }
  return CallKind::zero_padding2d;
}

}  // namespace

std::vector<models::ScheduledLayer> scheduled_layers(const Model& model) {
  std::vector<models::ScheduledLayer> layers;
  for (std::size_t index = 0; index < model.layers.size(); ++index)
    layers.push_back({scheduled_kind(model.layers[index]), layer_inputs(model, index), std::nullopt});
  return layers;
}

BufferPlan schedule(const Model& model) {
  models::LayerSchedule scheduled = models::schedule_layers(scheduled_layers(model));
  BufferPlan plan;
  plan.buffer_count = scheduled.buffer_count;
  plan.output_buffer = scheduled.output_buffer;
  for (models::LayerCall& call : scheduled.calls) {
    const CallKind kind = call_kind(model.layers[call.layer]);
    plan.calls.push_back({std::move(call), kind});
  }
  return plan;
}

}  // namespace reds::engine::detail
