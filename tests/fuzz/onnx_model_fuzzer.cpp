// libFuzzer target for the ONNX reader (models/engine/src/onnx_format.h): any bytes as a model file, parsed
// by libonnx's protobuf classes, checked by ONNX's checker, then read by ours. Beyond "no crash, no
// undefined behaviour, no leak", it checks:
//   * a rejected model is invalid_argument, and no exception escapes;
//   * an accepted model is valid (validate()), exports to ONNX (the full network, which ONNX's checker and
//     shape inference accept, export_onnx()), and that export reads back to a model with as many layers.
// Seeds: tests/fuzz/corpus/onnx_model (small torch.onnx.export models of opsets 8, 11, 13 and 17);
// dictionary: tests/fuzz/onnx_model.dict.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_promise.h"
#include "onnx_format.h"
#include "reds/engine/onnx.h"

using reds::fuzz::broken_promise;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const reds::Result<reds::engine::Model> model = reds::engine::detail::decode_onnx("fuzz.onnx", bytes);
  if (!model) {
    if (model.error().code != reds::ErrorCode::invalid_argument)
      broken_promise("a rejected model is invalid_argument", model.error().message);
    return 0;
  }
  if (auto error = reds::engine::validate(model.value()))
    broken_promise("an accepted model is valid", error->message);
  const reds::Result<std::string> exported = reds::engine::export_onnx(model.value(), std::nullopt);
  if (!exported) broken_promise("an accepted model exports to ONNX", exported.error().message);
  const reds::Result<reds::engine::Model> back =
      reds::engine::detail::decode_onnx("exported.onnx", exported.value());
  if (!back) broken_promise("an exported model reads back", back.error().message);
  if (back->layers.size() != model->layers.size())
    broken_promise(
        "an exported model reads back with its layers",
        std::to_string(model->layers.size()) + " layers became " + std::to_string(back->layers.size()));
  return 0;
}
