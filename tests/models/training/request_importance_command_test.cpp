// `reds request MODEL --data DIR`: gradient importance from training images, as a separate process
// ($REDS_BIN_DIR/reds), against the library's gradient_importance() on the same images and options.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "reds/engine/dataset.h"
#include "reds/engine/model.h"
#include "reds/engine/onnx.h"
#include "reds/training/importance.h"
#include "support/command_runner.h"
#include "support/engine/commands.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kImages = 64;

class RequestImportanceCommand : public test::CommandTest {
 protected:
  // The first kImages test images as a training split under scratch_/data.
  fs::path write_training_split() {
    const Result<ImageSet> set = load_test_set(testing::kFashionMnistDir);
    EXPECT_TRUE(set) << set.error().message;
    fs::create_directories(scratch_ / "data");
    if (set) test::write_idx(set.value(), 0, kImages, scratch_ / "data" / "train");
    return scratch_ / "data";
  }

  static std::map<std::string, std::vector<double>> importance_of(const std::string& request) {
    std::map<std::string, std::vector<double>> importance;
    const json parsed = json::parse(request);
    for (const json& layer : parsed.at("network").at("layers"))
      importance[layer.at("name").get<std::string>()] = layer.at("importance").get<std::vector<double>>();
    return importance;
  }

  const std::string model_ = testing::pretrained_model("fashion_mnist");
};

TEST_F(RequestImportanceCommand, DataGivesTheGradientImportanceOfTheLibrary) {
  const fs::path data = write_training_split();
  const test::Outcome outcome = run({"request", model_, "--data", data.string(), "--importance-batches", "3",
                                     "--batch-size", "16", "--seed", "4", "--compact"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;

  const Result<training::Network<float>> network = training::Network<float>::load_keras(model_);
  ASSERT_TRUE(network) << network.error().message;
  const Result<ImageSet> images = load_training_set(data.string());
  ASSERT_TRUE(images) << images.error().message;
  training::ImportanceOptions options;
  options.minibatches = 3;
  options.batch_size = 16;
  options.seed = 4;
  const auto expected = training::gradient_importance(network.value(), images.value(), options);
  ASSERT_TRUE(expected) << expected.error().message;

  const std::map<std::string, std::vector<double>> actual = importance_of(outcome.out);
  ASSERT_EQ(actual.size(), expected->size());
  for (const auto& [name, scores] : expected.value()) {
    ASSERT_EQ(actual.at(name).size(), scores.size()) << name;
    for (std::size_t unit = 0; unit < scores.size(); ++unit)
      EXPECT_NEAR(actual.at(name)[unit], scores[unit], 1e-9 * scores[unit]) << name << " " << unit;
  }
  // Magnitude, asked for explicitly, ignores the data.
  const test::Outcome magnitude =
      run({"request", model_, "--data", data.string(), "--importance", "magnitude", "--compact"});
  ASSERT_EQ(magnitude.exit_status, 0) << magnitude.err;
  EXPECT_EQ(magnitude.out, run({"request", model_, "--compact"}).out);
  EXPECT_NE(importance_of(magnitude.out), actual);
}

// An ONNX model (here the Keras model written by save_onnx, batch normalization folded) takes its gradient
// importance as the library computes it for the same network read from that file.
TEST_F(RequestImportanceCommand, OnnxModelsTakeGradientImportanceToo) {
  const fs::path data = write_training_split();
  const Result<Model> keras = load_model(model_);
  ASSERT_TRUE(keras) << keras.error().message;
  const fs::path onnx = scratch_ / "model.onnx";
  ASSERT_FALSE(save_onnx(keras.value(), std::nullopt, onnx.string()));
  const test::Outcome outcome =
      run({"request", onnx.string(), "--data", data.string(), "--importance-batches", "2", "--batch-size",
           "16", "--seed", "3", "--compact"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;

  const Result<Model> read = load_model(onnx.string());
  ASSERT_TRUE(read) << read.error().message;
  const Result<training::Network<float>> network = training::Network<float>::from_model(read.value());
  ASSERT_TRUE(network) << network.error().message;
  const Result<ImageSet> images = load_training_set(data.string());
  ASSERT_TRUE(images) << images.error().message;
  training::ImportanceOptions options;
  options.minibatches = 2;
  options.batch_size = 16;
  options.seed = 3;
  const auto expected = training::gradient_importance(network.value(), images.value(), options);
  ASSERT_TRUE(expected) << expected.error().message;
  const std::map<std::string, std::vector<double>> actual = importance_of(outcome.out);
  ASSERT_EQ(actual.size(), expected->size());
  for (const auto& [name, scores] : expected.value()) {
    ASSERT_EQ(actual.at(name).size(), scores.size()) << name;
    for (std::size_t unit = 0; unit < scores.size(); ++unit)
      EXPECT_NEAR(actual.at(name)[unit], scores[unit], 1e-9 * scores[unit]) << name << " " << unit;
  }
  EXPECT_NE(importance_of(outcome.out), importance_of(run({"request", onnx.string(), "--compact"}).out));
}

TEST_F(RequestImportanceCommand, Errors) {
  test::Outcome outcome = run({"request", model_, "--importance", "gradient"});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("needs --data"), std::string::npos) << outcome.err;
  outcome = run({"request", model_, "--data", (scratch_ / "missing").string()});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("train-images-idx3-ubyte"), std::string::npos) << outcome.err;
  outcome = run({"request", model_, "--importance", "random"});
  EXPECT_EQ(outcome.exit_status, 2);
  EXPECT_NE(outcome.err.find("unknown method"), std::string::npos) << outcome.err;
  EXPECT_EQ(outcome.out, "");
}

}  // namespace
}  // namespace reds::engine
