// Where the command tests find a real model and data set: the REDS authors' pretrained models kept in the
// repository and Debian's dataset-fashion-mnist.
#pragma once

#include <filesystem>
#include <string>

#include "support/source_tree.h"

namespace reds::test {

inline std::string pretrained_model(const std::string& data_set) {
  return (source_path("tests/data/reds-pretrained") / (data_set + "_ds_cnn_sizeS.keras")).string();
}

inline const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

}  // namespace reds::test
