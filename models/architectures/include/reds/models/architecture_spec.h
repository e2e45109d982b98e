// reds/models/architecture_spec.h: the bundled architectures' shapes, the one description both the plan
// requests (reds/models/architectures.h) and the engine's random-weight models (reds/engine/architectures.h)
// are derived from.
//
// A spec lists the network's layers in the order the engine runs them, over a float32 input map. Layers with
// weights (standard, depthwise and pointwise convolutions, dense layers), pooling, zero padding and residual
// additions appear; activations are an attribute of the layer they follow, batch norm is never part of a
// spec, and a dense layer reading a map that is not flat flattens it first (NHWC order). A layer reads the
// output of the layer before it unless it names its inputs (LayerSpec::inputs): that is how a residual
// block's addition and shortcut projection reach the block's input. The paper's architectures (section 9)
// are chains; ResNet-8, ResNet-18 and MobileNetV2 are residual.
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
  max_pool,             // `kernel` window at `stride`, `padding` ('same' ignores the pixels past the border)
  zero_padding,         // `pad` rows and columns of zeros around the map, as Keras pads before a stride 2
  add,                  // the sum of the two maps named in `inputs` (a residual connection)
};

// Rows added above and below, columns left and right.
struct ZeroPad {
  std::int64_t top = 0;
  std::int64_t bottom = 0;
  std::int64_t left = 0;
  std::int64_t right = 0;
};

enum class Activation {
  none,
  relu,   // max(x, 0)
  relu6,  // min(max(x, 0), 6), MobileNet's
};

struct LayerSpec {
  SpecLayerKind kind = SpecLayerKind::dense;
  std::string name;        // unique within the network; may be empty for a layer no other layer names
  std::int64_t units = 0;  // conv: filters; dense: outputs; 0 for the others (depthwise: its input's)
  Extent kernel;           // conv, depthwise: the kernel; average_pool, max_pool: the window
  Extent stride;           // conv, depthwise, max_pool
  Padding padding = Padding::valid;
  ZeroPad pad;  // zero_padding
  // The layers whose outputs this layer reads, by name: empty for the layer before it (the network's
  // input for the first layer); an add names its two operands.
  std::vector<std::string> inputs;
  bool bias = true;                          // conv, depthwise, dense
  Activation activation = Activation::none;  // conv, depthwise, dense, add
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

// ResNet-8 (the blocks of "resnet8", MLPerf Tiny's) for images of `input_channels` x `input_map` and
// `classes` classes, named "resnet8", with global average pooling before its head instead of MLPerf's 8x8
// average pool: it reads any input size (28x28 leaves a 7x7 map), and at 32x32x3 with 10 classes it
// computes what "resnet8" computes.
ArchitectureSpec resnet8_spec(Extent input_map, std::int64_t input_channels, std::int64_t classes);

}  // namespace reds::models
