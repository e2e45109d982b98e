// libFuzzer target for IDX images and labels (reds::engine::load_idx's decoder,
// models/engine/src/idx_format.h). The input is both files: a big-endian 16-bit length L, L bytes of the
// labels file, then the images file. Beyond "no crash, no undefined behaviour, no allocation the bytes do
// not back", it checks:
//   * a rejected pair is invalid_argument naming one of the two files;
//   * an accepted set has one label per image and height x width x channels pixels per image, each in
//     [0, 1], and its pixels and labels are the files' bytes (byte = round(pixel * 255)).
// Seeds: tests/fuzz/corpus/idx.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_promise.h"
#include "idx_format.h"

namespace {

using reds::fuzz::broken_promise;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t label_size = std::min<std::size_t>(size - 2, std::size_t{data[0]} << 8 | data[1]);
  const std::string_view labels(reinterpret_cast<const char*>(data) + 2, label_size);
  const std::string_view images(reinterpret_cast<const char*>(data) + 2 + label_size, size - 2 - label_size);
  const reds::Result<reds::engine::ImageSet> set =
      reds::engine::detail::image_set_from_idx("images", images, "labels", labels);
  if (!set) {
    const reds::Error& error = set.error();
    if (error.code != reds::ErrorCode::invalid_argument)
      broken_promise("malformed files are invalid_argument", error.message);
    if (error.message.rfind("'images'", 0) != 0 && error.message.rfind("'labels'", 0) != 0)
      broken_promise("every rejection names a file", error.message);
    return 0;
  }
  const reds::engine::ImageSet& loaded = set.value();
  if (loaded.count < 0 || static_cast<std::int64_t>(loaded.labels.size()) != loaded.count)
    broken_promise("one label per image", std::to_string(loaded.count));
  if (loaded.height < 0 || loaded.width < 0 || loaded.channels < 0 ||
      static_cast<std::int64_t>(loaded.pixels.size()) != loaded.count * loaded.image_size())
    broken_promise("every image has its pixels", std::to_string(loaded.pixels.size()));
  const std::size_t header = 4 + 4 * std::size_t{static_cast<unsigned char>(images[3])};
  for (std::size_t i = 0; i < loaded.pixels.size(); ++i) {
    const float pixel = loaded.pixels[i];
    if (!(pixel >= 0.0f && pixel <= 1.0f)) broken_promise("pixels are in [0, 1]", std::to_string(pixel));
    if (std::lround(pixel * 255.0f) != static_cast<unsigned char>(images[header + i]))
      broken_promise("pixels are the file's bytes", std::to_string(i));
  }
  for (std::size_t i = 0; i < loaded.labels.size(); ++i)
    if (loaded.labels[i] != static_cast<unsigned char>(labels[4 + 4 + i]))
      broken_promise("labels are the file's bytes", std::to_string(i));
  return 0;
}
