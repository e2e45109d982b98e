// reds/engine/onnx.h: one level of a model as a standalone ONNX model, for runtimes other than this engine.
//
// A level keeps a prefix of every unit layer's units (model.h): the exported model has exactly those
// units, its weights sliced from the full ones, so it runs in any ONNX runtime at the level's cost, with
// no knowledge of the plan. A level with per-level statistics (model.h's ChannelMap) has them folded into
// its layers: each mapped layer's kernel scaled per output channel and its bias the map's. The full network
// exports the same way (as the model's layers; a plan's maps belong to its levels). Maps are NCHW as ONNX has
// them (the engine's NHWC kernels are reordered back; a Gemm after a Flatten takes its rows in CHW order);
// each layer becomes the ONNX operators that compute it (Conv with explicit pads for Keras' 'same', Gemm,
// Relu / Clip / LeakyRelu, MaxPool, AveragePool that does not count the padding, GlobalAveragePool +
// Flatten, Pad, Add, Softmax). Input and output keep the names of the file the model came from
// (Model::input_name, output_name), "input" and "output" otherwise. The model states opset
// kOnnxExportOpset and IR version 7, and is checked by ONNX's checker and strict shape inference before it
// is returned: what this writes, libonnx accepts.
//
//   reds::Result<std::string> bytes = reds::engine::export_onnx(planned, 0);  // the smallest level
//   reds::engine::save_onnx(planned, std::nullopt, "full.onnx");               // the full network
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine {

inline constexpr std::int64_t kOnnxExportOpset = 13;

// The serialised ModelProto of level `level` of the model's embedded plan (0: the smallest), or of the
// full network for nullopt. invalid_argument for an invalid model, a level the model has not, or a layer
// ONNX cannot express (a rectifier with a threshold other than 0).
Result<std::string> export_onnx(const Model& model, std::optional<std::size_t> level);

// export_onnx() written to `path` (through a temporary file renamed into place).
std::optional<Error> save_onnx(const Model& model, std::optional<std::size_t> level, const std::string& path);

}  // namespace reds::engine
