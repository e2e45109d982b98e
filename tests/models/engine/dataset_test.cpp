// The IDX reader on files written here, plain and gzipped, and on Debian's Fashion-MNIST.
#include "reds/engine/dataset.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <optional>
#include <string>

#include "models/test_data.h"
#include "support/command_runner.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;

using testing::idx_header;

class IdxFiles : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& bytes) {
    test::write_file(dir_ / name, bytes);
    return (dir_ / name).string();
  }
  std::string write_gzipped(const std::string& name, const std::string& bytes) {
    gzFile file = gzopen((dir_ / name).string().c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    return (dir_ / name).string();
  }

  test::ScratchDirectory scratch_;
  const fs::path& dir_ = scratch_.path();
};

TEST_F(IdxFiles, TwoImagesPlainAndGzipped) {
  // Two 2x3 images: 0, 51, ..., 255 and the same reversed; labels 7 and 2.
  const std::string pixels = {0,
                              51,
                              102,
                              static_cast<char>(153),
                              static_cast<char>(204),
                              static_cast<char>(255),
                              static_cast<char>(255),
                              static_cast<char>(204),
                              static_cast<char>(153),
                              102,
                              51,
                              0};
  write_gzipped("t10k-images-idx3-ubyte.gz", idx_header(3, {2, 2, 3}) + pixels);
  write("t10k-labels-idx1-ubyte", idx_header(1, {2}) + std::string{7, 2});
  const Result<ImageSet> set = load_test_set(dir_.string());
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->count, 2);
  EXPECT_EQ(set->height, 2);
  EXPECT_EQ(set->width, 3);
  EXPECT_EQ(set->channels, 1);
  EXPECT_EQ(set->labels, (std::vector<std::int64_t>{7, 2}));
  ASSERT_EQ(set->pixels.size(), 12u);
  EXPECT_FLOAT_EQ(set->image(0)[1], 0.2f);
  EXPECT_FLOAT_EQ(set->image(0)[5], 1.0f);
  EXPECT_FLOAT_EQ(set->image(1)[0], 1.0f);
  EXPECT_FLOAT_EQ(set->image(1)[5], 0.0f);
}

TEST_F(IdxFiles, MalformedFilesAreExplained) {
  const std::string labels = write("labels", idx_header(1, {2}) + std::string{1, 2});
  const auto message = [&](const std::string& image_bytes) {
    const Result<ImageSet> set = load_idx(write("images", image_bytes), labels);
    EXPECT_FALSE(set);
    return set ? std::string() : set.error().message;
  };
  EXPECT_NE(message("hello").find("not an IDX file"), std::string::npos);
  EXPECT_NE(message(std::string{0, 0, 0x0d, 3}).find("unsigned bytes"), std::string::npos);
  EXPECT_NE(message(idx_header(2, {2, 4}) + std::string(8, 0)).find("2 dimensions, expected 3 to 4"),
            std::string::npos);
  EXPECT_NE(
      message(idx_header(3, {2, 2, 2}) + std::string(7, 0)).find("7 bytes of data, its header announces 8"),
      std::string::npos);
  EXPECT_NE(message(idx_header(3, {3, 1, 1}) + std::string(3, 0)).find("3 images"), std::string::npos);
  EXPECT_FALSE(load_idx((dir_ / "missing").string(), labels));
}

// A header may announce any number of channels for a set without pixels; reading it allocates nothing
// per channel (the fuzzer's case: 2^32 - 1 channels of zero images).
TEST_F(IdxFiles, AnEmptySetOfAnyChannelCountReads) {
  write("t10k-images-idx4-ubyte", idx_header(4, {0, 2, 2, 4'294'967'295u}));
  write("t10k-labels-idx1-ubyte", idx_header(1, {0}));
  const Result<ImageSet> set = load_test_set(dir_.string());
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->count, 0);
  EXPECT_TRUE(set->pixels.empty());
  EXPECT_TRUE(set->labels.empty());
}

TEST_F(IdxFiles, ColourImagesInFourDimensions) {
  // Three 2x2x3 images, bytes 0..35 in NHWC order, as a *-images-idx4-ubyte file.
  std::string pixels;
  for (int byte = 0; byte < 36; ++byte) pixels.push_back(static_cast<char>(byte * 7));
  write("t10k-images-idx4-ubyte", idx_header(4, {3, 2, 2, 3}) + pixels);
  write("t10k-labels-idx1-ubyte", idx_header(1, {3}) + std::string{1, 0, 2});
  const Result<ImageSet> set = load_test_set(dir_.string());
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->count, 3);
  EXPECT_EQ(set->height, 2);
  EXPECT_EQ(set->width, 2);
  EXPECT_EQ(set->channels, 3);
  EXPECT_EQ(set->image_size(), 12);
  ASSERT_EQ(set->pixels.size(), 36u);
  for (int byte = 0; byte < 36; ++byte)
    EXPECT_EQ(set->pixels[static_cast<std::size_t>(byte)], static_cast<float>(byte * 7) / 255.0f) << byte;

  EXPECT_FALSE(check_image_shape(set.value(), Shape{2, 2, 3, false}));
  EXPECT_FALSE(check_image_shape(set.value(), Shape{1, 1, 12, true})) << "a flat input takes any 12 values";
  const std::optional<Error> mismatch = check_image_shape(set.value(), Shape{32, 32, 3, false});
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->message, "the images are 2x2x3, the model reads 32x32x3");
  EXPECT_TRUE(check_image_shape(set.value(), Shape{2, 2, 1, false}));
}

TEST_F(IdxFiles, EveryByteIsNormalisedPerChannel) {
  std::string pixels;
  for (int byte = 0; byte < 256; ++byte)
    for (int channel = 0; channel < 3; ++channel) pixels.push_back(static_cast<char>(byte));
  const std::string images = write("images", idx_header(4, {1, 16, 16, 3}) + pixels);
  const std::string labels = write("labels", idx_header(1, {1}) + std::string{0});

  // The default is byte / 255, exactly as a float division computes it.
  const Result<ImageSet> unit = load_idx(images, labels);
  ASSERT_TRUE(unit) << unit.error().message;
  for (int byte = 0; byte < 256; ++byte)
    EXPECT_EQ(unit->pixels[static_cast<std::size_t>(3 * byte)], static_cast<float>(byte) / 255.0f) << byte;

  // (x * scale - mean[c]) / deviation[c], per channel.
  const InputNormalization imagenet{1.0 / 255.0, {0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
  const Result<ImageSet> normalised = load_idx(images, labels, imagenet);
  ASSERT_TRUE(normalised) << normalised.error().message;
  for (int byte = 0; byte < 256; byte += 17)
    for (std::size_t channel = 0; channel < 3; ++channel)
      EXPECT_FLOAT_EQ(
          normalised->pixels[static_cast<std::size_t>(3 * byte) + channel],
          static_cast<float>((byte / 255.0 - imagenet.mean[channel]) / imagenet.deviation[channel]))
          << byte << " channel " << channel;
  // Raw pixels, and one mean and deviation for every channel.
  const Result<ImageSet> raw = load_idx(images, labels, InputNormalization{1.0, {128}, {2}});
  ASSERT_TRUE(raw) << raw.error().message;
  EXPECT_EQ(raw->pixels[0], -64.0f);
  EXPECT_EQ(raw->pixels[3 * 255 + 2], 63.5f);

  const Result<ImageSet> wrong = load_idx(images, labels, InputNormalization{1.0, {1, 2}, {}});
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("has 3 channels: the input mean has 2 values for 3 channels"),
            std::string::npos)
      << wrong.error().message;
  const Result<ImageSet> zero = load_idx(images, labels, InputNormalization{1.0, {}, {0.0}});
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message.find("deviation must be positive"), std::string::npos)
      << zero.error().message;
}

TEST(FashionMnistFiles, DebianTestSplit) {
  const Result<ImageSet> set = load_test_set(testing::kFashionMnistDir);
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->count, 10000);
  EXPECT_EQ(set->height, 28);
  EXPECT_EQ(set->width, 28);
  std::vector<std::int64_t> per_class(10, 0);
  for (const std::int64_t label : set->labels) ++per_class.at(static_cast<std::size_t>(label));
  EXPECT_EQ(per_class, std::vector<std::int64_t>(10, 1000));  // the test split is balanced
}

}  // namespace
}  // namespace reds::engine
