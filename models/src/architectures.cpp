// The paper's architectures (reds-paper section 9) as chains of layers with exact cost coefficients.
//
// What is prunable follows the paper (sections 2.2 and 5): the hidden Dense layers of the DNN; the two
// convolutions of the CNN (its Dense layers, including the linear bottleneck, keep their width, as in the
// paper's knapsack); the first convolution and every pointwise convolution of the DS-CNNs and MobileNetV1,
// whose depthwise convolutions are tied to the layer before them. The classifier head is never prunable:
// its outputs are the classes.
#include "reds/models/architectures.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "chain_builder.h"
#include "importance_stand_in.h"

namespace reds::models {
namespace {

constexpr std::size_t kMaxLevels = 64;  // plan contract: 1 to 64 levels

// Section 9.1: Dense(hidden) + ReLU x 3, Dense(12), over 250 MFCC features (25 frames x 10).
Network dnn(const std::string& name, std::int64_t hidden) {
  ChainBuilder chain(name, 250, Extent{1, 1});
  for (const char* layer : {"fc1", "fc2", "fc3"}) chain.dense(layer, hidden, true);
  chain.dense("head", 12, false);
  return std::move(chain).finish();
}

// Section 9.2: conv 10x4 valid, conv 10x4 stride (2,1) valid, flatten, Dense(linear), Dense(128), Dense(12)
// over 49x10 MFCC. The paper's knapsack prunes the two convolutions' filters only.
Network cnn(const std::string& name, std::int64_t filters1, std::int64_t filters2, std::int64_t linear) {
  ChainBuilder chain(name, 1, Extent{49, 10});
  chain.conv("conv1", filters1, Extent{10, 4}, Extent{1, 1}, Padding::valid, true, true);
  chain.conv("conv2", filters2, Extent{10, 4}, Extent{2, 1}, Padding::valid, true, true);
  chain.dense("fc1", linear, false);
  chain.dense("fc2", 128, false);
  chain.dense("head", 12, false);
  return std::move(chain).finish();
}

// Section 9.3: conv 10x4 'same', then DS blocks (depthwise 3x3 'same' + pointwise), global average pooling,
// Dense(12), over 49x10 MFCC. Every convolution has a bias (BN is excluded from params).
Network ds_cnn_kws(const std::string& name, std::int64_t channels, Extent first_stride, int blocks,
                   Extent first_depthwise_stride) {
  ChainBuilder chain(name, 1, Extent{49, 10});
  chain.conv("conv1", channels, Extent{10, 4}, first_stride, Padding::same, true, true);
  for (int block = 1; block <= blocks; ++block) {
    const Extent stride = block == 1 ? first_depthwise_stride : Extent{1, 1};
    chain.depthwise("dw" + std::to_string(block), Extent{3, 3}, stride, Padding::same, true);
    chain.pointwise("pw" + std::to_string(block), channels, true, true);
  }
  chain.global_average_pool();
  chain.dense("head", 12, false);
  return std::move(chain).finish();
}

// Section 9.4: conv 3x3 stride 2 'same' (64), 4 DS blocks of 64, AveragePooling2D(window, stride 1,
// 'valid'), Flatten, Dense(10).
Network ds_cnn_vision(const std::string& name, std::int64_t input_channels, Extent input_map,
                      Extent pool_window) {
  ChainBuilder chain(name, input_channels, input_map);
  chain.conv("conv1", 64, Extent{3, 3}, Extent{2, 2}, Padding::same, true, true);
  for (int block = 1; block <= 4; ++block) {
    chain.depthwise("dw" + std::to_string(block), Extent{3, 3}, Extent{1, 1}, Padding::same, true);
    chain.pointwise("pw" + std::to_string(block), 64, true, true);
  }
  chain.average_pool(pool_window);
  chain.dense("head", 10, false);
  return std::move(chain).finish();
}

// Section 9.5: Keras MobileNetV1, alpha 1.0, convolutions without bias, 2 classes. Keras pads stride-2
// convolutions by one row and column and uses 'valid', which gives the same map sizes as 'same' here.
Network mobilenet_v1(const std::string& name, std::int64_t resolution) {
  struct DsBlock {
    std::int64_t filters;
    std::int64_t stride;
  };
  static constexpr DsBlock kBlocks[] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2}, {512, 1},
                                        {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  ChainBuilder chain(name, 3, Extent{resolution, resolution});
  chain.conv("conv1", 32, Extent{3, 3}, Extent{2, 2}, Padding::same, false, true);
  int index = 1;
  for (const DsBlock& block : kBlocks) {
    const std::string suffix = std::to_string(index++);
    chain.depthwise("dw" + suffix, Extent{3, 3}, Extent{block.stride, block.stride}, Padding::same, false);
    chain.pointwise("pw" + suffix, block.filters, false, true);
  }
  chain.global_average_pool();
  chain.dense("head", 2, false);
  return std::move(chain).finish();
}

struct Architecture {
  ArchitectureInfo info;
  Network (*build)();
};

const std::vector<Architecture>& catalogue() {
  // The catalogue reads as a table, one architecture per two lines.
  // clang-format off
  static const std::vector<Architecture> kCatalogue = {
      {{"dnn_s", "DNN S, keyword spotting: 250 MFCC features, 3 x Dense(144), Dense(12)"},
       [] { return dnn("dnn_s", 144); }},
      {{"dnn_m", "DNN M, keyword spotting: 250 MFCC features, 3 x Dense(256), Dense(12)"},
       [] { return dnn("dnn_m", 256); }},
      {{"dnn_l", "DNN L, keyword spotting: 250 MFCC features, 3 x Dense(436), Dense(12)"},
       [] { return dnn("dnn_l", 436); }},
      {{"cnn_s", "CNN S, keyword spotting: 49x10 MFCC, conv 28, conv 30, Dense(16), Dense(128), Dense(12)"},
       [] { return cnn("cnn_s", 28, 30, 16); }},
      {{"cnn_m", "CNN M, keyword spotting: 49x10 MFCC, conv 64, conv 48, Dense(16), Dense(128), Dense(12)"},
       [] { return cnn("cnn_m", 64, 48, 16); }},
      {{"cnn_l", "CNN L, keyword spotting: 49x10 MFCC, conv 60, conv 76, Dense(58), Dense(128), Dense(12)"},
       [] { return cnn("cnn_l", 60, 76, 58); }},
      {{"ds_cnn_s", "DS-CNN S, keyword spotting: 49x10 MFCC, conv 64 s(2,2), 4 DS blocks of 64, Dense(12)"},
       [] { return ds_cnn_kws("ds_cnn_s", 64, Extent{2, 2}, 4, Extent{1, 1}); }},
      {{"ds_cnn_m", "DS-CNN M, keyword spotting: 49x10 MFCC, conv 172 s(2,1), 4 DS blocks, Dense(12)"},
       [] { return ds_cnn_kws("ds_cnn_m", 172, Extent{2, 1}, 4, Extent{2, 2}); }},
      {{"ds_cnn_l", "DS-CNN L, keyword spotting: 49x10 MFCC, conv 276 s(2,1), 5 DS blocks, Dense(12)"},
       [] { return ds_cnn_kws("ds_cnn_l", 276, Extent{2, 1}, 5, Extent{2, 2}); }},
      {{"ds_cnn_s_fmnist", "DS-CNN S, Fashion-MNIST: 28x28x1, conv 64 s2, 4 DS blocks of 64, Dense(10)"},
       [] { return ds_cnn_vision("ds_cnn_s_fmnist", 1, Extent{28, 28}, Extent{13, 5}); }},
      {{"ds_cnn_s_cifar10", "DS-CNN S, CIFAR-10: 32x32x3, conv 64 s2, 4 DS blocks of 64, Dense(10)"},
       [] { return ds_cnn_vision("ds_cnn_s_cifar10", 3, Extent{32, 32}, Extent{16, 5}); }},
      {{"mobilenet_v1_96", "MobileNetV1 1.0, Visual Wake Words: 96x96x3, conv 32, 13 DS blocks, Dense(2)"},
       [] { return mobilenet_v1("mobilenet_v1_96", 96); }},
      {{"mobilenet_v1_224", "MobileNetV1 1.0, Visual Wake Words: 224x224x3, conv 32, 13 DS blocks, Dense(2)"},
       [] { return mobilenet_v1("mobilenet_v1_224", 224); }},
  };
  // clang-format on
  return kCatalogue;
}

std::string valid_names() {
  std::string names;
  for (const Architecture& architecture : catalogue()) {
    if (!names.empty()) names += ", ";
    names += architecture.info.name;
  }
  return names;
}

std::optional<Error> check_network_options(const ExampleOptions& options) {
  if (options.block < 1) {
    return invalid_argument("block must be at least 1, got " + std::to_string(options.block));
  }
  const double fraction = options.min_width_fraction;
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return invalid_argument("min_width_fraction must be between 0 and 1, got " + std::to_string(fraction));
  }
  return std::nullopt;
}

std::optional<Error> check_mac_fractions(const std::vector<double>& fractions) {
  if (fractions.empty() || fractions.size() > kMaxLevels) {
    return invalid_argument("mac_fractions must hold 1 to 64 fractions, got " +
                            std::to_string(fractions.size()));
  }
  for (std::size_t level = 0; level < fractions.size(); ++level) {
    const double fraction = fractions[level];
    if (!(fraction > 0.0 && fraction <= 1.0)) {
      return invalid_argument("mac_fractions[" + std::to_string(level) + "] must be in (0, 1], got " +
                              std::to_string(fraction));
    }
    // Levels are given smallest first (plan contract, "levels grow").
    if (level > 0 && fraction < fractions[level - 1]) {
      return invalid_argument("mac_fractions must not decrease: mac_fractions[" + std::to_string(level) +
                              "] is smaller than the one before it");
    }
  }
  return std::nullopt;
}

// Smallest kept width of a prunable layer. Without it the exact optimum falls into a trap the paper's
// separable cost model never sees: with coupled MACs (a unit's cost grows with the kept width of the layer
// before it), keeping a single unit of one layer makes that layer and the next one almost free, so the
// optimum spends the budget on the neighbours' importance and squeezes everything through a one-unit
// bottleneck that no trained network would survive. A floor proportional to the layer's width rules that
// out while leaving most of the range open.
std::int64_t min_units_of(std::int64_t units, double min_width_fraction) {
  const auto floor = static_cast<std::int64_t>(std::ceil(min_width_fraction * static_cast<double>(units)));
  return std::clamp<std::int64_t>(floor, 1, units);
}

void apply_options(Network& network, const ExampleOptions& options) {
  for (Layer& layer : network.layers) {
    layer.importance = importance_stand_in(options.seed, layer.name, layer.units);
    // Tied layers take their width from the layer they follow; the head's outputs are the classes.
    if (layer.tied || !layer.prunable) continue;
    layer.block = std::min(options.block, layer.units);
    layer.min_units = min_units_of(layer.units, options.min_width_fraction);
  }
}

}  // namespace

const std::vector<ArchitectureInfo>& architectures() {
  static const std::vector<ArchitectureInfo> kInfos = [] {
    std::vector<ArchitectureInfo> infos;
    for (const Architecture& architecture : catalogue()) infos.push_back(architecture.info);
    return infos;
  }();
  return kInfos;
}

Result<Network> build_network(const std::string& name, const ExampleOptions& options) {
  const auto architecture = std::find_if(catalogue().begin(), catalogue().end(),
                                         [&](const Architecture& entry) { return entry.info.name == name; });
  if (architecture == catalogue().end()) {
    return invalid_argument("unknown architecture \"" + name + "\"; valid names: " + valid_names());
  }
  if (std::optional<Error> error = check_network_options(options)) return *error;
  Network network = architecture->build();
  apply_options(network, options);
  return network;
}

Result<PlanRequest> example_request(const std::string& name, const ExampleOptions& options) {
  Result<Network> network = build_network(name, options);
  if (!network) return network.error();
  if (std::optional<Error> error = check_mac_fractions(options.mac_fractions)) return *error;
  PlanRequest request;
  request.network = std::move(network).value();
  for (const double fraction : options.mac_fractions) {
    request.levels.push_back(Level{{{"macs", Limit::of_fraction(fraction)}}});
  }
  request.strategy = Strategy::bottom_up;
  return request;
}

}  // namespace reds::models
