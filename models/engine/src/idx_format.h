// IDX images and labels from their bytes, apart from the file system and gzip: load_idx() reads the files
// with this, and the fuzz target tests/fuzz/idx_fuzzer.cpp feeds it any bytes.
#pragma once

#include <string>
#include <string_view>

#include "reds/engine/dataset.h"
#include "reds/status.h"

namespace reds::engine::detail {

// The labelled images of an IDX images file (3 or 4 dimensions) and an IDX labels file (1 dimension),
// every byte normalised as given (load_idx).
// Every dimension is checked against the bytes present before anything is allocated. invalid_argument
// naming the file (`images_name` or `labels_name`) for malformed bytes or counts that differ.
Result<ImageSet> image_set_from_idx(const std::string& images_name, std::string_view image_bytes,
                                    const std::string& labels_name, std::string_view label_bytes,
                                    const InputNormalization& normalization = {});

}  // namespace reds::engine::detail
