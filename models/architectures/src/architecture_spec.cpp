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
  void max_pool(const std::string& name, Extent window, Extent stride, Padding padding) {
    LayerSpec layer = named(SpecLayerKind::max_pool, name, 0, false, Activation::none);
    layer.kernel = window;
    layer.stride = stride;
    layer.padding = padding;
    spec_.layers.push_back(std::move(layer));
  }
  void zero_padding(const std::string& name, ZeroPad pad) {
    LayerSpec layer = named(SpecLayerKind::zero_padding, name, 0, false, Activation::none);
    layer.pad = pad;
    spec_.layers.push_back(std::move(layer));
  }
  void add(const std::string& name, const std::string& first, const std::string& second,
           Activation activation) {
    LayerSpec layer = named(SpecLayerKind::add, name, 0, false, activation);
    layer.inputs = {first, second};
    spec_.layers.push_back(std::move(layer));
  }
  // The last layer added reads `input` instead of the layer before it.
  void reads(const std::string& input) { spec_.layers.back().inputs = {input}; }
  const std::string& last_name() const { return spec_.layers.back().name; }
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

// MLPerf Tiny's image classifier (its trained_models/pretrainedResnet.h5, Keras): conv 3x3 16, then three
// residual blocks of two 3x3 convolutions (16, 32, 64 filters; the second and third start with stride 2
// and add a 1x1 stride-2 projection of the block's input, without batch norm), each addition followed by
// ReLU, then `pooling` and Dense(classes). Every convolution has a bias; layers run in the Keras model's
// order (a block's projection after its second convolution).
enum class Resnet8Pooling {
  mlperf,  // AveragePooling2D(8), 'valid': MLPerf's, the whole 8x8 map of a 32x32 input
  global,  // global average pooling: any input size
};

ArchitectureSpec resnet8(std::string name, std::string description, std::int64_t input_channels,
                         Extent input_map, std::int64_t classes, Resnet8Pooling pooling) {
  SpecBuilder spec(std::move(name), std::move(description), input_channels, input_map, false);
  spec.conv("conv1", 16, Extent{3, 3}, Extent{1, 1}, Padding::same, true, kRelu, true);
  std::string block_input = "conv1";
  int block = 1;
  for (const std::int64_t filters : {16, 32, 64}) {
    const std::string prefix = "block" + std::to_string(block) + "_";
    const std::int64_t stride = block == 1 ? 1 : 2;
    spec.conv(prefix + "conv1", filters, Extent{3, 3}, Extent{stride, stride}, Padding::same, true, kRelu,
              true);
    spec.conv(prefix + "conv2", filters, Extent{3, 3}, Extent{1, 1}, Padding::same, true, kLinear, true);
    std::string shortcut = block_input;
    if (stride != 1) {
      spec.conv(prefix + "shortcut", filters, Extent{1, 1}, Extent{2, 2}, Padding::same, true, kLinear, true);
      spec.reads(block_input);
      shortcut = prefix + "shortcut";
    }
    spec.add(prefix + "add", shortcut, prefix + "conv2", kRelu);
    block_input = prefix + "add";
    ++block;
  }
  if (pooling == Resnet8Pooling::mlperf)
    spec.average_pool(Extent{8, 8});
  else
    spec.global_average_pool();
  spec.dense("head", classes, kLinear, false);
  return std::move(spec).finish();
}

// torchvision's resnet18 as Keras builds ResNets: zero padding 3 and conv 7x7/2 (64), zero padding 1 and
// max pool 3x3/2, four stages of two basic blocks (two 3x3 convolutions; 64, 128, 256, 512 filters), the
// first block of stages 2-4 with stride 2 (zero padding 1, then a 'valid' convolution, as torchvision pads)
// and a 1x1 stride-2 projection of the block's input after its second convolution; ReLU after every
// addition, global average pooling, Dense(1000). Convolutions have no bias (batch norm follows them).
ArchitectureSpec resnet18() {
  SpecBuilder spec(
      "resnet18", "ResNet-18, ImageNet: 224x224x3, conv 7x7/2, max pool, 8 basic blocks 64..512, Dense(1000)",
      3, Extent{224, 224}, false);
  spec.zero_padding("conv1_pad", ZeroPad{3, 3, 3, 3});
  spec.conv("conv1", 64, Extent{7, 7}, Extent{2, 2}, Padding::valid, false, kRelu, true);
  spec.zero_padding("pool1_pad", ZeroPad{1, 1, 1, 1});
  spec.max_pool("pool1", Extent{3, 3}, Extent{2, 2}, Padding::valid);
  std::string block_input = "pool1";
  for (int stage = 1; stage <= 4; ++stage) {
    const std::int64_t filters = std::int64_t{64} << (stage - 1);
    for (int index = 0; index < 2; ++index) {
      const std::string prefix = "layer" + std::to_string(stage) + "_" + std::to_string(index) + "_";
      const bool downsample = stage > 1 && index == 0;
      if (downsample) {
        spec.zero_padding(prefix + "pad", ZeroPad{1, 1, 1, 1});
        spec.reads(block_input);
        spec.conv(prefix + "conv1", filters, Extent{3, 3}, Extent{2, 2}, Padding::valid, false, kRelu, true);
      } else {
        spec.conv(prefix + "conv1", filters, Extent{3, 3}, Extent{1, 1}, Padding::same, false, kRelu, true);
        spec.reads(block_input);
      }
      spec.conv(prefix + "conv2", filters, Extent{3, 3}, Extent{1, 1}, Padding::same, false, kLinear, true);
      std::string shortcut = block_input;
      if (downsample) {
        spec.conv(prefix + "downsample", filters, Extent{1, 1}, Extent{2, 2}, Padding::valid, false, kLinear,
                  true);
        spec.reads(block_input);
        shortcut = prefix + "downsample";
      }
      spec.add(prefix + "add", prefix + "conv2", shortcut, kRelu);
      block_input = prefix + "add";
    }
  }
  spec.global_average_pool();
  spec.dense("head", 1000, kLinear, false);
  return std::move(spec).finish();
}

// Keras' and torchvision's channel rounding: the multiple of 8 nearest v (at least 8), one step up when
// that loses more than 10 %.
std::int64_t make_divisible(std::int64_t v) {
  std::int64_t rounded = std::max<std::int64_t>(8, (v + 4) / 8 * 8);
  if (10 * rounded < 9 * v) rounded += 8;
  return rounded;
}

// Keras' MobileNetV2 (keras.applications, include_top): width multiplier alpha = alpha_percent / 100,
// conv 3x3/2 'same' to make_divisible(32 alpha) channels, 17 inverted residual blocks (expand 1x1 to 6x
// the block's input channels, except block 0; depthwise 3x3, at stride 2 after a zero padding of one row
// and column below and right of an even map ('valid'), else 'same'; project 1x1 to
// make_divisible(int(c alpha)) channels, linear) with an addition of the block's input when the stride is 1
// and the widths agree, conv 1x1 to 1280 channels (1280 alpha above alpha 1), global average pooling,
// Dense(1000). ReLU6 everywhere but the projections; no convolution has a bias.
ArchitectureSpec mobilenet_v2(std::string name, std::string description, std::int64_t alpha_percent,
                              std::int64_t resolution) {
  struct Stage {
    std::int64_t channels, blocks, stride;
  };
  static constexpr Stage kStages[] = {{16, 1, 1}, {24, 2, 2},  {32, 3, 2}, {64, 4, 2},
                                      {96, 3, 1}, {160, 3, 2}, {320, 1, 1}};
  constexpr Activation kRelu6 = Activation::relu6;
  SpecBuilder spec(std::move(name), std::move(description), 3, Extent{resolution, resolution}, false);
  std::int64_t channels = make_divisible(32 * alpha_percent / 100);
  spec.conv("conv1", channels, Extent{3, 3}, Extent{2, 2}, Padding::same, false, kRelu6, true);
  Extent map = output_map(Extent{resolution, resolution}, Extent{3, 3}, Extent{2, 2}, Padding::same);
  int block = 0;
  for (const Stage& stage : kStages) {
    for (std::int64_t repeat = 0; repeat < stage.blocks; ++repeat, ++block) {
      const std::string prefix = "b" + std::to_string(block) + "_";
      const std::string block_input = spec.last_name();
      const std::int64_t stride = repeat == 0 ? stage.stride : 1;
      if (block > 0) spec.pointwise(prefix + "expand", 6 * channels, false, kRelu6);
      if (stride == 2) {
        // keras.applications' correct_pad for a 3x3 kernel.
        const std::int64_t even_rows = 1 - map.height % 2, even_columns = 1 - map.width % 2;
        spec.zero_padding(prefix + "pad", ZeroPad{1 - even_rows, 1, 1 - even_columns, 1});
        spec.depthwise(prefix + "dw", Extent{3, 3}, Extent{2, 2}, Padding::valid, false, kRelu6);
        map = output_map(map, Extent{3, 3}, Extent{2, 2}, Padding::same);
      } else {
        spec.depthwise(prefix + "dw", Extent{3, 3}, Extent{1, 1}, Padding::same, false, kRelu6);
      }
      const std::int64_t filters = make_divisible(stage.channels * alpha_percent / 100);
      spec.pointwise(prefix + "project", filters, false, kLinear);
      if (stride == 1 && filters == channels)
        spec.add(prefix + "add", block_input, prefix + "project", kLinear);
      channels = filters;
    }
  }
  const std::int64_t last = alpha_percent > 100 ? make_divisible(1280 * alpha_percent / 100) : 1280;
  spec.pointwise("conv_last", last, false, kRelu6);
  spec.global_average_pool();
  spec.dense("head", 1000, kLinear, false);
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
      resnet8("resnet8", "ResNet-8, MLPerf Tiny: 32x32x3, conv 16, residual blocks 16/32/64, Dense(10)",
              3, Extent{32, 32}, 10, Resnet8Pooling::mlperf),
      resnet18(),
      mobilenet_v2("mobilenet_v2_224",
                   "MobileNetV2 1.0, ImageNet: 224x224x3, 17 inverted residual blocks, conv 1280, Dense(1000)",
                   100, 224),
      mobilenet_v2("mobilenet_v2_96",
                   "MobileNetV2 1.0, 96x96x3, 17 inverted residual blocks, conv 1280, Dense(1000)", 100, 96),
      mobilenet_v2("mobilenet_v2_035_96",
                   "MobileNetV2 0.35, 96x96x3, 17 inverted residual blocks, conv 1280, Dense(1000)", 35, 96),
  };
  // clang-format on
  return kSpecs;
}

ArchitectureSpec resnet8_spec(Extent input_map, std::int64_t input_channels, std::int64_t classes) {
  const std::string shape = std::to_string(input_map.height) + "x" + std::to_string(input_map.width) + "x" +
                            std::to_string(input_channels);
  return resnet8("resnet8",
                 "ResNet-8: " + shape +
                     ", conv 16, residual blocks 16/32/64, global average pooling, Dense(" +
                     std::to_string(classes) + ")",
                 input_channels, input_map, classes, Resnet8Pooling::global);
}

const ArchitectureSpec* find_architecture_spec(const std::string& name) {
  const std::vector<ArchitectureSpec>& specs = architecture_specs();
  const auto spec = std::find_if(specs.begin(), specs.end(),
                                 [&](const ArchitectureSpec& entry) { return entry.name == name; });
  return spec == specs.end() ? nullptr : &*spec;
}

}  // namespace reds::models
