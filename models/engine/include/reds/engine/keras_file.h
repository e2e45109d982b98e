// reds/engine/keras_file.h: a Keras HDF5 model file as stored, for readers that need more than load_keras()
// keeps (model.h folds batch normalization away; training needs it unfolded, see training.h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "reds/status.h"

namespace reds::engine {

struct KerasWeight {
  std::vector<std::int64_t> dims;
  std::vector<float> values;  // row-major, read as float32 whatever the stored type
};

struct KerasFile {
  std::string model_config;  // the JSON text of the root attribute `model_config`
  // Per layer name (every layer of model_config that has weights), per short weight name ("kernel",
  // "bias", "gamma", "moving_mean", ...): the weight as stored.
  std::map<std::string, std::map<std::string, KerasWeight>> weights;
};

// Reads the architecture and the raw weights of a Keras HDF5 model file (the files load_keras() reads),
// without interpreting the layers. invalid_argument for an unreadable file. Thread-safe like load_keras().
Result<KerasFile> read_keras_file(const std::string& path);

}  // namespace reds::engine
