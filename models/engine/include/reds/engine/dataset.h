// reds/engine/dataset.h: labelled images in the IDX format of MNIST and Fashion-MNIST (as Debian's
// dataset-fashion-mnist ships them under /usr/share/datasets/fashion-mnist/), gzipped or not.
//
// IDX: a big-endian header (0, 0, type 0x08 = unsigned bytes, number of dimensions, then each dimension as
// a 32-bit integer) followed by the bytes. Images have 3 dimensions (count, rows, columns; one channel, as
// MNIST's 28x28) or 4 (count, rows, columns, channels, e.g. 32x32x3 colour images, channels fastest);
// labels have 1. A directory holds the images as *-images-idx3-ubyte (3 dimensions) or *-images-idx4-ubyte
// (4 dimensions).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine {

struct ImageSet {
  std::int64_t count = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t channels = 1;
  // count images of height x width x channels, NHWC: every byte as the model reads it (InputNormalization,
  // byte / 255 by default)
  std::vector<float> pixels;
  std::vector<std::int64_t> labels;  // one per image

  std::int64_t image_size() const { return height * width * channels; }
  std::span<const float> image(std::int64_t index) const {
    return std::span<const float>(pixels).subspan(static_cast<std::size_t>(index * image_size()),
                                                  static_cast<std::size_t>(image_size()));
  }
};

// An images file and its labels file, every byte normalised as given. invalid_argument for an unreadable or
// malformed file, counts that differ, or a normalisation that does not fit the images' channels.
Result<ImageSet> load_idx(const std::string& images_path, const std::string& labels_path,
                          const InputNormalization& normalization = {});

// The test split of a directory in the MNIST layout: t10k-images-idx3-ubyte (or t10k-images-idx4-ubyte)
// and t10k-labels-idx1-ubyte, each with or without .gz.
Result<ImageSet> load_test_set(const std::string& directory, const InputNormalization& normalization = {});
// The training split of such a directory: train-images-idx3-ubyte (or -idx4-) and train-labels-idx1-ubyte.
Result<ImageSet> load_training_set(const std::string& directory,
                                   const InputNormalization& normalization = {});

// invalid_argument unless the images have the shape `input` (a model's input; a flat input takes images of
// as many values): "the images are 28x28x1, the model reads 32x32x3".
std::optional<Error> check_image_shape(const ImageSet& images, const Shape& input);

}  // namespace reds::engine
