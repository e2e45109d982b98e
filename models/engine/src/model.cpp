#include "reds/engine/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "channel_streams.h"
#include "kernels.h"
#include "level_shapes.h"
#include "reds/json.h"

namespace reds::engine {

namespace {

// Every dimension and element count a model may have; larger is an input error (keeps products exact).
constexpr std::int64_t kMaxElements = std::int64_t{1} << 32;

std::string describe(const Layer& layer) {
  return "layer '" + layer.name + "' (" + to_string(layer.kind) + ")";
}

Error layer_error(const Layer& layer, const std::string& message) {
  return invalid_argument(describe(layer) + ": " + message);
}

// a * b * ..., or -1 when a factor is below 1 or the product exceeds kMaxElements.
std::int64_t bounded_product(std::initializer_list<std::int64_t> factors) {
  std::int64_t product = 1;
  for (const std::int64_t factor : factors) {
    if (factor < 1 || factor > kMaxElements) return -1;
    if (__builtin_mul_overflow(product, factor, &product) || product > kMaxElements) return -1;
  }
  return product;
}

std::optional<Error> check_weights(const Layer& layer, std::int64_t kernel_size, std::int64_t outputs) {
  if (static_cast<std::int64_t>(layer.kernel.size()) != kernel_size)
    return layer_error(layer, "has " + std::to_string(layer.kernel.size()) + " kernel weights, expected " +
                                  std::to_string(kernel_size));
  if (!layer.bias.empty() && static_cast<std::int64_t>(layer.bias.size()) != outputs)
    return layer_error(layer, "has " + std::to_string(layer.bias.size()) + " biases, expected " +
                                  std::to_string(outputs) + " (or none)");
  const auto finite = [](float value) { return std::isfinite(value); };
  if (!std::all_of(layer.kernel.begin(), layer.kernel.end(), finite) ||
      !std::all_of(layer.bias.begin(), layer.bias.end(), finite))
    return layer_error(layer, "has a weight that is NaN or infinite");
  return std::nullopt;
}

// The output shape of a sliding window, or an error naming the layer.
Result<Shape> window_output(const Layer& layer, const Shape& input, std::int64_t channels) {
  if (input.flat) return layer_error(layer, "needs a feature map, got a flat vector");
  if (bounded_product({layer.kernel_height, layer.kernel_width, layer.stride_height, layer.stride_width,
                       layer.dilation_height, layer.dilation_width}) < 0)
    return layer_error(layer, "kernel size, strides and dilation must be positive");
  const kernels::AxisGeometry rows = kernels::axis_geometry(
      input.height, layer.kernel_height, layer.stride_height, layer.dilation_height, layer.padding);
  const kernels::AxisGeometry columns = kernels::axis_geometry(
      input.width, layer.kernel_width, layer.stride_width, layer.dilation_width, layer.padding);
  if (rows.out < 1 || columns.out < 1)
    return layer_error(layer, "its " + std::to_string(layer.kernel_height) + "x" +
                                  std::to_string(layer.kernel_width) + " window does not fit its " +
                                  std::to_string(input.height) + "x" + std::to_string(input.width) +
                                  " input");
  return Shape{rows.out, columns.out, channels, false};
}

Result<Shape> output_shape(const Layer& layer, const Shape& input) {
  const bool weightless = layer.kind != LayerKind::conv2d && layer.kind != LayerKind::depthwise_conv2d &&
                          layer.kind != LayerKind::dense;
  if (weightless && (!layer.kernel.empty() || !layer.bias.empty()))
    return layer_error(layer, "has weights, but this kind of layer has none");
  switch (layer.kind) {
    case LayerKind::conv2d: {
      if (layer.units < 1 || layer.units > kMaxElements)
        return layer_error(layer, "needs at least one filter");
      if (layer.groups < 1 || input.channels % layer.groups != 0 || layer.units % layer.groups != 0)
        return layer_error(layer, std::to_string(layer.groups) + " groups do not divide its " +
                                      std::to_string(input.channels) + " input channels and " +
                                      std::to_string(layer.units) + " filters");
      Result<Shape> shape = window_output(layer, input, layer.units);
      if (!shape) return shape;
      const std::int64_t kernel_size = bounded_product(
          {layer.kernel_height, layer.kernel_width, input.channels / layer.groups, layer.units});
      if (auto error = check_weights(layer, kernel_size, layer.units)) return *error;
      return shape;
    }
    case LayerKind::depthwise_conv2d: {
      const std::int64_t outputs = bounded_product({input.channels, layer.depth_multiplier});
      if (outputs < 0) return layer_error(layer, "depth multiplier must be positive");
      Result<Shape> shape = window_output(layer, input, outputs);
      if (!shape) return shape;
      if (auto error = check_weights(
              layer, bounded_product({layer.kernel_height, layer.kernel_width, outputs}), outputs))
        return *error;
      return shape;
    }
    case LayerKind::dense: {
      if (!input.flat)
        return layer_error(layer,
                           "needs a flat input (add Flatten or GlobalAveragePooling2D before it), got " +
                               std::to_string(input.height) + "x" + std::to_string(input.width) + "x" +
                               std::to_string(input.channels));
      if (layer.units < 1 || layer.units > kMaxElements) return layer_error(layer, "needs at least one unit");
      if (auto error = check_weights(layer, bounded_product({input.channels, layer.units}), layer.units))
        return *error;
      return Shape{1, 1, layer.units, true};
    }
    case LayerKind::rectifier:
      if (std::isnan(layer.rectifier.negative_slope) || std::isnan(layer.rectifier.threshold) ||
          std::isnan(layer.rectifier.max_value) || !std::isfinite(layer.rectifier.negative_slope) ||
          !std::isfinite(layer.rectifier.threshold))
        return layer_error(layer, "its slope and threshold must be finite numbers");
      return input;
    case LayerKind::average_pool2d:
    case LayerKind::max_pool2d:
      if (layer.dilation_height != 1 || layer.dilation_width != 1)
        return layer_error(layer, "pools have no dilation");
      return window_output(layer, input, input.channels);
    case LayerKind::global_average_pool2d:
      if (input.flat) return layer_error(layer, "needs a feature map, got a flat vector");
      return Shape{1, 1, input.channels, true};
    case LayerKind::flatten:
      return Shape{1, 1, input.size(), true};
    case LayerKind::softmax:
    case LayerKind::add:  // its operands' shapes are checked against each other by layer_shapes()
      return input;
    case LayerKind::zero_padding2d: {
      if (input.flat) return layer_error(layer, "needs a feature map, got a flat vector");
      if (std::min({layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right}) < 0 ||
          std::max({layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right}) > kMaxElements)
        return layer_error(layer, "its padding must be between 0 and 2^32");
      return Shape{input.height + layer.pad_top + layer.pad_bottom,
                   input.width + layer.pad_left + layer.pad_right, input.channels, false};
    }
  }
  return layer_error(layer, "unknown kind");
}

}  // namespace

const char* to_string(LayerKind kind) {
  switch (kind) {
    case LayerKind::conv2d:
      return "Conv2D";
    case LayerKind::depthwise_conv2d:
      return "DepthwiseConv2D";
    case LayerKind::dense:
      return "Dense";
    case LayerKind::rectifier:
      return "ReLU";
    case LayerKind::average_pool2d:
      return "AveragePooling2D";
    case LayerKind::max_pool2d:
      return "MaxPooling2D";
    case LayerKind::global_average_pool2d:
      return "GlobalAveragePooling2D";
    case LayerKind::flatten:
      return "Flatten";
    case LayerKind::softmax:
      return "Softmax";
    case LayerKind::add:
      return "Add";
    case LayerKind::zero_padding2d:
      return "ZeroPadding2D";
  }
  return "unknown";
}

Result<std::vector<Shape>> layer_shapes(const Model& model) {
  if (bounded_product({model.input.height, model.input.width, model.input.channels}) < 0)
    return invalid_argument("the input shape " + std::to_string(model.input.height) + "x" +
                            std::to_string(model.input.width) + "x" + std::to_string(model.input.channels) +
                            " needs positive dimensions");
  if (model.input.flat && (model.input.height != 1 || model.input.width != 1))
    return invalid_argument("a flat input must be 1x1xfeatures");
  if (model.layers.empty()) return invalid_argument("the model has no layers");
  std::set<std::string> names;
  std::vector<Shape> shapes;
  const auto tensor_shape = [&](std::size_t tensor) {
    return tensor == 0 ? model.input : shapes[tensor - 1];
  };
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    if (layer.name.empty())
      return invalid_argument("a " + std::string(to_string(layer.kind)) + " layer has no name");
    if (!names.insert(layer.name).second)
      return invalid_argument("two layers are named '" + layer.name + "'");
    const std::vector<std::size_t> inputs = layer_inputs(model, index);
    if (layer.kind == LayerKind::add ? inputs.size() < 2 : inputs.size() != 1)
      return layer_error(layer, "reads " + std::to_string(inputs.size()) + " maps; " +
                                    (layer.kind == LayerKind::add ? "an addition needs at least two"
                                                                  : "this kind of layer reads one"));
    for (const std::size_t tensor : inputs) {
      if (tensor > index)
        return layer_error(layer, "reads tensor " + std::to_string(tensor) +
                                      ", which is not computed before it (tensor 0 is the input, i + 1 the "
                                      "output of layer i)");
      if (tensor_shape(tensor) != tensor_shape(inputs[0]))
        return layer_error(layer, "adds maps of different shapes (tensors " + std::to_string(inputs[0]) +
                                      " and " + std::to_string(tensor) + ")");
    }
    Result<Shape> next = output_shape(layer, tensor_shape(inputs[0]));
    if (!next) return next.error();
    std::int64_t elements = 0;  // next->size(), without overflowing on padded or strided extremes
    if (__builtin_mul_overflow(next->height, next->width, &elements) ||
        __builtin_mul_overflow(elements, next->channels, &elements) || elements > kMaxElements)
      return layer_error(layer, "its output is too large");
    shapes.push_back(next.value());
  }
  return shapes;
}

std::vector<std::size_t> layer_inputs(const Model& model, std::size_t index) {
  const Layer& layer = model.layers[index];
  return layer.inputs.empty() ? std::vector<std::size_t>{index} : layer.inputs;
}

bool is_chain(const Model& model) {
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const std::vector<std::size_t>& inputs = model.layers[index].inputs;
    if (!inputs.empty() && (inputs.size() != 1 || inputs[0] != index)) return false;
  }
  return true;
}

std::optional<Error> check_normalization(const InputNormalization& normalization, std::int64_t channels) {
  if (!(std::isfinite(normalization.scale) && normalization.scale > 0))
    return invalid_argument("the input scale must be a positive number, got " +
                            std::to_string(normalization.scale));
  const auto check_values = [&](const std::vector<double>& values, const char* what,
                                bool positive) -> std::optional<Error> {
    if (values.size() > 1 && static_cast<std::int64_t>(values.size()) != channels)
      return invalid_argument("the input " + std::string(what) + " has " + std::to_string(values.size()) +
                              " values for " + std::to_string(channels) +
                              (channels == 1 ? " channel" : " channels") +
                              " (give one per channel, or one for all)");
    for (const double value : values)
      if (!std::isfinite(value) || (positive && value <= 0))
        return invalid_argument("the input " + std::string(what) + " must be " +
                                (positive ? "positive numbers" : "finite numbers") + ", got " +
                                std::to_string(value));
    return std::nullopt;
  };
  if (auto error = check_values(normalization.mean, "mean", false)) return error;
  return check_values(normalization.deviation, "deviation", true);
}

std::optional<Error> validate(const Model& model) {
  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  if (!shapes) return shapes.error();
  if (model.input_normalization)
    if (auto error = check_normalization(*model.input_normalization, model.input.channels)) return error;
  if (!model.plan) return std::nullopt;
  const EmbeddedPlan& plan = *model.plan;
  const detail::ChannelStreams streams = detail::channel_streams(model);
  if (plan.widths.empty()) return invalid_argument("the embedded plan has no levels");
  for (std::size_t level = 0; level < plan.widths.size(); ++level) {
    if (plan.widths[level].size() != plan.layer_names.size())
      return invalid_argument("level " + std::to_string(level + 1) + " of the embedded plan has " +
                              std::to_string(plan.widths[level].size()) + " widths for " +
                              std::to_string(plan.layer_names.size()) + " layers");
    Result<std::vector<std::int64_t>> widths = detail::plan_widths(model, plan, level);
    if (!widths) return widths.error();
    if (auto error = detail::check_stream_widths(model, streams, widths.value()))
      return invalid_argument("level " + std::to_string(level + 1) +
                              " of the embedded plan: " + error->message);
    Result<std::vector<detail::LevelShape>> shapes_at_level =
        detail::level_shapes(model, *shapes, widths.value());
    if (!shapes_at_level)
      return invalid_argument("level " + std::to_string(level + 1) +
                              " of the embedded plan: " + shapes_at_level.error().message);
  }
  if (plan.level_maps.empty()) return std::nullopt;
  if (plan.level_maps.size() != plan.widths.size())
    return invalid_argument("the embedded plan has per-level statistics for " +
                            std::to_string(plan.level_maps.size()) + " of its " +
                            std::to_string(plan.widths.size()) + " levels");
  for (std::size_t level = 0; level < plan.level_maps.size(); ++level) {
    const std::vector<ChannelMap>& maps = plan.level_maps[level];
    const std::string where = "the per-level statistics of level " + std::to_string(level + 1);
    if (maps.size() != model.layers.size())
      return invalid_argument(where + " list " + std::to_string(maps.size()) + " layers, the model has " +
                              std::to_string(model.layers.size()));
    for (std::size_t index = 0; index < maps.size(); ++index) {
      const ChannelMap& map = maps[index];
      if (map.scale.empty() && map.bias.empty()) continue;
      const Layer& layer = model.layers[index];
      const std::string prefix = where + ", layer '" + layer.name + "'";
      if (!detail::is_unit_layer(layer.kind)) return invalid_argument(prefix + ": not a unit layer");
      const auto channels = static_cast<std::size_t>((*shapes)[index].channels);
      if (map.scale.size() != channels || map.bias.size() != channels)
        return invalid_argument(prefix + ": " + std::to_string(map.scale.size()) + " scales and " +
                                std::to_string(map.bias.size()) + " biases for " + std::to_string(channels) +
                                " output channels");
      const auto finite = [](float value) { return std::isfinite(value); };
      if (!std::all_of(map.scale.begin(), map.scale.end(), finite) ||
          !std::all_of(map.bias.begin(), map.bias.end(), finite))
        return invalid_argument(prefix + ": a value that is not finite");
    }
  }
  return std::nullopt;
}

std::optional<Error> attach_plan(Model& model, const PlanResult& plan) {
  if (plan.levels.empty()) return invalid_argument("the plan has no levels", "/levels");
  if (plan.order.size() != plan.layer_names.size())
    return invalid_argument("the plan has " + std::to_string(plan.order.size()) + " unit orders for its " +
                                std::to_string(plan.layer_names.size()) + " layers",
                            "/order");
  std::set<std::string> seen;
  for (const std::string& name : plan.layer_names) {
    if (!seen.insert(name).second)
      return invalid_argument("the plan names layer '" + name + "' twice", "/order/" + name);
    // An init-capture: clang 14 (the fuzz build's compiler) cannot capture a structured binding.
    if (std::none_of(model.layers.begin(), model.layers.end(),
                     [&plan_name = name](const Layer& layer) { return layer.name == plan_name; }))
      return invalid_argument("the plan's layer '" + name + "' is not a layer of the model",
                              "/order/" + name);
  }
  for (std::size_t index = 0; index < plan.levels.size(); ++index) {
    const LevelPlan& level = plan.levels[index];
    const std::string path = "/levels/" + std::to_string(index);
    if (level.status == PlanStatus::infeasible)
      return invalid_argument("level " + std::to_string(index + 1) +
                                  " of the plan is infeasible (an infeasible level cannot run)",
                              path);
    if (level.widths.size() != plan.layer_names.size())
      return invalid_argument("level " + std::to_string(index + 1) + " of the plan has " +
                                  std::to_string(level.widths.size()) + " widths for its " +
                                  std::to_string(plan.layer_names.size()) + " layers",
                              path + "/widths");
  }

  // Layer order: the model's, so that widths line up with the layers they narrow.
  EmbeddedPlan embedded;
  embedded.json = to_json(plan);
  std::vector<std::size_t> entries;  // per embedded layer, its entry in the plan
  for (const Layer& layer : model.layers) {
    const auto named = std::find(plan.layer_names.begin(), plan.layer_names.end(), layer.name);
    if (named == plan.layer_names.end()) continue;
    embedded.layer_names.push_back(layer.name);
    entries.push_back(static_cast<std::size_t>(named - plan.layer_names.begin()));
  }
  for (const LevelPlan& level : plan.levels) {
    std::vector<std::int64_t>& widths = embedded.widths.emplace_back();
    for (const std::size_t entry : entries) widths.push_back(level.widths[entry]);
  }
  // Streams first, to name the plan's level rather than the embedded one (on a graph that is valid).
  if (const Result<std::vector<Shape>> shapes = layer_shapes(model); !shapes) return shapes.error();
  const detail::ChannelStreams streams = detail::channel_streams(model);
  for (std::size_t level = 0; level < embedded.widths.size(); ++level) {
    const Result<std::vector<std::int64_t>> widths = detail::plan_widths(model, embedded, level);
    if (!widths) break;  // validate() names the layer
    if (auto error = detail::check_stream_widths(model, streams, widths.value()))
      return invalid_argument("level " + std::to_string(level + 1) + " of the plan: " + error->message,
                              "/levels/" + std::to_string(level) + "/widths");
  }
  Model planned = model;
  planned.plan = std::move(embedded);
  if (auto error = validate(planned)) return error;
  model.plan = std::move(planned.plan);
  return std::nullopt;
}

Result<Model> load_model(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return invalid_argument("cannot read '" + path + "': " + std::strerror(errno));
  char magic[8] = {};
  const std::size_t count = std::fread(magic, 1, sizeof magic, file.get());
  if (count == sizeof magic && std::memcmp(magic, "REDSMODL", sizeof magic) == 0) return load_native(path);
  if (count == sizeof magic && std::memcmp(magic, "\x89HDF\r\n\x1a\n", sizeof magic) == 0)
    return load_keras(path);
  if (std::filesystem::path(path).extension() == ".onnx") return load_onnx(path);
  return invalid_argument("'" + path +
                          "' is neither a REDS model file, a Keras HDF5 file nor an ONNX file (.onnx)");
}

namespace detail {

bool is_unit_layer(LayerKind kind) {
  return kind == LayerKind::conv2d || kind == LayerKind::depthwise_conv2d || kind == LayerKind::dense;
}

Result<std::vector<std::int64_t>> plan_widths(const Model& model, const EmbeddedPlan& plan,
                                              std::size_t level) {
  std::vector<std::int64_t> widths(model.layers.size(), -1);
  for (std::size_t entry = 0; entry < plan.layer_names.size(); ++entry) {
    const std::string& name = plan.layer_names[entry];
    const auto layer = std::find_if(model.layers.begin(), model.layers.end(),
                                    [&](const Layer& candidate) { return candidate.name == name; });
    if (layer == model.layers.end())
      return invalid_argument("the plan's layer '" + name + "' is not a layer of the model");
    if (!is_unit_layer(layer->kind))
      return invalid_argument("the plan's layer '" + name + "' is a " + to_string(layer->kind) +
                              ", which has no units to keep");
    widths[static_cast<std::size_t>(layer - model.layers.begin())] = plan.widths[level][entry];
  }
  return widths;
}

Result<std::vector<LevelShape>> level_shapes(const Model& model, const std::vector<Shape>& shapes,
                                             const std::optional<std::vector<std::int64_t>>& widths) {
  std::vector<LevelShape> level;
  level.push_back({model.input, model.input.channels, 1, model.input.channels, model.input.channels});
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    // Every operand of an addition has the same shape (layer_shapes): the first stands for all.
    const LevelShape& input = level[layer.inputs.empty() ? index : layer.inputs[0]];
    const Shape& full = shapes[index];
    const std::int64_t planned = widths ? (*widths)[index] : -1;
    LevelShape output{full, input.channels, 1, input.channels, full.channels};
    switch (layer.kind) {
      case LayerKind::conv2d:
      case LayerKind::dense:
        output.channels = planned < 0 ? layer.units : planned;
        if (output.channels < 1 || output.channels > layer.units)
          return layer_error(
              layer, "width " + std::to_string(planned) + " is outside 1.." + std::to_string(layer.units));
        if (layer.groups > 1 && (output.channels != layer.units || input.channels != input.full.channels))
          return layer_error(layer, "a grouped convolution cannot be narrowed");
        break;
      case LayerKind::depthwise_conv2d:
        output.channels = input.channels * layer.depth_multiplier;
        if (planned >= 0 && planned != output.channels)
          return layer_error(layer, "is tied to its input: its width must be " +
                                        std::to_string(output.channels) + ", not " + std::to_string(planned));
        break;
      case LayerKind::flatten:
        if (input.full.flat) {
          output = input;
          break;
        }
        output.channels = input.full.height * input.full.width * input.channels;
        output.groups = input.full.height * input.full.width;
        output.group_features = input.channels;
        output.group_stride = input.full.channels;
        break;
      case LayerKind::add:
        // Every operand's channels are one prefix of the same order (a stream keeps one width).
        for (const std::size_t tensor : layer.inputs)
          if (level[tensor].channels != input.channels)
            return layer_error(layer, "adds maps of " + std::to_string(input.channels) + " and " +
                                          std::to_string(level[tensor].channels) + " channels");
        output = input;
        break;
      case LayerKind::rectifier:
      case LayerKind::softmax:
        output = input;
        break;
      case LayerKind::zero_padding2d:
      case LayerKind::average_pool2d:
      case LayerKind::max_pool2d:
      case LayerKind::global_average_pool2d:
        break;
    }
    if (output.groups == 1) output.group_features = output.channels;
    level.push_back(output);
  }
  const LevelShape& last = level.back();
  if (last.channels != last.full.channels)
    return invalid_argument("the model's output keeps " + std::to_string(last.channels) + " of its " +
                            std::to_string(last.full.channels) +
                            " channels; the last unit layer must keep its full width");
  return level;
}

std::int64_t layer_macs(const Layer& layer, const LevelShape& input, const LevelShape& output) {
  const std::int64_t pixels = output.full.height * output.full.width;
  const std::int64_t taps = layer.kernel_height * layer.kernel_width;
  switch (layer.kind) {
    case LayerKind::conv2d:
      return pixels * taps * (input.channels / layer.groups) * output.channels;
    case LayerKind::depthwise_conv2d:
      return pixels * taps * output.channels;
    case LayerKind::dense:
      return input.channels * output.channels;
    default:
      return 0;
  }
}

}  // namespace detail

}  // namespace reds::engine
