// reds/engine/architectures.h: the bundled architectures (reds/models/architecture_spec.h: the paper's
// section 9, ResNet-8, ResNet-18, MobileNetV2) as engine models with random weights, for benchmarks and
// tests where no trained weights are available (the REDS authors published pretrained files for the vision
// DS-CNN S only; see tests/data/reds-pretrained).
//
// The layers are the spec's, in its order and named as in reds::models (fc1, conv1, dw1, pw1, block1_add,
// head), reading the maps the spec names, so the full networks' costs are those of the plan requests: each
// layer with weights (and each addition) is followed by its activation (a rectifier layer named
// "<layer>_relu"), a Dense layer reading a map that is not flat by a Flatten.
// Weights and biases are uniform in +-sqrt(6 / fan_in) (He's uniform initialisation) from a splitmix64
// stream: the same on every platform for a given seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine {

// The names of reds::models::architecture_specs(), in its order.
const std::vector<std::string>& random_model_names();

// invalid_argument for a name not in random_model_names().
Result<Model> random_model(const std::string& name, std::uint64_t seed = 1);

// ResNet-8 built for images of `input` and `classes` classes (reds::models::resnet8_spec: global average
// pooling before the head), the layers named as random_model("resnet8")'s. invalid_argument for a flat input.
Result<Model> random_resnet8(const Shape& input, std::int64_t classes, std::uint64_t seed = 1);

}  // namespace reds::engine
