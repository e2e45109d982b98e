#include "reds/training/training.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "level_shapes.h"
#include "reds/engine/keras_file.h"
#include "training_kernels.h"

namespace reds::engine::training {

const char* to_string(TrainingLayerKind kind) {
  switch (kind) {
    case TrainingLayerKind::conv2d:
      return "Conv2D";
    case TrainingLayerKind::depthwise_conv2d:
      return "DepthwiseConv2D";
    case TrainingLayerKind::dense:
      return "Dense";
    case TrainingLayerKind::batch_norm:
      return "BatchNormalization";
    case TrainingLayerKind::rectifier:
      return "ReLU";
    case TrainingLayerKind::average_pool2d:
      return "AveragePooling2D";
    case TrainingLayerKind::global_average_pool2d:
      return "GlobalAveragePooling2D";
    case TrainingLayerKind::flatten:
      return "Flatten";
    case TrainingLayerKind::add:
      return "Add";
    case TrainingLayerKind::zero_padding2d:
      return "ZeroPadding2D";
  }
  return "?";
}

namespace {

using nlohmann::json;

template <class To, class From>
std::vector<To> converted(const std::vector<From>& from) {
  return std::vector<To>(from.begin(), from.end());
}

template <class To, class From>
Parameter<To> converted(const Parameter<From>& from) {
  return Parameter<To>{converted<To>(from.value), converted<To>(from.gradient), from.trainable};
}

template <class Real>
Parameter<Real> parameter(const std::vector<float>& value, bool trainable = true) {
  return Parameter<Real>{converted<Real>(value), std::vector<Real>(value.size(), Real{0}), trainable};
}

bool is_unit(TrainingLayerKind kind) {
  return kind == TrainingLayerKind::conv2d || kind == TrainingLayerKind::depthwise_conv2d ||
         kind == TrainingLayerKind::dense;
}

Error layer_error(const std::string& name, const char* kind, const std::string& message) {
  return invalid_argument("layer '" + name + "' (" + kind + "): " + message);
}

std::optional<TrainingLayerKind> training_kind(LayerKind kind) {
  switch (kind) {
    case LayerKind::conv2d:
      return TrainingLayerKind::conv2d;
    case LayerKind::depthwise_conv2d:
      return TrainingLayerKind::depthwise_conv2d;
    case LayerKind::dense:
      return TrainingLayerKind::dense;
    case LayerKind::rectifier:
      return TrainingLayerKind::rectifier;
    case LayerKind::average_pool2d:
      return TrainingLayerKind::average_pool2d;
    case LayerKind::global_average_pool2d:
      return TrainingLayerKind::global_average_pool2d;
    case LayerKind::flatten:
      return TrainingLayerKind::flatten;
    case LayerKind::add:
      return TrainingLayerKind::add;
    case LayerKind::zero_padding2d:
      return TrainingLayerKind::zero_padding2d;
    case LayerKind::softmax:
    case LayerKind::max_pool2d:  // no backward pass yet
      return std::nullopt;
  }
  return std::nullopt;
}

// Pixels per image of a map (1 for a flat one).
std::int64_t pixels(const engine::detail::LevelShape& shape) {
  return shape.full.flat ? 1 : shape.full.height * shape.full.width;
}

}  // namespace

// --- Network -----------------------------------------------------------------------------------------

template <class Real>
Result<Network<Real>> Network<Real>::from_model(const Model& model) {
  if (auto error = validate(model)) return *error;
  Result<std::vector<Shape>> shapes = layer_shapes(model);
  if (!shapes) return shapes.error();
  if (model.layers.empty()) return invalid_argument("the model has no layers to train");
  Network network;
  network.architecture_ = model;
  network.shapes_ = shapes.value();
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    const std::optional<TrainingLayerKind> kind = training_kind(layer.kind);
    if (!kind) {
      if (layer.kind != LayerKind::softmax)
        return layer_error(layer.name, engine::to_string(layer.kind), "cannot be trained yet");
      if (index + 1 != model.layers.size())
        return layer_error(layer.name, engine::to_string(layer.kind),
                           "only a softmax at the end of the model can be trained (the loss applies it)");
      network.trailing_softmax_ = true;
      continue;
    }
    if (layer.kind == LayerKind::conv2d && layer.groups != 1)
      return layer_error(layer.name, engine::to_string(layer.kind),
                         "a grouped convolution cannot be trained (only groups = 1)");
    TrainingLayer<Real> trained;
    trained.name = layer.name;
    trained.kind = *kind;
    trained.model_layer = index;
    trained.kernel = parameter<Real>(layer.kernel);
    trained.bias = parameter<Real>(layer.bias);
    network.layers_.push_back(std::move(trained));
  }
  network.link();
  const std::size_t last = network.layers_.back().model_layer;
  if (!network.shapes_[last].flat)
    return invalid_argument("the model's output must be flat (one logit per class) to be trained, got " +
                            std::to_string(network.shapes_[last].height) + "x" +
                            std::to_string(network.shapes_[last].width) + "x" +
                            std::to_string(network.shapes_[last].channels));
  network.classes_ = network.shapes_[last].channels;
  return network;
}

template <class Real>
Result<Network<Real>> Network<Real>::load_keras(const std::string& path) {
  Result<Model> model = engine::load_keras(path);
  if (!model) return model.error();
  Result<KerasFile> file = read_keras_file(path);
  if (!file) return file.error();
  Result<Network> network = from_model(model.value());
  if (!network) return network;
  try {
    const json config = json::parse(file->model_config);
    const json& model_config = config.at("config");
    const json& entries = model_config.is_array() ? model_config : model_config.at("layers");
    // load_keras() folded every BatchNormalization into the weighted layer it reads (InputLayer and
    // Dropout add no layer): unfold by taking that layer's weights as stored and keeping the batch norm.
    std::string previous;
    for (const json& entry : entries) {
      const std::string class_name = entry.value("class_name", std::string());
      const json& layer_config = entry.at("config");
      const std::string name = layer_config.value("name", std::string());
      if (class_name == "InputLayer" || class_name == "Dropout") continue;
      if (class_name != "BatchNormalization") {
        previous = name;
        continue;
      }
      // A functional model names the layer a batch norm reads; a Sequential one lists it just before.
      const json inbound = entry.value("inbound_nodes", json::array());
      if (inbound.is_array() && !inbound.empty() && inbound[0].is_array() && !inbound[0].empty() &&
          inbound[0][0].is_array() && !inbound[0][0].empty() && inbound[0][0][0].is_string())
        previous = inbound[0][0][0].get<std::string>();
      auto& stored = file.value().weights;
      const auto take = [&](const std::string& layer, const std::string& weight) -> const KerasWeight* {
        const auto found = stored.find(layer);
        if (found == stored.end()) return nullptr;
        const auto value = found->second.find(weight);
        return value == found->second.end() ? nullptr : &value->second;
      };
      auto unit = std::find_if(network.value().layers_.begin(), network.value().layers_.end(),
                               [&](const TrainingLayer<Real>& layer) { return layer.name == previous; });
      if (unit == network.value().layers_.end() || !is_unit(unit->kind))
        return layer_error(name, "BatchNormalization", "does not follow a weighted layer");
      const KerasWeight* kernel =
          take(previous, unit->kind == TrainingLayerKind::depthwise_conv2d ? "depthwise_kernel" : "kernel");
      if (!kernel || kernel->values.size() != unit->kernel.value.size())
        return layer_error(previous, to_string(unit->kind), "its stored kernel does not match the model");
      unit->kernel = parameter<Real>(kernel->values);
      const KerasWeight* bias = take(previous, "bias");
      if (bias && bias->values.size() != unit->bias.value.size())
        return layer_error(previous, to_string(unit->kind), "its stored bias does not match the model");
      unit->bias = parameter<Real>(bias ? bias->values : std::vector<float>{});

      const std::size_t channels =
          static_cast<std::size_t>(network.value().shapes_[unit->model_layer].channels);
      const KerasWeight* mean = take(name, "moving_mean");
      const KerasWeight* variance = take(name, "moving_variance");
      const KerasWeight* gamma = take(name, "gamma");
      const KerasWeight* beta = take(name, "beta");
      if (!mean || !variance) return layer_error(name, "BatchNormalization", "has no moving statistics");
      BatchNormalization batch_norm;
      batch_norm.moving_mean = mean->values;
      batch_norm.moving_variance = variance->values;
      batch_norm.gamma = gamma ? gamma->values : std::vector<float>(channels, 1.0f);
      batch_norm.beta = beta ? beta->values : std::vector<float>(channels, 0.0f);
      batch_norm.epsilon = layer_config.value("epsilon", 1e-3);
      batch_norm.momentum = layer_config.value("momentum", 0.99);
      if (auto error = network.value().add_batch_norm(previous, name, batch_norm)) return *error;
      // A batch norm without scale or center has no gamma or beta to learn.
      auto added = std::find_if(network.value().layers_.begin(), network.value().layers_.end(),
                                [&](const TrainingLayer<Real>& layer) { return layer.name == name; });
      added->gamma.trainable = gamma != nullptr;
      added->beta.trainable = beta != nullptr;
      previous.clear();
    }
  } catch (const std::exception& error) {
    return invalid_argument("'" + path + "': " + error.what());
  }
  return network;
}

template <class Real>
Result<Network<Real>> Network<Real>::load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  char magic[8] = {};
  file.read(magic, sizeof magic);
  if (file && std::string_view(magic, sizeof magic) == "\x89HDF\r\n\x1a\n") return load_keras(path);
  // Native and ONNX models hold batch normalization folded already; load_model names what it cannot read.
  Result<Model> model = load_model(path);
  if (!model) return model.error();
  return from_model(model.value());
}

template <class Real>
template <class Other>
Network<Real>::Network(const Network<Other>& other)
    : architecture_(other.architecture_),
      shapes_(other.shapes_),
      trailing_softmax_(other.trailing_softmax_),
      classes_(other.classes_),
      unit_layers_(other.unit_layers_) {
  for (const TrainingLayer<Other>& from : other.layers_) {
    TrainingLayer<Real> layer;
    layer.name = from.name;
    layer.kind = from.kind;
    layer.model_layer = from.model_layer;
    layer.inputs = from.inputs;
    layer.kernel = converted<Real>(from.kernel);
    layer.bias = converted<Real>(from.bias);
    layer.gamma = converted<Real>(from.gamma);
    layer.beta = converted<Real>(from.beta);
    layer.moving_mean = converted<Real>(from.moving_mean);
    layer.moving_variance = converted<Real>(from.moving_variance);
    layer.epsilon = from.epsilon;
    layer.momentum = from.momentum;
    layers_.push_back(std::move(layer));
  }
}

template <class Real>
std::optional<Error> Network<Real>::add_batch_norm(const std::string& unit_layer, const std::string& name,
                                                   const BatchNormalization& batch_norm) {
  const auto unit = std::find_if(layers_.begin(), layers_.end(), [&](const TrainingLayer<Real>& layer) {
    return layer.name == unit_layer && is_unit(layer.kind);
  });
  if (unit == layers_.end()) return invalid_argument("no unit layer '" + unit_layer + "' to normalize");
  if (std::next(unit) != layers_.end() && std::next(unit)->kind == TrainingLayerKind::batch_norm)
    return invalid_argument("layer '" + unit_layer + "' has a batch normalization already");
  const std::size_t channels = static_cast<std::size_t>(shapes_[unit->model_layer].channels);
  if (batch_norm.gamma.size() != channels || batch_norm.beta.size() != channels ||
      batch_norm.moving_mean.size() != channels || batch_norm.moving_variance.size() != channels)
    return layer_error(name, "BatchNormalization",
                       "needs " + std::to_string(channels) + " numbers per parameter, one per output of '" +
                           unit_layer + "'");
  const auto finite = [](float value) { return std::isfinite(value); };
  const auto all_finite = [&](const std::vector<float>& values) {
    return std::all_of(values.begin(), values.end(), finite);
  };
  if (!all_finite(batch_norm.gamma) || !all_finite(batch_norm.beta) || !all_finite(batch_norm.moving_mean) ||
      !all_finite(batch_norm.moving_variance) ||
      std::any_of(batch_norm.moving_variance.begin(), batch_norm.moving_variance.end(),
                  [](float value) { return value < 0.0f; }) ||
      !(batch_norm.epsilon > 0.0) || !(batch_norm.momentum >= 0.0 && batch_norm.momentum <= 1.0))
    return layer_error(name, "BatchNormalization",
                       "needs finite parameters, variances >= 0, epsilon > 0 and momentum in [0, 1]");
  TrainingLayer<Real> layer;
  layer.name = name;
  layer.kind = TrainingLayerKind::batch_norm;
  layer.model_layer = unit->model_layer;
  layer.gamma = parameter<Real>(batch_norm.gamma);
  layer.beta = parameter<Real>(batch_norm.beta);
  layer.moving_mean = converted<Real>(batch_norm.moving_mean);
  layer.moving_variance = converted<Real>(batch_norm.moving_variance);
  layer.epsilon = batch_norm.epsilon;
  layer.momentum = batch_norm.momentum;
  layers_.insert(std::next(unit), std::move(layer));
  link();
  return std::nullopt;
}

template <class Real>
void Network<Real>::link() {
  unit_layers_.clear();
  // The map holding every model tensor (0: the input, j + 1: model layer j's output) once computed: a unit
  // layer's output is the map after its batch norm when it has one.
  std::vector<std::size_t> map_of_tensor(architecture_.layers.size() + 1, 0);
  for (std::size_t index = 0; index < layers_.size(); ++index) {
    TrainingLayer<Real>& layer = layers_[index];
    if (is_unit(layer.kind)) unit_layers_.push_back(index);
    if (layer.kind == TrainingLayerKind::batch_norm) {
      layer.inputs = {index};
    } else {
      layer.inputs.clear();
      for (const std::size_t tensor : layer_inputs(architecture_, layer.model_layer))
        layer.inputs.push_back(map_of_tensor[tensor]);
    }
    map_of_tensor[layer.model_layer + 1] = index + 1;
  }
}

template <class Real>
Result<Model> Network<Real>::to_model(std::span<const LevelCalibration> calibrations) const {
  Model model = architecture_;
  if (model.plan) model.plan->level_maps.clear();
  if (!calibrations.empty()) {
    if (!model.plan || calibrations.size() != model.plan->widths.size())
      return invalid_argument(std::to_string(calibrations.size()) + " levels of calibrations for a plan of " +
                              std::to_string(model.plan ? model.plan->widths.size() : 0) + " levels");
    model.plan->level_maps.assign(calibrations.size(), std::vector<ChannelMap>(model.layers.size()));
  }
  for (std::size_t level = 0; level < calibrations.size(); ++level) {
    const LevelCalibration& calibration = calibrations[level];
    for (std::size_t index = 0; index < layers_.size() && index < calibration.scale.size(); ++index) {
      const TrainingLayer<Real>& layer = layers_[index];
      if (!is_unit(layer.kind) || calibration.scale[index].empty()) continue;
      // The pass computes y = a * (sum + b) + shift, then any batch norm after the layer, s * (y - m) + beta,
      // which folds to (its kernel scaled by s) sum * a + s * (a * b + shift - m) + beta.
      const std::vector<double>& a = calibration.scale[index];
      const std::vector<double>& shift = calibration.shift[index];
      const bool normalized =
          index + 1 < layers_.size() && layers_[index + 1].kind == TrainingLayerKind::batch_norm;
      ChannelMap& map = model.plan->level_maps[level][layer.model_layer];
      for (std::size_t o = 0; o < a.size(); ++o) {
        const double b = o < layer.bias.value.size() ? static_cast<double>(layer.bias.value[o]) : 0.0;
        double bias = a[o] * b + shift[o];
        if (normalized) {
          const TrainingLayer<Real>& batch_norm = layers_[index + 1];
          const double s = static_cast<double>(batch_norm.gamma.value[o]) /
                           std::sqrt(static_cast<double>(batch_norm.moving_variance[o]) + batch_norm.epsilon);
          bias = s * (bias - static_cast<double>(batch_norm.moving_mean[o])) +
                 static_cast<double>(batch_norm.beta.value[o]);
        }
        map.scale.push_back(static_cast<float>(a[o]));
        map.bias.push_back(static_cast<float>(bias));
      }
    }
  }
  for (std::size_t index = 0; index < layers_.size(); ++index) {
    const TrainingLayer<Real>& layer = layers_[index];
    if (!is_unit(layer.kind)) continue;
    Layer& target = model.layers[layer.model_layer];
    target.kernel = converted<float>(layer.kernel.value);
    target.bias = converted<float>(layer.bias.value);
    if (index + 1 == layers_.size() || layers_[index + 1].kind != TrainingLayerKind::batch_norm) continue;
    // Folded exactly as load_keras() folds: scale and shift in double, each weight rounded once.
    const TrainingLayer<Real>& batch_norm = layers_[index + 1];
    const std::size_t outputs = batch_norm.gamma.value.size();
    std::vector<double> bias(outputs, 0.0);
    for (std::size_t o = 0; o < layer.bias.value.size(); ++o)
      bias[o] = static_cast<double>(layer.bias.value[o]);
    target.bias.assign(outputs, 0.0f);
    for (std::size_t o = 0; o < outputs; ++o) {
      const double scale = static_cast<double>(batch_norm.gamma.value[o]) /
                           std::sqrt(static_cast<double>(batch_norm.moving_variance[o]) + batch_norm.epsilon);
      for (std::size_t at = o; at < target.kernel.size(); at += outputs)
        target.kernel[at] = static_cast<float>(static_cast<double>(layer.kernel.value[at]) * scale);
      target.bias[o] = static_cast<float>((bias[o] - static_cast<double>(batch_norm.moving_mean[o])) * scale +
                                          static_cast<double>(batch_norm.beta.value[o]));
    }
  }
  if (auto error = validate(model)) return *error;
  return model;
}

template <class Real>
Widths Network<Real>::full_widths() const {
  Widths widths;
  for (const std::size_t index : unit_layers_) widths.push_back(shapes_[layers_[index].model_layer].channels);
  return widths;
}

template <class Real>
Result<Widths> Network<Real>::plan_widths(std::size_t level) const {
  if (!architecture_.plan) return invalid_argument("the model has no plan");
  if (level >= architecture_.plan->widths.size())
    return invalid_argument("the plan has " + std::to_string(architecture_.plan->widths.size()) +
                            " levels, there is no level " + std::to_string(level + 1));
  Result<std::vector<std::int64_t>> by_layer =
      engine::detail::plan_widths(architecture_, *architecture_.plan, level);
  if (!by_layer) return by_layer.error();
  Widths widths;
  for (const std::size_t index : unit_layers_) widths.push_back((*by_layer)[layers_[index].model_layer]);
  return widths;
}

template <class Real>
Result<std::vector<std::int64_t>> Network<Real>::model_widths(const Widths& widths) const {
  if (widths.size() != unit_layers_.size())
    return invalid_argument("got " + std::to_string(widths.size()) + " widths, the network has " +
                            std::to_string(unit_layers_.size()) + " unit layers");
  std::vector<std::int64_t> by_layer(architecture_.layers.size(), -1);
  for (std::size_t unit = 0; unit < unit_layers_.size(); ++unit)
    by_layer[layers_[unit_layers_[unit]].model_layer] = widths[unit];
  return by_layer;
}

template <class Real>
Result<std::int64_t> Network<Real>::parameter_count(const Widths& widths) const {
  Result<std::vector<std::int64_t>> by_layer = model_widths(widths);
  if (!by_layer) return by_layer.error();
  Result<std::vector<engine::detail::LevelShape>> level =
      engine::detail::level_shapes(architecture_, shapes_, by_layer.value());
  if (!level) return level.error();
  std::int64_t count = 0;
  for (const std::size_t index : unit_layers_) {
    const TrainingLayer<Real>& layer = layers_[index];
    const Layer& model_layer = architecture_.layers[layer.model_layer];
    const engine::detail::LevelShape& input = (*level)[layer_inputs(architecture_, layer.model_layer)[0]];
    const std::int64_t outputs = (*level)[layer.model_layer + 1].channels;
    const std::int64_t taps = model_layer.kernel_height * model_layer.kernel_width;
    // Kernel rows kept times kept outputs: a convolution's taps x kept inputs, a depthwise kernel's taps,
    // a dense layer's kept input features.
    const std::int64_t rows = layer.kind == TrainingLayerKind::conv2d             ? taps * input.channels
                              : layer.kind == TrainingLayerKind::depthwise_conv2d ? taps
                                                                                  : input.channels;
    count += rows * outputs + (layer.bias.value.empty() ? 0 : outputs);
  }
  return count;
}

template <class Real>
std::vector<Parameter<Real>*> Network<Real>::parameters() {
  std::vector<Parameter<Real>*> all;
  for (TrainingLayer<Real>& layer : layers_)
    for (Parameter<Real>* parameter : {&layer.kernel, &layer.bias, &layer.gamma, &layer.beta})
      if (!parameter->value.empty()) all.push_back(parameter);
  return all;
}

template <class Real>
void Network<Real>::zero_gradients() {
  for (Parameter<Real>* parameter : parameters())
    std::fill(parameter->gradient.begin(), parameter->gradient.end(), Real{0});
}

// --- Pass --------------------------------------------------------------------------------------------

template <class Real>
struct Pass<Real>::LayerState {
  engine::detail::LevelShape input, output;  // the level's maps around the layer
  kernels::Window window;                    // convolutions and pools
  // Unit layers: the kept part of the kernel, gathered into a compact matrix (rows x columns): compact
  // row r is the kernel's row kernel_rows[r], its first `columns` entries (of full_columns).
  std::vector<std::int64_t> kernel_rows;
  std::int64_t columns = 0, full_columns = 0;
  std::vector<Real> weights;
  bool pointwise = false;  // a 1x1 convolution, stride 1, no padding: its input is its im2col rows
  std::vector<Real> rows;  // other convolutions: the im2col rows of the input
  std::vector<Real> mean, inverse_deviation;  // batch norm: what the layer normalised with
};

template <class Real>
Pass<Real>::Pass() = default;
template <class Real>
Pass<Real>::~Pass() = default;
template <class Real>
Pass<Real>::Pass(Pass&&) noexcept = default;
template <class Real>
Pass<Real>& Pass<Real>::operator=(Pass&&) noexcept = default;

namespace {

// Which rows of the full kernel a level keeps, and how many columns.
template <class Real, class State>
void plan_kernel(const TrainingLayer<Real>& layer, const Layer& model_layer, State& state) {
  const std::int64_t taps = model_layer.kernel_height * model_layer.kernel_width;
  state.kernel_rows.clear();
  switch (layer.kind) {
    case TrainingLayerKind::conv2d:
      state.full_columns = state.output.full.channels;
      state.columns = state.output.channels;
      for (std::int64_t tap = 0; tap < taps; ++tap)
        for (std::int64_t channel = 0; channel < state.input.channels; ++channel)
          state.kernel_rows.push_back(tap * state.input.full.channels + channel);
      break;
    case TrainingLayerKind::depthwise_conv2d:
      state.full_columns = state.output.full.channels;
      state.columns = state.output.channels;
      for (std::int64_t tap = 0; tap < taps; ++tap) state.kernel_rows.push_back(tap);
      break;
    case TrainingLayerKind::dense:
      state.full_columns = state.output.full.channels;
      state.columns = state.output.channels;
      for (std::int64_t group = 0; group < state.input.groups; ++group)
        for (std::int64_t feature = 0; feature < state.input.group_features; ++feature)
          state.kernel_rows.push_back(group * state.input.group_stride + feature);
      break;
    default:
      return;
  }
  state.weights.resize(state.kernel_rows.size() * static_cast<std::size_t>(state.columns));
  for (std::size_t row = 0; row < state.kernel_rows.size(); ++row)
    std::copy_n(layer.kernel.value.data() + state.kernel_rows[row] * state.full_columns, state.columns,
                state.weights.data() + static_cast<std::int64_t>(row) * state.columns);
}

// Adds a compact kernel gradient into the full one.
template <class Real, class State>
void scatter_kernel_gradient(const State& state, const Real* compact, Parameter<Real>& kernel) {
  for (std::size_t row = 0; row < state.kernel_rows.size(); ++row) {
    Real* to = kernel.gradient.data() + state.kernel_rows[row] * state.full_columns;
    const Real* from = compact + static_cast<std::int64_t>(row) * state.columns;
    for (std::int64_t column = 0; column < state.columns; ++column) to[column] += from[column];
  }
}

// Adds the column sums of a rows x columns matrix to the bias gradient's prefix.
template <class Real>
void add_column_sums(const Real* values, std::int64_t rows, std::int64_t columns, Parameter<Real>& bias) {
  std::vector<double> sums(static_cast<std::size_t>(columns), 0.0);
  compute::column_sums(rows, columns, values, sums.data());
  for (std::int64_t column = 0; column < columns; ++column)
    bias.gradient[static_cast<std::size_t>(column)] +=
        static_cast<Real>(sums[static_cast<std::size_t>(column)]);
}

// Calls copy(from, to, values) for every row of a zero-padded map: `values` numbers at offset `from` of the
// input map stand at offset `to` of the padded output map.
template <class State, class Copy>
void for_each_padded_row(const Layer& padding, const State& state, std::int64_t count, Copy&& copy) {
  const std::int64_t channels = state.input.channels;
  const std::int64_t in_height = state.input.full.height, in_width = state.input.full.width;
  const std::int64_t out_height = state.output.full.height, out_width = state.output.full.width;
  for (std::int64_t image = 0; image < count; ++image)
    for (std::int64_t row = 0; row < in_height; ++row)
      copy(((image * in_height + row) * in_width) * channels,
           ((image * out_height + row + padding.pad_top) * out_width + padding.pad_left) * channels,
           in_width * channels);
}

// y = y * scale + shift per channel, where a calibration covers the layer.
template <class Real>
void calibrate_output(const LevelCalibration* calibration, std::size_t layer, std::int64_t rows,
                      std::int64_t channels, Real* values) {
  if (!calibration || layer >= calibration->scale.size() || calibration->scale[layer].empty()) return;
  const double* scale = calibration->scale[layer].data();
  const double* shift = calibration->shift[layer].data();
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t c = 0; c < channels; ++c) {
      Real& value = values[row * channels + c];
      value = static_cast<Real>(static_cast<double>(value) * scale[c] + shift[c]);
    }
}

}  // namespace

template <class Real>
Result<std::span<const Real>> Pass<Real>::forward(Network<Real>& network, const Widths& widths,
                                                  std::span<const Real> images, std::int64_t count,
                                                  const PassOptions& options) {
  network_ = nullptr;
  const std::int64_t image_size = network.input_shape().size();
  if (count < 1 || static_cast<std::int64_t>(images.size()) != count * image_size)
    return invalid_argument("expected " + std::to_string(count) + " images of " + std::to_string(image_size) +
                            " numbers, got " + std::to_string(images.size()) + " numbers");
  Result<std::vector<std::int64_t>> by_layer = network.model_widths(widths);
  if (!by_layer) return by_layer.error();
  Result<std::vector<engine::detail::LevelShape>> level =
      engine::detail::level_shapes(network.architecture(), network.shapes(), by_layer.value());
  if (!level) return level.error();

  const std::vector<TrainingLayer<Real>>& layers = network.layers();
  count_ = count;
  options_ = options;
  states_.resize(layers.size());
  maps_.resize(layers.size() + 1);
  maps_[0].assign(images.begin(), images.end());
  for (std::size_t index = 0; index < layers.size(); ++index) {
    TrainingLayer<Real>& layer = network.layers()[index];
    const Layer& model_layer = network.architecture().layers[layer.model_layer];
    LayerState& state = states_[index];
    if (layer.kind == TrainingLayerKind::batch_norm) {
      state.input = state.output = (*level)[layer.model_layer + 1];
    } else {
      state.input = (*level)[layer_inputs(network.architecture(), layer.model_layer)[0]];
      state.output = (*level)[layer.model_layer + 1];
    }
    const Real* in = maps_[layer.inputs[0]].data();
    std::vector<Real>& out_map = maps_[index + 1];
    const std::int64_t in_rows = count * pixels(state.input);  // pixels of the minibatch
    const std::int64_t out_rows = count * pixels(state.output);
    out_map.resize(static_cast<std::size_t>(out_rows * state.output.channels));
    Real* out = out_map.data();
    const Real* bias = layer.bias.value.empty() ? nullptr : layer.bias.value.data();

    switch (layer.kind) {
      case TrainingLayerKind::conv2d:
      case TrainingLayerKind::dense: {
        plan_kernel(layer, model_layer, state);
        const std::int64_t depth = static_cast<std::int64_t>(state.kernel_rows.size());
        const Real* rows = in;
        state.pointwise = true;
        if (layer.kind == TrainingLayerKind::conv2d) {
          state.window = kernels::window_of(model_layer, state.input.full, state.output.full);
          const kernels::Window& w = state.window;
          state.pointwise = w.kernel_height == 1 && w.kernel_width == 1 && w.stride_height == 1 &&
                            w.stride_width == 1 && w.pad_top == 0 && w.pad_left == 0 &&
                            w.out_height == w.in_height && w.out_width == w.in_width;
          if (!state.pointwise) {
            state.rows.resize(static_cast<std::size_t>(out_rows * depth));
            compute::im2col(w, count, state.input.channels, in, state.rows.data());
            rows = state.rows.data();
          }
        }
        for (std::int64_t row = 0; row < out_rows; ++row) {
          if (bias) {
            std::copy_n(bias, state.columns, out + row * state.columns);
          } else {
            std::fill_n(out + row * state.columns, state.columns, Real{0});
          }
        }
        compute::gemm(compute::Gemm<Real>{out_rows, state.columns, depth, rows, depth, false,
                                          state.weights.data(), state.columns, out, state.columns, true});
        calibrate_output(options.calibration, index, out_rows, state.columns, out);
        break;
      }
      case TrainingLayerKind::depthwise_conv2d: {
        plan_kernel(layer, model_layer, state);
        state.window = kernels::window_of(model_layer, state.input.full, state.output.full);
        compute::depthwise_forward(
            compute::Depthwise<Real>{state.window, count, state.input.channels, model_layer.depth_multiplier,
                                     in, state.weights.data()},
            bias, out);
        calibrate_output(options.calibration, index, out_rows, state.output.channels, out);
        break;
      }
      case TrainingLayerKind::batch_norm: {
        const std::int64_t channels = state.input.channels;
        const std::size_t size = static_cast<std::size_t>(channels);
        state.mean.resize(size);
        state.inverse_deviation.resize(size);
        if (options.batch_norm == BatchNormMode::batch_statistics) {
          std::vector<double> means(size), variances(size);
          compute::channel_means(in_rows, channels, in, means.data());
          compute::channel_variances(in_rows, channels, in, means.data(), variances.data());
          for (std::size_t c = 0; c < size; ++c) {
            state.mean[c] = static_cast<Real>(means[c]);
            state.inverse_deviation[c] = static_cast<Real>(1.0 / std::sqrt(variances[c] + layer.epsilon));
            if (!options.update_moving_statistics) continue;
            // Bessel's correction on feature maps, as TensorFlow's fused batch norm; flat inputs take the
            // biased variance, as Keras' unfused one.
            const double unbiased =
                !state.input.full.flat && in_rows > 1
                    ? variances[c] * static_cast<double>(in_rows) / static_cast<double>(in_rows - 1)
                    : variances[c];
            const double keep = layer.momentum;
            layer.moving_mean[c] =
                static_cast<Real>(keep * static_cast<double>(layer.moving_mean[c]) + (1.0 - keep) * means[c]);
            layer.moving_variance[c] = static_cast<Real>(
                keep * static_cast<double>(layer.moving_variance[c]) + (1.0 - keep) * unbiased);
          }
        } else {
          for (std::size_t c = 0; c < size; ++c) {
            state.mean[c] = layer.moving_mean[c];
            state.inverse_deviation[c] = static_cast<Real>(
                1.0 / std::sqrt(static_cast<double>(layer.moving_variance[c]) + layer.epsilon));
          }
        }
        // y = gamma * (x - mean) * inverse deviation + beta = x * scale + shift
        std::vector<Real> scale(size), shift(size);
        for (std::size_t c = 0; c < size; ++c) {
          scale[c] = layer.gamma.value[c] * state.inverse_deviation[c];
          shift[c] = layer.beta.value[c] - state.mean[c] * scale[c];
        }
        compute::scale_channels(in_rows, channels, in, scale.data(), shift.data(), out);
        break;
      }
      case TrainingLayerKind::rectifier:
        compute::rectify(model_layer.rectifier, out_rows * state.output.channels, in, out);
        break;
      case TrainingLayerKind::average_pool2d:
        state.window = kernels::window_of(model_layer, state.input.full, state.output.full);
        compute::average_pool_forward(state.window, count, state.input.channels, in, out);
        break;
      case TrainingLayerKind::global_average_pool2d: {
        const std::int64_t map_pixels = pixels(state.input);
        const std::int64_t channels = state.input.channels;
        std::fill_n(out, count * channels, Real{0});
        for (std::int64_t image = 0; image < count; ++image)
          for (std::int64_t pixel = 0; pixel < map_pixels; ++pixel)
            for (std::int64_t c = 0; c < channels; ++c)
              out[image * channels + c] += in[(image * map_pixels + pixel) * channels + c];
        for (std::int64_t at = 0; at < count * channels; ++at) out[at] /= static_cast<Real>(map_pixels);
        break;
      }
      case TrainingLayerKind::flatten:
        std::copy_n(in, out_map.size(), out);
        break;
      case TrainingLayerKind::add:
        // level_shapes() keeps every operand at the output's width: the maps line up element by element.
        std::copy_n(in, out_map.size(), out);
        for (std::size_t operand = 1; operand < layer.inputs.size(); ++operand) {
          const Real* addend = maps_[layer.inputs[operand]].data();
          for (std::size_t at = 0; at < out_map.size(); ++at) out[at] += addend[at];
        }
        break;
      case TrainingLayerKind::zero_padding2d:
        std::fill(out_map.begin(), out_map.end(), Real{0});
        for_each_padded_row(model_layer, state, count,
                            [&](std::int64_t from, std::int64_t to, std::int64_t values) {
                              std::copy_n(in + from, values, out + to);
                            });
        break;
    }
  }
  network_ = &network;
  return std::span<const Real>(maps_.back());
}

template <class Real>
Result<double> Pass<Real>::loss(std::span<const std::int64_t> labels) {
  return cross_entropy(labels, Real{1}, nullptr);
}

template <class Real>
void softened_probabilities(std::span<const Real> logits, std::int64_t classes, double temperature,
                            std::vector<Real>& probabilities) {
  probabilities.resize(logits.size());
  for (std::size_t row = 0; row + static_cast<std::size_t>(classes) <= logits.size();
       row += static_cast<std::size_t>(classes)) {
    const Real* z = logits.data() + row;
    const double top = static_cast<double>(*std::max_element(z, z + classes));
    double sum = 0.0;
    for (std::int64_t j = 0; j < classes; ++j)
      sum += std::exp((static_cast<double>(z[j]) - top) / temperature);
    for (std::int64_t j = 0; j < classes; ++j)
      probabilities[row + static_cast<std::size_t>(j)] =
          static_cast<Real>(std::exp((static_cast<double>(z[j]) - top) / temperature) / sum);
  }
}

template <class Real>
Result<double> Pass<Real>::cross_entropy(std::span<const std::int64_t> labels, Real scale,
                                         std::vector<Real>* gradient, const SoftTargets<Real>* targets) {
  if (!network_) return invalid_argument("no forward() came first");
  const std::int64_t classes = network_->classes();
  if (static_cast<std::int64_t>(labels.size()) != count_)
    return invalid_argument("got " + std::to_string(labels.size()) + " labels for " + std::to_string(count_) +
                            " images");
  for (const std::int64_t label : labels)
    if (label < 0 || label >= classes)
      return invalid_argument("label " + std::to_string(label) + " is not a class (0.." +
                              std::to_string(classes - 1) + ")");
  const std::vector<Real>& logits = maps_.back();
  if (targets) {
    if (targets->probabilities.size() != logits.size())
      return invalid_argument("got " + std::to_string(targets->probabilities.size()) + " soft targets for " +
                              std::to_string(logits.size()) + " logits");
    if (!(targets->temperature > 0.0) || !std::isfinite(targets->temperature))
      return invalid_argument("the distillation temperature must be > 0");
    if (!(targets->weight >= 0.0 && targets->weight <= 1.0))
      return invalid_argument("the distillation weight must lie in [0, 1]");
  }
  // Mean over the minibatch; d loss / d logit = (softmax - one-hot) / count, times 1 - w with soft targets,
  // plus w * T * (softmax(logit / T) - target) / count.
  const double hard = targets ? 1.0 - targets->weight : 1.0;
  if (gradient) gradient->resize(logits.size());
  double loss = 0.0, divergence = 0.0;
  correct_ = 0;
  for (std::int64_t image = 0; image < count_; ++image) {
    const Real* z = logits.data() + image * classes;
    const std::int64_t label = labels[static_cast<std::size_t>(image)];
    const std::int64_t best = std::max_element(z, z + classes) - z;
    if (best == label) ++correct_;
    double sum = 0.0;
    for (std::int64_t j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(z[j] - z[best]));
    const double log_sum = static_cast<double>(z[best]) + std::log(sum);
    loss += log_sum - static_cast<double>(z[label]);
    if (gradient) {
      for (std::int64_t j = 0; j < classes; ++j) {
        const double probability = std::exp(static_cast<double>(z[j]) - log_sum);
        (*gradient)[static_cast<std::size_t>(image * classes + j)] =
            static_cast<Real>(static_cast<double>(scale) * hard * (probability - (j == label ? 1.0 : 0.0)) /
                              static_cast<double>(count_));
      }
    }
    if (!targets) continue;
    const double temperature = targets->temperature;
    const Real* p = targets->probabilities.data() + image * classes;
    double soft_sum = 0.0;
    for (std::int64_t j = 0; j < classes; ++j)
      soft_sum += std::exp((static_cast<double>(z[j]) - static_cast<double>(z[best])) / temperature);
    const double soft_log_sum = static_cast<double>(z[best]) / temperature + std::log(soft_sum);
    for (std::int64_t j = 0; j < classes; ++j) {
      const double target = static_cast<double>(p[j]);
      const double log_q = static_cast<double>(z[j]) / temperature - soft_log_sum;
      if (target > 0.0) divergence += target * (std::log(target) - log_q);
      if (gradient)
        (*gradient)[static_cast<std::size_t>(image * classes + j)] +=
            static_cast<Real>(static_cast<double>(scale) * targets->weight * temperature *
                              (std::exp(log_q) - target) / static_cast<double>(count_));
    }
  }
  distillation_loss_ = divergence / static_cast<double>(count_);
  return loss / static_cast<double>(count_);
}

template <class Real>
Result<double> Pass<Real>::backward(Network<Real>& network, std::span<const std::int64_t> labels,
                                    Real scale) {
  return backward_from_logits(network, labels, scale, nullptr);
}

template <class Real>
Result<double> Pass<Real>::backward(Network<Real>& network, std::span<const std::int64_t> labels, Real scale,
                                    const SoftTargets<Real>& targets) {
  return backward_from_logits(network, labels, scale, &targets);
}

template <class Real>
Result<double> Pass<Real>::backward_from_logits(Network<Real>& network, std::span<const std::int64_t> labels,
                                                Real scale, const SoftTargets<Real>* targets) {
  if (network_ != &network) return invalid_argument("backward() needs a forward() of the same network first");
  if (gradient_.capacity() == 0) gradient_ = spare();
  Result<double> loss = cross_entropy(labels, scale, &gradient_, targets);
  if (!loss) return loss;

  std::vector<TrainingLayer<Real>>& layers = network.layers();
  // A map needs a gradient when something learnable computed it, directly or through the maps it was
  // computed from (or it is the input and the input gradient was asked for).
  std::vector<char> needs(layers.size() + 1, 0);
  needs[0] = options_.input_gradient;
  for (std::size_t index = 0; index < layers.size(); ++index) {
    const TrainingLayer<Real>& layer = layers[index];
    bool learns = (!layer.kernel.value.empty() && layer.kernel.trainable) ||
                  (!layer.bias.value.empty() && layer.bias.trainable) ||
                  (!layer.gamma.value.empty() && layer.gamma.trainable) ||
                  (!layer.beta.value.empty() && layer.beta.trainable);
    for (const std::size_t input : layer.inputs) learns = learns || needs[input] != 0;
    needs[index + 1] = learns;
  }
  gradients_.resize(layers.size() + 1);
  has_gradient_.assign(layers.size() + 1, 0);
  deliver(layers.size(), gradient_);
  for (std::size_t index = layers.size(); index-- > 0;) {
    if (!needs[index + 1] || !has_gradient_[index + 1]) continue;
    TrainingLayer<Real>& layer = layers[index];
    const Layer& model_layer = network.architecture().layers[layer.model_layer];
    LayerState& state = states_[index];
    const std::size_t source = layer.inputs[0];
    const bool input_gradient = needs[source] != 0;
    const Real* in = maps_[source].data();
    if (is_unit(layer.kind) && options_.calibration && index < options_.calibration->scale.size() &&
        !options_.calibration->scale[index].empty()) {
      // d y / d (unit output) = scale
      std::vector<Real>& gradient = gradients_[index + 1];
      const std::int64_t channels = state.output.channels;
      const double* factor = options_.calibration->scale[index].data();
      for (std::size_t at = 0; at < gradient.size(); ++at)
        gradient[at] = static_cast<Real>(static_cast<double>(gradient[at]) *
                                         factor[static_cast<std::int64_t>(at) % channels]);
    }
    const Real* d_out = gradients_[index + 1].data();
    const std::int64_t in_rows = count_ * pixels(state.input);
    const std::int64_t out_rows = count_ * pixels(state.output);
    // Sized for the input; the layers that add into it (rather than set it) clear it first.
    if (next_gradient_.capacity() == 0) next_gradient_ = spare();
    next_gradient_.resize(static_cast<std::size_t>(in_rows * state.input.channels));
    Real* d_in = next_gradient_.data();
    const bool adds = (layer.kind == TrainingLayerKind::conv2d && !state.pointwise) ||
                      layer.kind == TrainingLayerKind::depthwise_conv2d ||
                      layer.kind == TrainingLayerKind::average_pool2d ||
                      layer.kind == TrainingLayerKind::zero_padding2d;
    if (adds && input_gradient) std::fill(next_gradient_.begin(), next_gradient_.end(), Real{0});

    switch (layer.kind) {
      case TrainingLayerKind::conv2d:
      case TrainingLayerKind::dense: {
        const std::int64_t depth = static_cast<std::int64_t>(state.kernel_rows.size());
        const Real* rows = state.pointwise ? in : state.rows.data();
        if (layer.kernel.trainable) {
          work_.resize(static_cast<std::size_t>(depth * state.columns));
          compute::gemm(compute::Gemm<Real>{depth, state.columns, out_rows, rows, depth, true, d_out,
                                            state.columns, work_.data(), state.columns, false});
          scatter_kernel_gradient(state, work_.data(), layer.kernel);
        }
        if (!layer.bias.value.empty() && layer.bias.trainable)
          add_column_sums(d_out, out_rows, state.columns, layer.bias);
        if (!input_gradient) break;
        // d rows = d out x weights^T
        std::vector<Real> transposed(state.weights.size());
        compute::transpose(state.weights.data(), depth, state.columns, state.columns, transposed.data());
        if (state.pointwise) {
          compute::gemm(compute::Gemm<Real>{out_rows, depth, state.columns, d_out, state.columns, false,
                                            transposed.data(), depth, d_in, depth, false});
        } else {
          work_.resize(static_cast<std::size_t>(out_rows * depth));
          compute::gemm(compute::Gemm<Real>{out_rows, depth, state.columns, d_out, state.columns, false,
                                            transposed.data(), depth, work_.data(), depth, false});
          compute::col2im(state.window, count_, state.input.channels, work_.data(), d_in);
        }
        break;
      }
      case TrainingLayerKind::depthwise_conv2d: {
        const compute::Depthwise<Real> geometry{
            state.window,        count_, state.input.channels, model_layer.depth_multiplier, in,
            state.weights.data()};
        Real* d_weights = nullptr;
        if (layer.kernel.trainable) {
          work_.assign(state.weights.size(), Real{0});
          d_weights = work_.data();
        }
        compute::depthwise_backward(geometry, d_out, input_gradient ? d_in : nullptr, d_weights);
        if (d_weights) scatter_kernel_gradient(state, d_weights, layer.kernel);
        if (!layer.bias.value.empty() && layer.bias.trainable)
          add_column_sums(d_out, out_rows, state.columns, layer.bias);
        break;
      }
      case TrainingLayerKind::batch_norm: {
        const std::size_t size = static_cast<std::size_t>(state.input.channels);
        const compute::Normalized<Real> normalized{in_rows, state.input.channels, in, state.mean.data(),
                                                   state.inverse_deviation.data()};
        // Per channel: the sum of d out, and of d out times the normalised input.
        std::vector<double> sum(size, 0.0), weighted(size, 0.0);
        compute::normalization_sums(normalized, d_out, sum.data(), weighted.data());
        for (std::size_t c = 0; c < size; ++c) {
          if (layer.gamma.trainable) layer.gamma.gradient[c] += static_cast<Real>(weighted[c]);
          if (layer.beta.trainable) layer.beta.gradient[c] += static_cast<Real>(sum[c]);
        }
        if (!input_gradient) break;
        // Moving statistics are constants: d in = gamma / sigma * d out. Batch statistics depend on every
        // input: d in = gamma / sigma * (d out - mean(d out) - normalised * mean(d out * normalised)).
        const bool batch = options_.batch_norm == BatchNormMode::batch_statistics;
        std::vector<Real> factor(size), offset(size, Real{0}), slope(size, Real{0});
        for (std::size_t c = 0; c < size; ++c) {
          factor[c] = layer.gamma.value[c] * state.inverse_deviation[c];
          if (!batch) continue;
          offset[c] = static_cast<Real>(sum[c] / static_cast<double>(in_rows));
          slope[c] = static_cast<Real>(weighted[c] / static_cast<double>(in_rows));
        }
        compute::normalization_gradient(normalized, d_out, factor.data(), offset.data(), slope.data(), d_in);
        break;
      }
      case TrainingLayerKind::rectifier:
        compute::rectify_backward(model_layer.rectifier, in_rows * state.input.channels, in, d_out, d_in);
        break;
      case TrainingLayerKind::average_pool2d:
        compute::average_pool_backward(state.window, count_, state.input.channels, d_out, d_in);
        break;
      case TrainingLayerKind::global_average_pool2d: {
        const std::int64_t map_pixels = pixels(state.input);
        const std::int64_t channels = state.input.channels;
        const Real share = Real{1} / static_cast<Real>(map_pixels);
        for (std::int64_t image = 0; image < count_; ++image)
          for (std::int64_t pixel = 0; pixel < map_pixels; ++pixel)
            for (std::int64_t c = 0; c < channels; ++c)
              d_in[(image * map_pixels + pixel) * channels + c] = d_out[image * channels + c] * share;
        break;
      }
      case TrainingLayerKind::flatten:
        std::copy_n(d_out, next_gradient_.size(), d_in);
        break;
      case TrainingLayerKind::add:
        // Every operand gets the output's gradient; the first one below, the others here.
        for (std::size_t operand = 1; operand < layer.inputs.size(); ++operand) {
          if (!needs[layer.inputs[operand]]) continue;
          std::vector<Real> copy = spare();
          copy.assign(d_out, d_out + next_gradient_.size());
          deliver(layer.inputs[operand], copy);
          recycle(copy);
        }
        if (input_gradient) std::copy_n(d_out, next_gradient_.size(), d_in);
        break;
      case TrainingLayerKind::zero_padding2d:
        for_each_padded_row(model_layer, state, count_,
                            [&](std::int64_t from, std::int64_t to, std::int64_t values) {
                              std::copy_n(d_out + to, values, d_in + from);
                            });
        break;
    }
    if (input_gradient) deliver(source, next_gradient_);
    // Done with this gradient: its buffer serves the next one.
    has_gradient_[index + 1] = 0;
    recycle(gradients_[index + 1]);
  }
  if (options_.input_gradient) {
    if (has_gradient_[0]) {
      input_gradient_ = gradients_[0];
    } else {
      input_gradient_.assign(maps_[0].size(), Real{0});
    }
  } else {
    input_gradient_.clear();
  }
  for (std::vector<Real>& gradient : gradients_) recycle(gradient);
  return loss.value();
}

template <class Real>
void Pass<Real>::recycle(std::vector<Real>& buffer) {
  // Bounded: a pass needs at most one buffer per map, and a pool that kept whatever it was given would grow
  // with every step whose buffers were allocated elsewhere.
  if (buffer.capacity() > 0 && spare_.size() <= gradients_.size()) spare_.push_back(std::move(buffer));
  buffer = std::vector<Real>();
}

template <class Real>
std::vector<Real> Pass<Real>::spare() {
  if (spare_.empty()) return {};
  std::vector<Real> buffer = std::move(spare_.back());
  spare_.pop_back();
  return buffer;
}

template <class Real>
void Pass<Real>::deliver(std::size_t map, std::vector<Real>& gradient) {
  if (!has_gradient_[map]) {
    std::swap(gradients_[map], gradient);
    has_gradient_[map] = 1;
    return;
  }
  std::vector<Real>& sum = gradients_[map];
  for (std::size_t at = 0; at < sum.size(); ++at) sum[at] += gradient[at];
}

template class Network<float>;
template class Network<double>;
template Network<float>::Network(const Network<double>&);
template Network<double>::Network(const Network<float>&);
template class Pass<float>;
template class Pass<double>;
template void softened_probabilities(std::span<const float>, std::int64_t, double, std::vector<float>&);
template void softened_probabilities(std::span<const double>, std::int64_t, double, std::vector<double>&);

}  // namespace reds::engine::training
