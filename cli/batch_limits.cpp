#include "batch_limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

#include "commands.h"

namespace reds::cli {

namespace {

// Numbers a forward and backward pass holds per number of the feature maps (values kept for the backward
// pass, gradients, work areas). Measured with gradient importance of the Fashion-MNIST DS-CNN S: peak
// resident memory grows by 1,446 KiB per image of the batch, 1.6 numbers per feature; 2 leaves a margin.
constexpr std::int64_t kNumbersPerFeature = 2;

}  // namespace

std::int64_t pass_bytes(const engine::training::Network<float>& network, std::int64_t images) {
  std::int64_t features = network.input_shape().size();
  for (const engine::Shape& shape : network.shapes()) features += shape.size();
  const std::int64_t per_image = features * kNumbersPerFeature * static_cast<std::int64_t>(sizeof(float));
  if (images > std::numeric_limits<std::int64_t>::max() / std::max<std::int64_t>(per_image, 1))
    return std::numeric_limits<std::int64_t>::max();
  return images * per_image;
}

std::int64_t memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  std::int64_t bytes = pages > 0 && page_size > 0 ? static_cast<std::int64_t>(pages) * page_size
                                                  : std::numeric_limits<std::int64_t>::max();
  for (const int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    rlimit limit{};
    if (getrlimit(resource, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
      bytes = std::min<std::int64_t>(bytes, static_cast<std::int64_t>(std::min<rlim_t>(
                                                limit.rlim_cur, std::numeric_limits<std::int64_t>::max())));
  }
  return bytes;
}

std::optional<Error> check_batch_size(const engine::training::Network<float>& network,
                                      const std::string& text, std::int64_t batch_size,
                                      std::int64_t available, const std::string& data) {
  if (batch_size > available)
    return value_error("batch-size", text,
                       "larger than the " + thousands(available) + " training images in '" + data + "'");
  const std::int64_t needed = pass_bytes(network, batch_size);
  const std::int64_t memory = memory_bytes();
  if (needed > memory) {
    constexpr std::int64_t kMiB = 1 << 20;
    return value_error("batch-size", text,
                       "a pass over that many images needs about " + thousands(needed / kMiB) +
                           " MiB, more than the " + thousands(memory / kMiB) + " MiB this process may use");
  }
  return std::nullopt;
}

}  // namespace reds::cli
