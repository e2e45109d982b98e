// The models the engine's report programs run by name: the pretrained Fashion-MNIST DS-CNN S
// ("ds_cnn_s_fmnist", tests/data/reds-pretrained or $REDS_PRETRAINED_DIR), MLPerf Tiny's MobileNetV1 0.25
// at 96x96 ("vww_96") and ResNet-8 ("resnet8_mlperf", both tests/data/mlperf-tiny or
// $REDS_MLPERF_TINY_DIR), and any bundled architecture with
// random weights (reds/engine/architectures.h). The programs define REDS_PRETRAINED_DEFAULT_DIR and
// REDS_MLPERF_TINY_DEFAULT_DIR (bench/CMakeLists.txt).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "reds/engine/architectures.h"
#include "reds/engine/model.h"

namespace reds::engine::bench {

inline std::string data_path(const char* variable, const char* fallback, const std::string& file) {
  const char* dir = std::getenv(variable);
  return (std::filesystem::path(dir ? dir : fallback) / file).string();
}

inline Result<Model> named_model(const std::string& name) {
  if (name == "ds_cnn_s_fmnist")
    return load_model(
        data_path("REDS_PRETRAINED_DIR", REDS_PRETRAINED_DEFAULT_DIR, "fashion_mnist_ds_cnn_sizeS.keras"));
  if (name == "vww_96")
    return load_model(data_path("REDS_MLPERF_TINY_DIR", REDS_MLPERF_TINY_DEFAULT_DIR, "vww_96.h5"));
  if (name == "resnet8_mlperf")
    return load_model(data_path("REDS_MLPERF_TINY_DIR", REDS_MLPERF_TINY_DEFAULT_DIR, "pretrainedResnet.h5"));
  return random_model(name);
}

}  // namespace reds::engine::bench
