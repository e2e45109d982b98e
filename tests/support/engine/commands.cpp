#include "support/engine/commands.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "models/test_plans.h"
#include "support/command_runner.h"

namespace reds::test {

void write_idx(const engine::ImageSet& set, std::int64_t first, std::int64_t count,
               const std::filesystem::path& prefix) {
  const auto dim = [](std::int64_t value) { return static_cast<std::uint32_t>(value); };
  std::string images = engine::testing::idx_header(3, {dim(count), dim(set.height), dim(set.width)});
  std::string labels = engine::testing::idx_header(1, {dim(count)});
  for (std::int64_t i = first * set.image_size(); i < (first + count) * set.image_size(); ++i)
    images.push_back(
        static_cast<char>(static_cast<int>(set.pixels[static_cast<std::size_t>(i)] * 255.0f + 0.5f)));
  for (std::int64_t i = first; i < first + count; ++i)
    labels.push_back(static_cast<char>(set.labels[static_cast<std::size_t>(i)]));
  write_file(prefix.string() + "-images-idx3-ubyte", images);
  write_file(prefix.string() + "-labels-idx1-ubyte", labels);
}

Result<engine::ImageSet> write_fashion_mnist(const std::filesystem::path& directory, std::int64_t training,
                                             std::int64_t test) {
  static const Result<engine::ImageSet> training_set =
      engine::load_training_set(engine::testing::kFashionMnistDir);
  static const Result<engine::ImageSet> test_set = engine::load_test_set(engine::testing::kFashionMnistDir);
  if (!training_set) return training_set.error();
  if (!test_set) return test_set.error();
  std::filesystem::create_directories(directory);
  write_idx(training_set.value(), 0, training, directory / "train");
  write_idx(test_set.value(), 0, test, directory / "t10k");
  engine::ImageSet written = test_set.value();
  written.count = test;
  return written;
}

Result<engine::Model> half_width_ds_cnn() {
  Result<engine::Model> model = engine::load_model(engine::testing::pretrained_model("fashion_mnist"));
  if (!model) return model;
  std::vector<std::map<std::string, std::int64_t>> levels;
  for (const int width : {32, 64}) {
    std::map<std::string, std::int64_t>& widths = levels.emplace_back();
    for (const char* name : {"conv2d", "depthwise_conv2d", "conv2d_1", "depthwise_conv2d_1", "conv2d_2",
                             "depthwise_conv2d_2", "conv2d_3", "depthwise_conv2d_3", "conv2d_4"})
      widths[name] = width;
    widths["dense"] = 10;
  }
  if (std::optional<Error> error =
          attach_plan(model.value(), engine::testing::plan_with_widths(model.value(), levels)))
    return *std::move(error);
  return model;
}

}  // namespace reds::test
