// Where the engine's and training's tests find their data: the REDS authors' pretrained models
// (tests/data/reds-pretrained, or $REDS_PRETRAINED_DIR) and the Debian packages dataset-fashion-mnist and
// libonnx-testdata.
#pragma once

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

inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline const char* kOnnxTestData = "/usr/share/libonnx-testdata/data";

}  // namespace reds::engine::testing
