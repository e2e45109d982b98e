// reds/engine/architectures.h: the paper's keyword-spotting architectures as engine models with random
// weights, for benchmarks and tests where no trained weights are available (the REDS authors published
// pretrained files for the vision DS-CNN S only; see tests/data/reds-pretrained).
//
// The shapes are those of reds::models (reds/models/architectures.h, the paper's section 9), so the full
// networks' MACs are equal: DNN S/M/L (250 features, 3 x Dense + ReLU, Dense(12)), CNN S/M/L (49x10x1, two
// convolutions + ReLU, Flatten, Dense (linear), Dense(128) + ReLU, Dense(12)) and DS-CNN S/M/L (49x10x1,
// Conv2D + ReLU, depthwise-separable blocks of DepthwiseConv2D + ReLU and 1x1 Conv2D + ReLU,
// GlobalAveragePooling2D, Dense(12)). Layers are named as in reds::models (fc1, conv1, dw1, pw1, head).
// Weights and biases are uniform in +-sqrt(6 / fan_in) (He's uniform initialisation) from a splitmix64
// stream: the same on every platform for a given seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine {

// "dnn_s", "dnn_m", "dnn_l", "cnn_s", "cnn_m", "cnn_l", "ds_cnn_s", "ds_cnn_m", "ds_cnn_l".
const std::vector<std::string>& random_model_names();

// invalid_argument for a name not in random_model_names().
Result<Model> random_model(const std::string& name, std::uint64_t seed = 1);

}  // namespace reds::engine
