#include <algorithm>
#include <cmath>

#include "reds/training/data.h"

namespace reds::engine::training {

namespace {

// A seed for the stream of numbers keyed by `key` under `seed`.
std::uint64_t derived_seed(std::uint64_t seed, std::uint64_t key) {
  return Random(seed ^ Random(key).next()).next();
}

// Index `at` of a row or column of `size` pixels padded symmetrically (the edge pixel repeated: -1 -> 0,
// -2 -> 1, size -> size - 1), for paddings up to `size`.
std::int64_t reflected(std::int64_t at, std::int64_t size) {
  if (at < 0) return -at - 1;
  if (at >= size) return 2 * size - at - 1;
  return at;
}

}  // namespace

std::uint64_t Random::below(std::uint64_t count) {
  // Rejecting the lowest 2^64 mod count values leaves a multiple of count equally likely values.
  const std::uint64_t threshold = (0 - count) % count;
  for (;;) {
    const std::uint64_t value = next();
    if (value >= threshold) return value % count;
  }
}

void rotate(float angle, std::int64_t height, std::int64_t width, std::int64_t channels,
            std::span<const float> image, std::span<float> rotated) {
  // tfa.image.angles_to_projective_transforms: output (x, y) reads input (cos x - sin y + dx,
  // sin x + cos y + dy), the offsets keeping the centre in place.
  const double cosine = std::cos(static_cast<double>(angle));
  const double sine = std::sin(static_cast<double>(angle));
  const double last_x = static_cast<double>(width - 1), last_y = static_cast<double>(height - 1);
  const double x_offset = (last_x - (cosine * last_x - sine * last_y)) / 2.0;
  const double y_offset = (last_y - (sine * last_x + cosine * last_y)) / 2.0;
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      const double from_x = cosine * static_cast<double>(x) - sine * static_cast<double>(y) + x_offset;
      const double from_y = sine * static_cast<double>(x) + cosine * static_cast<double>(y) + y_offset;
      const std::int64_t column = static_cast<std::int64_t>(std::round(from_x));
      const std::int64_t row = static_cast<std::int64_t>(std::round(from_y));
      const bool inside = row >= 0 && row < height && column >= 0 && column < width;
      for (std::int64_t c = 0; c < channels; ++c)
        rotated[static_cast<std::size_t>((y * width + x) * channels + c)] =
            inside ? image[static_cast<std::size_t>((row * width + column) * channels + c)] : 0.0f;
    }
}

void augment(const Augmentation& augmentation, Random& random, std::int64_t height, std::int64_t width,
             std::int64_t channels, std::span<float> image) {
  const auto at = [&](std::int64_t row, std::int64_t column, std::int64_t c) {
    return static_cast<std::size_t>((row * width + column) * channels + c);
  };
  std::vector<float> source(image.begin(), image.end());
  if (random.uniform() < augmentation.flip_probability) {
    for (std::int64_t row = 0; row < height; ++row)
      for (std::int64_t column = 0; column < width; ++column)
        for (std::int64_t c = 0; c < channels; ++c)
          image[at(row, column, c)] = source[at(row, width - 1 - column, c)];
    source.assign(image.begin(), image.end());
  }
  if (random.uniform() < augmentation.rotation_probability) {
    const double angle = (2.0 * random.uniform() - 1.0) * augmentation.max_rotation;
    rotate(static_cast<float>(angle), height, width, channels, source, image);
    source.assign(image.begin(), image.end());
  }
  const std::int64_t shift = std::min({augmentation.max_shift, height, width});
  if (shift <= 0) return;
  const std::uint64_t choices = static_cast<std::uint64_t>(2 * shift + 1);
  const std::int64_t down = static_cast<std::int64_t>(random.below(choices)) - shift;
  const std::int64_t right = static_cast<std::int64_t>(random.below(choices)) - shift;
  for (std::int64_t row = 0; row < height; ++row)
    for (std::int64_t column = 0; column < width; ++column)
      for (std::int64_t c = 0; c < channels; ++c)
        image[at(row, column, c)] =
            source[at(reflected(row + down, height), reflected(column + right, width), c)];
}

MinibatchStream::MinibatchStream(const ImageSet& images, std::int64_t batch_size, std::uint64_t seed,
                                 Augmentation augmentation)
    : images_(&images),
      batch_size_(std::max<std::int64_t>(1, batch_size)),
      seed_(seed),
      augmentation_(augmentation) {}

void MinibatchStream::seek(std::int64_t epoch, std::int64_t step) {
  epoch_ = std::max<std::int64_t>(0, epoch) + std::max<std::int64_t>(0, step) / steps_per_epoch();
  step_ = std::max<std::int64_t>(0, step) % steps_per_epoch();
}

void MinibatchStream::shuffle() {
  order_.resize(static_cast<std::size_t>(images_->count));
  for (std::int64_t index = 0; index < images_->count; ++index)
    order_[static_cast<std::size_t>(index)] = index;
  Random random(derived_seed(derived_seed(seed_, static_cast<std::uint64_t>(epoch_)), 0));
  for (std::size_t index = order_.size(); index > 1; --index)
    std::swap(order_[index - 1], order_[random.below(index)]);
  shuffled_epoch_ = epoch_;
}

void MinibatchStream::next(Minibatch& batch) {
  if (shuffled_epoch_ != epoch_) shuffle();
  const std::int64_t first = step_ * batch_size_;
  const std::int64_t size = images_->image_size();
  batch.count = std::min(batch_size_, images_->count - first);
  batch.images.resize(static_cast<std::size_t>(batch.count * size));
  batch.labels.resize(static_cast<std::size_t>(batch.count));
  Random random(derived_seed(derived_seed(seed_, static_cast<std::uint64_t>(epoch_)),
                             static_cast<std::uint64_t>(step_ + 1)));
  for (std::int64_t index = 0; index < batch.count; ++index) {
    const std::int64_t image = order_[static_cast<std::size_t>(first + index)];
    const std::span<float> to(batch.images.data() + index * size, static_cast<std::size_t>(size));
    const std::span<const float> from = images_->image(image);
    std::copy(from.begin(), from.end(), to.begin());
    augment(augmentation_, random, images_->height, images_->width, images_->channels, to);
    batch.labels[static_cast<std::size_t>(index)] = images_->labels[static_cast<std::size_t>(image)];
  }
  if (++step_ == steps_per_epoch()) {
    step_ = 0;
    ++epoch_;
  }
}

}  // namespace reds::engine::training
