// The native model file's bytes (see native.cpp for the layout), apart from the file system: load_native()
// and save_native() read and write files with these, and the fuzz target tests/fuzz/native_model_fuzzer.cpp
// feeds decode_native() any bytes.
#pragma once

#include <string>
#include <string_view>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine::detail {

// The file's bytes for a model (which the caller has validated).
std::string encode_native(const Model& model);

// The model in `bytes`: every size field is checked against the bytes present before it is used, then
// the checksum, the architecture and the model itself. Errors are invalid_argument prefixed by
// "'<source>': "; no exception escapes.
Result<Model> decode_native(const std::string& source, std::string_view bytes);

}  // namespace reds::engine::detail
