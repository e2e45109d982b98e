// The part of the Keras reader above HDF5: the JSON `model_config` and the weights it names, read into a
// Model. load_keras() feeds it from the file; the fuzz target tests/fuzz/keras_config_fuzzer.cpp feeds it
// any text and any weight shapes (HDF5's own file parsing is libhdf5's, see docs/security.md).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "reds/engine/keras_file.h"
#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine::detail {

// The weights of one layer by short name ("kernel", "bias", "gamma", ...); none for a layer without any.
using KerasLayerWeights = std::map<std::string, KerasWeight>;
using KerasWeightsOf = std::function<Result<KerasLayerWeights>(const std::string& layer)>;

// The model described by `model_config` (the attribute's JSON text), with every layer's weights from
// `weights_of`, called once per layer in order after the configuration is checked. Errors are
// invalid_argument prefixed by "'<source>': " where they concern the whole model (no exception escapes);
// an accepted model passes validate().
Result<Model> build_model_from_keras_config(const std::string& source, std::string_view model_config,
                                            const KerasWeightsOf& weights_of);

}  // namespace reds::engine::detail
