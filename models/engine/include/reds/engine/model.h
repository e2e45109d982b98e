// reds/engine/model.h: a trained network as the engine holds it, and the files it comes from.
//
// A model is a list of layers over float32 feature maps in NHWC order (batch 1: height x width x
// channels, channels fastest), each layer reading maps computed before it: most models are chains (every
// layer reads the output of the layer before it), a residual network adds the outputs of two earlier
// layers (Layer::inputs, LayerKind::add). The output of the last layer is the model's output. It comes from a
// Keras HDF5 file (load_keras: the format of the REDS authors' pretrained networks) or from the engine's own
// native file (load_native / save_native), which needs no HDF5 and may embed a plan. load_model picks the
// reader from the file's first bytes.
//
// Batch normalization never appears here: the Keras reader folds it into the convolution or dense layer it
// follows (scale s = gamma / sqrt(variance + epsilon) on every output unit's weights, bias
// (b - mean) * s + beta), so every level of a plan prunes one layer per unit, weights and bias together.
//
// Units. A "unit layer" is a Conv2D (its filters), a DepthwiseConv2D (its output channels) or a Dense
// layer (its output features). A plan keeps a prefix of every unit layer's units: the model's units are
// expected in the plan's order already (applying a plan permutes them), so a level is described by its
// widths alone. A depthwise layer has no width of its own: it keeps its input channels times its depth
// multiplier (the plan contract's tied layer).
//
//   reds::Result<reds::engine::Model> model = reds::engine::load_model("fashion_mnist_ds_cnn_sizeS.keras");
//   if (!model) { std::cerr << model.error().message << '\n'; return 2; }
//   reds::Result<reds::engine::Session> session = reds::engine::Session::create(*model);  // session.h
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reds/contract.h"
#include "reds/status.h"

namespace reds::engine {

enum class LayerKind {
  conv2d,                 // any kernel, stride, dilation, groups; 'valid' or 'same' padding
  depthwise_conv2d,       // one kernel per input channel (times the depth multiplier)
  dense,                  // on a flat input (after Flatten, GlobalAveragePooling2D or Dense)
  rectifier,              // ReLU and LeakyReLU (see Rectifier)
  average_pool2d,         // 'same' windows average their valid pixels only, as Keras does
  max_pool2d,             // 'same' windows take the largest of their valid pixels only, as Keras does
  global_average_pool2d,  // one value per channel; flat output
  flatten,                // height x width x channels -> one flat vector in NHWC order
  softmax,                // over the channels (the last axis)
  add,                    // the elementwise sum of two or more maps of one shape (a residual connection)
  zero_padding2d,         // zero rows and columns around the map (Layer::pad_*)
};

// The Keras name of a kind ("Conv2D", "DepthwiseConv2D", ...).
const char* to_string(LayerKind kind);

enum class Padding {
  valid,  // no padding: out = floor((in - dilated_kernel) / stride) + 1
  same,   // out = ceil(in / stride); the padding total is split with the extra pixel at the bottom/right
};

// Keras' ReLU family: f(x) = min(x, max_value) for x >= threshold, negative_slope * (x - threshold) below.
// ReLU is the default; LeakyReLU(alpha) is negative_slope = alpha.
struct Rectifier {
  float negative_slope = 0.0f;
  float threshold = 0.0f;
  float max_value = std::numeric_limits<float>::infinity();

  friend bool operator==(const Rectifier&, const Rectifier&) = default;
};

struct Layer {
  std::string name;  // unique within the model; the plan's layer names refer to unit layers by it
  LayerKind kind = LayerKind::flatten;

  // conv2d, depthwise_conv2d, average_pool2d and max_pool2d: the window (the pool's size for a pool).
  std::int64_t kernel_height = 1;
  std::int64_t kernel_width = 1;
  std::int64_t stride_height = 1;
  std::int64_t stride_width = 1;
  std::int64_t dilation_height = 1;  // convolutions only
  std::int64_t dilation_width = 1;
  Padding padding = Padding::valid;

  std::int64_t units = 0;             // conv2d: filters; dense: output features; 0 for other kinds
  std::int64_t groups = 1;            // conv2d: input and output channels split into this many groups
  std::int64_t depth_multiplier = 1;  // depthwise_conv2d: output channels per input channel

  Rectifier rectifier;  // rectifier layers only

  // zero_padding2d: rows added above and below, columns left and right.
  std::int64_t pad_top = 0;
  std::int64_t pad_bottom = 0;
  std::int64_t pad_left = 0;
  std::int64_t pad_right = 0;

  // The maps this layer reads, as tensor numbers: 0 is the model's input, i + 1 the output of layers[i]
  // (a layer reads only maps computed before it). Empty: the output of the layer before it (the model's
  // input for the first layer), which is what every layer of a chain reads. An add layer lists its two or
  // more operands; any other layer reads one map.
  std::vector<std::size_t> inputs;

  // Weights in Keras' layout, batch norm already folded in:
  //   conv2d            [kernel_height][kernel_width][in_channels / groups][units]
  //   depthwise_conv2d  [kernel_height][kernel_width][in_channels][depth_multiplier]
  //   dense             [in_features][units]
  // bias: empty (no bias) or one value per output channel or feature.
  std::vector<float> kernel;
  std::vector<float> bias;
};

// The shape of one feature map, batch excluded. A flat map (after Flatten, GlobalAveragePooling2D or
// Dense) is 1 x 1 x features with `flat` set: convolutions and pools need a map that is not flat, Dense
// needs a flat one (as in Keras, where those are tensors of rank 4 and 2).
struct Shape {
  std::int64_t height = 1;
  std::int64_t width = 1;
  std::int64_t channels = 1;
  bool flat = false;

  std::int64_t size() const { return height * width * channels; }
  friend bool operator==(const Shape&, const Shape&) = default;
};

// A plan of the plan contract, embedded in a model whose units are in the plan's order.
// Per-level statistics of one unit layer at one level: the level computes the layer's output channel c as
// scale[c] * sum + bias[c], `sum` being the layer's weighted sum without its bias, before the rectifier
// or addition after the layer. One value per output channel of the full layer (a level uses the prefix it
// keeps). It is a batch normalization re-estimated for the level and folded (docs/training.md): a level
// that keeps fewer input channels gets its own per-channel statistics while all levels share the weights.
struct ChannelMap {
  std::vector<float> scale;
  std::vector<float> bias;

  friend bool operator==(const ChannelMap&, const ChannelMap&) = default;
};

struct EmbeddedPlan {
  // The response as the native file stores it (reds/json.h's form, which parse_plan_result reads back).
  std::string json;
  std::vector<std::string> layer_names;           // the plan's layers, in the model's order
  std::vector<std::vector<std::int64_t>> widths;  // per level (smallest first), per entry of layer_names
  // Per-level statistics: empty (every level computes every layer as the layer's weights and bias say),
  // or level_maps[level][layer] for every level and every model layer, where a map with no values (always
  // so for a layer that is not a unit layer) leaves the layer as it is. They belong to the plan's levels:
  // attaching another plan drops them.
  std::vector<std::vector<ChannelMap>> level_maps;
};

// How a model's inputs were scaled when it was trained: image byte x (0..255) of channel c enters the
// model as (x * scale - mean[c]) / deviation[c]. `mean` and `deviation` list one value per input channel,
// or one for every channel, or none (0 and 1). The default divides by 255 (pixels in [0, 1], as the REDS
// authors' models were trained); MLPerf Tiny's ResNet-8 was trained on raw pixels (scale 1); torchvision's
// ImageNet models expect scale 1/255, mean 0.485,0.456,0.406 and deviation 0.229,0.224,0.225.
struct InputNormalization {
  double scale = 1.0 / 255.0;
  std::vector<double> mean;
  std::vector<double> deviation;

  friend bool operator==(const InputNormalization&, const InputNormalization&) = default;
};

// invalid_argument unless the scale and every deviation are finite and positive, every mean is finite, and
// `mean` and `deviation` each hold 0, 1 or `channels` values.
std::optional<Error> check_normalization(const InputNormalization& normalization, std::int64_t channels);

struct Model {
  std::string name;  // the Keras model's name, the ONNX graph's (or its file's), or the native file's
  Shape input;
  // The names of the input and output tensors in the file the model came from (ONNX names them; Keras and
  // native files need not): ONNX export writes them, or "input" and "output" when empty.
  std::string input_name;
  std::string output_name;
  std::vector<Layer> layers;
  std::optional<EmbeddedPlan> plan;
  // What the model was trained on, once stated (a native file keeps it); none: not stated, the default.
  std::optional<InputNormalization> input_normalization;
};

// The output shape of every layer (index i: the shape after layers[i]); checks every layer's parameters and
// weight counts against its input. invalid_argument naming the layer ("layer 'conv2d_1' (Conv2D): ...").
Result<std::vector<Shape>> layer_shapes(const Model& model);

// The tensors layer `index` reads (Layer::inputs, with the chain's default spelled out).
std::vector<std::size_t> layer_inputs(const Model& model, std::size_t index);

// True when every layer reads the output of the layer before it.
bool is_chain(const Model& model);

// layer_shapes() plus the plan's consistency with the model: every plan layer is a unit layer of the model,
// widths are in 1..units, a depthwise layer's width equals its input's, the output keeps its full width,
// the layers of a stream (unit layers whose outputs are added, directly or through layers that act per
// channel) keep one width at every level, and a stream added to the model's input keeps its full width;
// per-level statistics, when the plan has them, cover every level and layer, map unit layers only with
// finite values, one per output channel (ChannelMap); the input normalisation is valid
// (InputNormalization).
std::optional<Error> validate(const Model& model);

// Embeds a plan response (reds/json.h's parse_plan_result reads one from its JSON): its layers and every
// level's widths, checked against the model (validate()). Every level must be feasible: an infeasible level
// has no widths to run. Replaces any plan the model had; on an error the model keeps its own.
// invalid_argument with the JSON Pointer of the offending part of the response.
std::optional<Error> attach_plan(Model& model, const PlanResult& plan);

// Reads a Keras model saved in HDF5 (model.save("m.h5"), or the REDS authors' ".keras" files): the JSON
// `model_config` attribute at the root (a Sequential model, or a functional one: a graph of one input and
// one output, its layers taken in an order where every layer follows the layers it reads), weights under
// model_weights/<layer>/ as listed by its `weight_names` attribute. Layers: InputLayer, Conv2D,
// DepthwiseConv2D, Dense, BatchNormalization (folded into the layer it follows, which must have no other
// reader), ReLU, LeakyReLU, Activation('relu' | 'softmax' | 'linear'), Add, ZeroPadding2D,
// AveragePooling2D, MaxPooling2D, GlobalAveragePooling2D, Flatten, Softmax, Dropout (ignored: inference).
// Anything else is invalid_argument naming the layer and its class. Safe to call from several threads
// (HDF5 calls are serialised).
Result<Model> load_keras(const std::string& path);

// The native model file: magic "REDSMODL", format version, the architecture and the embedded plan as JSON,
// the weights as little-endian float32, a CRC-32 of everything before it. Loading checks all of it and
// validates the model. Version 2 adds the layers' inputs and the layer kinds add, zero_padding2d and
// max_pool2d; version 3 the input normalisation; version 4 the plan's per-level statistics
// (EmbeddedPlan::level_maps). A model is written in the lowest version that holds it (a chain without a
// stated normalisation as version 1), which every later reader reads.
inline constexpr std::uint32_t kNativeFormatVersion = 4;
Result<Model> load_native(const std::string& path);
// Validates the model, then writes it (to a temporary file renamed into place, so a failed save leaves no
// partial file at `path`).
std::optional<Error> save_native(const Model& model, const std::string& path);

// Reads an ONNX model (a ModelProto, as torch.onnx.export writes it; opsets 7 to 17) with libonnx, after
// ONNX's checker has accepted it. One input (1 x C x H x W, or 1 x features), one output, and nodes of
// these operators: Conv (any groups: depthwise when every input channel is its own group; strides,
// dilations, explicit or SAME_* padding), Gemm, MatMul (+ Add of a constant: its bias), BatchNormalization
// (folded into the Conv or Gemm before it, else a 1x1 depthwise layer), Relu, Clip (min 0: ReLU6),
// LeakyRelu, Add, MaxPool, AveragePool, GlobalAveragePool, Pad (constant zeros on height and width),
// Flatten (axis 1), Reshape that flattens, Softmax over the channels, Identity, Dropout, Constant; weights
// are initializers or Constant nodes. ONNX's NCHW maps become the engine's NHWC here: convolution kernels
// are reordered, and a Gemm after a Flatten of a map takes its rows in HWC order. Padding that is not
// Keras' 'same' becomes a ZeroPadding2D layer before the window. Anything else is invalid_argument naming
// the node, its operator and the supported ones.
Result<Model> load_onnx(const std::string& path);

// A native file, a Keras HDF5 file or an ONNX file, told apart by its first bytes (an ONNX file by the
// .onnx extension, since a protobuf message has no magic).
Result<Model> load_model(const std::string& path);

}  // namespace reds::engine
