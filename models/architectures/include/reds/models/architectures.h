// reds/models/architectures.h: the paper's architectures as plan requests.
//
// Each builder returns the network's prunable chain with exact cost coefficients per layer:
//   macs        multiply-accumulates of convolution and dense layers (no bias, BN or activation), sum;
//   params      weights + biases (batch norm excluded), sum;
//   activation  bytes (float32) of the layer's input and output feature maps, max (peak activation);
//   output_activation  bytes of the layer's output map alone, max (the REDS reference's peak memory).
// Full-network MACs equal the figures of the REDS paper's reference (section 9), e.g. DS-CNN L 28,327,812.
// MobileNetV1 at 224x224 with 2 classes has 567,718,400 MACs (the paper's "568.7 M" counts a 1000-class
// head).
//
// One layer per convolution or dense layer. Depthwise convolutions are tied layers. Prunable, as in the
// paper: DNN hidden layers; CNN convolutions (its Dense layers keep their width); DS-CNN and MobileNetV1
// first convolution and pointwise convolutions. The classifier head ("head") is never prunable.
//
// Importance is a deterministic stand-in (no trained weights are bundled): unit i of layer `name` gets
// 1 / sqrt(u), u in (0, 1] from a splitmix64 output keyed by (seed, name, i); positive, heavy-tailed and
// bit-identical on every platform (models/architectures/src/importance_stand_in.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reds/network.h"
#include "reds/status.h"

namespace reds::models {

struct ArchitectureInfo {
  std::string name;         // "ds_cnn_l", "mobilenet_v1_224", ...
  std::string description;  // one line: task, input, shape
};

// Every bundled architecture, in a stable order.
const std::vector<ArchitectureInfo>& architectures();

struct ExampleOptions {
  std::int64_t block = 1;  // width granularity of every prunable layer
  // min_units = ceil(fraction * units) for every prunable layer. With coupled MACs and additive importance
  // the exact optimum likes one-unit bottlenecks (one kept unit makes both neighbouring layers nearly
  // free); no layer narrower than a quarter of itself keeps the examples' plans usable networks.
  double min_width_fraction = 0.25;
  std::uint64_t seed = 1;                                 // seed of the deterministic stand-in importance
  std::vector<double> mac_fractions = {0.25, 0.5, 0.75};  // one level per fraction, MACs only
};

// The network with stand-in importance (see importance_stand_in in the implementation's docs).
// invalid_argument for an unknown name or bad options.
Result<Network> build_network(const std::string& name, const ExampleOptions& options = {});

// The network plus one level per MAC fraction, strategy bottom_up.
Result<PlanRequest> example_request(const std::string& name, const ExampleOptions& options = {});

}  // namespace reds::models
