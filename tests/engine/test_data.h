// Where the engine's tests find their data: the REDS authors' pretrained models (shared/ beside the
// repository, or $REDS_PRETRAINED_DIR) and the Debian packages dataset-fashion-mnist and libonnx-testdata.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace reds::engine::testing {

inline std::filesystem::path pretrained_dir() {
  if (const char* dir = std::getenv("REDS_PRETRAINED_DIR")) return dir;
  // tests/engine/test_data.h -> the repository -> ../shared/data/reds-pretrained
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared" /
         "data" / "reds-pretrained";
}

inline std::string pretrained_model(const std::string& data_set) {
  return (pretrained_dir() / (data_set + "_ds_cnn_sizeS.keras")).string();
}

inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline const char* kOnnxTestData = "/usr/share/libonnx-testdata/data";

}  // namespace reds::engine::testing
