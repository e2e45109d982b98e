// The paper's architectures (reds-paper section 9), each described once.
//
// What is prunable follows the paper (sections 2.2 and 5): the hidden Dense layers of the DNN; the two
// convolutions of the CNN (its Dense layers, including the linear bottleneck, keep their width, as in the
// paper's knapsack); the first convolution and every pointwise convolution of the DS-CNNs and MobileNetV1,
// whose depthwise convolutions are tied to the layer before them. The classifier head is never prunable:
// its outputs are the classes.
#include "reds/models/architecture_spec.h"

#include <algorithm>
#include <string>
#include <utility>

namespace reds::models {
namespace {

std::int64_t output_length(std::int64_t input, std::int64_t kernel, std::int64_t stride, Padding padding) {
  if (padding == Padding::same) return (input + stride - 1) / stride;
  return (input - kernel) / stride + 1;
}

// Appends layer specs in network order.
class SpecBuilder {
 public:
  SpecBuilder(std::string name, std::string description, std::int64_t channels, Extent input_map,
              bool flat_input) {
    spec_.name = std::move(name);
    spec_.description = std::move(description);
    spec_.input_channels = channels;
    spec_.input_map = input_map;
    spec_.flat_input = flat_input;
  }

  void conv(const std::string& name, std::int64_t filters, Extent kernel, Extent stride, Padding padding,
            bool bias, Activation activation, bool prunable) {
    LayerSpec layer = named(SpecLayerKind::conv, name, filters, bias, activation);
    layer.kernel = kernel;
    layer.stride = stride;
    layer.padding = padding;
    layer.prunable = prunable;
    spec_.layers.push_back(std::move(layer));
  }
  // 1x1, stride 1.
  void pointwise(const std::string& name, std::int64_t filters, bool bias, Activation activation) {
    conv(name, filters, Extent{1, 1}, Extent{1, 1}, Padding::valid, bias, activation, true);
  }
  void depthwise(const std::string& name, Extent kernel, Extent stride, Padding padding, bool bias,
                 Activation activation) {
    LayerSpec layer = named(SpecLayerKind::depthwise, name, 0, bias, activation);
    layer.kernel = kernel;
    layer.stride = stride;
    layer.padding = padding;
    spec_.layers.push_back(std::move(layer));
  }
  void dense(const std::string& name, std::int64_t units, Activation activation, bool prunable) {
    LayerSpec layer = named(SpecLayerKind::dense, name, units, true, activation);
    layer.prunable = prunable;
    spec_.layers.push_back(std::move(layer));
  }
  void average_pool(Extent window) {
    LayerSpec layer;
    layer.kind = SpecLayerKind::average_pool;
    layer.kernel = window;
    spec_.layers.push_back(std::move(layer));
  }
  void global_average_pool() {
    LayerSpec layer;
    layer.kind = SpecLayerKind::global_average_pool;
    spec_.layers.push_back(std::move(layer));
  }
  ArchitectureSpec finish() && { return std::move(spec_); }

 private:
  static LayerSpec named(SpecLayerKind kind, const std::string& name, std::int64_t units, bool bias,
                         Activation activation) {
    LayerSpec layer;
    layer.kind = kind;
    layer.name = name;
    layer.units = units;
    layer.bias = bias;
    layer.activation = activation;
    return layer;
  }

  ArchitectureSpec spec_;
};

constexpr Activation kRelu = Activation::relu;
constexpr Activation kLinear = Activation::none;

// Section 9.1: Dense(hidden) + ReLU x 3, Dense(12), over 250 MFCC features (25 frames x 10).
ArchitectureSpec dnn(std::string name, std::string description, std::int64_t hidden) {
  SpecBuilder spec(std::move(name), std::move(description), 250, Extent{1, 1}, true);
  for (const char* layer : {"fc1", "fc2", "fc3"}) spec.dense(layer, hidden, kRelu, true);
  spec.dense("head", 12, kLinear, false);
  return std::move(spec).finish();
}

// Section 9.2: conv 10x4 valid, conv 10x4 stride (2,1) valid, flatten, Dense(linear), Dense(128), Dense(12)
// over 49x10 MFCC. The paper's knapsack prunes the two convolutions' filters only.
ArchitectureSpec cnn(std::string name, std::string description, std::int64_t filters1, std::int64_t filters2,
                     std::int64_t linear) {
  SpecBuilder spec(std::move(name), std::move(description), 1, Extent{49, 10}, false);
  spec.conv("conv1", filters1, Extent{10, 4}, Extent{1, 1}, Padding::valid, true, kRelu, true);
  spec.conv("conv2", filters2, Extent{10, 4}, Extent{2, 1}, Padding::valid, true, kRelu, true);
  spec.dense("fc1", linear, kLinear, false);
  spec.dense("fc2", 128, kRelu, false);
  spec.dense("head", 12, kLinear, false);
  return std::move(spec).finish();
}

// Section 9.3: conv 10x4 'same', then DS blocks (depthwise 3x3 'same' + pointwise), global average pooling,
// Dense(12), over 49x10 MFCC. Every convolution has a bias (BN is excluded from params).
ArchitectureSpec ds_cnn_kws(std::string name, std::string description, std::int64_t channels,
                            Extent first_stride, int blocks, Extent first_depthwise_stride) {
  SpecBuilder spec(std::move(name), std::move(description), 1, Extent{49, 10}, false);
  spec.conv("conv1", channels, Extent{10, 4}, first_stride, Padding::same, true, kRelu, true);
  for (int block = 1; block <= blocks; ++block) {
    const Extent stride = block == 1 ? first_depthwise_stride : Extent{1, 1};
    spec.depthwise("dw" + std::to_string(block), Extent{3, 3}, stride, Padding::same, true, kRelu);
    spec.pointwise("pw" + std::to_string(block), channels, true, kRelu);
  }
  spec.global_average_pool();
  spec.dense("head", 12, kLinear, false);
  return std::move(spec).finish();
}

// Section 9.4: conv 3x3 stride 2 'same' (64), 4 DS blocks of 64, AveragePooling2D(window, stride 1,
// 'valid'), Flatten, Dense(10).
ArchitectureSpec ds_cnn_vision(std::string name, std::string description, std::int64_t input_channels,
                               Extent input_map, Extent pool_window) {
  SpecBuilder spec(std::move(name), std::move(description), input_channels, input_map, false);
  spec.conv("conv1", 64, Extent{3, 3}, Extent{2, 2}, Padding::same, true, kRelu, true);
  for (int block = 1; block <= 4; ++block) {
    spec.depthwise("dw" + std::to_string(block), Extent{3, 3}, Extent{1, 1}, Padding::same, true, kRelu);
    spec.pointwise("pw" + std::to_string(block), 64, true, kRelu);
  }
  spec.average_pool(pool_window);
  spec.dense("head", 10, kLinear, false);
  return std::move(spec).finish();
}

// Section 9.5: Keras MobileNetV1, alpha 1.0, convolutions without bias, ReLU6, 2 classes. Keras pads
// stride-2 convolutions by one row and column and uses 'valid', which gives the same map sizes as 'same'.
ArchitectureSpec mobilenet_v1(std::string name, std::string description, std::int64_t resolution) {
  struct DsBlock {
    std::int64_t filters;
    std::int64_t stride;
  };
  static constexpr DsBlock kBlocks[] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2}, {512, 1},
                                        {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  constexpr Activation kRelu6 = Activation::relu6;
  SpecBuilder spec(std::move(name), std::move(description), 3, Extent{resolution, resolution}, false);
  spec.conv("conv1", 32, Extent{3, 3}, Extent{2, 2}, Padding::same, false, kRelu6, true);
  int index = 1;
  for (const DsBlock& block : kBlocks) {
    const std::string suffix = std::to_string(index++);
    spec.depthwise("dw" + suffix, Extent{3, 3}, Extent{block.stride, block.stride}, Padding::same, false,
                   kRelu6);
    spec.pointwise("pw" + suffix, block.filters, false, kRelu6);
  }
  spec.global_average_pool();
  spec.dense("head", 2, kLinear, false);
  return std::move(spec).finish();
}

}  // namespace

Extent output_map(Extent input, Extent kernel, Extent stride, Padding padding) {
  return Extent{output_length(input.height, kernel.height, stride.height, padding),
                output_length(input.width, kernel.width, stride.width, padding)};
}

const std::vector<ArchitectureSpec>& architecture_specs() {
  // The catalogue reads as a table, one architecture per entry.
  // clang-format off
  static const std::vector<ArchitectureSpec> kSpecs = {
      dnn("dnn_s", "DNN S, keyword spotting: 250 MFCC features, 3 x Dense(144), Dense(12)", 144),
      dnn("dnn_m", "DNN M, keyword spotting: 250 MFCC features, 3 x Dense(256), Dense(12)", 256),
      dnn("dnn_l", "DNN L, keyword spotting: 250 MFCC features, 3 x Dense(436), Dense(12)", 436),
      cnn("cnn_s", "CNN S, keyword spotting: 49x10 MFCC, conv 28, conv 30, Dense(16), Dense(128), Dense(12)",
          28, 30, 16),
      cnn("cnn_m", "CNN M, keyword spotting: 49x10 MFCC, conv 64, conv 48, Dense(16), Dense(128), Dense(12)",
          64, 48, 16),
      cnn("cnn_l", "CNN L, keyword spotting: 49x10 MFCC, conv 60, conv 76, Dense(58), Dense(128), Dense(12)",
          60, 76, 58),
      ds_cnn_kws("ds_cnn_s",
                 "DS-CNN S, keyword spotting: 49x10 MFCC, conv 64 s(2,2), 4 DS blocks of 64, Dense(12)",
                 64, Extent{2, 2}, 4, Extent{1, 1}),
      ds_cnn_kws("ds_cnn_m",
                 "DS-CNN M, keyword spotting: 49x10 MFCC, conv 172 s(2,1), 4 DS blocks, Dense(12)",
                 172, Extent{2, 1}, 4, Extent{2, 2}),
      ds_cnn_kws("ds_cnn_l",
                 "DS-CNN L, keyword spotting: 49x10 MFCC, conv 276 s(2,1), 5 DS blocks, Dense(12)",
                 276, Extent{2, 1}, 5, Extent{2, 2}),
      ds_cnn_vision("ds_cnn_s_fmnist",
                    "DS-CNN S, Fashion-MNIST: 28x28x1, conv 64 s2, 4 DS blocks of 64, Dense(10)",
                    1, Extent{28, 28}, Extent{13, 5}),
      ds_cnn_vision("ds_cnn_s_cifar10",
                    "DS-CNN S, CIFAR-10: 32x32x3, conv 64 s2, 4 DS blocks of 64, Dense(10)",
                    3, Extent{32, 32}, Extent{16, 5}),
      mobilenet_v1("mobilenet_v1_96",
                   "MobileNetV1 1.0, Visual Wake Words: 96x96x3, conv 32, 13 DS blocks, Dense(2)", 96),
      mobilenet_v1("mobilenet_v1_224",
                   "MobileNetV1 1.0, Visual Wake Words: 224x224x3, conv 32, 13 DS blocks, Dense(2)", 224),
  };
  // clang-format on
  return kSpecs;
}

const ArchitectureSpec* find_architecture_spec(const std::string& name) {
  const std::vector<ArchitectureSpec>& specs = architecture_specs();
  const auto spec = std::find_if(specs.begin(), specs.end(),
                                 [&](const ArchitectureSpec& entry) { return entry.name == name; });
  return spec == specs.end() ? nullptr : &*spec;
}

}  // namespace reds::models
