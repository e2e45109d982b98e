#include "reds/engine/architectures.h"

#include <algorithm>
#include <cmath>
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

// Builds the engine model of a spec, layer by layer, tracking the map the next layer reads.
class ModelBuilder {
 public:
  ModelBuilder(const models::ArchitectureSpec& spec, std::uint64_t seed)
      : random_(seed), map_(spec.input_map), channels_(spec.input_channels), flat_(spec.flat_input) {
    model_.name = spec.name;
    model_.input = Shape{spec.input_map.height, spec.input_map.width, spec.input_channels, spec.flat_input};
  }

  void add(const models::LayerSpec& spec) {
    switch (spec.kind) {
      case models::SpecLayerKind::conv:
      case models::SpecLayerKind::depthwise: {
        const bool depthwise = spec.kind == models::SpecLayerKind::depthwise;
        Layer layer = window_layer(spec.name, depthwise ? LayerKind::depthwise_conv2d : LayerKind::conv2d,
                                   spec.kernel, spec.stride, padding_of(spec.padding));
        const std::int64_t taps = spec.kernel.positions();
        if (depthwise) {
          fill(layer, taps, channels_, spec.bias);
        } else {
          layer.units = spec.units;
          fill(layer, taps * channels_, spec.units, spec.bias);
          channels_ = spec.units;
        }
        map_ = models::output_map(map_, spec.kernel, spec.stride, spec.padding);
        push(std::move(layer), spec.activation);
        break;
      }
      case models::SpecLayerKind::dense: {
        // Keras flattens a map before a Dense layer reads it.
        if (!flat_) {
          Layer flatten;
          flatten.name = "flatten";
          flatten.kind = LayerKind::flatten;
          model_.layers.push_back(std::move(flatten));
          channels_ *= map_.positions();
        }
        Layer layer;
        layer.name = spec.name;
        layer.kind = LayerKind::dense;
        layer.units = spec.units;
        fill(layer, channels_, spec.units, spec.bias);
        channels_ = spec.units;
        map_ = models::Extent{1, 1};
        flat_ = true;
        push(std::move(layer), spec.activation);
        break;
      }
      case models::SpecLayerKind::average_pool: {
        Layer pool = window_layer("average_pool", LayerKind::average_pool2d, spec.kernel,
                                  models::Extent{1, 1}, Padding::valid);
        map_ = models::output_map(map_, spec.kernel, models::Extent{1, 1}, models::Padding::valid);
        model_.layers.push_back(std::move(pool));
        break;
      }
      case models::SpecLayerKind::global_average_pool: {
        Layer pool;
        pool.name = "global_average_pool";
        pool.kind = LayerKind::global_average_pool2d;
        model_.layers.push_back(std::move(pool));
        map_ = models::Extent{1, 1};
        flat_ = true;
        break;
      }
    }
  }
  Model finish() && { return std::move(model_); }

 private:
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
  void push(Layer layer, models::Activation activation) {
    const std::string name = layer.name;
    model_.layers.push_back(std::move(layer));
    if (activation == models::Activation::none) return;
    Layer relu;
    relu.name = name + "_relu";
    relu.kind = LayerKind::rectifier;
    if (activation == models::Activation::relu6) relu.rectifier.max_value = 6.0f;
    model_.layers.push_back(std::move(relu));
  }

  Model model_;
  SplitMix64 random_;
  models::Extent map_;     // the map the next layer reads
  std::int64_t channels_;  // its channels, or features once flat
  bool flat_;
};

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
  ModelBuilder model(*spec, seed);
  for (const models::LayerSpec& layer : spec->layers) model.add(layer);
  return std::move(model).finish();
}

}  // namespace reds::engine
