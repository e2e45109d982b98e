#include "reds/engine/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "idx_format.h"

namespace reds::engine {

namespace {

// The whole file, gunzipped when it is gzipped (zlib reads plain files unchanged).
Result<std::string> read_maybe_gzipped(const std::string& path) {
  const std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), &gzclose);
  if (!file) return invalid_argument("cannot open '" + path + "'");
  std::string bytes;
  char buffer[1 << 16];
  int count = 0;
  while ((count = gzread(file.get(), buffer, sizeof buffer)) > 0)
    bytes.append(buffer, static_cast<std::size_t>(count));
  if (count < 0) return invalid_argument("cannot read '" + path + "' (corrupt gzip data?)");
  return bytes;
}

struct Idx {
  std::vector<std::int64_t> dims;
  std::string_view values;
};

Result<Idx> parse_idx(const std::string& path, std::string_view bytes, int min_rank, int max_rank) {
  const auto byte = [&](std::size_t at) { return static_cast<unsigned char>(bytes[at]); };
  if (bytes.size() < 4 || byte(0) != 0 || byte(1) != 0)
    return invalid_argument("'" + path + "' is not an IDX file");
  if (byte(2) != 0x08) return invalid_argument("'" + path + "' does not hold unsigned bytes (IDX type 0x08)");
  const int rank = byte(3);
  if (rank < min_rank || rank > max_rank)
    return invalid_argument("'" + path + "' has " + std::to_string(rank) + " dimensions, expected " +
                            std::to_string(min_rank) +
                            (min_rank == max_rank ? "" : " to " + std::to_string(max_rank)));
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (bytes.size() < header) return invalid_argument("'" + path + "' ends inside its header");
  Idx idx;
  std::size_t count = 1;
  for (int axis = 0; axis < rank; ++axis) {
    const std::size_t at = 4 + 4 * static_cast<std::size_t>(axis);
    const std::int64_t dim =
        (std::int64_t{byte(at)} << 24) | (byte(at + 1) << 16) | (byte(at + 2) << 8) | byte(at + 3);
    idx.dims.push_back(dim);
    count *= static_cast<std::size_t>(dim);
    if (count > bytes.size()) break;
  }
  if (bytes.size() - header != count)
    return invalid_argument("'" + path + "' has " + std::to_string(bytes.size() - header) +
                            " bytes of data, its header announces " + std::to_string(count));
  idx.values = bytes.substr(header);
  return idx;
}

}  // namespace

Result<ImageSet> load_idx(const std::string& images_path, const std::string& labels_path,
                          const InputNormalization& normalization) {
  const Result<std::string> image_bytes = read_maybe_gzipped(images_path);
  if (!image_bytes) return image_bytes.error();
  const Result<std::string> label_bytes = read_maybe_gzipped(labels_path);
  if (!label_bytes) return label_bytes.error();
  return detail::image_set_from_idx(images_path, image_bytes.value(), labels_path, label_bytes.value(),
                                    normalization);
}

Result<ImageSet> detail::image_set_from_idx(const std::string& images_path, std::string_view image_bytes,
                                            const std::string& labels_path, std::string_view label_bytes,
                                            const InputNormalization& normalization) {
  const Result<Idx> images = parse_idx(images_path, image_bytes, 3, 4);
  if (!images) return images.error();
  const Result<Idx> labels = parse_idx(labels_path, label_bytes, 1, 1);
  if (!labels) return labels.error();
  if (images->dims[0] != labels->dims[0])
    return invalid_argument("'" + images_path + "' has " + std::to_string(images->dims[0]) + " images, '" +
                            labels_path + "' " + std::to_string(labels->dims[0]) + " labels");

  ImageSet set;
  set.count = images->dims[0];
  set.height = images->dims[1];
  set.width = images->dims[2];
  set.channels = images->dims.size() == 4 ? images->dims[3] : 1;
  if (auto error = check_normalization(normalization, set.channels))
    return invalid_argument("'" + images_path + "' has " + std::to_string(set.channels) +
                            (set.channels == 1 ? " channel: " : " channels: ") + error->message);
  // Every channel's 256 values, computed in double and rounded once (byte / 255 exactly, by default). A set
  // without pixels needs no table: its header may announce any number of channels.
  if (images->values.empty()) {
    for (const char value : labels->values) set.labels.push_back(static_cast<unsigned char>(value));
    return set;
  }
  const auto channels = static_cast<std::size_t>(std::max<std::int64_t>(set.channels, 1));
  std::vector<float> table(256 * channels);
  for (std::size_t channel = 0; channel < channels; ++channel) {
    const auto per_channel = [&](const std::vector<double>& values, double none) {
      return values.empty() ? none : values[values.size() == 1 ? 0 : channel];
    };
    const double mean = per_channel(normalization.mean, 0.0);
    const double deviation = per_channel(normalization.deviation, 1.0);
    for (std::size_t byte = 0; byte < 256; ++byte)
      table[channel * 256 + byte] =
          static_cast<float>((static_cast<double>(byte) * normalization.scale - mean) / deviation);
  }
  set.pixels.reserve(images->values.size());
  std::size_t channel = 0;
  for (const char value : images->values) {
    set.pixels.push_back(table[channel * 256 + static_cast<unsigned char>(value)]);
    if (++channel == channels) channel = 0;
  }
  for (const char value : labels->values) set.labels.push_back(static_cast<unsigned char>(value));
  return set;
}

namespace {

// directory/name, or directory/name.gz when there is no plain file.
std::string idx_file(const std::string& directory, const std::string& name) {
  const std::filesystem::path plain = std::filesystem::path(directory) / name;
  const std::filesystem::path gzipped = std::filesystem::path(directory) / (name + ".gz");
  std::error_code error;
  return std::filesystem::exists(plain, error) ? plain.string() : gzipped.string();
}

// The images file of a split ("t10k" or "train"): 3 dimensions or, when there is no such file, 4.
std::string images_file(const std::string& directory, const std::string& split) {
  const std::string three = idx_file(directory, split + "-images-idx3-ubyte");
  const std::string four = idx_file(directory, split + "-images-idx4-ubyte");
  std::error_code error;
  return std::filesystem::exists(three, error) || !std::filesystem::exists(four, error) ? three : four;
}

}  // namespace

Result<ImageSet> load_test_set(const std::string& directory, const InputNormalization& normalization) {
  return load_idx(images_file(directory, "t10k"), idx_file(directory, "t10k-labels-idx1-ubyte"),
                  normalization);
}

Result<ImageSet> load_training_set(const std::string& directory, const InputNormalization& normalization) {
  return load_idx(images_file(directory, "train"), idx_file(directory, "train-labels-idx1-ubyte"),
                  normalization);
}

std::optional<Error> check_image_shape(const ImageSet& images, const Shape& input) {
  if (images.image_size() == input.size() &&
      (input.flat || (images.height == input.height && images.width == input.width)))
    return std::nullopt;
  return invalid_argument("the images are " + std::to_string(images.height) + "x" +
                          std::to_string(images.width) + "x" + std::to_string(images.channels) +
                          ", the model reads " + std::to_string(input.height) + "x" +
                          std::to_string(input.width) + "x" + std::to_string(input.channels));
}

}  // namespace reds::engine
