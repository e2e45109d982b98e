// reds/models/architecture_spec.h: the bundled architectures' shapes, the one description both the plan
// requests (reds/models/architectures.h) and the engine's random-weight models (reds/engine/architectures.h)
// are derived from.
//
// A spec lists the network's layers in order over a float32 input map. Only layers with weights (standard,
// depthwise and pointwise convolutions, dense layers) and pooling appear; activations are an attribute of
// the layer they follow, batch norm is never part of a spec, and a dense layer reading a map that is not flat
// flattens it first (NHWC order). Shapes follow the REDS paper's section 9.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reds::models {

// Height x width of a feature map, or of a kernel, stride or pooling window.
struct Extent {
  std::int64_t height = 1;
  std::int64_t width = 1;

  std::int64_t positions() const { return height * width; }
  friend bool operator==(const Extent&, const Extent&) = default;
};

enum class Padding { same, valid };

// Keras' output size: 'same' gives ceil(in / stride), 'valid' gives floor((in - kernel) / stride) + 1.
Extent output_map(Extent input, Extent kernel, Extent stride, Padding padding);

enum class SpecLayerKind {
  conv,                 // standard convolution: `units` filters, each reading every input channel
  depthwise,            // one channel per input channel (depth multiplier 1): tied to the layer before
  dense,                // over the current map flattened
  average_pool,         // `kernel` window, stride 1, 'valid'
  global_average_pool,  // one value per channel
};

enum class Activation {
  none,
  relu,   // max(x, 0)
  relu6,  // min(max(x, 0), 6), MobileNet's
};

struct LayerSpec {
  SpecLayerKind kind = SpecLayerKind::dense;
  std::string name;        // unique within the network; empty for pooling layers
  std::int64_t units = 0;  // conv: filters; dense: outputs; 0 for the others (depthwise: its input's)
  Extent kernel;           // conv, depthwise: the kernel; average_pool: the window
  Extent stride;           // conv, depthwise
  Padding padding = Padding::valid;
  bool bias = true;  // conv, depthwise, dense
  Activation activation = Activation::none;
  bool prunable = false;  // conv, dense: the plan may narrow it (a depthwise layer is tied instead)
};

struct ArchitectureSpec {
  std::string name;         // "ds_cnn_l", "mobilenet_v1_224", ...
  std::string description;  // one line: task, input, shape
  Extent input_map;         // the input's height x width (1 x 1 for a feature vector)
  std::int64_t input_channels = 1;
  bool flat_input = false;  // the input is a feature vector, not an image
  std::vector<LayerSpec> layers;
};

// Every bundled architecture, in a stable order.
const std::vector<ArchitectureSpec>& architecture_specs();

// The spec named `name`, or nullptr.
const ArchitectureSpec* find_architecture_spec(const std::string& name);

}  // namespace reds::models
