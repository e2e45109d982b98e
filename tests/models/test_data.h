// Where the engine's and training's tests find their data: the REDS authors' pretrained models
// (tests/data/reds-pretrained, or $REDS_PRETRAINED_DIR) and the Debian packages dataset-fashion-mnist and
// libonnx-testdata.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <string>

#include "support/source_tree.h"

namespace reds::engine::testing {

inline std::filesystem::path pretrained_dir() {
  if (const char* dir = std::getenv("REDS_PRETRAINED_DIR")) return dir;
  return reds::test::source_path("tests/data/reds-pretrained");  // a copy kept in the repository
}

inline std::string pretrained_model(const std::string& data_set) {
  return (pretrained_dir() / (data_set + "_ds_cnn_sizeS.keras")).string();
}

// The header of an IDX file of unsigned bytes: 0, 0, 0x08, rank, then each dimension big-endian.
inline std::string idx_header(int rank, std::initializer_list<std::uint32_t> dims) {
  std::string bytes = {0, 0, 8, static_cast<char>(rank)};
  for (const std::uint32_t dim : dims)
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((dim >> shift) & 0xff));
  return bytes;
}

// A native model file's bytes relabelled as format `version`, its checksum made valid again, so that the
// reader's version checks (not its checksum) answer.
inline std::string with_native_version(std::string bytes, std::uint32_t version) {
  bytes[8] = static_cast<char>(version);  // the little-endian version after the 8-byte magic
  const auto crc =
      static_cast<std::uint32_t>(crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size() - 4));
  for (std::size_t byte = 0; byte < 4; ++byte)
    bytes[bytes.size() - 4 + byte] = static_cast<char>((crc >> (8 * byte)) & 0xff);
  return bytes;
}

inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline const char* kOnnxTestData = "/usr/share/libonnx-testdata/data";

}  // namespace reds::engine::testing
