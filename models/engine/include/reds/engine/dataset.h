// reds/engine/dataset.h: labelled images in the IDX format of MNIST and Fashion-MNIST (as Debian's
// dataset-fashion-mnist ships them under /usr/share/datasets/fashion-mnist/), gzipped or not.
//
// IDX: a big-endian header (0, 0, type 0x08 = unsigned bytes, number of dimensions, then each dimension as
// a 32-bit integer) followed by the bytes. Images have 3 dimensions (count, rows, columns; one channel) or
// 4 (count, rows, columns, channels); labels have 1.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "reds/status.h"

namespace reds::engine {

struct ImageSet {
  std::int64_t count = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t channels = 1;
  std::vector<float> pixels;         // count images of height x width x channels, NHWC, byte / 255
  std::vector<std::int64_t> labels;  // one per image

  std::int64_t image_size() const { return height * width * channels; }
  std::span<const float> image(std::int64_t index) const {
    return std::span<const float>(pixels).subspan(static_cast<std::size_t>(index * image_size()),
                                                  static_cast<std::size_t>(image_size()));
  }
};

// An images file and its labels file. invalid_argument for an unreadable or malformed file, or counts
// that differ.
Result<ImageSet> load_idx(const std::string& images_path, const std::string& labels_path);

// The test split of a directory in the MNIST layout: t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
// each with or without .gz.
Result<ImageSet> load_test_set(const std::string& directory);
// The training split of such a directory: train-images-idx3-ubyte and train-labels-idx1-ubyte.
Result<ImageSet> load_training_set(const std::string& directory);

}  // namespace reds::engine
