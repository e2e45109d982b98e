#include "reds/engine/architectures.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

namespace reds::engine {

namespace {

struct Extent {
  std::int64_t height = 1;
  std::int64_t width = 1;
};

// splitmix64 (Steele, Lea, Flood 2014): a small generator with the same stream everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [-bound, bound).
  float uniform(double bound) {
    const double unit = static_cast<double>(next() >> 11) / 9007199254740992.0;
    return static_cast<float>((2.0 * unit - 1.0) * bound);
  }

 private:
  std::uint64_t state_;
};

// Appends layers to a model, tracking the channels of the map the next layer reads.
class ModelBuilder {
 public:
  ModelBuilder(std::string name, Shape input, std::uint64_t seed) : random_(seed) {
    model_.name = std::move(name);
    model_.input = input;
    channels_ = input.channels;
  }

  void conv(const std::string& name, std::int64_t filters, Extent kernel, Extent stride, Padding padding) {
    Layer layer = window_layer(name, LayerKind::conv2d, kernel, stride, padding);
    layer.units = filters;
    fill(layer, kernel.height * kernel.width * channels_, filters);
    channels_ = filters;
    add(std::move(layer), true);
  }
  void pointwise(const std::string& name, std::int64_t filters) {
    conv(name, filters, Extent{1, 1}, Extent{1, 1}, Padding::valid);
  }
  void depthwise(const std::string& name, Extent kernel, Extent stride) {
    Layer layer = window_layer(name, LayerKind::depthwise_conv2d, kernel, stride, Padding::same);
    fill(layer, kernel.height * kernel.width, channels_);
    add(std::move(layer), true);
  }
  // A Flatten first when the map is not flat (`flattened_positions` pixels per channel).
  void dense(const std::string& name, std::int64_t units, bool rectified, std::int64_t flattened_positions) {
    if (flattened_positions > 0) {
      Layer flatten;
      flatten.name = "flatten";
      flatten.kind = LayerKind::flatten;
      model_.layers.push_back(std::move(flatten));
      channels_ *= flattened_positions;
    }
    Layer layer;
    layer.name = name;
    layer.kind = LayerKind::dense;
    layer.units = units;
    fill(layer, channels_, units);
    channels_ = units;
    add(std::move(layer), rectified);
  }
  void global_average_pool() {
    Layer pool;
    pool.name = "global_average_pool";
    pool.kind = LayerKind::global_average_pool2d;
    model_.layers.push_back(std::move(pool));
  }
  Model finish() && { return std::move(model_); }

 private:
  static Layer window_layer(const std::string& name, LayerKind kind, Extent kernel, Extent stride,
                            Padding padding) {
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
  // fan_in * units weights (any layout: all are uniform) and one bias per unit.
  void fill(Layer& layer, std::int64_t fan_in, std::int64_t units) {
    const double bound = std::sqrt(6.0 / static_cast<double>(fan_in));
    layer.kernel.resize(static_cast<std::size_t>(fan_in * units));
    for (float& weight : layer.kernel) weight = random_.uniform(bound);
    layer.bias.resize(static_cast<std::size_t>(units));
    for (float& bias : layer.bias) bias = random_.uniform(0.1);
  }
  void add(Layer layer, bool rectified) {
    const std::string name = layer.name;
    model_.layers.push_back(std::move(layer));
    if (!rectified) return;
    Layer relu;
    relu.name = name + "_relu";
    relu.kind = LayerKind::rectifier;
    model_.layers.push_back(std::move(relu));
  }

  Model model_;
  Random random_;
  std::int64_t channels_ = 0;
};

constexpr Shape kMfcc{49, 10, 1, false};

Model dnn(const std::string& name, std::int64_t hidden, std::uint64_t seed) {
  ModelBuilder model(name, Shape{1, 1, 250, true}, seed);
  for (const char* layer : {"fc1", "fc2", "fc3"}) model.dense(layer, hidden, true, 0);
  model.dense("head", 12, false, 0);
  return std::move(model).finish();
}

Model cnn(const std::string& name, std::int64_t filters1, std::int64_t filters2, std::int64_t linear,
          std::uint64_t seed) {
  ModelBuilder model(name, kMfcc, seed);
  model.conv("conv1", filters1, Extent{10, 4}, Extent{1, 1}, Padding::valid);  // 40 x 7
  model.conv("conv2", filters2, Extent{10, 4}, Extent{2, 1}, Padding::valid);  // 16 x 4
  model.dense("fc1", linear, false, 16 * 4);
  model.dense("fc2", 128, true, 0);
  model.dense("head", 12, false, 0);
  return std::move(model).finish();
}

Model ds_cnn(const std::string& name, std::int64_t channels, Extent first_stride, int blocks,
             Extent first_depthwise_stride, std::uint64_t seed) {
  ModelBuilder model(name, kMfcc, seed);
  model.conv("conv1", channels, Extent{10, 4}, first_stride, Padding::same);
  for (int block = 1; block <= blocks; ++block) {
    model.depthwise("dw" + std::to_string(block), Extent{3, 3},
                    block == 1 ? first_depthwise_stride : Extent{1, 1});
    model.pointwise("pw" + std::to_string(block), channels);
  }
  model.global_average_pool();
  model.dense("head", 12, false, 0);
  return std::move(model).finish();
}

const std::vector<std::pair<std::string, std::function<Model(std::uint64_t)>>>& catalogue() {
  static const std::vector<std::pair<std::string, std::function<Model(std::uint64_t)>>> kCatalogue = {
      {"dnn_s", [](std::uint64_t seed) { return dnn("dnn_s", 144, seed); }},
      {"dnn_m", [](std::uint64_t seed) { return dnn("dnn_m", 256, seed); }},
      {"dnn_l", [](std::uint64_t seed) { return dnn("dnn_l", 436, seed); }},
      {"cnn_s", [](std::uint64_t seed) { return cnn("cnn_s", 28, 30, 16, seed); }},
      {"cnn_m", [](std::uint64_t seed) { return cnn("cnn_m", 64, 48, 16, seed); }},
      {"cnn_l", [](std::uint64_t seed) { return cnn("cnn_l", 60, 76, 58, seed); }},
      {"ds_cnn_s",
       [](std::uint64_t seed) {
         return ds_cnn("ds_cnn_s", 64, {2, 2}, 4, {1, 1}, seed);
       }},
      {"ds_cnn_m",
       [](std::uint64_t seed) {
         return ds_cnn("ds_cnn_m", 172, {2, 1}, 4, {2, 2}, seed);
       }},
      {"ds_cnn_l",
       [](std::uint64_t seed) {
         return ds_cnn("ds_cnn_l", 276, {2, 1}, 5, {2, 2}, seed);
       }},
  };
  return kCatalogue;
}

}  // namespace

const std::vector<std::string>& random_model_names() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto& [name, build] : catalogue()) names.push_back(name);
    return names;
  }();
  return kNames;
}

Result<Model> random_model(const std::string& name, std::uint64_t seed) {
  for (const auto& [candidate, build] : catalogue())
    if (candidate == name) return build(seed);
  std::string names;
  for (const std::string& known : random_model_names()) names += (names.empty() ? "" : ", ") + known;
  return invalid_argument("no random model named '" + name + "'; valid names: " + names);
}

}  // namespace reds::engine
