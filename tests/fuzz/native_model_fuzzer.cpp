// libFuzzer target for the native model format (reds::engine::load_native's decoder,
// models/engine/src/native_format.h). The input is a whole file whose last four bytes the target replaces
// by the CRC-32 of the others, so that mutations reach the header, architecture and weights instead of
// stopping at the checksum (which is one comparison, tested by the engine's unit tests). Beyond "no crash,
// no undefined behaviour, no leak, no allocation the file's bytes do not back", it checks:
//   * a rejected file is invalid_argument naming the file, and no exception escapes;
//   * an accepted model is valid, and its bytes are canonical: encoding it and decoding the result gives
//     the same bytes again (save(load(x)) is a fixed point).
// Seeds: tests/fuzz/corpus/native_model; dictionary: tests/fuzz/native_model.dict.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_promise.h"
#include "native_format.h"

namespace {

using reds::fuzz::broken_promise;

constexpr const char* kSource = "fuzz.reds";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() >= 4) {
    const auto crc = static_cast<std::uint32_t>(
        crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size() - 4));
    for (std::size_t i = 0; i < 4; ++i)
      bytes[bytes.size() - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  }
  const reds::Result<reds::engine::Model> model = reds::engine::detail::decode_native(kSource, bytes);
  if (!model) {
    const reds::Error& error = model.error();
    if (error.code != reds::ErrorCode::invalid_argument)
      broken_promise("a malformed file is invalid_argument", error.message);
    if (error.message.rfind(std::string("'") + kSource + "': ", 0) != 0)
      broken_promise("every rejection names the file", error.message);
    return 0;
  }
  if (auto error = reds::engine::validate(model.value()))
    broken_promise("an accepted model is valid", error->message);

  const std::string once = reds::engine::detail::encode_native(model.value());
  const reds::Result<reds::engine::Model> again = reds::engine::detail::decode_native(kSource, once);
  if (!again) broken_promise("a saved model loads", again.error().message);
  if (reds::engine::detail::encode_native(again.value()) != once)
    broken_promise("a saved model's bytes are canonical", std::to_string(once.size()) + " bytes");
  return 0;
}
