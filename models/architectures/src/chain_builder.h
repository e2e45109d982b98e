// chain_builder.h: turns a network's layer geometry (kernels, strides, padding, feature-map sizes) into the
// plan contract's per-layer cost coefficients, c(k_in, k) = fixed + unit*k + input*k_in + unit_input*k*k_in.
//
// Only layers with weights (standard, depthwise and pointwise convolutions, dense layers) become layers of
// the chain. Batch norm, activations, pooling and flatten are not layers: their effect shows in the
// coefficients of the layers around them (a pooling layer shrinks the feature map the next layer reads; a
// flatten makes a dense layer read `positions` values per kept input channel).
//
// Resources (all exact integers):
//   macs        multiply-accumulates of the layer at widths (k_in, k); biases, BN and activations excluded;
//   params      weights + biases; BN excluded;
//   activation  float32 bytes of the layer's input and output feature maps held at the same time. Maps of
//               weight-free layers (a pooling layer's input and output) are not a layer's and not counted.
//   output_activation  float32 bytes of the layer's output map alone: the REDS reference's peak-memory
//               model (the largest single output map), for comparison with the paper.
#pragma once

#include <cstdint>
#include <string>

#include "reds/models/architecture_spec.h"
#include "reds/network.h"

namespace reds::models {

// Appends layers to a chain, tracking the feature map each layer reads. Build in network order.
class ChainBuilder {
 public:
  // `inputs` channels (or features) of `input_map` each feed the first layer.
  ChainBuilder(std::string name, std::int64_t inputs, Extent input_map);

  // Standard convolution: `filters` units, each reading every kept input channel.
  void conv(const std::string& name, std::int64_t filters, Extent kernel, Extent stride, Padding padding,
            bool bias, bool prunable);

  // Pointwise (1x1, stride 1) convolution.
  void pointwise(const std::string& name, std::int64_t filters, bool bias, bool prunable);

  // Depthwise convolution: one channel per kept channel of the previous layer, so a tied layer.
  void depthwise(const std::string& name, Extent kernel, Extent stride, Padding padding, bool bias);

  // Dense layer over the current feature map flattened (positions x kept input channels).
  void dense(const std::string& name, std::int64_t units, bool bias, bool prunable);

  // Average pooling with stride 1, 'valid' padding (the vision DS-CNN's head).
  void average_pool(Extent window);

  // Global average pooling: one value per channel.
  void global_average_pool();

  // Importance, min_units and block are left at their defaults; resources aggregate as the contract says
  // (macs and params by sum, activation and output_activation by max).
  Network finish() &&;

 private:
  void add(Layer layer, Extent output);
  std::int64_t previous_units() const;

  Network network_;
  Extent map_;  // the feature map the next layer reads
};

}  // namespace reds::models
