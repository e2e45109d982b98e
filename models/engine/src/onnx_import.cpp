// ONNX models as torch.onnx.export writes them (opsets 7 to 17): parsed with libonnx's protobuf classes,
// checked by ONNX's own checker, then read node by node (the checker guarantees a topological order) into
// the engine's layers. ONNX maps are NCHW and the engine's NHWC: weights are reordered here, once, and a
// flat vector that ONNX flattened in CHW order keeps that order in mind (ValueInfo::chw_of) until the
// Gemm or MatMul that reads it takes its rows in the engine's HWC order.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "kernels.h"
#include "onnx_format.h"
#include "reds/engine/model.h"

namespace reds::engine {

namespace {

constexpr std::int64_t kMinOpset = 7;
constexpr std::int64_t kMaxOpset = 17;
constexpr const char* kSupportedOps =
    "Conv, Gemm, MatMul, Add, BatchNormalization, Relu, Clip, LeakyRelu, MaxPool, AveragePool, "
    "GlobalAveragePool, Pad, Flatten, Reshape, Softmax, Identity, Dropout, Constant, Cast";
// Every count the reader multiplies stays below this (as model.cpp bounds the layers' sizes).
constexpr std::int64_t kMaxElements = std::int64_t{1} << 32;

// A named value of the graph: a map or vector the engine computes (one of its tensors), or a constant.
struct ValueInfo {
  bool constant = false;
  // A computed value: the engine's tensor (0: the input, i + 1: the output of layer i) and its shape.
  std::size_t tensor = 0;
  Shape shape;
  // A flat vector that ONNX ordered channel-major (Flatten of an H x W x C map with H x W > 1): its
  // features are the map's in CHW order, while the engine's Flatten writes them in HWC order.
  std::optional<Shape> chw_of;
  bool non_negative = false;  // after a ReLU (a zero-padded max pool takes the same maxima)
  // A constant: its dimensions and values (floats, or integers for int32 and int64 tensors).
  std::vector<std::int64_t> dims;
  std::vector<float> floats;
  std::vector<std::int64_t> ints;
};

std::int64_t element_count(const std::vector<std::int64_t>& dims) {
  std::int64_t count = 1;
  for (const std::int64_t dim : dims) {
    if (dim < 0 || dim > kMaxElements) return -1;
    count *= dim;
    if (count > kMaxElements) return -1;
  }
  return count;
}

// Little-endian bytes of `count` values of `size` bytes each, converted by `convert`.
template <class Stored, class Out, class Convert>
bool read_raw(const std::string& raw, std::int64_t count, std::vector<Out>& out, Convert convert) {
  if (raw.size() != static_cast<std::size_t>(count) * sizeof(Stored)) return false;
  out.resize(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < out.size(); ++i) {
    Stored value;
    std::memcpy(&value, raw.data() + i * sizeof(Stored), sizeof(Stored));
    out[i] = convert(value);
  }
  return true;
}

// A TensorProto as a constant: float, double, int32 and int64 tensors stored in the model.
Result<ValueInfo> read_tensor(const onnx::TensorProto& tensor) {
  const std::string name = "tensor '" + tensor.name() + "'";
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL)
    return invalid_argument(name + " is stored in an external file, which this reader does not open");
  if (tensor.has_segment()) return invalid_argument(name + " is segmented, which is not supported");
  ValueInfo value;
  value.constant = true;
  value.dims.assign(tensor.dims().begin(), tensor.dims().end());
  const std::int64_t count = element_count(value.dims);
  if (count < 0) return invalid_argument(name + " has dimensions out of range");
  const std::string& raw = tensor.raw_data();
  bool read = false;
  switch (tensor.data_type()) {
    case onnx::TensorProto::FLOAT:
      read = tensor.has_raw_data()
                 ? read_raw<float>(raw, count, value.floats, [](float v) { return v; })
                 : tensor.float_data_size() == count &&
                       (value.floats.assign(tensor.float_data().begin(), tensor.float_data().end()), true);
      break;
    case onnx::TensorProto::DOUBLE:
      read = tensor.has_raw_data()
                 ? read_raw<double>(raw, count, value.floats, [](double v) { return static_cast<float>(v); })
                 : tensor.double_data_size() == count &&
                       (value.floats.assign(tensor.double_data().begin(), tensor.double_data().end()), true);
      break;
    case onnx::TensorProto::INT64:
      read = tensor.has_raw_data()
                 ? read_raw<std::int64_t>(raw, count, value.ints, [](std::int64_t v) { return v; })
                 : tensor.int64_data_size() == count &&
                       (value.ints.assign(tensor.int64_data().begin(), tensor.int64_data().end()), true);
      break;
    case onnx::TensorProto::INT32:
      read =
          tensor.has_raw_data()
              ? read_raw<std::int32_t>(raw, count, value.ints, [](std::int32_t v) { return std::int64_t{v}; })
              : tensor.int32_data_size() == count &&
                    (value.ints.assign(tensor.int32_data().begin(), tensor.int32_data().end()), true);
      break;
    default:
      return invalid_argument(name + " has data type " + std::to_string(tensor.data_type()) +
                              " (only float, double, int32 and int64 constants are read)");
  }
  if (!read)
    return invalid_argument(name + " does not hold the " + std::to_string(count) +
                            " values of its dimensions");
  // Integers serve as shapes and pads, floats as weights and limits: each is read as what it serves.
  if (value.floats.empty() && !value.ints.empty())
    for (const std::int64_t v : value.ints) value.floats.push_back(static_cast<float>(v));
  return value;
}

// One axis of a window: the padding before and after it as ONNX states it.
struct AxisPads {
  std::int64_t before = 0;
  std::int64_t after = 0;
};

// How the engine pads a window layer: Keras' valid or same when one of them matches, otherwise a
// ZeroPadding2D layer before a valid window (exact for convolutions, for average pools that count the
// padding, and for max pools over non-negative maps).
struct WindowPadding {
  Padding padding = Padding::valid;
  bool explicit_zeros = false;
  AxisPads rows;
  AxisPads columns;
};

class GraphReader {
 public:
  GraphReader(const onnx::ModelProto& proto, std::string fallback_name)
      : proto_(proto), graph_(proto.graph()), fallback_name_(std::move(fallback_name)) {}

  Result<Model> read() {
    if (auto error = read_opset()) return *error;
    for (const onnx::TensorProto& tensor : graph_.initializer()) {
      Result<ValueInfo> value = read_tensor(tensor);
      if (!value) return value.error();
      values_[tensor.name()] = std::move(value).value();
    }
    if (auto error = read_input()) return *error;
    for (const onnx::NodeProto& node : graph_.node())
      for (const std::string& input : node.input()) ++readers_[input];
    for (const onnx::ValueInfoProto& output : graph_.output()) ++readers_[output.name()];
    for (int index = 0; index < graph_.node_size(); ++index) {
      node_index_ = index;
      if (auto error = read_node(graph_.node(index))) return *error;
    }
    if (auto error = read_output()) return *error;
    if (auto error = validate(model_)) return *error;
    return std::move(model_);
  }

 private:
  std::optional<Error> read_opset() {
    bool found = false;
    for (const onnx::OperatorSetIdProto& opset : proto_.opset_import())
      if (opset.domain().empty() || opset.domain() == "ai.onnx") {
        opset_ = opset.version();
        found = true;
      }
    if (!found) return invalid_argument("the model imports no version of the default ONNX operator set");
    if (opset_ < kMinOpset || opset_ > kMaxOpset)
      return invalid_argument("the model uses ONNX opset " + std::to_string(opset_) + "; this reader reads " +
                              std::to_string(kMinOpset) + " to " + std::to_string(kMaxOpset));
    return std::nullopt;
  }

  std::optional<Error> read_input() {
    const onnx::ValueInfoProto* input = nullptr;
    for (const onnx::ValueInfoProto& candidate : graph_.input()) {
      if (values_.contains(candidate.name())) continue;  // an initializer listed as an input (IR < 4)
      if (input)
        return invalid_argument("the model has inputs '" + input->name() + "' and '" + candidate.name() +
                                "': only models with one input are supported");
      input = &candidate;
    }
    if (!input) return invalid_argument("the model has no input");
    const std::string name = "the model's input '" + input->name() + "'";
    if (!input->type().has_tensor_type() ||
        input->type().tensor_type().elem_type() != onnx::TensorProto::FLOAT)
      return invalid_argument(name + " is not a float tensor");
    const onnx::TensorShapeProto& shape = input->type().tensor_type().shape();
    std::vector<std::int64_t> dims;
    for (int axis = 0; axis < shape.dim_size(); ++axis) {
      const onnx::TensorShapeProto_Dimension& dim = shape.dim(axis);
      if (dim.has_dim_value()) {
        dims.push_back(dim.dim_value());
      } else if (axis == 0) {
        dims.push_back(1);  // a symbolic batch size: the engine runs one image at a time
      } else {
        return invalid_argument(name + " has a dimension without a fixed size (axis " + std::to_string(axis) +
                                ")");
      }
    }
    if ((dims.size() != 4 && dims.size() != 2) || dims[0] != 1)
      return invalid_argument(name + " must be 1 x channels x height x width or 1 x features, got " +
                              describe_dims(dims));
    ValueInfo value;
    value.shape = dims.size() == 4 ? Shape{dims[2], dims[3], dims[1], false} : Shape{1, 1, dims[1], true};
    model_.input = value.shape;
    model_.input_name = input->name();
    values_[input->name()] = value;
    return std::nullopt;
  }

  std::optional<Error> read_output() {
    if (graph_.output_size() != 1)
      return invalid_argument("the model has " + std::to_string(graph_.output_size()) +
                              " outputs: only models with one output are supported");
    const std::string& name = graph_.output(0).name();
    const auto found = values_.find(name);
    if (found == values_.end() || found->second.constant)
      return invalid_argument("the model's output '" + name + "' is not computed from its input");
    if (model_.layers.empty() || found->second.tensor != model_.layers.size())
      return invalid_argument("the model's output '" + name +
                              "' is not the last value it computes: only models whose every node leads to "
                              "the output are supported");
    if (found->second.chw_of)
      return invalid_argument("the model's output '" + name +
                              "' is a flattened feature map: its order would differ from ONNX's");
    model_.output_name = name;
    return std::nullopt;
  }

  static std::string describe_dims(const std::vector<std::int64_t>& dims) {
    std::string text = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
    return text + "]";
  }

  // --- nodes ---

  const onnx::NodeProto& node() const { return graph_.node(node_index_); }

  std::string node_name() const {
    return node().name().empty() ? node().op_type() + "_" + std::to_string(node_index_) : node().name();
  }

  Error fail(const std::string& message) const {
    return invalid_argument("node '" + node_name() + "' (" + node().op_type() + "): " + message);
  }

  // A layer name not taken yet: the node's name, or it with a suffix.
  std::string layer_name(const std::string& suffix = {}) {
    std::string base = node_name() + suffix;
    std::string name = base;
    for (int copy = 2; !layer_names_.insert(name).second; ++copy) name = base + "_" + std::to_string(copy);
    return name;
  }

  const onnx::AttributeProto* attribute(const char* name) const {
    for (const onnx::AttributeProto& candidate : node().attribute())
      if (candidate.name() == name) return &candidate;
    return nullptr;
  }
  std::int64_t int_attribute(const char* name, std::int64_t fallback) const {
    const onnx::AttributeProto* found = attribute(name);
    return found ? found->i() : fallback;
  }
  float float_attribute(const char* name, float fallback) const {
    const onnx::AttributeProto* found = attribute(name);
    return found ? found->f() : fallback;
  }
  std::string string_attribute(const char* name, const std::string& fallback) const {
    const onnx::AttributeProto* found = attribute(name);
    return found ? found->s() : fallback;
  }
  std::optional<std::vector<std::int64_t>> ints_attribute(const char* name) const {
    const onnx::AttributeProto* found = attribute(name);
    if (!found) return std::nullopt;
    return std::vector<std::int64_t>(found->ints().begin(), found->ints().end());
  }

  // Input `index` of the node, or "" when absent (optional inputs may be left empty).
  std::string input_name(int index) const {
    return index < node().input_size() ? node().input(index) : std::string();
  }

  Result<const ValueInfo*> value(int index) const {
    const std::string name = input_name(index);
    if (name.empty()) return fail("has no input " + std::to_string(index));
    const auto found = values_.find(name);
    if (found == values_.end()) return fail("reads '" + name + "', which no node before it computes");
    return &found->second;
  }
  // A computed input (a map or a vector of the engine).
  Result<const ValueInfo*> computed(int index) const {
    Result<const ValueInfo*> found = value(index);
    if (found && (*found)->constant)
      return fail("input " + std::to_string(index) + " '" + input_name(index) +
                  "' is a constant; only weights may be constants");
    return found;
  }
  // A constant input (an initializer or the output of a Constant node).
  Result<const ValueInfo*> constant(int index) const {
    Result<const ValueInfo*> found = value(index);
    if (found && !(*found)->constant)
      return fail("input " + std::to_string(index) + " '" + input_name(index) +
                  "' is computed; only constant weights, shapes and limits are supported there");
    return found;
  }

  // The node's (first) output stands for `value`.
  std::optional<Error> define(ValueInfo value) {
    if (node().output_size() < 1) return fail("has no output");
    for (int extra = 1; extra < node().output_size(); ++extra)
      if (!node().output(extra).empty() && readers_[node().output(extra)] > 0)
        return fail("its output " + std::to_string(extra) + " '" + node().output(extra) +
                    "' is read; only the first output is supported");
    values_[node().output(0)] = std::move(value);
    return std::nullopt;
  }

  // Appends `layer` reading the engine's tensors `inputs`, and returns its tensor's value (shape checked by
  // the engine's own rules, so that a bad layer is reported as the engine reports it).
  std::optional<Error> append(Layer layer, const std::vector<std::size_t>& inputs, ValueInfo& value) {
    Model single;
    single.input = tensor_shape(inputs[0]);
    single.layers.push_back(layer);
    if (inputs.size() > 1) single.layers[0].inputs.assign(inputs.size(), 0);
    Result<std::vector<Shape>> shapes = layer_shapes(single);
    if (!shapes) return fail(shapes.error().message);
    if (!(inputs.size() == 1 && inputs[0] == model_.layers.size())) layer.inputs = inputs;
    model_.layers.push_back(std::move(layer));
    shapes_.push_back(shapes->front());
    value = ValueInfo{};
    value.tensor = model_.layers.size();
    value.shape = shapes->front();
    return std::nullopt;
  }

  Shape tensor_shape(std::size_t tensor) const { return tensor == 0 ? model_.input : shapes_[tensor - 1]; }

  std::optional<Error> read_node(const onnx::NodeProto& proto) {
    const std::string& op = proto.op_type();
    if (!proto.domain().empty() && proto.domain() != "ai.onnx")
      return fail("operators of domain '" + proto.domain() +
                  "' are not supported (supported: " + kSupportedOps + ")");
    if (op == "Constant") return read_constant();
    if (op == "Cast") return read_cast();
    if (op == "Identity" || op == "Dropout") return alias();
    if (op == "Conv") return read_conv();
    if (op == "Gemm" || op == "MatMul") return read_dense();
    if (op == "Add") return read_add();
    if (op == "BatchNormalization") return read_batch_norm();
    if (op == "Relu") return append_rectifier(Rectifier{});
    if (op == "LeakyRelu") return append_rectifier(Rectifier{float_attribute("alpha", 0.01f)});
    if (op == "Clip") return read_clip();
    if (op == "MaxPool" || op == "AveragePool") return read_pool();
    if (op == "GlobalAveragePool") return read_global_pool();
    if (op == "Pad") return read_pad();
    if (op == "Flatten") {
      if (int_attribute("axis", 1) != 1) return fail("only Flatten with axis 1 is supported");
      return flatten();
    }
    if (op == "Reshape") return read_reshape();
    if (op == "Softmax") return read_softmax();
    return fail(std::string("this operator is not supported (supported: ") + kSupportedOps + ")");
  }

  std::optional<Error> read_constant() {
    const onnx::AttributeProto* tensor = attribute("value");
    ValueInfo value;
    value.constant = true;
    if (tensor && tensor->has_t()) {
      Result<ValueInfo> read = read_tensor(tensor->t());
      if (!read) return fail(read.error().message);
      value = std::move(read).value();
    } else if (const onnx::AttributeProto* single = attribute("value_float")) {
      value.floats = {single->f()};
    } else if (const onnx::AttributeProto* several = attribute("value_floats")) {
      value.floats.assign(several->floats().begin(), several->floats().end());
      value.dims = {static_cast<std::int64_t>(value.floats.size())};
    } else if (const onnx::AttributeProto* integer = attribute("value_int")) {
      value.ints = {integer->i()};
      value.floats = {static_cast<float>(integer->i())};
    } else if (const onnx::AttributeProto* integers = attribute("value_ints")) {
      value.ints.assign(integers->ints().begin(), integers->ints().end());
      for (const std::int64_t v : value.ints) value.floats.push_back(static_cast<float>(v));
      value.dims = {static_cast<std::int64_t>(value.ints.size())};
    } else {
      return fail("only numeric tensor constants are supported");
    }
    return define(std::move(value));
  }

  // A Cast of a constant is a constant (torch's opsets 7 and 8 cast a Reshape's shape to int64).
  std::optional<Error> read_cast() {
    Result<const ValueInfo*> x = constant(0);
    if (!x) return x.error();
    ValueInfo value = **x;
    switch (int_attribute("to", 0)) {
      case onnx::TensorProto::FLOAT:
      case onnx::TensorProto::DOUBLE:
        value.ints.clear();
        break;
      case onnx::TensorProto::INT32:
      case onnx::TensorProto::INT64:
        if (value.ints.empty()) {
          for (const float v : value.floats) {
            if (!(std::abs(v) < 0x1p62f)) return fail("casts " + std::to_string(v) + " to an integer");
            value.ints.push_back(static_cast<std::int64_t>(v));  // ONNX truncates toward zero
          }
          for (std::size_t i = 0; i < value.ints.size(); ++i)
            value.floats[i] = static_cast<float>(value.ints[i]);
        }
        break;
      default:
        return fail("only casts to float, double, int32 or int64 are supported");
    }
    return define(std::move(value));
  }

  // Identity, and Dropout (the engine infers: a Dropout passes its input through).
  std::optional<Error> alias() {
    Result<const ValueInfo*> input = value(0);
    if (!input) return input.error();
    return define(**input);
  }

  // --- windows ---

  Result<AxisPads> axis_pads(const std::vector<std::int64_t>& pads, std::size_t axis, std::int64_t in,
                             std::int64_t kernel, std::int64_t stride, std::int64_t dilation) const {
    const std::string auto_pad = string_attribute("auto_pad", "NOTSET");
    if (auto_pad == "VALID") return AxisPads{};
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const std::int64_t out = (in + stride - 1) / stride;
      const std::int64_t total =
          std::max<std::int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
      const std::int64_t smaller = total / 2;
      return auto_pad == "SAME_UPPER" ? AxisPads{smaller, total - smaller}
                                      : AxisPads{total - smaller, smaller};
    }
    if (auto_pad != "NOTSET") return fail("auto_pad '" + auto_pad + "' is not supported");
    if (pads.empty()) return AxisPads{};
    return AxisPads{pads[axis], pads[axis + 2]};
  }

  // The window's padding on `input` (h x w), or an error for what the engine cannot compute exactly.
  // `zeros_exact`: whether padding with zeros computes what the node computes.
  Result<WindowPadding> window_padding(const Layer& layer, const Shape& input, bool zeros_exact,
                                       bool same_exact) const {
    std::vector<std::int64_t> pads = ints_attribute("pads").value_or(std::vector<std::int64_t>{});
    if (!pads.empty() && pads.size() != 4) return fail("pads must have 4 entries for a 2-D window");
    if (std::any_of(pads.begin(), pads.end(), [](std::int64_t pad) { return pad < 0 || pad > kMaxElements; }))
      return fail("pads must be between 0 and 2^32");
    WindowPadding result;
    Result<AxisPads> rows =
        axis_pads(pads, 0, input.height, layer.kernel_height, layer.stride_height, layer.dilation_height);
    if (!rows) return rows.error();
    Result<AxisPads> columns =
        axis_pads(pads, 1, input.width, layer.kernel_width, layer.stride_width, layer.dilation_width);
    if (!columns) return columns.error();
    result.rows = *rows;
    result.columns = *columns;
    if (rows->before == 0 && rows->after == 0 && columns->before == 0 && columns->after == 0) return result;
    const auto matches_same = [](const AxisPads& axis, std::int64_t in, std::int64_t kernel,
                                 std::int64_t stride, std::int64_t dilation) {
      const kernels::AxisGeometry same = kernels::axis_geometry(in, kernel, stride, dilation, Padding::same);
      const std::int64_t explicit_out =
          (in + axis.before + axis.after - (kernel - 1) * dilation - 1) / stride + 1;
      return explicit_out == same.out && axis.before == same.pad_before;
    };
    if (same_exact &&
        matches_same(*rows, input.height, layer.kernel_height, layer.stride_height, layer.dilation_height) &&
        matches_same(*columns, input.width, layer.kernel_width, layer.stride_width, layer.dilation_width)) {
      result.padding = Padding::same;
      return result;
    }
    if (!zeros_exact)
      return fail("its padding is neither Keras' 'same' nor computable by padding with zeros");
    result.explicit_zeros = true;
    return result;
  }

  // Reads kernel size, strides and dilations into `layer`.
  std::optional<Error> read_window(Layer& layer, const std::vector<std::int64_t>& kernel_shape) const {
    if (kernel_shape.size() != 2) return fail("only 2-D windows are supported");
    layer.kernel_height = kernel_shape[0];
    layer.kernel_width = kernel_shape[1];
    const std::vector<std::int64_t> strides =
        ints_attribute("strides").value_or(std::vector<std::int64_t>{1, 1});
    const std::vector<std::int64_t> dilations =
        ints_attribute("dilations").value_or(std::vector<std::int64_t>{1, 1});
    if (strides.size() != 2 || dilations.size() != 2)
      return fail("strides and dilations must have 2 entries");
    layer.stride_height = strides[0];
    layer.stride_width = strides[1];
    layer.dilation_height = dilations[0];
    layer.dilation_width = dilations[1];
    for (const std::int64_t size : {layer.kernel_height, layer.kernel_width, layer.stride_height,
                                    layer.stride_width, layer.dilation_height, layer.dilation_width})
      if (size < 1 || size > kMaxElements) return fail("kernel size, strides and dilations must be positive");
    return std::nullopt;
  }

  // Appends the window layer after the padding it needs, and defines the node's output.
  std::optional<Error> append_window(Layer layer, const ValueInfo& input, const WindowPadding& padding,
                                     bool keeps_sign) {
    std::size_t tensor = input.tensor;
    if (padding.explicit_zeros) {
      Layer pad;
      pad.name = layer_name("/pad");
      pad.kind = LayerKind::zero_padding2d;
      pad.pad_top = padding.rows.before;
      pad.pad_bottom = padding.rows.after;
      pad.pad_left = padding.columns.before;
      pad.pad_right = padding.columns.after;
      ValueInfo padded;
      if (auto error = append(std::move(pad), {tensor}, padded)) return error;
      tensor = padded.tensor;
    }
    layer.padding = padding.padding;
    layer.name = layer_name();
    ValueInfo output;
    if (auto error = append(std::move(layer), {tensor}, output)) return error;
    output.non_negative = keeps_sign && input.non_negative;
    return define(std::move(output));
  }

  std::optional<Error> read_conv() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    Result<const ValueInfo*> w = constant(1);
    if (!w) return w.error();
    const ValueInfo& input = **x;
    const ValueInfo& weights = **w;
    if (input.shape.flat) return fail("needs a feature map, got a flat vector");
    if (weights.dims.size() != 4) return fail("only 2-D convolutions are supported");
    const std::int64_t filters = weights.dims[0];
    const std::int64_t group = int_attribute("group", 1);
    const std::int64_t channels = input.shape.channels;
    if (group < 1 || channels % group != 0 || filters % group != 0 || weights.dims[1] != channels / group)
      return fail("its weights " + describe_dims(weights.dims) + " do not fit " + std::to_string(channels) +
                  " input channels in " + std::to_string(group) + " groups");
    Layer layer;
    const std::vector<std::int64_t> kernel_shape =
        ints_attribute("kernel_shape").value_or(std::vector<std::int64_t>{weights.dims[2], weights.dims[3]});
    if (kernel_shape != std::vector<std::int64_t>{weights.dims[2], weights.dims[3]})
      return fail("kernel_shape does not match its weights " + describe_dims(weights.dims));
    if (auto error = read_window(layer, kernel_shape)) return error;
    if (group == channels && group > 1) {
      layer.kind = LayerKind::depthwise_conv2d;
      layer.depth_multiplier = filters / channels;
    } else {
      layer.kind = LayerKind::conv2d;
      layer.units = filters;
      layer.groups = group;
    }
    // OIHW -> HWIO (the engine's [kh][kw][in / groups][out]; a depthwise kernel is the same with in = 1).
    const std::int64_t per_group = weights.dims[1];
    const std::int64_t taps = layer.kernel_height * layer.kernel_width;
    layer.kernel.resize(weights.floats.size());
    for (std::int64_t o = 0; o < filters; ++o)
      for (std::int64_t i = 0; i < per_group; ++i)
        for (std::int64_t tap = 0; tap < taps; ++tap)
          layer.kernel[static_cast<std::size_t>((tap * per_group + i) * filters + o)] =
              weights.floats[static_cast<std::size_t>((o * per_group + i) * taps + tap)];
    if (!input_name(2).empty()) {
      Result<const ValueInfo*> b = constant(2);
      if (!b) return b.error();
      if ((*b)->floats.size() != static_cast<std::size_t>(filters))
        return fail("has " + std::to_string((*b)->floats.size()) + " biases for " + std::to_string(filters) +
                    " filters");
      layer.bias = (*b)->floats;
    }
    Result<WindowPadding> padding = window_padding(layer, input.shape, true, true);
    if (!padding) return padding.error();
    return append_window(std::move(layer), input, *padding, false);
  }

  std::optional<Error> read_pool() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    const ValueInfo& input = **x;
    if (input.shape.flat) return fail("needs a feature map, got a flat vector");
    const bool max = node().op_type() == "MaxPool";
    Layer layer;
    layer.kind = max ? LayerKind::max_pool2d : LayerKind::average_pool2d;
    const std::optional<std::vector<std::int64_t>> kernel_shape = ints_attribute("kernel_shape");
    if (!kernel_shape) return fail("has no kernel_shape");
    if (auto error = read_window(layer, *kernel_shape)) return error;
    if (layer.dilation_height != 1 || layer.dilation_width != 1)
      return fail("dilated pools are not supported");
    // The engine's 'same' average divides by the valid pixels (count_include_pad 0), its max ignores the
    // padding; zeros are exact for an average that counts them, and for a max over a non-negative map.
    const bool counts_padding = !max && int_attribute("count_include_pad", 0) != 0;
    const bool zeros_exact = max ? input.non_negative : counts_padding;
    Result<WindowPadding> padding = window_padding(layer, input.shape, zeros_exact, !counts_padding);
    if (!padding) return padding.error();
    if (int_attribute("ceil_mode", 0) != 0) {
      // Ceiling division changes the output size only when the last window would start past the end.
      const auto fits = [](std::int64_t in, const AxisPads& pads, std::int64_t kernel, std::int64_t stride) {
        return (in + pads.before + pads.after - kernel) % stride == 0;
      };
      if (padding->padding == Padding::valid &&
          !(fits(input.shape.height, padding->rows, layer.kernel_height, layer.stride_height) &&
            fits(input.shape.width, padding->columns, layer.kernel_width, layer.stride_width)))
        return fail("ceil_mode 1 changes its output size here, which is not supported");
    }
    return append_window(std::move(layer), input, *padding, true);
  }

  std::optional<Error> read_global_pool() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    Layer layer;
    layer.kind = LayerKind::global_average_pool2d;
    layer.name = layer_name();
    ValueInfo output;
    if (auto error = append(std::move(layer), {(*x)->tensor}, output)) return error;
    output.non_negative = (*x)->non_negative;
    return define(std::move(output));
  }

  std::optional<Error> read_pad() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    if (string_attribute("mode", "constant") != "constant") return fail("only constant padding is supported");
    std::vector<std::int64_t> pads;
    float fill = 0.0f;
    if (opset_ < 11) {
      pads = ints_attribute("pads").value_or(std::vector<std::int64_t>{});
      fill = float_attribute("value", 0.0f);
    } else {
      Result<const ValueInfo*> given = constant(1);
      if (!given) return given.error();
      pads = (*given)->ints;
      if (!input_name(2).empty()) {
        Result<const ValueInfo*> value = constant(2);
        if (!value) return value.error();
        if ((*value)->floats.size() != 1) return fail("its constant value must be one number");
        fill = (*value)->floats[0];
      }
      if (!input_name(3).empty()) return fail("padding chosen axes (the axes input) is not supported");
    }
    if (fill != 0.0f) return fail("only padding with zeros is supported");
    if (pads.size() != 8) return fail("only the padding of a 4-D map (8 pads) is supported");
    if (pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0)
      return fail("only the height and width of a map may be padded");
    if (std::any_of(pads.begin(), pads.end(), [](std::int64_t pad) { return pad < 0 || pad > kMaxElements; }))
      return fail("pads must be between 0 and 2^32");
    if (std::all_of(pads.begin(), pads.end(), [](std::int64_t pad) { return pad == 0; })) return define(**x);
    Layer layer;
    layer.kind = LayerKind::zero_padding2d;
    layer.name = layer_name();
    layer.pad_top = pads[2];
    layer.pad_left = pads[3];
    layer.pad_bottom = pads[6];
    layer.pad_right = pads[7];
    ValueInfo output;
    if (auto error = append(std::move(layer), {(*x)->tensor}, output)) return error;
    output.non_negative = (*x)->non_negative;
    return define(std::move(output));
  }

  // --- per element ---

  std::optional<Error> append_rectifier(const Rectifier& rectifier) {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    Layer layer;
    layer.kind = LayerKind::rectifier;
    layer.name = layer_name();
    layer.rectifier = rectifier;
    ValueInfo output;
    if (auto error = append(std::move(layer), {(*x)->tensor}, output)) return error;
    output.chw_of = (*x)->chw_of;
    output.non_negative = rectifier.negative_slope == 0.0f;
    return define(std::move(output));
  }

  std::optional<Error> read_clip() {
    float low = -std::numeric_limits<float>::infinity();
    float high = std::numeric_limits<float>::infinity();
    if (opset_ < 11) {
      low = float_attribute("min", low);
      high = float_attribute("max", high);
    } else {
      for (const int index : {1, 2}) {
        if (input_name(index).empty()) continue;
        Result<const ValueInfo*> limit = constant(index);
        if (!limit) return limit.error();
        if ((*limit)->floats.size() != 1) return fail("its min and max must be single numbers");
        (index == 1 ? low : high) = (*limit)->floats[0];
      }
    }
    if (std::isinf(low) && low < 0 && std::isinf(high)) return alias();
    if (low != 0.0f || !(high > 0.0f))
      return fail("only Clip with min 0 and a positive max (ReLU6 and the like) is supported, got min " +
                  std::to_string(low) + " max " + std::to_string(high));
    Rectifier rectifier;
    rectifier.max_value = high;
    return append_rectifier(rectifier);
  }

  std::optional<Error> read_softmax() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    const ValueInfo& input = **x;
    const std::int64_t axis = int_attribute("axis", opset_ < 13 ? 1 : -1);
    const std::int64_t rank = input.shape.flat ? 2 : 4;
    const bool over_channels =
        input.shape.flat ? (axis == 1 || axis == -1)
                         : (opset_ >= 13 && (axis == 1 || axis == -3)) ||
                               (input.shape.height * input.shape.width == 1 && (axis == 1 || axis == -3));
    if (!over_channels || input.chw_of)
      return fail("only a softmax over the channels (axis 1 of a rank-" + std::to_string(rank) +
                  " tensor) is supported");
    Layer layer;
    layer.kind = LayerKind::softmax;
    layer.name = layer_name();
    ValueInfo output;
    if (auto error = append(std::move(layer), {input.tensor}, output)) return error;
    return define(std::move(output));
  }

  // --- shapes ---

  std::optional<Error> flatten() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    const ValueInfo& input = **x;
    if (input.shape.flat) return define(input);
    Layer layer;
    layer.kind = LayerKind::flatten;
    layer.name = layer_name();
    ValueInfo output;
    if (auto error = append(std::move(layer), {input.tensor}, output)) return error;
    if (input.shape.height * input.shape.width > 1) output.chw_of = input.shape;
    output.non_negative = input.non_negative;
    return define(std::move(output));
  }

  std::optional<Error> read_reshape() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    Result<const ValueInfo*> target = constant(1);
    if (!target) return target.error();
    const std::vector<std::int64_t>& shape = (*target)->ints;
    const std::int64_t size = (*x)->shape.size();
    const bool flattens = shape.size() == 2 &&
                          (shape[0] == 1 || shape[0] == 0 || (shape[0] == -1 && shape[1] == size)) &&
                          (shape[1] == -1 || shape[1] == size);
    if (!flattens)
      return fail("only a Reshape that flattens each image (to [1, -1] or [N, " + std::to_string(size) +
                  "]) is supported, got " + describe_dims(shape));
    return flatten();
  }

  // --- weights ---

  std::optional<Error> read_dense() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    Result<const ValueInfo*> w = constant(1);
    if (!w) return w.error();
    const ValueInfo& input = **x;
    const ValueInfo& weights = **w;
    const bool gemm = node().op_type() == "Gemm";
    if (!input.shape.flat)
      return fail("needs a flat input (Flatten before it), got a " + std::to_string(input.shape.channels) +
                  "-channel map");
    if (gemm && int_attribute("transA", 0) != 0) return fail("transA is not supported");
    if (weights.dims.size() != 2) return fail("its weights must be a matrix");
    const bool transposed = gemm && int_attribute("transB", 0) != 0;
    const std::int64_t features = transposed ? weights.dims[1] : weights.dims[0];
    const std::int64_t units = transposed ? weights.dims[0] : weights.dims[1];
    if (features != input.shape.channels)
      return fail("its weights " + describe_dims(weights.dims) + " do not take its " +
                  std::to_string(input.shape.channels) + " input features");
    const float alpha = gemm ? float_attribute("alpha", 1.0f) : 1.0f;
    Layer layer;
    layer.kind = LayerKind::dense;
    layer.name = layer_name();
    layer.units = units;
    layer.kernel.resize(weights.floats.size());
    // The engine's row of ONNX feature f: the same, or its HWC position when ONNX flattened CHW.
    const auto engine_row = [&](std::int64_t feature) {
      if (!input.chw_of) return feature;
      const Shape& map = *input.chw_of;
      const std::int64_t pixels = map.height * map.width;
      return (feature % pixels) * map.channels + feature / pixels;
    };
    for (std::int64_t f = 0; f < features; ++f)
      for (std::int64_t u = 0; u < units; ++u)
        layer.kernel[static_cast<std::size_t>(engine_row(f) * units + u)] =
            alpha * weights.floats[static_cast<std::size_t>(transposed ? u * features + f : f * units + u)];
    if (gemm && !input_name(2).empty()) {
      Result<const ValueInfo*> c = constant(2);
      if (!c) return c.error();
      const std::vector<float>& bias = (*c)->floats;
      const float beta = float_attribute("beta", 1.0f);
      if (bias.size() != static_cast<std::size_t>(units) && bias.size() != 1)
        return fail("its C has " + std::to_string(bias.size()) + " values for " + std::to_string(units) +
                    " units");
      layer.bias.assign(static_cast<std::size_t>(units), 0.0f);
      for (std::size_t u = 0; u < layer.bias.size(); ++u)
        layer.bias[u] = beta * bias[bias.size() == 1 ? 0 : u];
    }
    ValueInfo output;
    if (auto error = append(std::move(layer), {input.tensor}, output)) return error;
    return define(std::move(output));
  }

  // The unit layer (Conv, Gemm, MatMul) that alone computes `value`, into which a per-channel affine map
  // can fold; nullptr when there is none.
  Layer* foldable_producer(const ValueInfo& value, const std::string& name) {
    if (value.constant || value.tensor == 0 || readers_[name] != 1) return nullptr;
    Layer& layer = model_.layers[value.tensor - 1];
    return (layer.kind == LayerKind::conv2d || layer.kind == LayerKind::depthwise_conv2d ||
            layer.kind == LayerKind::dense)
               ? &layer
               : nullptr;
  }

  std::optional<Error> read_add() {
    Result<const ValueInfo*> a = value(0);
    if (!a) return a.error();
    Result<const ValueInfo*> b = value(1);
    if (!b) return b.error();
    if ((*a)->constant && (*b)->constant) return fail("adds two constants, which is not supported");
    if ((*a)->constant || (*b)->constant) {
      // MatMul + Add: the constant is the dense layer's bias.
      const bool first_computed = !(*a)->constant;
      const ValueInfo& computed_value = first_computed ? **a : **b;
      const ValueInfo& addend = first_computed ? **b : **a;
      Layer* dense = foldable_producer(computed_value, input_name(first_computed ? 0 : 1));
      if (!dense || dense->kind != LayerKind::dense ||
          addend.floats.size() != static_cast<std::size_t>(dense->units))
        return fail("adding a constant is supported only as the bias of the MatMul before it");
      if (dense->bias.empty()) dense->bias.assign(static_cast<std::size_t>(dense->units), 0.0f);
      for (std::size_t u = 0; u < dense->bias.size(); ++u) dense->bias[u] += addend.floats[u];
      return define(computed_value);
    }
    if ((*a)->shape != (*b)->shape || (*a)->chw_of != (*b)->chw_of)
      return fail("adds values of different shapes (broadcasting is not supported)");
    Layer layer;
    layer.kind = LayerKind::add;
    layer.name = layer_name();
    ValueInfo output;
    if (auto error = append(std::move(layer), {(*a)->tensor, (*b)->tensor}, output)) return error;
    output.chw_of = (*a)->chw_of;
    return define(std::move(output));
  }

  std::optional<Error> read_batch_norm() {
    Result<const ValueInfo*> x = computed(0);
    if (!x) return x.error();
    if (int_attribute("training_mode", 0) != 0) return fail("training mode is not supported");
    std::vector<const std::vector<float>*> parameters;  // scale, bias, mean, variance
    for (int index = 1; index <= 4; ++index) {
      Result<const ValueInfo*> parameter = constant(index);
      if (!parameter) return parameter.error();
      parameters.push_back(&(*parameter)->floats);
    }
    const ValueInfo& input = **x;
    const auto channels = static_cast<std::size_t>(input.shape.channels);
    for (const std::vector<float>* parameter : parameters)
      if (parameter->size() != channels)
        return fail("has " + std::to_string(parameter->size()) + " values per parameter for " +
                    std::to_string(channels) + " channels");
    if (input.chw_of) return fail("normalising a flattened feature map is not supported");
    const double epsilon = float_attribute("epsilon", 1e-5f);
    std::vector<double> scale(channels);
    std::vector<double> shift(channels);
    for (std::size_t c = 0; c < channels; ++c) {
      scale[c] = (*parameters[0])[c] / std::sqrt(static_cast<double>((*parameters[3])[c]) + epsilon);
      shift[c] = (*parameters[1])[c] - (*parameters[2])[c] * scale[c];
    }
    if (Layer* target = foldable_producer(input, input_name(0))) {
      // Every layout has the output unit fastest.
      if (target->bias.empty()) target->bias.assign(channels, 0.0f);
      for (std::size_t at = 0; at < target->kernel.size(); ++at)
        target->kernel[at] = static_cast<float>(target->kernel[at] * scale[at % channels]);
      for (std::size_t c = 0; c < channels; ++c)
        target->bias[c] = static_cast<float>(target->bias[c] * scale[c] + shift[c]);
      return define(input);
    }
    if (input.shape.flat)
      return fail("only a BatchNormalization after a Gemm or MatMul is supported on vectors");
    // Elsewhere it is a 1x1 depthwise convolution: one scale and one shift per channel.
    Layer layer;
    layer.kind = LayerKind::depthwise_conv2d;
    layer.name = layer_name();
    for (std::size_t c = 0; c < channels; ++c) {
      layer.kernel.push_back(static_cast<float>(scale[c]));
      layer.bias.push_back(static_cast<float>(shift[c]));
    }
    ValueInfo output;
    if (auto error = append(std::move(layer), {input.tensor}, output)) return error;
    return define(std::move(output));
  }

  const onnx::ModelProto& proto_;
  const onnx::GraphProto& graph_;
  std::string fallback_name_;
  std::int64_t opset_ = 0;
  int node_index_ = 0;
  std::map<std::string, ValueInfo> values_;
  std::map<std::string, int> readers_;
  std::set<std::string> layer_names_;
  std::vector<Shape> shapes_;  // of every layer's output
  Model model_;

  friend Result<Model> read_graph(const onnx::ModelProto& proto, const std::string& fallback_name);
};

Result<Model> read_graph(const onnx::ModelProto& proto, const std::string& fallback_name) {
  GraphReader reader(proto, fallback_name);
  // torch.onnx.export names every graph alike; the file's name says more.
  const std::string& graph_name = proto.graph().name();
  reader.model_.name = graph_name.empty() || graph_name == "torch_jit" || graph_name == "main_graph"
                           ? fallback_name
                           : graph_name;
  return reader.read();
}

}  // namespace

Result<Model> detail::decode_onnx(const std::string& source, std::string_view bytes) {
  const auto broken = [&](const std::string& why) { return invalid_argument("'" + source + "': " + why); };
  try {
    onnx::ModelProto proto;
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
        !proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
      return broken("not an ONNX model (its bytes are not a ModelProto)");
    try {
      onnx::checker::check_model(proto);
    } catch (const std::exception& error) {
      return broken(std::string("ONNX's checker refuses it: ") + error.what());
    }
    std::string stem = std::filesystem::path(source).stem().string();
    Result<Model> model = read_graph(proto, stem.empty() ? std::string("model") : stem);
    if (!model) return broken(model.error().message);
    return model;
  } catch (const std::exception& error) {
    return broken(error.what());
  }
}

Result<Model> load_onnx(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return invalid_argument("cannot read '" + path + "': " + std::strerror(errno));
  std::string bytes;
  char buffer[1 << 16];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) bytes.append(buffer, count);
  if (std::ferror(file.get())) return invalid_argument("cannot read '" + path + "': " + std::strerror(errno));
  return detail::decode_onnx(path, bytes);
}

}  // namespace reds::engine
