// The IDX reader on files written here, plain and gzipped, and on Debian's Fashion-MNIST.
#include "reds/engine/dataset.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "models/test_data.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;

using testing::idx_header;

class IdxFiles : public ::testing::Test {
 protected:
  IdxFiles()
      : dir_(fs::temp_directory_path() /
             ("reds_idx_test_" +
              std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()))) {
    fs::create_directories(dir_);
  }
  ~IdxFiles() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
    return (dir_ / name).string();
  }
  std::string write_gzipped(const std::string& name, const std::string& bytes) {
    gzFile file = gzopen((dir_ / name).string().c_str(), "wb");
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    return (dir_ / name).string();
  }

  fs::path dir_;
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
