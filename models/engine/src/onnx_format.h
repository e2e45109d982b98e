// The ONNX reader's bytes-to-model step, apart from the file system: load_onnx() reads a file and calls it,
// the fuzz target tests/fuzz/onnx_model_fuzzer.cpp feeds it any bytes.
#pragma once

#include <string>
#include <string_view>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine::detail {

// The model in `bytes` (a serialised ONNX ModelProto): parsed by libonnx's protobuf classes, checked by
// ONNX's checker, then read node by node. Errors are invalid_argument prefixed by "'<source>': "; no
// exception escapes. An accepted model passes validate().
Result<Model> decode_onnx(const std::string& source, std::string_view bytes);

}  // namespace reds::engine::detail
