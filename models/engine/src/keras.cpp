// Keras models saved in HDF5: the architecture is the JSON attribute `model_config` at the file's root,
// the weights are datasets under model_weights/<layer>/, named by the layer group's `weight_names`.
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "keras_config.h"
#include "reds/engine/keras_file.h"
#include "reds/engine/model.h"

namespace reds::engine {

namespace {

using nlohmann::json;

// Debian's HDF5 is built without thread safety: one call at a time.
std::mutex hdf5_mutex;

// An HDF5 identifier closed when it goes out of scope.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// The strings of a string attribute (scalar or one-dimensional, fixed or variable length); an attribute of
// another type with no elements (Keras writes an empty float array for a layer without weights) is empty.
Result<std::vector<std::string>> read_strings(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return invalid_argument(std::string("no attribute '") + name + "'");
  const Handle attribute(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  const Handle type(H5Aget_type(attribute.get()), H5Tclose);
  const Handle space(H5Aget_space(attribute.get()), H5Sclose);
  if (!attribute.valid() || !type.valid() || !space.valid())
    return invalid_argument(std::string("cannot read attribute '") + name + "'");
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) return invalid_argument(std::string("cannot read attribute '") + name + "'");
  std::vector<std::string> strings;
  if (count == 0) return strings;
  if (H5Tget_class(type.get()) != H5T_STRING)
    return invalid_argument(std::string("attribute '") + name + "' is not a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    const Handle memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory_type.get(), H5T_VARIABLE);
    H5Tset_cset(memory_type.get(), H5Tget_cset(type.get()));
    std::vector<char*> pointers(static_cast<std::size_t>(count), nullptr);
    if (H5Aread(attribute.get(), memory_type.get(), pointers.data()) < 0)
      return invalid_argument(std::string("cannot read attribute '") + name + "'");
    for (char* text : pointers) strings.emplace_back(text ? text : "");
    H5Dvlen_reclaim(memory_type.get(), space.get(), H5P_DEFAULT, pointers.data());
    return strings;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::vector<char> buffer(size * static_cast<std::size_t>(count));
  if (H5Aread(attribute.get(), type.get(), buffer.data()) < 0)
    return invalid_argument(std::string("cannot read attribute '") + name + "'");
  for (hssize_t i = 0; i < count; ++i) {
    const char* text = buffer.data() + static_cast<std::size_t>(i) * size;
    strings.emplace_back(text, strnlen(text, size));
  }
  return strings;
}

Layer plain_layer(const std::string& name, LayerKind kind) {
  Layer layer;
  layer.name = name;
  layer.kind = kind;
  return layer;
}

using Weight = KerasWeight;

// The weights of one layer by short name ("kernel", "bias", "gamma", ...), read as float32 whatever their
// stored type.
Result<std::map<std::string, Weight>> read_layer_weights(hid_t weights_group, const std::string& layer) {
  std::map<std::string, Weight> weights;
  if (H5Lexists(weights_group, layer.c_str(), H5P_DEFAULT) <= 0) return weights;
  const Handle group(H5Gopen2(weights_group, layer.c_str(), H5P_DEFAULT), H5Gclose);
  if (!group.valid()) return invalid_argument("cannot open the weights of layer '" + layer + "'");
  Result<std::vector<std::string>> names = read_strings(group.get(), "weight_names");
  if (!names) return invalid_argument("layer '" + layer + "': " + names.error().message);
  for (const std::string& path : names.value()) {
    const Handle dataset(H5Dopen2(group.get(), path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!dataset.valid()) return invalid_argument("layer '" + layer + "': no weight dataset '" + path + "'");
    const Handle space(H5Dget_space(dataset.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > 8)
      return invalid_argument("layer '" + layer + "': weight '" + path + "' has rank " +
                              std::to_string(rank));
    hsize_t dims[8] = {};
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    Weight weight;
    std::size_t count = 1;
    for (int axis = 0; axis < rank; ++axis) {
      weight.dims.push_back(static_cast<std::int64_t>(dims[axis]));
      count *= dims[axis];
      if (count > (std::size_t{1} << 32))
        return invalid_argument("layer '" + layer + "': weight '" + path + "' is too large");
    }
    // The dimensions are a size field of the file: allocate only what the file's bytes can hold (deflate,
    // the strongest filter h5py writes, shrinks data at most about 1032 times).
    const Handle stored_type(H5Dget_type(dataset.get()), H5Tclose);
    const std::size_t element_size = stored_type.valid() ? H5Tget_size(stored_type.get()) : 0;
    if (count > 0 && (element_size == 0 || count * element_size / 1032 > H5Dget_storage_size(dataset.get())))
      return invalid_argument("layer '" + layer + "': weight '" + path + "' declares " +
                              std::to_string(count) + " values, more than the file stores for it");
    weight.values.resize(count);
    if (count > 0 &&
        H5Dread(dataset.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, weight.values.data()) < 0)
      return invalid_argument("layer '" + layer + "': cannot read weight '" + path + "' as float32");
    // "conv2d/kernel:0" -> "kernel"
    std::string short_name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    short_name = short_name.substr(0, short_name.find(':'));
    weights[short_name] = std::move(weight);
  }
  return weights;
}

// One Keras layer's class and config, read into the engine's layers (BatchNormalization folded into the
// layer before it).
class LayerReader {
 public:
  LayerReader(const json& entry, std::map<std::string, Weight> weights)
      : class_name_(entry.value("class_name", std::string())),
        config_(entry.contains("config") && entry["config"].is_object() ? entry["config"] : json::object()),
        name_(config_.value("name", std::string())),
        weights_(std::move(weights)) {}

  const std::string& class_name() const { return class_name_; }
  const std::string& name() const { return name_; }

  // Appends the layer (and the activation it carries) to `model`, reading the model's tensors `inputs`,
  // or explains why it cannot. Layers that append nothing (InputLayer, Dropout, a folded
  // BatchNormalization) stand for their input.
  std::optional<Error> append_to(Model& model, const std::vector<std::size_t>& inputs) {
    inputs_ = inputs;
    first_appended_ = model.layers.size();
    try {
      std::optional<Error> error = append(model);
      if (!error && model.layers.size() > first_appended_ &&
          !(inputs.size() == 1 && inputs[0] == first_appended_))
        model.layers[first_appended_].inputs = inputs;  // not the chain's default
      return error;
    } catch (const json::exception& error) {
      return fail(std::string("unreadable config (") + error.what() + ")");
    }
  }

 private:
  Error fail(const std::string& message) const {
    return invalid_argument("layer '" + name_ + "' (" + class_name_ + "): " + message);
  }

  std::optional<Error> append(Model& model) {
    if (auto error = check_data_format()) return error;
    if (class_name_ == "InputLayer" || class_name_ == "Dropout") return std::nullopt;
    if (class_name_ == "Conv2D") return append_convolution(model, LayerKind::conv2d);
    if (class_name_ == "DepthwiseConv2D") return append_convolution(model, LayerKind::depthwise_conv2d);
    if (class_name_ == "Dense") return append_dense(model);
    if (class_name_ == "BatchNormalization") return fold_batch_norm(model);
    if (class_name_ == "ReLU") {
      Rectifier rectifier;
      rectifier.negative_slope = number("negative_slope", 0.0f);
      rectifier.threshold = number("threshold", 0.0f);
      rectifier.max_value = number("max_value", rectifier.max_value);
      return append_rectifier(model, name_, rectifier);
    }
    if (class_name_ == "LeakyReLU") return append_rectifier(model, name_, Rectifier{number("alpha", 0.3f)});
    if (class_name_ == "Activation") return append_activation(model, name_);
    if (class_name_ == "AveragePooling2D") return append_pool(model, LayerKind::average_pool2d);
    if (class_name_ == "MaxPooling2D") return append_pool(model, LayerKind::max_pool2d);
    if (class_name_ == "GlobalAveragePooling2D") {
      if (config_.value("keepdims", false)) return fail("keepdims=True is not supported");
      return append_plain(model, LayerKind::global_average_pool2d);
    }
    if (class_name_ == "Flatten") return append_plain(model, LayerKind::flatten);
    if (class_name_ == "Add") {
      if (inputs_.size() < 2)
        return fail("adds " + std::to_string(inputs_.size()) + " maps, needs two or more");
      return append_plain(model, LayerKind::add);
    }
    if (class_name_ == "ZeroPadding2D") return append_zero_padding(model);
    if (class_name_ == "Softmax") {
      const json axis = config_.value("axis", json(-1));
      if (!(axis == json(-1) || axis == json::array({-1})))
        return fail("only a softmax over the last axis is supported");
      return append_plain(model, LayerKind::softmax);
    }
    return fail(
        "this layer class is not supported (supported: InputLayer, Conv2D, DepthwiseConv2D, Dense, "
        "BatchNormalization, ReLU, LeakyReLU, Activation, Add, ZeroPadding2D, AveragePooling2D, "
        "MaxPooling2D, GlobalAveragePooling2D, Flatten, Softmax, Dropout)");
  }

  // Keras stores ((top, bottom), (left, right)); an integer or a pair means the same on both sides.
  std::optional<Error> append_zero_padding(Model& model) {
    Layer layer = plain_layer(name_, LayerKind::zero_padding2d);
    const json padding = config_.value("padding", json(1));
    const auto integer = [](const json& value) { return value.is_number_integer(); };
    if (integer(padding)) {
      layer.pad_top = layer.pad_bottom = layer.pad_left = layer.pad_right = padding.get<std::int64_t>();
    } else if (padding.is_array() && padding.size() == 2 && integer(padding[0]) && integer(padding[1])) {
      layer.pad_top = layer.pad_bottom = padding[0].get<std::int64_t>();
      layer.pad_left = layer.pad_right = padding[1].get<std::int64_t>();
    } else if (padding.is_array() && padding.size() == 2 && padding[0].is_array() && padding[1].is_array() &&
               padding[0].size() == 2 && padding[1].size() == 2 && integer(padding[0][0]) &&
               integer(padding[0][1]) && integer(padding[1][0]) && integer(padding[1][1])) {
      layer.pad_top = padding[0][0].get<std::int64_t>();
      layer.pad_bottom = padding[0][1].get<std::int64_t>();
      layer.pad_left = padding[1][0].get<std::int64_t>();
      layer.pad_right = padding[1][1].get<std::int64_t>();
    } else {
      return fail("padding " + padding.dump() + " is not an integer, a pair or a pair of pairs");
    }
    model.layers.push_back(std::move(layer));
    return std::nullopt;
  }

  std::optional<Error> check_data_format() const {
    const std::string format = config_.value("data_format", std::string("channels_last"));
    if (format != "channels_last")
      return fail("data_format '" + format + "' is not supported (only channels_last)");
    return std::nullopt;
  }

  float number(const char* key, float fallback) const {
    const auto found = config_.find(key);
    if (found == config_.end() || found->is_null()) return fallback;
    return static_cast<float>(found->get<double>());
  }

  // A pair like kernel_size [3, 3] (or a single number for both).
  std::optional<std::pair<std::int64_t, std::int64_t>> pair(const char* key) const {
    const auto found = config_.find(key);
    if (found == config_.end() || found->is_null()) return std::nullopt;
    if (found->is_number_integer()) return std::pair{found->get<std::int64_t>(), found->get<std::int64_t>()};
    if (!found->is_array() || found->size() != 2) return std::pair<std::int64_t, std::int64_t>{0, 0};
    return std::pair{(*found)[0].get<std::int64_t>(), (*found)[1].get<std::int64_t>()};
  }

  std::optional<Error> read_window(Layer& layer, const char* size_key) const {
    const auto size = pair(size_key);
    if (!size) return fail(std::string("has no ") + size_key);
    layer.kernel_height = size->first;
    layer.kernel_width = size->second;
    if (layer.kind == LayerKind::average_pool2d || layer.kind == LayerKind::max_pool2d) {
      // A pool's strides default to its size.
      std::tie(layer.stride_height, layer.stride_width) = pair("strides").value_or(*size);
    } else {
      std::tie(layer.stride_height, layer.stride_width) =
          pair("strides").value_or(std::pair<std::int64_t, std::int64_t>{1, 1});
      std::tie(layer.dilation_height, layer.dilation_width) =
          pair("dilation_rate").value_or(std::pair<std::int64_t, std::int64_t>{1, 1});
    }
    const std::string padding = config_.value("padding", std::string("valid"));
    if (padding == "valid") {
      layer.padding = Padding::valid;
    } else if (padding == "same") {
      layer.padding = Padding::same;
    } else {
      return fail("padding '" + padding + "' is not supported (valid, same)");
    }
    return std::nullopt;
  }

  // The weight `name` with the given number of dimensions, moved out of the layer's weights.
  Result<Weight> take(const std::string& name, std::size_t rank) {
    const auto found = weights_.find(name);
    if (found == weights_.end()) return fail("has no weight '" + name + "'");
    if (found->second.dims.size() != rank)
      return fail("weight '" + name + "' has " + std::to_string(found->second.dims.size()) +
                  " dimensions, expected " + std::to_string(rank));
    Weight weight = std::move(found->second);
    weights_.erase(found);
    return weight;
  }

  std::optional<Error> take_bias(Layer& layer) {
    if (!config_.value("use_bias", true)) return std::nullopt;
    Result<Weight> bias = take("bias", 1);
    if (!bias) return bias.error();
    layer.bias = std::move(bias->values);
    return std::nullopt;
  }

  std::optional<Error> append_convolution(Model& model, LayerKind kind) {
    Layer layer;
    layer.name = name_;
    layer.kind = kind;
    if (auto error = read_window(layer, "kernel_size")) return error;
    Result<Weight> kernel = take(kind == LayerKind::conv2d ? "kernel" : "depthwise_kernel", 4);
    if (!kernel) return kernel.error();
    if (kernel->dims[0] != layer.kernel_height || kernel->dims[1] != layer.kernel_width)
      return fail("its kernel weights are " + std::to_string(kernel->dims[0]) + "x" +
                  std::to_string(kernel->dims[1]) + ", its kernel_size says " +
                  std::to_string(layer.kernel_height) + "x" + std::to_string(layer.kernel_width));
    if (kind == LayerKind::conv2d) {
      layer.units = config_.value("filters", std::int64_t{0});
      layer.groups = config_.value("groups", std::int64_t{1});
      if (kernel->dims[3] != layer.units)
        return fail("its kernel has " + std::to_string(kernel->dims[3]) + " filters, its config " +
                    std::to_string(layer.units));
    } else {
      layer.depth_multiplier = config_.value("depth_multiplier", std::int64_t{1});
      if (kernel->dims[3] != layer.depth_multiplier)
        return fail("its kernel has depth multiplier " + std::to_string(kernel->dims[3]) + ", its config " +
                    std::to_string(layer.depth_multiplier));
    }
    layer.kernel = std::move(kernel->values);
    if (auto error = take_bias(layer)) return error;
    model.layers.push_back(std::move(layer));
    return append_activation(model, name_ + "/activation");
  }

  std::optional<Error> append_dense(Model& model) {
    Layer layer;
    layer.name = name_;
    layer.kind = LayerKind::dense;
    layer.units = config_.value("units", std::int64_t{0});
    Result<Weight> kernel = take("kernel", 2);
    if (!kernel) return kernel.error();
    if (kernel->dims[1] != layer.units)
      return fail("its kernel has " + std::to_string(kernel->dims[1]) + " units, its config " +
                  std::to_string(layer.units));
    layer.kernel = std::move(kernel->values);
    if (auto error = take_bias(layer)) return error;
    model.layers.push_back(std::move(layer));
    return append_activation(model, name_ + "/activation");
  }

  // The `activation` of an Activation layer, or the one fused into a Conv2D, DepthwiseConv2D or Dense.
  std::optional<Error> append_activation(Model& model, const std::string& name) {
    const std::string activation = config_.value("activation", std::string("linear"));
    if (activation == "linear") return std::nullopt;
    if (activation == "relu") return append_rectifier(model, name, Rectifier{});
    if (activation == "softmax") {
      model.layers.push_back(plain_layer(name, LayerKind::softmax));
      return std::nullopt;
    }
    return fail("activation '" + activation + "' is not supported (linear, relu, softmax)");
  }

  std::optional<Error> append_rectifier(Model& model, const std::string& name, const Rectifier& rectifier) {
    Layer layer = plain_layer(name, LayerKind::rectifier);
    layer.rectifier = rectifier;
    model.layers.push_back(std::move(layer));
    return std::nullopt;
  }

  std::optional<Error> append_pool(Model& model, LayerKind kind) {
    Layer layer = plain_layer(name_, kind);
    if (auto error = read_window(layer, "pool_size")) return error;
    model.layers.push_back(std::move(layer));
    return std::nullopt;
  }

  std::optional<Error> append_plain(Model& model, LayerKind kind) {
    model.layers.push_back(plain_layer(name_, kind));
    return std::nullopt;
  }

  // y = gamma * (x - mean) / sqrt(variance + epsilon) + beta on every output channel of the layer before,
  // folded into its weights and bias (computed in double, rounded once).
  std::optional<Error> fold_batch_norm(Model& model) {
    const json axis = config_.value("axis", json(-1));
    const bool last_axis = axis == json(-1) || axis == json::array({-1}) || axis == json(3) ||
                           axis == json::array({3}) || axis == json(1) || axis == json::array({1});
    if (!last_axis) return fail("only a batch normalization over the channels (the last axis) is supported");
    // The tensor it reads must be the output of a unit layer (tensor i + 1 is layers[i]'s output).
    const std::size_t tensor = inputs_.size() == 1 ? inputs_[0] : 0;
    if (tensor == 0 || (model.layers[tensor - 1].kind != LayerKind::conv2d &&
                        model.layers[tensor - 1].kind != LayerKind::depthwise_conv2d &&
                        model.layers[tensor - 1].kind != LayerKind::dense))
      return fail(
          "must follow a Conv2D, DepthwiseConv2D or Dense layer without activation (it is folded into it)");
    Layer& target = model.layers[tensor - 1];
    // Every kernel row (a tap's input channel, or an input feature) holds one weight per output channel.
    const std::size_t taps = static_cast<std::size_t>(target.kernel_height * target.kernel_width);
    const std::size_t outputs = target.kind == LayerKind::depthwise_conv2d
                                    ? target.kernel.size() / taps
                                    : static_cast<std::size_t>(target.units);
    if (taps == 0 || outputs == 0) return fail("the layer before it has no weights to fold into");
    Result<Weight> mean = take("moving_mean", 1);
    if (!mean) return mean.error();
    Result<Weight> variance = take("moving_variance", 1);
    if (!variance) return variance.error();
    std::vector<float> gamma(outputs, 1.0f);
    std::vector<float> beta(outputs, 0.0f);
    if (config_.value("scale", true)) {
      Result<Weight> weight = take("gamma", 1);
      if (!weight) return weight.error();
      gamma = std::move(weight->values);
    }
    if (config_.value("center", true)) {
      Result<Weight> weight = take("beta", 1);
      if (!weight) return weight.error();
      beta = std::move(weight->values);
    }
    if (mean->values.size() != outputs || variance->values.size() != outputs || gamma.size() != outputs ||
        beta.size() != outputs || (!target.bias.empty() && target.bias.size() != outputs))
      return fail("has " + std::to_string(mean->values.size()) + " channels, the layer before it " +
                  std::to_string(outputs) + " outputs");
    const double epsilon = config_.value("epsilon", 0.001);
    if (target.bias.empty()) target.bias.assign(outputs, 0.0f);
    for (std::size_t o = 0; o < outputs; ++o) {
      const double scale =
          static_cast<double>(gamma[o]) / std::sqrt(static_cast<double>(variance->values[o]) + epsilon);
      for (std::size_t at = o; at < target.kernel.size(); at += outputs)
        target.kernel[at] = static_cast<float>(static_cast<double>(target.kernel[at]) * scale);
      target.bias[o] =
          static_cast<float>((static_cast<double>(target.bias[o]) - mean->values[o]) * scale + beta[o]);
    }
    return std::nullopt;
  }

  std::string class_name_;
  json config_;
  std::string name_;
  std::map<std::string, Weight> weights_;
  std::vector<std::size_t> inputs_;
  std::size_t first_appended_ = 0;
};

// The input shape from a batch_input_shape like [null, 28, 28, 1] or [null, 250].
Result<Shape> input_shape(const json& shape) {
  if (!shape.is_array() || (shape.size() != 4 && shape.size() != 2))
    return invalid_argument("the model's input must be height x width x channels or a flat vector, got " +
                            shape.dump());
  std::vector<std::int64_t> dims;
  for (std::size_t axis = 1; axis < shape.size(); ++axis) {
    if (!shape[axis].is_number_integer())
      return invalid_argument("the model's input shape " + shape.dump() + " has an unknown dimension");
    dims.push_back(shape[axis].get<std::int64_t>());
  }
  if (dims.size() == 1) return Shape{1, 1, dims[0], true};
  return Shape{dims[0], dims[1], dims[2], false};
}

// The names of the layers a functional model's layer reads (Keras 2's
// "inbound_nodes": [[["conv2d", 0, 0, {}], ...]]): empty for an InputLayer.
Result<std::vector<std::string>> inbound_names(const json& layer, const std::string& name) {
  const json inbound = layer.value("inbound_nodes", json::array());
  std::vector<std::string> names;
  if (!inbound.is_array() || inbound.empty()) return names;
  if (inbound.size() != 1 || !inbound[0].is_array() || inbound[0].empty())
    return invalid_argument("layer '" + name + "' is called " + std::to_string(inbound.size()) +
                            " times: shared layers are not supported");
  for (const json& node : inbound[0]) {
    if (!node.is_array() || node.empty() || !node[0].is_string())
      return invalid_argument("layer '" + name + "' has an unreadable inbound node " + node.dump());
    if ((node.size() > 1 && node[1] != json(0)) || (node.size() > 2 && node[2] != json(0)))
      return invalid_argument("layer '" + name + "' reads " + node.dump() +
                              ": only the first output of a layer called once is supported");
    names.push_back(node[0].get<std::string>());
  }
  return names;
}

// A functional model's layers in an order where every layer comes after the layers it reads (the file's
// order where it allows), with the names each reads. Sequential models are chains in the file's order.
struct OrderedLayers {
  std::vector<std::size_t> order;                 // indices into the config's layers
  std::vector<std::vector<std::string>> inbound;  // per config layer
};

Result<OrderedLayers> order_layers(const json& layers, bool sequential, const json& model_config) {
  OrderedLayers ordered;
  std::map<std::string, std::size_t> index_of;
  for (std::size_t index = 0; index < layers.size(); ++index) {
    const std::string name = layers[index]["config"].value("name", std::string());
    if (!index_of.emplace(name, index).second) return invalid_argument("two layers are named '" + name + "'");
    if (sequential) {
      ordered.order.push_back(index);
      ordered.inbound.push_back(
          index == 0 ? std::vector<std::string>{}
                     : std::vector<std::string>{layers[index - 1]["config"].value("name", std::string())});
      continue;
    }
    Result<std::vector<std::string>> names = inbound_names(layers[index], name);
    if (!names) return names.error();
    ordered.inbound.push_back(std::move(names).value());
  }
  if (sequential) return ordered;
  for (std::size_t index = 0; index < layers.size(); ++index)
    for (const std::string& source : ordered.inbound[index])
      if (!index_of.contains(source))
        return invalid_argument("layer '" + layers[index]["config"].value("name", std::string()) +
                                "' reads '" + source + "', which is not a layer of the model");
  std::vector<bool> placed(layers.size(), false);
  while (ordered.order.size() < layers.size()) {
    std::size_t next = layers.size();
    for (std::size_t index = 0; index < layers.size() && next == layers.size(); ++index)
      if (!placed[index] &&
          std::all_of(ordered.inbound[index].begin(), ordered.inbound[index].end(),
                      [&](const std::string& source) { return placed[index_of.at(source)]; }))
        next = index;
    if (next == layers.size()) return invalid_argument("the model's layers read each other in a cycle");
    placed[next] = true;
    ordered.order.push_back(next);
  }
  // One input, first; one output, last; every other layer read by another.
  const json& first = layers[ordered.order[0]];
  for (std::size_t position = 1; position < ordered.order.size(); ++position)
    if (ordered.inbound[ordered.order[position]].empty())
      return invalid_argument("layer '" +
                              layers[ordered.order[position]]["config"].value("name", std::string()) +
                              "' reads no other layer: only models with one input are supported");
  if (first.value("class_name", std::string()) != "InputLayer")
    return invalid_argument("the model's first layer is not an InputLayer");
  const std::string last = layers[ordered.order.back()]["config"].value("name", std::string());
  const json outputs = model_config.is_object() ? model_config.value("output_layers", json()) : json();
  if (!outputs.is_null() && !(outputs.is_array() && outputs.size() == 1 && outputs[0].is_array() &&
                              !outputs[0].empty() && outputs[0][0] == json(last)))
    return invalid_argument("the model's outputs " + outputs.dump() + " are not its last layer '" + last +
                            "': only models with one output are supported");
  std::set<std::string> read;
  for (const std::vector<std::string>& names : ordered.inbound) read.insert(names.begin(), names.end());
  for (const std::size_t index : ordered.order) {
    const std::string name = layers[index]["config"].value("name", std::string());
    if (name != last && !read.contains(name))
      return invalid_argument("layer '" + name + "' is read by no other layer and is not the model's output");
  }
  return ordered;
}

Result<Model> build_model(const std::string& path, std::string_view config_text,
                          const detail::KerasWeightsOf& weights_of) {
  const json config = json::parse(config_text, nullptr, false);
  if (config.is_discarded() || !config.is_object())
    return invalid_argument("'" + path + "': model_config is not JSON");
  const std::string model_class = config.value("class_name", std::string());
  if (model_class != "Sequential" && model_class != "Functional" && model_class != "Model")
    return invalid_argument("'" + path + "': model class '" + model_class +
                            "' is not supported (Sequential, Functional)");
  const json& model_config = config.contains("config") ? config["config"] : json();
  const json layers = model_config.is_array() ? model_config : model_config.value("layers", json::array());
  if (!layers.is_array() || layers.empty())
    return invalid_argument("'" + path + "': the model has no layers");
  for (const json& layer : layers)
    if (!layer.is_object() || !layer.contains("config") || !layer["config"].is_object())
      return invalid_argument("'" + path + "': a layer without config");
  Result<OrderedLayers> ordered = order_layers(layers, model_class == "Sequential", model_config);
  if (!ordered) return ordered.error();

  const json& first = layers[ordered->order[0]]["config"];
  const json batch_shape =
      first.contains("batch_input_shape") ? first["batch_input_shape"] : first.value("batch_shape", json());
  Result<Shape> input = input_shape(batch_shape);
  if (!input) return input.error();

  Model model;
  model.name =
      model_config.is_object() ? model_config.value("name", std::string("model")) : std::string("model");
  model.input = input.value();
  // The model tensor that holds each Keras layer's output (0: the input), and how many layers read it.
  std::map<std::string, std::size_t> tensor_of;
  std::map<std::string, int> readers;
  for (const std::vector<std::string>& names : ordered->inbound)
    for (const std::string& name : names) ++readers[name];
  for (const std::size_t index : ordered->order) {
    const json& entry = layers[index];
    const std::string name = entry["config"].value("name", std::string());
    std::vector<std::size_t> inputs;
    for (const std::string& source : ordered->inbound[index]) inputs.push_back(tensor_of.at(source));
    // A Sequential model's first layer may carry the input shape itself, with no InputLayer before it.
    if (inputs.empty() && entry.value("class_name", std::string()) != "InputLayer") inputs.push_back(0);
    if (entry.value("class_name", std::string()) == "BatchNormalization" && inputs.size() == 1 &&
        readers[ordered->inbound[index].empty() ? std::string() : ordered->inbound[index][0]] > 1)
      return invalid_argument("layer '" + name +
                              "' (BatchNormalization): the layer it follows has other readers, so it cannot "
                              "be folded into it");
    Result<std::map<std::string, Weight>> weights = weights_of(name);
    if (!weights) return weights.error();
    LayerReader reader(entry, std::move(weights).value());
    const std::size_t before = model.layers.size();
    if (auto error = reader.append_to(model, inputs)) return *error;
    tensor_of[name] = model.layers.size() > before ? model.layers.size() : (inputs.empty() ? 0 : inputs[0]);
  }
  if (auto error = validate(model)) return *error;
  return model;
}

Result<Model> read_keras(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported through return values
  const Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) return invalid_argument("cannot open '" + path + "' as an HDF5 file");
  Result<std::vector<std::string>> config_text = read_strings(file.get(), "model_config");
  if (!config_text || config_text->size() != 1)
    return invalid_argument("'" + path +
                            "' has no model_config attribute (a weights-only file? save the whole model)");
  // Opened when the configuration has been read, so that a bad configuration is reported first.
  std::unique_ptr<Handle> weights_group;
  const auto weights_of = [&](const std::string& layer) -> Result<std::map<std::string, Weight>> {
    if (!weights_group) {
      if (H5Lexists(file.get(), "model_weights", H5P_DEFAULT) <= 0)
        return invalid_argument("'" + path + "' has no model_weights group");
      weights_group = std::make_unique<Handle>(H5Gopen2(file.get(), "model_weights", H5P_DEFAULT), H5Gclose);
    }
    if (!weights_group->valid()) return invalid_argument("'" + path + "': cannot open model_weights");
    return read_layer_weights(weights_group->get(), layer);
  };
  return build_model(path, config_text->front(), weights_of);
}

}  // namespace

Result<Model> detail::build_model_from_keras_config(const std::string& source, std::string_view model_config,
                                                    const KerasWeightsOf& weights_of) {
  try {
    return build_model(source, model_config, weights_of);
  } catch (const std::exception& error) {
    return invalid_argument("'" + source + "': " + error.what());
  }
}

Result<Model> load_keras(const std::string& path) {
  const std::lock_guard<std::mutex> lock(hdf5_mutex);
  try {
    return read_keras(path);
  } catch (const std::exception& error) {
    return invalid_argument("'" + path + "': " + error.what());
  }
}

Result<KerasFile> read_keras_file(const std::string& path) {
  const std::lock_guard<std::mutex> lock(hdf5_mutex);
  try {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.valid()) return invalid_argument("cannot open '" + path + "' as an HDF5 file");
    Result<std::vector<std::string>> config_text = read_strings(file.get(), "model_config");
    if (!config_text || config_text->size() != 1)
      return invalid_argument("'" + path + "' has no model_config attribute");
    KerasFile keras{config_text->front(), {}};
    const json config = json::parse(keras.model_config);
    const json& model_config = config.at("config");
    const json& layers = model_config.is_array() ? model_config : model_config.at("layers");
    const Handle weights_group(H5Gopen2(file.get(), "model_weights", H5P_DEFAULT), H5Gclose);
    if (!weights_group.valid()) return invalid_argument("'" + path + "' has no model_weights group");
    for (const json& layer : layers) {
      const std::string name = layer.at("config").value("name", std::string());
      Result<std::map<std::string, Weight>> weights = read_layer_weights(weights_group.get(), name);
      if (!weights) return weights.error();
      for (auto& [weight_name, weight] : weights.value())
        keras.weights[name][weight_name] = std::move(weight);
    }
    return keras;
  } catch (const std::exception& error) {
    return invalid_argument("'" + path + "': " + error.what());
  }
}

}  // namespace reds::engine
