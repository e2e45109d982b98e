#include "reds/engine/planning.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>

#include "channel_streams.h"
#include "level_shapes.h"
#include "reds/json.h"
#include "reds/models/layer_schedule.h"
#include "reds/plan.h"
#include "schedule.h"

namespace reds::engine {

namespace {

constexpr std::int64_t kFloatBytes = 4;

// The resources of a request and how they aggregate, as reds::models' architectures price them.
const std::map<std::string, Aggregation>& priced_resources() {
  static const std::map<std::string, Aggregation> kResources = {{"macs", Aggregation::sum},
                                                                {"params", Aggregation::sum},
                                                                {"activation", Aggregation::max},
                                                                {"output_activation", Aggregation::max}};
  return kResources;
}

std::string describe(const Layer& layer) {
  return "layer '" + layer.name + "' (" + to_string(layer.kind) + ")";
}

// The shape of the map a layer reads (an addition's first operand; the model's input is tensor 0).
const Shape& input_of(const Model& model, const std::vector<Shape>& shapes, std::size_t index) {
  const std::size_t tensor = layer_inputs(model, index)[0];
  return tensor == 0 ? model.input : shapes[tensor - 1];
}

std::vector<std::int64_t> identity(std::int64_t size) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

bool is_identity(const std::vector<std::int64_t>& order) {
  for (std::size_t i = 0; i < order.size(); ++i)
    if (order[i] != static_cast<std::int64_t>(i)) return false;
  return true;
}

// What the plan contract cannot describe and a permutation cannot move: checked for request and apply.
std::optional<Error> check_plannable(const Layer& layer) {
  if (layer.kind == LayerKind::conv2d && layer.groups > 1)
    return invalid_argument(describe(layer) + " is a grouped convolution (" + std::to_string(layer.groups) +
                            " groups), which the engine cannot narrow or reorder");
  if (layer.kind == LayerKind::depthwise_conv2d && layer.depth_multiplier != 1)
    return invalid_argument(
        describe(layer) + " has depth multiplier " + std::to_string(layer.depth_multiplier) +
        "; a tied layer of the plan contract has exactly its input's width (multiplier 1)");
  return std::nullopt;
}

std::optional<Error> check_options(const Model& model, const RequestOptions& options) {
  if (!(options.min_width_fraction >= 0.0 && options.min_width_fraction <= 1.0))
    return invalid_argument("the minimum width fraction must be between 0 and 1, got " +
                            std::to_string(options.min_width_fraction));
  if (options.block < 1)
    return invalid_argument("the block must be at least 1, got " + std::to_string(options.block));
  if (options.fractions.empty()) return invalid_argument("give at least one level fraction");
  for (const double fraction : options.fractions)
    if (!(fraction > 0.0 && fraction <= 1.0))
      return invalid_argument("a level fraction must be in (0, 1], got " + std::to_string(fraction));
  if (!priced_resources().contains(options.resource)) {
    std::string names;
    for (const auto& [name, aggregation] : priced_resources()) names += (names.empty() ? "" : ", ") + name;
    return invalid_argument("unknown resource '" + options.resource + "'; the request prices " + names);
  }
  const auto find_unit_layer = [&](const std::string& name) -> const Layer* {
    for (const Layer& layer : model.layers)
      if (layer.name == name && detail::is_unit_layer(layer.kind)) return &layer;
    return nullptr;
  };
  for (const std::string& name : options.fixed) {
    const Layer* layer = find_unit_layer(name);
    if (!layer)
      return invalid_argument("'" + name + "' is not a Conv2D, DepthwiseConv2D or Dense layer of the model");
    if (layer->kind == LayerKind::depthwise_conv2d)
      return invalid_argument(describe(*layer) +
                              " cannot be fixed: it takes the width of the layer before it");
  }
  for (const auto& [name, scores] : options.importance) {
    const Layer* layer = find_unit_layer(name);
    if (!layer)
      return invalid_argument("importance given for '" + name +
                              "', which is not a Conv2D, DepthwiseConv2D or Dense layer of the model");
    if (!std::all_of(scores.begin(), scores.end(),
                     [](double score) { return std::isfinite(score) && score >= 0; }))
      return invalid_argument("the importance of '" + name + "' must be finite and non-negative");
  }
  return std::nullopt;
}

// The request's layer for a unit layer: units and costs from the shapes around it (activation comes from
// the schedule, reds/models/layer_schedule.h). `channels` is the channel count of the map it reads before
// any Flatten (after Flatten, features = positions x channels).
reds::Layer request_layer(const Layer& layer, const Shape& input, const Shape& output,
                          std::int64_t channels) {
  reds::Layer entry;
  entry.name = layer.name;
  entry.units = output.channels;
  const std::int64_t taps = layer.kernel_height * layer.kernel_width;
  const std::int64_t out_positions = output.height * output.width;
  const std::int64_t has_bias = layer.bias.empty() ? 0 : 1;
  CostTerms& macs = entry.cost["macs"];
  CostTerms& params = entry.cost["params"];
  switch (layer.kind) {
    case LayerKind::conv2d:
      // Every kept filter convolves every kept input channel at every output position.
      macs.unit_input = taps * out_positions;
      params.unit_input = taps;
      params.unit = has_bias;
      break;
    case LayerKind::depthwise_conv2d:
      // A channel reads its own input channel only: its cost does not couple to the input width.
      macs.unit = taps * out_positions;
      params.unit = taps + has_bias;
      break;
    default: {  // dense: every kept channel of the map it reads contributes `positions` inputs
      const std::int64_t positions = input.channels / channels;
      macs.unit_input = positions;
      params.unit_input = positions;
      params.unit = has_bias;
      break;
    }
  }
  entry.cost["output_activation"].unit = kFloatBytes * out_positions;
  return entry;
}

// Where every map's width comes from: tensor 0 is the model's input, tensor i + 1 the output of layer i.
struct TensorWidths {
  // The request layer whose kept width is the map's channel count (the last of them, through additions,
  // activations, pools and padding); none for the model's input.
  std::vector<std::optional<std::size_t>> source;
  std::vector<std::int64_t> channels;  // the source's channels (the map's own before any Flatten)
};

// Reorders the last dimension (`units` wide) of `values` by `order` and the dimension before it (`rows`
// wide, of which rows are permuted by `row_order`, empty for none): new[.., r, u] = old[.., row_order[r],
// order[u]].
std::vector<float> permuted(const std::vector<float>& values, std::int64_t rows,
                            const std::vector<std::int64_t>& row_order, std::int64_t units,
                            const std::vector<std::int64_t>& order) {
  std::vector<float> result(values.size());
  const std::int64_t blocks = static_cast<std::int64_t>(values.size()) / (rows * units);
  for (std::int64_t block = 0; block < blocks; ++block)
    for (std::int64_t row = 0; row < rows; ++row) {
      const std::int64_t from_row = row_order.empty() ? row : row_order[static_cast<std::size_t>(row)];
      const float* from = values.data() + (block * rows + from_row) * units;
      float* to = result.data() + (block * rows + row) * units;
      for (std::int64_t unit = 0; unit < units; ++unit)
        to[unit] = from[order[static_cast<std::size_t>(unit)]];
    }
  return result;
}

std::vector<float> permuted_bias(const std::vector<float>& bias, const std::vector<std::int64_t>& order) {
  if (bias.empty()) return bias;
  return permuted(bias, 1, {}, static_cast<std::int64_t>(bias.size()), order);
}

}  // namespace

std::vector<double> l1_importance(const Layer& layer) {
  std::int64_t units = 0;
  if (layer.kind == LayerKind::conv2d || layer.kind == LayerKind::dense) units = layer.units;
  // A depthwise kernel is [taps][channels x multiplier].
  if (layer.kind == LayerKind::depthwise_conv2d)
    units = static_cast<std::int64_t>(layer.kernel.size()) / (layer.kernel_height * layer.kernel_width);
  std::vector<double> importance(static_cast<std::size_t>(units), 0.0);
  if (units == 0) return importance;
  // Every layout (Keras': [...][units]) has the unit as its fastest dimension.
  for (std::size_t i = 0; i < layer.kernel.size(); ++i)
    importance[i % importance.size()] += std::abs(static_cast<double>(layer.kernel[i]));
  return importance;
}

Result<PlanRequest> plan_request(const Model& model, const RequestOptions& options) {
  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  if (!shapes) return shapes.error();
  if (auto error = check_options(model, options)) return *error;

  PlanRequest request;
  Network& network = request.network;
  network.name = model.name.empty() ? "model" : model.name;
  network.inputs = model.input.channels;
  network.resources = priced_resources();
  const auto shape_of = [&](std::size_t tensor) -> const Shape& {
    return tensor == 0 ? model.input : (*shapes)[tensor - 1];
  };
  TensorWidths widths{{std::nullopt}, {model.input.channels}};
  std::vector<std::optional<std::size_t>> request_of(model.layers.size());
  // One `stream` per channel group of two or more members (channel_streams.h), one width per group.
  const detail::ChannelStreams streams = detail::channel_streams(model);
  std::vector<std::size_t> group_of;  // per request layer
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    const std::vector<std::size_t> inputs = layer_inputs(model, index);
    std::optional<std::size_t> source = widths.source[inputs[0]];
    std::int64_t channels = widths.channels[inputs[0]];
    if (layer.kind == LayerKind::add)
      for (const std::size_t tensor : inputs) source = std::max(source, widths.source[tensor]);
    if (detail::is_unit_layer(layer.kind)) {
      if (auto error = check_plannable(layer)) return *error;
      reds::Layer entry = request_layer(layer, shape_of(inputs[0]), (*shapes)[index], channels);
      const auto given = options.importance.find(layer.name);
      entry.importance = given != options.importance.end() ? given->second : l1_importance(layer);
      if (static_cast<std::int64_t>(entry.importance.size()) != entry.units)
        return invalid_argument("the importance of '" + layer.name + "' has " +
                                std::to_string(entry.importance.size()) + " scores for " +
                                std::to_string(entry.units) + " units");
      const std::size_t position = network.layers.size();
      group_of.push_back(streams.group_of_layer(index));
      // The width it reads is the previous request layer's (the contract's default k_in).
      const bool reads_previous =
          position > 0 && streams.group_of_tensor[inputs[0]] == group_of[position - 1] && source;
      if (layer.kind == LayerKind::depthwise_conv2d) {
        // Tied to the unit layer before it; reading the model's input (never pruned) it keeps its width.
        entry.tied = position > 0;
        entry.prunable = entry.tied;
        if (entry.tied && !reads_previous)
          return invalid_argument(describe(layer) +
                                  " reads a map other than the previous unit layer's; a tied layer of the "
                                  "plan contract follows the layer before it");
      } else {
        entry.prunable =
            std::find(options.fixed.begin(), options.fixed.end(), layer.name) == options.fixed.end();
        if (position > 0 && !source)
          return invalid_argument(describe(layer) +
                                  " reads the model's input, but is not its first unit layer");
        if (position > 0 && !reads_previous)
          entry.input = network.layers[*source].name;  // a shortcut projection
      }
      network.layers.push_back(std::move(entry));
      request_of[index] = position;
      source = position;
      channels = (*shapes)[index].channels;
    } else if (layer.kind == LayerKind::global_average_pool2d) {
      channels = (*shapes)[index].channels;
    }
    widths.source.push_back(source);
    widths.channels.push_back(channels);
  }
  if (network.layers.empty())
    return invalid_argument("the model has no Conv2D, DepthwiseConv2D or Dense layer to plan");
  // The classifier's outputs are the classes: the last unit layer is never narrowed (a tied one through
  // the layer it follows).
  const auto classifier = std::find_if(network.layers.rbegin(), network.layers.rend(),
                                       [](const reds::Layer& layer) { return !layer.tied; });
  classifier->prunable = false;

  // Streams: groups of two or more untied layers, named after their first member, which states prunable,
  // min_units and block for all: pinned when any member is, or when the model's input is added to them.
  std::map<std::size_t, std::vector<std::size_t>> members;
  for (std::size_t layer = 0; layer < network.layers.size(); ++layer)
    if (!network.layers[layer].tied) members[group_of[layer]].push_back(layer);
  for (const auto& [group, layers] : members) {
    reds::Layer& first = network.layers[layers.front()];
    if (streams.groups[group].model_input) first.prunable = false;
    if (layers.size() < 2) continue;
    for (const std::size_t layer : layers) {
      first.prunable = first.prunable && network.layers[layer].prunable;
      network.layers[layer].stream = first.name;
    }
    for (const std::size_t layer : layers)
      if (layer != layers.front()) network.layers[layer].prunable = true;
  }
  for (reds::Layer& entry : network.layers) {
    if (entry.tied || !entry.prunable || (entry.stream && *entry.stream != entry.name)) continue;
    entry.block = std::min(options.block, entry.units);
    const auto floor =
        static_cast<std::int64_t>(std::ceil(options.min_width_fraction * static_cast<double>(entry.units)));
    entry.min_units = std::clamp<std::int64_t>(floor, 1, entry.units);
  }

  // Peak activation: the maps in memory during every call the session makes.
  std::vector<models::ScheduledLayer> scheduled = detail::scheduled_layers(model);
  for (std::size_t index = 0; index < model.layers.size(); ++index)
    scheduled[index].request_layer = request_of[index];
  std::vector<models::LiveMap> maps;
  for (std::size_t tensor = 0; tensor <= model.layers.size(); ++tensor) {
    const std::int64_t bytes = kFloatBytes * shape_of(tensor).size();
    maps.push_back(widths.source[tensor]
                       ? models::LiveMap{widths.source[tensor], bytes / widths.channels[tensor]}
                       : models::LiveMap{std::nullopt, bytes});
  }
  if (auto error = models::set_scheduled_activation(network, scheduled, maps)) return *error;

  for (const double fraction : options.fractions)
    request.levels.push_back(Level{{{options.resource, Limit::of_fraction(fraction)}}});
  request.strategy = options.strategy;
  request.objective = options.objective;
  if (auto error = reds::validate(request)) return *error;
  return request;
}

Result<Model> permute_units(const Model& model, const UnitOrders& orders) {
  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  if (!shapes) return shapes.error();
  for (const auto& [name, order] : orders) {
    // An init-capture: clang 14 (the fuzz build's compiler) cannot capture a structured binding.
    const auto layer =
        std::find_if(model.layers.begin(), model.layers.end(),
                     [&layer_name = name](const Layer& candidate) { return candidate.name == layer_name; });
    if (layer == model.layers.end() || !detail::is_unit_layer(layer->kind))
      return invalid_argument("'" + name + "' is not a Conv2D, DepthwiseConv2D or Dense layer of the model");
    const std::int64_t units = (*shapes)[static_cast<std::size_t>(layer - model.layers.begin())].channels;
    std::vector<bool> seen(static_cast<std::size_t>(units), false);
    for (const std::int64_t unit : order) {
      if (unit < 0 || unit >= units || seen[static_cast<std::size_t>(unit)])
        return invalid_argument("the order of " + describe(*layer) + " is not a permutation of its " +
                                std::to_string(units) + " units (entry " + std::to_string(unit) + ")");
      seen[static_cast<std::size_t>(unit)] = true;
    }
    if (static_cast<std::int64_t>(order.size()) != units)
      return invalid_argument("the order of " + describe(*layer) + " has " + std::to_string(order.size()) +
                              " entries for its " + std::to_string(units) + " units");
  }

  // One order per channel group (channel_streams.h): the order of its first named member, which every
  // other named member must repeat; the identity for a group nobody names or that holds the model's input.
  const detail::ChannelStreams streams = detail::channel_streams(model);
  std::vector<const Layer*> named_by(streams.groups.size(), nullptr);
  std::vector<std::vector<std::int64_t>> group_order(streams.groups.size());
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    const auto named = orders.find(layer.name);
    if (named == orders.end() || (layer.kind != LayerKind::conv2d && layer.kind != LayerKind::dense))
      continue;
    const std::size_t group = streams.group_of_layer(index);
    if (streams.groups[group].model_input && !is_identity(named->second))
      return invalid_argument(describe(layer) + "'s output is added to the model's input ('" +
                              model.layers[*streams.groups[group].addition].name +
                              "'): it keeps the input's channel order");
    if (!named_by[group]) {
      named_by[group] = &layer;
      group_order[group] = named->second;
    } else if (named->second != group_order[group]) {
      return invalid_argument(describe(layer) + " is in one stream with '" + named_by[group]->name +
                              "' (their outputs are added by '" +
                              model.layers[*streams.groups[group].addition].name +
                              "'): the layers of one stream take one unit order");
    }
  }

  Model result = model;
  result.plan.reset();
  // Per tensor (0: the input, i + 1: layers[i]'s output), the order of its channels (of its features, once
  // flat): new channel c is old channel tensor_order[t][c].
  std::vector<std::vector<std::int64_t>> tensor_order(model.layers.size() + 1);
  tensor_order[0] = identity(model.input.channels);
  const Layer* last_unit_layer = nullptr;
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    Layer& target = result.layers[index];
    const std::vector<std::size_t> inputs = layer_inputs(model, index);
    const std::vector<std::int64_t>& channel_order = tensor_order[inputs[0]];
    std::vector<std::int64_t>& output_order = tensor_order[index + 1];
    const Shape& input = input_of(model, shapes.value(), index);
    const Shape& output = (*shapes)[index];
    const auto named = orders.find(layer.name);
    if (layer.kind == LayerKind::conv2d || layer.kind == LayerKind::dense) {
      const std::vector<std::int64_t>& order = group_order[streams.group_of_layer(index)];
      output_order = order.empty() ? identity(output.channels) : order;
    } else {
      output_order = channel_order;  // per channel, or followed (depthwise); Flatten expands it below
    }
    if (detail::is_unit_layer(layer.kind)) {
      last_unit_layer = &layer;
      if (auto error = check_plannable(layer);
          error && !(is_identity(channel_order) && is_identity(output_order)))
        return *error;
    }
    switch (layer.kind) {
      case LayerKind::conv2d:
        if (layer.groups > 1) break;  // both orders are the identity (checked above)
        target.kernel = permuted(layer.kernel, input.channels, channel_order, layer.units, output_order);
        target.bias = permuted_bias(layer.bias, output_order);
        break;
      case LayerKind::depthwise_conv2d:
        if (named != orders.end() && named->second != channel_order)
          return invalid_argument(
              describe(layer) + " is tied to its input: its order must be the order of the layer before it");
        if (layer.depth_multiplier > 1) break;  // the identity (checked above)
        target.kernel = permuted(layer.kernel, 1, {}, input.channels, channel_order);
        target.bias = permuted_bias(layer.bias, channel_order);
        break;
      case LayerKind::dense:
        target.kernel = permuted(layer.kernel, input.channels, channel_order, layer.units, output_order);
        target.bias = permuted_bias(layer.bias, output_order);
        break;
      case LayerKind::flatten:
        if (input.flat) break;
        {
          // NHWC: feature (pixel p, channel c) is p * C + c; every pixel's channels move alike.
          std::vector<std::int64_t> features;
          features.reserve(static_cast<std::size_t>(output.channels));
          for (std::int64_t pixel = 0; pixel < input.height * input.width; ++pixel)
            for (const std::int64_t channel : channel_order)
              features.push_back(pixel * input.channels + channel);
          output_order = std::move(features);
        }
        break;
      case LayerKind::add:
        // Operands of one group share its order; a flat map added to another that is not flattened alike
        // (or to the input) would not.
        for (const std::size_t tensor : inputs)
          if (tensor_order[tensor] != channel_order)
            return invalid_argument(describe(layer) +
                                    " adds maps that these orders would reorder differently");
        break;
      case LayerKind::rectifier:
      case LayerKind::average_pool2d:
      case LayerKind::max_pool2d:
      case LayerKind::global_average_pool2d:
      case LayerKind::softmax:
      case LayerKind::zero_padding2d:
        break;  // per channel: the order passes through
    }
  }
  if (!is_identity(tensor_order.back()))
    return invalid_argument("the order of " + (last_unit_layer ? describe(*last_unit_layer) : "the input") +
                            " would reorder the model's outputs; the output layer keeps its unit order");
  return result;
}

Result<Model> apply_plan(const Model& model, const PlanResult& plan) {
  if (plan.order.size() != plan.layer_names.size())
    return invalid_argument("the plan has " + std::to_string(plan.order.size()) + " unit orders for its " +
                                std::to_string(plan.layer_names.size()) + " layers",
                            "/order");
  UnitOrders orders;
  for (std::size_t entry = 0; entry < plan.layer_names.size(); ++entry)
    if (!orders.emplace(plan.layer_names[entry], plan.order[entry]).second)
      return invalid_argument("the plan names layer '" + plan.layer_names[entry] + "' twice",
                              "/order/" + plan.layer_names[entry]);
  Result<Model> permuted_model = permute_units(model, orders);
  if (!permuted_model) return permuted_model.error();

  PlanResult embedded = plan;
  for (std::vector<std::int64_t>& order : embedded.order)
    order = identity(static_cast<std::int64_t>(order.size()));
  if (auto error = attach_plan(permuted_model.value(), embedded)) return *error;
  // The response's writer knows no applied_order: it follows the last field of its compact object.
  nlohmann::ordered_json applied = nlohmann::ordered_json::object();
  for (std::size_t entry = 0; entry < plan.layer_names.size(); ++entry)
    applied[plan.layer_names[entry]] = plan.order[entry];
  std::string& json = permuted_model.value().plan->json;
  json.pop_back();
  json += ",\"applied_order\":" + applied.dump() + "}";
  return permuted_model;
}

}  // namespace reds::engine
