#include "reds/engine/architectures.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "reds/models/architecture_spec.h"
#include "reds/splitmix64.h"

namespace reds::engine {

namespace {

// Uniform in [-bound, bound) as (2u - 1) * bound, not as uniform(-bound, bound): the two round differently,
// and a seed's weights are part of what `reds example` writes.
float symmetric_uniform(SplitMix64& random, double bound) {
  return static_cast<float>((2.0 * random.uniform() - 1.0) * bound);
}

Padding padding_of(models::Padding padding) {
  return padding == models::Padding::same ? Padding::same : Padding::valid;
}

// Builds the engine model of a spec, layer by layer, tracking every map's shape: tensor 0 is the input,
// tensor i + 1 the output of model layer i.
class ModelBuilder {
 public:
  ModelBuilder(const models::ArchitectureSpec& spec, std::uint64_t seed) : random_(seed) {
    model_.name = spec.name;
    model_.input = Shape{spec.input_map.height, spec.input_map.width, spec.input_channels, spec.flat_input};
    tensors_.push_back(Map{spec.input_map, spec.input_channels, spec.flat_input});
  }

  std::optional<Error> add(const models::LayerSpec& spec) {
    reads_.clear();
    for (const std::string& name : spec.inputs) {
      const auto found = tensor_of_name_.find(name);
      if (found == tensor_of_name_.end())
        return invalid_argument("layer '" + spec.name + "' reads '" + name + "', no earlier layer");
      reads_.push_back(found->second);
    }
    if (reads_.empty()) reads_.push_back(model_.layers.size());
    map_ = tensors_[reads_[0]];
    switch (spec.kind) {
      case models::SpecLayerKind::conv:
      case models::SpecLayerKind::depthwise: {
        const bool depthwise = spec.kind == models::SpecLayerKind::depthwise;
        Layer layer = window_layer(spec.name, depthwise ? LayerKind::depthwise_conv2d : LayerKind::conv2d,
                                   spec.kernel, spec.stride, padding_of(spec.padding));
        const std::int64_t taps = spec.kernel.positions();
        if (depthwise) {
          fill(layer, taps, map_.channels, spec.bias);
        } else {
          layer.units = spec.units;
          fill(layer, taps * map_.channels, spec.units, spec.bias);
          map_.channels = spec.units;
        }
        map_.extent = models::output_map(map_.extent, spec.kernel, spec.stride, spec.padding);
        push(std::move(layer), spec.activation);
        break;
      }
      case models::SpecLayerKind::dense: {
        // Keras flattens a map before a Dense layer reads it.
        if (!map_.flat) {
          Layer flatten;
          flatten.name = "flatten";
          flatten.kind = LayerKind::flatten;
          map_ = Map{models::Extent{1, 1}, map_.channels * map_.extent.positions(), true};
          append(std::move(flatten));
        }
        Layer layer;
        layer.name = spec.name;
        layer.kind = LayerKind::dense;
        layer.units = spec.units;
        fill(layer, map_.channels, spec.units, spec.bias);
        map_ = Map{models::Extent{1, 1}, spec.units, true};
        push(std::move(layer), spec.activation);
        break;
      }
      case models::SpecLayerKind::average_pool:
      case models::SpecLayerKind::max_pool: {
        const bool average = spec.kind == models::SpecLayerKind::average_pool;
        // The spec's average pool has stride 1 and 'valid' padding.
        const models::Extent stride = average ? models::Extent{1, 1} : spec.stride;
        const models::Padding padding = average ? models::Padding::valid : spec.padding;
        Layer pool = window_layer(spec.name.empty() ? "average_pool" : spec.name,
                                  average ? LayerKind::average_pool2d : LayerKind::max_pool2d, spec.kernel,
                                  stride, padding_of(padding));
        map_.extent = models::output_map(map_.extent, spec.kernel, stride, padding);
        append(std::move(pool));
        break;
      }
      case models::SpecLayerKind::global_average_pool: {
        Layer pool;
        pool.name = spec.name.empty() ? "global_average_pool" : spec.name;
        pool.kind = LayerKind::global_average_pool2d;
        map_ = Map{models::Extent{1, 1}, map_.channels, true};
        append(std::move(pool));
        break;
      }
      case models::SpecLayerKind::zero_padding: {
        Layer pad;
        pad.name = spec.name;
        pad.kind = LayerKind::zero_padding2d;
        pad.pad_top = spec.pad.top;
        pad.pad_bottom = spec.pad.bottom;
        pad.pad_left = spec.pad.left;
        pad.pad_right = spec.pad.right;
        map_.extent = models::Extent{map_.extent.height + spec.pad.top + spec.pad.bottom,
                                     map_.extent.width + spec.pad.left + spec.pad.right};
        append(std::move(pad));
        break;
      }
      case models::SpecLayerKind::add: {
        Layer sum;
        sum.name = spec.name;
        sum.kind = LayerKind::add;
        push(std::move(sum), spec.activation);
        break;
      }
    }
    if (!spec.name.empty()) tensor_of_name_[spec.name] = model_.layers.size();
    return std::nullopt;
  }
  Model finish() && { return std::move(model_); }

 private:
  struct Map {
    models::Extent extent;
    std::int64_t channels = 0;  // or features, once flat
    bool flat = false;
  };

  static Layer window_layer(const std::string& name, LayerKind kind, models::Extent kernel,
                            models::Extent stride, Padding padding) {
    Layer layer;
    layer.name = name;
    layer.kind = kind;
    layer.kernel_height = kernel.height;
    layer.kernel_width = kernel.width;
    layer.stride_height = stride.height;
    layer.stride_width = stride.width;
    layer.padding = padding;
    return layer;
  }
  // fan_in * units weights (any layout: all are uniform), then one bias per unit if the layer has them.
  void fill(Layer& layer, std::int64_t fan_in, std::int64_t units, bool bias) {
    const double bound = std::sqrt(6.0 / static_cast<double>(fan_in));
    layer.kernel.resize(static_cast<std::size_t>(fan_in * units));
    for (float& weight : layer.kernel) weight = symmetric_uniform(random_, bound);
    if (!bias) return;
    layer.bias.resize(static_cast<std::size_t>(units));
    for (float& value : layer.bias) value = symmetric_uniform(random_, 0.1);
  }
  // Appends a layer producing map_; the first layer of a spec layer reads what the spec names.
  void append(Layer layer) {
    if (!reads_.empty() && !(reads_.size() == 1 && reads_[0] == model_.layers.size())) layer.inputs = reads_;
    reads_.clear();
    model_.layers.push_back(std::move(layer));
    tensors_.push_back(map_);
  }
  void push(Layer layer, models::Activation activation) {
    const std::string name = layer.name;
    append(std::move(layer));
    if (activation == models::Activation::none) return;
    Layer relu;
    relu.name = name + "_relu";
    relu.kind = LayerKind::rectifier;
    if (activation == models::Activation::relu6) relu.rectifier.max_value = 6.0f;
    append(std::move(relu));
  }

  Model model_;
  SplitMix64 random_;
  std::vector<Map> tensors_;
  std::map<std::string, std::size_t> tensor_of_name_;
  std::vector<std::size_t> reads_;  // the tensors the next spec layer's first model layer reads
  Map map_;                         // the map the layer being added produces
};

Result<Model> model_of(const models::ArchitectureSpec& spec, std::uint64_t seed) {
  ModelBuilder model(spec, seed);
  for (const models::LayerSpec& layer : spec.layers)
    if (std::optional<Error> error = model.add(layer)) return *error;
  return std::move(model).finish();
}

}  // namespace

const std::vector<std::string>& random_model_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const models::ArchitectureSpec& spec : models::architecture_specs()) names.push_back(spec.name);
    return names;
  }();
  return kNames;
}

Result<Model> random_model(const std::string& name, std::uint64_t seed) {
  const models::ArchitectureSpec* spec = models::find_architecture_spec(name);
  if (spec == nullptr) {
    std::string names;
    for (const std::string& known : random_model_names()) names += (names.empty() ? "" : ", ") + known;
    return invalid_argument("no random model named '" + name + "'; valid names: " + names);
  }
  return model_of(*spec, seed);
}

Result<Model> random_resnet8(const Shape& input, std::int64_t classes, std::uint64_t seed) {
  if (input.flat || input.height < 1 || input.width < 1 || input.channels < 1 || classes < 1)
    return invalid_argument("ResNet-8 reads images of at least 1x1x1 and has at least one class");
  return model_of(models::resnet8_spec(models::Extent{input.height, input.width}, input.channels, classes),
                  seed);
}

}  // namespace reds::engine
