// tests/support/engine/commands.h: the files the tests of the model commands (`reds run`, `export`,
// `request`, `apply`, `train`, `finetune`) hand to the `reds` binary: image sets as IDX files and a planned
// model.
#pragma once

#include <cstdint>
#include <filesystem>

#include "reds/engine/dataset.h"
#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::test {

// `count` images of `set` from `first` on as the IDX files `prefix`-images-idx3-ubyte and
// `prefix`-labels-idx1-ubyte, each pixel the byte it was read from (value x 255, rounded).
void write_idx(const engine::ImageSet& set, std::int64_t first, std::int64_t count,
               const std::filesystem::path& prefix);

// The first `training` training images and `test` test images of Fashion-MNIST (testing::kFashionMnistDir,
// read once) as IDX files in `directory` (made if missing), as `reds train` and `reds finetune` read them;
// returns the test set with its count cut to `test`.
Result<engine::ImageSet> write_fashion_mnist(const std::filesystem::path& directory, std::int64_t training,
                                             std::int64_t test);

// The REDS authors' Fashion-MNIST DS-CNN with a plan of two levels embedded: level 1 keeps half of every
// layer but the classifier (32 units), level 2 is the full network.
Result<engine::Model> half_width_ds_cnn();

}  // namespace reds::test
