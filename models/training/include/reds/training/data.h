// reds/training/data.h: minibatches for training, shuffled and augmented as the REDS reference
// trains on Fashion-MNIST, and reproducible from a seed.
//
// The reference (FraCorti/hads utils/datasets.py, augment_mnist, used for MNIST and Fashion-MNIST) applies to
// every training image, in this order: a left-right flip with probability 1/2; with probability 0.3 a
// rotation by an angle uniform in [-0.2, 0.2] radians about the image centre (tfa.image.rotate: nearest
// pixel, zeros outside); a shift by up to 2 pixels each way (symmetric padding by 2, the edge pixel
// repeated, then a random crop back to the original size). Test images are not augmented. The reference
// shuffles through a 10,000-image buffer; here every epoch is a fresh permutation of the whole set.
//
//   const ImageSet train = load_training_set("/usr/share/datasets/fashion-mnist").value();  // dataset.h
//   MinibatchStream stream(train, 128, /*seed=*/1, Augmentation::reference());
//   Minibatch batch;
//   stream.next(batch);  // batch.count images, batch.labels
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "reds/engine/dataset.h"
#include "reds/splitmix64.h"

namespace reds::engine::training {

// The training code's generator: reds::SplitMix64 (the same numbers on every platform, which std::
// distributions do not promise) with the draw of an index that shuffling and shifting use.
class Random : public SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  // Uniform in 0..count-1 (count >= 1), without modulo bias.
  std::uint64_t below(std::uint64_t count);
};

struct Augmentation {
  double flip_probability = 0.0;      // mirror left-right
  double rotation_probability = 0.0;  // rotate by an angle uniform in [-max_rotation, max_rotation]
  double max_rotation = 0.0;          // radians
  std::int64_t max_shift = 0;         // pixels each way, symmetric padding

  static Augmentation none() { return {}; }
  // The reference's Fashion-MNIST augmentation (see above).
  static Augmentation reference() { return {0.5, 0.3, 0.2, 2}; }
};

// Augments one image (height x width x channels, NHWC) in place, drawing from `random`.
void augment(const Augmentation& augmentation, Random& random, std::int64_t height, std::int64_t width,
             std::int64_t channels, std::span<float> image);

// Rotates an image by `angle` radians counter-clockwise about its centre as tfa.image.rotate does: output
// pixel (row, column) takes the input pixel nearest to the rotated position (rounded half away from zero),
// zero when that falls outside the image.
void rotate(float angle, std::int64_t height, std::int64_t width, std::int64_t channels,
            std::span<const float> image, std::span<float> rotated);

struct Minibatch {
  std::int64_t count = 0;
  std::vector<float> images;  // count images, NHWC
  std::vector<std::int64_t> labels;
};

// Minibatches of an image set, epoch after epoch: each epoch a permutation of all the images, cut into
// minibatches of batch_size (the last one smaller when batch_size does not divide the count, as Keras'
// batch() keeps it), each image augmented. Which images a minibatch holds and how they are augmented
// depend only on (seed, epoch, step), so that training can resume at any step (seek()).
class MinibatchStream {
 public:
  // `images` must outlive the stream; batch_size >= 1, images.count >= 1.
  MinibatchStream(const ImageSet& images, std::int64_t batch_size, std::uint64_t seed,
                  Augmentation augmentation);

  // The next minibatch into `batch` (its buffers reused).
  void next(Minibatch& batch);

  std::int64_t epoch() const { return epoch_; }  // of the next minibatch, from 0
  std::int64_t step() const { return step_; }    // within its epoch, from 0
  std::int64_t steps_per_epoch() const { return (images_->count + batch_size_ - 1) / batch_size_; }
  // Continues at minibatch `step` of epoch `epoch`.
  void seek(std::int64_t epoch, std::int64_t step);

 private:
  void shuffle();

  const ImageSet* images_;
  std::int64_t batch_size_;
  std::uint64_t seed_;
  Augmentation augmentation_;
  std::int64_t epoch_ = 0;
  std::int64_t step_ = 0;
  std::vector<std::int64_t> order_;  // the current epoch's permutation
  std::int64_t shuffled_epoch_ = -1;
};

}  // namespace reds::engine::training
