// Where the command tests find a real model and data set: the REDS authors' pretrained models kept in the
// repository and Debian's dataset-fashion-mnist.
#pragma once

#include <filesystem>
#include <string>

namespace reds::test {

// REDS_TEST_DATA_DIR: tests/data of the source tree (tests/CMakeLists.txt).
inline std::string pretrained_model(const std::string& data_set) {
  return (std::filesystem::path(REDS_TEST_DATA_DIR) / "reds-pretrained" / (data_set + "_ds_cnn_sizeS.keras"))
      .string();
}

inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

}  // namespace reds::test
