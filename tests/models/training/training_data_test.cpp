// Minibatches and the reference's Fashion-MNIST augmentation: flips, rotations and shifts worked by hand,
// epochs that visit every image once, and streams that repeat themselves from a seed and resume anywhere.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "reds/training/data.h"
#include "support/command_runner.h"

namespace reds::engine::training {
namespace {

// A height x width image whose pixel (row, column) is row * 10 + column.
std::vector<float> numbered(std::int64_t height, std::int64_t width) {
  std::vector<float> image;
  for (std::int64_t row = 0; row < height; ++row)
    for (std::int64_t column = 0; column < width; ++column)
      image.push_back(static_cast<float>(row * 10 + column));
  return image;
}

float pixel(const std::vector<float>& image, std::int64_t width, std::int64_t row, std::int64_t column) {
  return image[static_cast<std::size_t>(row * width + column)];
}

TEST(TrainingData, RandomBelowStaysInRangeAndRepeatsFromItsSeed) {
  Random random(5), again(5);
  std::set<std::uint64_t> seen;
  for (int draw = 0; draw < 1000; ++draw) {
    const std::uint64_t value = random.below(7);
    EXPECT_LT(value, 7u);
    EXPECT_EQ(again.below(7), value);
    seen.insert(value);
  }
  EXPECT_EQ(seen.size(), 7u);
}

TEST(TrainingData, RotationByZeroKeepsTheImage) {
  const std::vector<float> image = numbered(5, 4);
  std::vector<float> rotated(image.size());
  rotate(0.0f, 5, 4, 1, image, rotated);
  EXPECT_EQ(rotated, image);
}

TEST(TrainingData, RotationByAQuarterTurnIsCounterClockwise) {
  // tfa.image.rotate by pi/2 on a 3x3 image: output (row y, column x) reads input (row x, column 2 - y);
  // the top-right corner moves to the top left.
  const std::vector<float> image = numbered(3, 3);
  std::vector<float> rotated(image.size());
  rotate(static_cast<float>(std::numbers::pi / 2), 3, 3, 1, image, rotated);
  for (std::int64_t y = 0; y < 3; ++y)
    for (std::int64_t x = 0; x < 3; ++x)
      EXPECT_EQ(pixel(rotated, 3, y, x), pixel(image, 3, x, 2 - y)) << y << x;
}

TEST(TrainingData, RotationFillsWithZerosOutsideTheImage) {
  // A quarter turn of a 2x4 image about its centre: the rotated rectangle is 4 wide, 2 tall... only partly
  // inside; where it reads outside the input, the output is 0.
  std::vector<float> image(8, 1.0f);
  std::vector<float> rotated(8);
  rotate(static_cast<float>(std::numbers::pi / 2), 2, 4, 1, image, rotated);
  EXPECT_EQ(std::count(rotated.begin(), rotated.end(), 0.0f), 4);
  EXPECT_EQ(std::count(rotated.begin(), rotated.end(), 1.0f), 4);
}

TEST(TrainingData, NoAugmentationKeepsTheImage) {
  std::vector<float> image = numbered(6, 5);
  const std::vector<float> original = image;
  Random random(1);
  augment(Augmentation::none(), random, 6, 5, 1, image);
  EXPECT_EQ(image, original);
}

TEST(TrainingData, FlipMirrorsColumnsOfEveryChannel) {
  // Two channels: pixel (row, column) holds (v, -v).
  std::vector<float> image;
  for (const float value : numbered(3, 4)) {
    image.push_back(value);
    image.push_back(-value);
  }
  Random random(1);
  augment({1.0, 0.0, 0.0, 0}, random, 3, 4, 2, image);
  for (std::int64_t row = 0; row < 3; ++row)
    for (std::int64_t column = 0; column < 4; ++column) {
      const float expected = static_cast<float>(row * 10 + 3 - column);
      EXPECT_EQ(image[static_cast<std::size_t>((row * 4 + column) * 2)], expected);
      EXPECT_EQ(image[static_cast<std::size_t>((row * 4 + column) * 2 + 1)], -expected);
    }
}

TEST(TrainingData, ShiftIsACropOfTheSymmetricallyPaddedImage) {
  // Padding by 2 repeats the edge: rows -2, -1, 0, 1, ... read rows 1, 0, 0, 1, ...
  const std::int64_t height = 6, width = 5;
  const std::vector<float> original = numbered(height, width);
  const auto reflect = [](std::int64_t at, std::int64_t size) {
    return at < 0 ? -at - 1 : at >= size ? 2 * size - at - 1 : at;
  };
  std::set<std::pair<std::int64_t, std::int64_t>> offsets;
  Random random(3);
  for (int draw = 0; draw < 400; ++draw) {
    std::vector<float> image = original;
    augment({0.0, 0.0, 0.0, 2}, random, height, width, 1, image);
    bool matched = false;
    for (std::int64_t down = -2; down <= 2 && !matched; ++down)
      for (std::int64_t right = -2; right <= 2 && !matched; ++right) {
        bool same = true;
        for (std::int64_t row = 0; row < height; ++row)
          for (std::int64_t column = 0; column < width; ++column)
            same = same &&
                   pixel(image, width, row, column) ==
                       pixel(original, width, reflect(row + down, height), reflect(column + right, width));
        if (same) {
          matched = true;
          offsets.insert({down, right});
        }
      }
    EXPECT_TRUE(matched) << "draw " << draw;
  }
  EXPECT_EQ(offsets.size(), 25u);  // every shift of up to 2 pixels each way occurs
}

TEST(TrainingData, ReferenceAugmentationFlipsHalfTheImages) {
  // Flip only, at the reference's probability: an asymmetric image, so every flip shows.
  Random random(11);
  int flipped = 0;
  for (int draw = 0; draw < 2000; ++draw) {
    std::vector<float> image = numbered(2, 3);
    augment({0.5, 0.0, 0.0, 0}, random, 2, 3, 1, image);
    flipped += image[0] == 2.0f ? 1 : 0;
  }
  EXPECT_GT(flipped, 900);
  EXPECT_LT(flipped, 1100);
  const Augmentation reference = Augmentation::reference();
  EXPECT_EQ(reference.flip_probability, 0.5);
  EXPECT_EQ(reference.rotation_probability, 0.3);
  EXPECT_EQ(reference.max_rotation, 0.2);
  EXPECT_EQ(reference.max_shift, 2);
}

ImageSet counted_images(std::int64_t count) {
  // Image i is 2x2 pixels of value i; label i % 10.
  ImageSet images;
  images.count = count;
  images.height = images.width = 2;
  for (std::int64_t image = 0; image < count; ++image) {
    for (int at = 0; at < 4; ++at) images.pixels.push_back(static_cast<float>(image));
    images.labels.push_back(image % 10);
  }
  return images;
}

TEST(TrainingData, EveryEpochVisitsEveryImageOnceInAnotherOrder) {
  const ImageSet images = counted_images(23);
  MinibatchStream stream(images, 5, 42, Augmentation::none());
  EXPECT_EQ(stream.steps_per_epoch(), 5);
  std::vector<std::vector<std::int64_t>> epochs(2);
  Minibatch batch;
  for (int epoch = 0; epoch < 2; ++epoch)
    for (int step = 0; step < 5; ++step) {
      EXPECT_EQ(stream.epoch(), epoch);
      EXPECT_EQ(stream.step(), step);
      stream.next(batch);
      EXPECT_EQ(batch.count, step < 4 ? 5 : 3);  // the last minibatch keeps the rest
      for (std::int64_t index = 0; index < batch.count; ++index) {
        const auto image = static_cast<std::int64_t>(batch.images[static_cast<std::size_t>(index * 4)]);
        EXPECT_EQ(batch.labels[static_cast<std::size_t>(index)], image % 10);
        epochs[static_cast<std::size_t>(epoch)].push_back(image);
      }
    }
  EXPECT_EQ(stream.epoch(), 2);
  EXPECT_NE(epochs[0], epochs[1]);
  for (std::vector<std::int64_t>& order : epochs) {
    std::sort(order.begin(), order.end());
    for (std::int64_t image = 0; image < 23; ++image)
      EXPECT_EQ(order[static_cast<std::size_t>(image)], image);
  }
}

TEST(TrainingData, StreamsRepeatFromTheirSeedAndResumeAnywhere) {
  const ImageSet images = counted_images(30);
  const auto batches = [&](std::uint64_t seed, int count) {
    MinibatchStream stream(images, 4, seed, Augmentation::reference());
    std::vector<std::vector<float>> all;
    Minibatch batch;
    for (int step = 0; step < count; ++step) {
      stream.next(batch);
      all.push_back(batch.images);
    }
    return all;
  };
  const std::vector<std::vector<float>> first = batches(9, 20);
  EXPECT_EQ(batches(9, 20), first);
  EXPECT_NE(batches(10, 20), first);
  MinibatchStream resumed(images, 4, 9, Augmentation::reference());
  resumed.seek(1, 5);  // 8 minibatches per epoch: minibatch 13 overall
  Minibatch batch;
  resumed.next(batch);
  EXPECT_EQ(batch.images, first[13]);
}

TEST(TrainingData, LoadsTheTrainingSplit) {
  const reds::test::ScratchDirectory scratch;
  const std::filesystem::path& directory = scratch.path();
  const auto write_gzipped = [&](const std::string& name, const std::string& bytes) {
    gzFile file = gzopen((directory / (name + ".gz")).string().c_str(), "wb");
    ASSERT_NE(file, nullptr);
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
  };
  write_gzipped("train-images-idx3-ubyte",
                testing::idx_header(3, {2, 2, 2}) + std::string("\x00\xff\x10\x20\x30\x40\x50\x60", 8));
  write_gzipped("train-labels-idx1-ubyte", testing::idx_header(1, {2}) + std::string("\x07\x03", 2));
  const Result<ImageSet> images = load_training_set(directory.string());
  ASSERT_TRUE(images) << images.error().message;
  EXPECT_EQ(images->count, 2);
  EXPECT_EQ(images->labels, (std::vector<std::int64_t>{7, 3}));
  EXPECT_EQ(images->pixels[1], 1.0f);
}

}  // namespace
}  // namespace reds::engine::training
