// A level of a model as an ONNX ModelProto (reds/engine/onnx.h), built with libonnx's protobuf classes and
// checked by its checker and shape inference.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include "kernels.h"
#include "level_shapes.h"
#include "reds/engine/onnx.h"
#include "reds/version.h"

namespace reds::engine {

namespace {

// The padding ONNX states for one axis of an engine window (Keras' 'same' puts the odd pixel after).
std::pair<std::int64_t, std::int64_t> axis_pads(const Layer& layer, std::int64_t in, bool rows) {
  if (layer.padding == Padding::valid) return {0, 0};
  const std::int64_t kernel = rows ? layer.kernel_height : layer.kernel_width;
  const std::int64_t stride = rows ? layer.stride_height : layer.stride_width;
  const std::int64_t dilation = rows ? layer.dilation_height : layer.dilation_width;
  const kernels::AxisGeometry geometry = kernels::axis_geometry(in, kernel, stride, dilation, Padding::same);
  const std::int64_t total =
      std::max<std::int64_t>((geometry.out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
  return {geometry.pad_before, total - geometry.pad_before};
}

class GraphWriter {
 public:
  GraphWriter(const Model& model, const std::vector<Shape>& shapes,
              const std::vector<detail::LevelShape>& level)
      : model_(model), shapes_(shapes), level_(level) {}

  Result<onnx::ModelProto> write(const std::string& graph_name, const std::string& description) {
    onnx::ModelProto proto;
    proto.set_ir_version(7);
    proto.set_producer_name("reds");
    proto.set_producer_version(kVersion);
    proto.set_doc_string(description);
    onnx::OperatorSetIdProto* opset = proto.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOnnxExportOpset);
    graph_ = proto.mutable_graph();
    graph_->set_name(graph_name);

    const std::string input = unique(model_.input_name.empty() ? "input" : model_.input_name);
    tensor_names_.push_back(input);
    describe_value(graph_->add_input(), input, level_[0]);
    const std::string output_name = model_.output_name.empty() ? "output" : model_.output_name;
    for (std::size_t index = 0; index < model_.layers.size(); ++index) {
      const bool last = index + 1 == model_.layers.size();
      // The output's name is reserved first, so that no layer takes it.
      if (index == 0) reserved_.insert(output_name);
      const std::string name = last ? output_name : unique(model_.layers[index].name);
      tensor_names_.push_back(name);
      if (auto error = write_layer(index, name)) return *error;
    }
    describe_value(graph_->add_output(), output_name, level_.back());
    return proto;
  }

 private:
  std::string unique(const std::string& wanted) {
    std::string name = wanted.empty() ? "value" : wanted;
    for (int copy = 2; !reserved_.insert(name).second; ++copy) name = wanted + "_" + std::to_string(copy);
    return name;
  }

  static void describe_value(onnx::ValueInfoProto* value, const std::string& name,
                             const detail::LevelShape& shape) {
    value->set_name(name);
    onnx::TypeProto_Tensor* tensor = value->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    onnx::TensorShapeProto* dims = tensor->mutable_shape();
    dims->add_dim()->set_dim_value(1);
    dims->add_dim()->set_dim_value(shape.channels);
    if (!shape.full.flat) {
      dims->add_dim()->set_dim_value(shape.full.height);
      dims->add_dim()->set_dim_value(shape.full.width);
    }
  }

  std::string add_floats(const std::string& wanted, const std::vector<std::int64_t>& dims,
                         const std::vector<float>& values) {
    const std::string name = unique(wanted);
    onnx::TensorProto* tensor = graph_->add_initializer();
    tensor->set_name(name);
    tensor->set_data_type(onnx::TensorProto::FLOAT);
    for (const std::int64_t dim : dims) tensor->add_dims(dim);
    std::string raw(values.size() * sizeof(float), '\0');
    std::memcpy(raw.data(), values.data(), raw.size());  // little-endian, as ONNX stores raw data
    tensor->set_raw_data(std::move(raw));
    return name;
  }

  std::string add_ints(const std::string& wanted, const std::vector<std::int64_t>& values) {
    const std::string name = unique(wanted);
    onnx::TensorProto* tensor = graph_->add_initializer();
    tensor->set_name(name);
    tensor->set_data_type(onnx::TensorProto::INT64);
    tensor->add_dims(static_cast<std::int64_t>(values.size()));
    for (const std::int64_t value : values) tensor->add_int64_data(value);
    return name;
  }

  onnx::NodeProto* add_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                            const std::string& output) {
    onnx::NodeProto* node = graph_->add_node();
    node->set_op_type(op);
    node->set_name(name);
    for (const std::string& input : inputs) node->add_input(input);
    node->add_output(output);
    return node;
  }

  static void set_ints(onnx::NodeProto* node, const char* name, const std::vector<std::int64_t>& values) {
    onnx::AttributeProto* attribute = node->add_attribute();
    attribute->set_name(name);
    attribute->set_type(onnx::AttributeProto::INTS);
    for (const std::int64_t value : values) attribute->add_ints(value);
  }
  static void set_int(onnx::NodeProto* node, const char* name, std::int64_t value) {
    onnx::AttributeProto* attribute = node->add_attribute();
    attribute->set_name(name);
    attribute->set_type(onnx::AttributeProto::INT);
    attribute->set_i(value);
  }
  static void set_float(onnx::NodeProto* node, const char* name, float value) {
    onnx::AttributeProto* attribute = node->add_attribute();
    attribute->set_name(name);
    attribute->set_type(onnx::AttributeProto::FLOAT);
    attribute->set_f(value);
  }

  void set_window(onnx::NodeProto* node, const Layer& layer, const Shape& input, bool convolution) {
    set_ints(node, "kernel_shape", {layer.kernel_height, layer.kernel_width});
    set_ints(node, "strides", {layer.stride_height, layer.stride_width});
    if (convolution) set_ints(node, "dilations", {layer.dilation_height, layer.dilation_width});
    const auto [top, bottom] = axis_pads(layer, input.height, true);
    const auto [left, right] = axis_pads(layer, input.width, false);
    set_ints(node, "pads", {top, left, bottom, right});
  }

  std::optional<Error> write_layer(std::size_t index, const std::string& output) {
    const Layer& layer = model_.layers[index];
    const std::vector<std::size_t> inputs = layer_inputs(model_, index);
    const std::string& input = tensor_names_[inputs[0]];
    const detail::LevelShape& in = level_[inputs[0]];
    const detail::LevelShape& out = level_[index + 1];
    const Shape& full_in = inputs[0] == 0 ? model_.input : shapes_[inputs[0] - 1];
    switch (layer.kind) {
      case LayerKind::conv2d:
      case LayerKind::depthwise_conv2d: {
        const bool depthwise = layer.kind == LayerKind::depthwise_conv2d;
        const std::int64_t groups = depthwise ? in.channels : layer.groups;
        const std::int64_t per_group = in.channels / groups;
        const std::int64_t full_per_group = depthwise ? 1 : full_in.channels / layer.groups;
        const std::int64_t full_units = out.full.channels;
        const std::int64_t taps = layer.kernel_height * layer.kernel_width;
        std::vector<float> weights(static_cast<std::size_t>(out.channels * per_group * taps));
        for (std::int64_t o = 0; o < out.channels; ++o)
          for (std::int64_t i = 0; i < per_group; ++i)
            for (std::int64_t tap = 0; tap < taps; ++tap)
              weights[static_cast<std::size_t>((o * per_group + i) * taps + tap)] =
                  layer.kernel[static_cast<std::size_t>((tap * full_per_group + i) * full_units + o)];
        std::vector<std::string> node_inputs = {
            input, add_floats(layer.name + ".weight",
                              {out.channels, per_group, layer.kernel_height, layer.kernel_width}, weights)};
        if (!layer.bias.empty())
          node_inputs.push_back(add_floats(layer.name + ".bias", {out.channels},
                                           {layer.bias.begin(), layer.bias.begin() + out.channels}));
        onnx::NodeProto* node = add_node("Conv", layer.name, node_inputs, output);
        set_window(node, layer, full_in, true);
        set_int(node, "group", groups);
        return std::nullopt;
      }
      case LayerKind::dense: {
        // Feature f of ONNX's input (CHW order after a Flatten of a map) is the engine's row `row(f)`.
        const std::int64_t pixels = in.groups;
        const auto row = [&](std::int64_t feature) {
          if (pixels == 1) return feature;
          const std::int64_t channel = feature / pixels;
          return (feature % pixels) * in.group_stride + channel;
        };
        const std::int64_t units = layer.units;
        std::vector<float> weights(static_cast<std::size_t>(out.channels * in.channels));
        for (std::int64_t u = 0; u < out.channels; ++u)
          for (std::int64_t f = 0; f < in.channels; ++f)
            weights[static_cast<std::size_t>(u * in.channels + f)] =
                layer.kernel[static_cast<std::size_t>(row(f) * units + u)];
        std::vector<std::string> node_inputs = {
            input, add_floats(layer.name + ".weight", {out.channels, in.channels}, weights)};
        if (!layer.bias.empty())
          node_inputs.push_back(add_floats(layer.name + ".bias", {out.channels},
                                           {layer.bias.begin(), layer.bias.begin() + out.channels}));
        set_int(add_node("Gemm", layer.name, node_inputs, output), "transB", 1);
        return std::nullopt;
      }
      case LayerKind::rectifier: {
        const Rectifier& rectifier = layer.rectifier;
        if (rectifier.threshold != 0.0f)
          return invalid_argument("layer '" + layer.name + "' (ReLU) has threshold " +
                                  std::to_string(rectifier.threshold) + ", which no ONNX operator computes");
        const bool capped = std::isfinite(rectifier.max_value);
        if (rectifier.negative_slope == 0.0f && !capped) {
          add_node("Relu", layer.name, {input}, output);
        } else if (rectifier.negative_slope == 0.0f) {
          add_node("Clip", layer.name,
                   {input, add_floats(layer.name + ".min", {}, {0.0f}),
                    add_floats(layer.name + ".max", {}, {rectifier.max_value})},
                   output);
        } else {
          const std::string leaky = capped ? unique(layer.name + "/leaky") : output;
          set_float(add_node("LeakyRelu", layer.name + (capped ? "/leaky" : ""), {input}, leaky), "alpha",
                    rectifier.negative_slope);
          if (capped)
            add_node("Clip", layer.name,
                     {leaky, "", add_floats(layer.name + ".max", {}, {rectifier.max_value})}, output);
        }
        return std::nullopt;
      }
      case LayerKind::average_pool2d:
      case LayerKind::max_pool2d: {
        const bool average = layer.kind == LayerKind::average_pool2d;
        onnx::NodeProto* node = add_node(average ? "AveragePool" : "MaxPool", layer.name, {input}, output);
        set_window(node, layer, full_in, false);
        if (average) set_int(node, "count_include_pad", 0);  // the engine averages valid pixels only
        return std::nullopt;
      }
      case LayerKind::global_average_pool2d: {
        const std::string pooled = unique(layer.name + "/pooled");
        add_node("GlobalAveragePool", layer.name, {input}, pooled);
        set_int(add_node("Flatten", layer.name + "/flatten", {pooled}, output), "axis", 1);
        return std::nullopt;
      }
      case LayerKind::flatten:
        set_int(add_node("Flatten", layer.name, {input}, output), "axis", 1);
        return std::nullopt;
      case LayerKind::softmax:
        set_int(add_node("Softmax", layer.name, {input}, output), "axis", 1);
        return std::nullopt;
      case LayerKind::add: {
        std::vector<std::string> operands;
        for (const std::size_t tensor : inputs) operands.push_back(tensor_names_[tensor]);
        add_node(operands.size() == 2 ? "Add" : "Sum", layer.name, operands, output);
        return std::nullopt;
      }
      case LayerKind::zero_padding2d:
        add_node("Pad", layer.name,
                 {input, add_ints(layer.name + ".pads", {0, 0, layer.pad_top, layer.pad_left, 0, 0,
                                                         layer.pad_bottom, layer.pad_right})},
                 output);
        return std::nullopt;
    }
    return invalid_argument("layer '" + layer.name + "' has an unknown kind");
  }

  const Model& model_;
  const std::vector<Shape>& shapes_;
  const std::vector<detail::LevelShape>& level_;
  onnx::GraphProto* graph_ = nullptr;
  std::set<std::string> reserved_;
  std::vector<std::string> tensor_names_;  // per engine tensor (0: the input)
};

}  // namespace

namespace {

// The model with level `level`'s per-level statistics folded into its layers (each mapped layer's kernel
// scaled per output channel, its bias the map's) and the maps dropped: what that level computes, as plain
// layers.
Model with_level_folded(const Model& model, std::size_t level) {
  Model folded = model;
  if (!model.plan || model.plan->level_maps.empty()) return folded;
  const std::vector<ChannelMap>& maps = model.plan->level_maps[level];
  for (std::size_t index = 0; index < folded.layers.size(); ++index) {
    if (maps[index].scale.empty()) continue;
    Layer& layer = folded.layers[index];
    const std::vector<float>& scale = maps[index].scale;
    // Every unit layer's kernel ends in its output channels (model.h's layouts).
    for (std::size_t at = 0; at < layer.kernel.size(); ++at) layer.kernel[at] *= scale[at % scale.size()];
    layer.bias = maps[index].bias;
  }
  folded.plan->level_maps.clear();
  return folded;
}

}  // namespace

Result<std::string> export_onnx(const Model& source, std::optional<std::size_t> level) {
  if (auto error = validate(source)) return *error;
  const bool folds = level && source.plan && *level < source.plan->widths.size();
  const Model model = folds ? with_level_folded(source, *level) : source;
  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  if (!shapes) return shapes.error();
  std::optional<std::vector<std::int64_t>> widths;
  std::string description = "the full network of '" + model.name + "'";
  std::string graph_name = model.name.empty() ? std::string("model") : model.name;
  if (level) {
    const std::size_t levels = model.plan ? model.plan->widths.size() : 0;
    if (*level >= levels)
      return invalid_argument("the model has " + std::to_string(levels) + " planned level" +
                              (levels == 1 ? "" : "s") + ", no level " + std::to_string(*level + 1));
    Result<std::vector<std::int64_t>> planned = detail::plan_widths(model, *model.plan, *level);
    if (!planned) return planned.error();
    widths = std::move(planned).value();
    description = "level " + std::to_string(*level + 1) + " of " + std::to_string(levels) + " of '" +
                  model.name + "' (widths";
    for (std::size_t entry = 0; entry < model.plan->layer_names.size(); ++entry)
      description +=
          " " + model.plan->layer_names[entry] + "=" + std::to_string(model.plan->widths[*level][entry]);
    description += ")";
    graph_name += "_level" + std::to_string(*level + 1);
  }
  const Result<std::vector<detail::LevelShape>> level_shapes = detail::level_shapes(model, *shapes, widths);
  if (!level_shapes) return level_shapes.error();
  GraphWriter writer(model, *shapes, *level_shapes);
  Result<onnx::ModelProto> written =
      writer.write(graph_name, "Written by reds " + std::string(kVersion) + ": " + description);
  if (!written) return written.error();
  onnx::ModelProto proto = std::move(written).value();
  try {
    onnx::checker::check_model(proto);
    onnx::ShapeInferenceOptions strict;
    strict.check_type = true;
    strict.error_mode = 1;
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), strict);
  } catch (const std::exception& error) {
    return Error{
        ErrorCode::internal, std::string("the exported ONNX model fails ONNX's checks: ") + error.what(), {}};
  }
  proto.mutable_graph()->clear_value_info();  // shape inference's annotations: a runtime infers them again
  return proto.SerializeAsString();
}

std::optional<Error> save_onnx(const Model& model, std::optional<std::size_t> level,
                               const std::string& path) {
  const Result<std::string> bytes = export_onnx(model, level);
  if (!bytes) return bytes.error();
  const std::string temporary = path + ".partial";
  {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(temporary.c_str(), "wb"),
                                                               &std::fclose);
    if (!file) return invalid_argument("cannot write '" + temporary + "': " + std::strerror(errno));
    if (std::fwrite(bytes->data(), 1, bytes->size(), file.get()) != bytes->size() ||
        std::fflush(file.get()) != 0) {
      const std::string reason = std::strerror(errno);
      std::remove(temporary.c_str());
      return invalid_argument("cannot write '" + temporary + "': " + reason);
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::remove(temporary.c_str());
    return invalid_argument("cannot write '" + path + "': " + error.message());
  }
  return std::nullopt;
}

}  // namespace reds::engine
