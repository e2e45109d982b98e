// Gradient checks: the backward pass of every layer kind against central finite differences of the loss,
// in double precision, for every parameter and for the input images. A layer under test sits at the
// network's input (so its input gradient is checked directly) and a Flatten + Dense head turns its output
// into logits. Then a small DS-CNN with batch norms and a small ResNet (a projection block and an identity
// block), at their full width and at narrowed levels, and the float network against the double one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>

#include "reds/training/training.h"
#include "training_test_models.h"

namespace reds::engine::training {
namespace {

using testing::ModelBuilder;
using testing::TestBatch;
using testing::TestRandom;

constexpr double kStep = 1e-6;
constexpr std::int64_t kClasses = 4;
// Entries checked per parameter, spread over it (all of them when it is smaller).
constexpr std::size_t kSamples = 40;

std::vector<std::size_t> sample_entries(std::size_t size) {
  std::vector<std::size_t> entries;
  const std::size_t stride = std::max<std::size_t>(1, size / kSamples);
  for (std::size_t at = 0; at < size; at += stride) entries.push_back(at);
  if (size > 0 && entries.back() != size - 1) entries.push_back(size - 1);
  return entries;
}

// Central difference and analytic derivative agree to 1e-6 relative (double precision: the difference's
// own error is about 1e-10).
void expect_close(double analytic, double numeric, const std::string& what) {
  const double tolerance = 1e-6 * std::max({1.0, std::abs(analytic), std::abs(numeric)});
  EXPECT_NEAR(analytic, numeric, tolerance) << what;
}

// Checks every parameter's gradient and the input gradient of one backward pass; returns how many
// checked derivatives were not zero (a check that only compares zeros proves nothing).
int check_gradients(Network<double>& network, const Widths& widths, TestBatch batch, PassOptions options) {
  options.input_gradient = true;
  options.update_moving_statistics = false;
  network.zero_gradients();
  Pass<double> pass;
  const auto forward = pass.forward(network, widths, batch.images, batch.count, options);
  EXPECT_TRUE(forward) << forward.error().message;
  if (!forward) return 0;
  const Result<double> loss = pass.backward(network, batch.labels);
  EXPECT_TRUE(loss) << loss.error().message;
  const std::vector<double> input_gradient(pass.input_gradient().begin(), pass.input_gradient().end());

  PassOptions plain = options;
  plain.input_gradient = false;
  Pass<double> probe;
  const auto loss_now = [&] {
    EXPECT_TRUE(probe.forward(network, widths, batch.images, batch.count, plain));
    return probe.loss(batch.labels).value();
  };
  const auto central_difference = [&](double& value) {
    const double saved = value;
    value = saved + kStep;
    const double above = loss_now();
    value = saved - kStep;
    const double below = loss_now();
    value = saved;
    return (above - below) / (2 * kStep);
  };

  int nonzero = 0;
  for (TrainingLayer<double>& layer : network.layers()) {
    const std::pair<const char*, Parameter<double>*> parameters[] = {
        {"kernel", &layer.kernel}, {"bias", &layer.bias}, {"gamma", &layer.gamma}, {"beta", &layer.beta}};
    for (const auto& [role, parameter] : parameters) {
      if (!parameter->trainable) continue;
      for (const std::size_t at : sample_entries(parameter->value.size())) {
        const double numeric = central_difference(parameter->value[at]);
        expect_close(parameter->gradient[at], numeric,
                     layer.name + "." + role + "[" + std::to_string(at) + "]");
        if (parameter->gradient[at] != 0.0) ++nonzero;
      }
    }
  }
  EXPECT_EQ(input_gradient.size(), batch.images.size());
  for (const std::size_t at : sample_entries(batch.images.size())) {
    const double numeric = central_difference(batch.images[at]);
    expect_close(input_gradient[at], numeric, "input[" + std::to_string(at) + "]");
    if (input_gradient[at] != 0.0) ++nonzero;
  }
  return nonzero;
}

// The layers built so far, then Flatten (for a map) and a Dense head of kClasses logits.
Network<double> with_head(ModelBuilder& builder) {
  if (!builder.shape().flat) builder.plain("flatten", LayerKind::flatten);
  builder.dense("head", kClasses);
  Result<Network<double>> network = Network<double>::from_model(builder.model());
  EXPECT_TRUE(network) << network.error().message;
  return std::move(network).value();
}

void check_layer(ModelBuilder& builder, std::int64_t count = 3, PassOptions options = {}) {
  Network<double> network = with_head(builder);
  TestRandom random(99);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, count);
  EXPECT_GT(check_gradients(network, network.full_widths(), batch, options), 20);
}

TEST(TrainingGradients, Conv2DSameStride1) {
  ModelBuilder builder({6, 5, 3}, 1);
  builder.conv("conv", 4, 3, 3);
  check_layer(builder);
}

TEST(TrainingGradients, Conv2DValidStride2) {
  ModelBuilder builder({7, 8, 2}, 2);
  builder.conv("conv", 5, 3, 3, 2, Padding::valid);
  check_layer(builder);
}

TEST(TrainingGradients, Conv2DSameStride2OnEvenInputPadsOneSideMore) {
  ModelBuilder builder({6, 6, 2}, 3);
  builder.conv("conv", 3, 3, 2, 2, Padding::same);
  check_layer(builder);
}

TEST(TrainingGradients, Conv2DDilated) {
  ModelBuilder builder({7, 7, 2}, 4);
  builder.conv("conv", 3, 2, 3, 1, Padding::same, 2);
  check_layer(builder);
}

TEST(TrainingGradients, Conv2DPointwiseWithoutBias) {
  ModelBuilder builder({4, 3, 5}, 5);
  builder.conv("conv", 6, 1, 1, 1, Padding::valid, 1, false);
  check_layer(builder);
}

TEST(TrainingGradients, Conv2DManyFiltersAndPixels) {
  // 19 filters: two float vectors and a tail; 5 images of 8x8: more pixels than one summation chunk.
  ModelBuilder builder({8, 8, 3}, 6);
  builder.conv("conv", 19, 3, 3);
  check_layer(builder, 5);
}

TEST(TrainingGradients, DepthwiseSame) {
  ModelBuilder builder({5, 6, 3}, 7);
  builder.depthwise("depthwise", 3, 3);
  check_layer(builder);
}

TEST(TrainingGradients, DepthwiseMultiplierStrideValid) {
  ModelBuilder builder({7, 6, 2}, 8);
  builder.depthwise("depthwise", 3, 2, 3, 2, Padding::valid);
  check_layer(builder);
}

TEST(TrainingGradients, DepthwiseDilatedSame) {
  ModelBuilder builder({6, 6, 4}, 9);
  builder.depthwise("depthwise", 3, 3, 1, 1, Padding::same, 2);
  check_layer(builder);
}

TEST(TrainingGradients, DenseStack) {
  ModelBuilder builder({1, 1, 7, true}, 10);
  builder.dense("dense", 9).dense("dense_1", 5, false);
  check_layer(builder, 4);
}

TEST(TrainingGradients, Rectifiers) {
  ModelBuilder builder({3, 4, 5}, 11);
  builder.rectifier("relu").conv("conv", 4, 1, 1).rectifier("leaky", Rectifier{0.3f});
  builder.conv("conv_1", 4, 1, 1).rectifier("capped", Rectifier{0.1f, -0.2f, 0.4f});
  check_layer(builder);
}

TEST(TrainingGradients, AveragePools) {
  ModelBuilder valid({6, 6, 3}, 12);
  valid.average_pool("pool", 2, 2, 2);
  check_layer(valid);
  // 'same' windows at the border average fewer pixels.
  ModelBuilder same({7, 5, 2}, 13);
  same.average_pool("pool", 3, 3, 2, Padding::same);
  check_layer(same);
  // The DS-CNN's pool: a large window with stride 1.
  ModelBuilder wide({6, 5, 2}, 14);
  wide.average_pool("pool", 5, 3, 1);
  check_layer(wide);
}

TEST(TrainingGradients, GlobalAveragePool) {
  ModelBuilder builder({4, 5, 6}, 15);
  builder.plain("gap", LayerKind::global_average_pool2d);
  check_layer(builder);
}

TEST(TrainingGradients, ZeroPadding) {
  ModelBuilder builder({4, 3, 2}, 22);
  builder.zero_padding("pad", 1, 2, 0, 1).conv("conv", 3, 3, 3, 1, Padding::valid);
  check_layer(builder);
}

TEST(TrainingGradients, AddOfAMapAndItsOwnBranch) {
  // The input feeds the convolution and the addition: its gradient is the sum of both paths'.
  ModelBuilder builder({4, 4, 3}, 23);
  builder.conv("conv", 3, 3, 3).sum("add", {0, builder.tensor()}).rectifier("relu");
  check_layer(builder);
}

TEST(TrainingGradients, AddOfThreeMapsReadTwice) {
  ModelBuilder builder({3, 4, 2}, 24);
  builder.conv("a", 3, 1, 1, 1, Padding::valid, 1, false);
  const std::size_t a = builder.tensor();
  builder.from(0).conv("b", 3, 3, 3);
  const std::size_t b = builder.tensor();
  builder.from(a).conv("c", 3, 1, 1);
  builder.sum("add", {a, b, builder.tensor()}).sum("add_1", {builder.tensor(), a});
  check_layer(builder);
}

void add_batch_norms(Network<double>& network, const std::vector<std::string>& after, std::uint64_t seed) {
  TestRandom random(seed);
  for (const std::string& name : after) {
    const auto layer =
        std::find_if(network.layers().begin(), network.layers().end(),
                     [&](const TrainingLayer<double>& candidate) { return candidate.name == name; });
    ASSERT_NE(layer, network.layers().end());
    const std::int64_t channels = network.shapes()[layer->model_layer].channels;
    ASSERT_FALSE(network.add_batch_norm(name, name + "/bn", testing::random_batch_norm(random, channels)));
  }
}

TEST(TrainingGradients, BatchNormWithMovingStatistics) {
  ModelBuilder builder({4, 4, 2}, 16);
  builder.conv("conv", 5, 3, 3);
  Network<double> network = with_head(builder);
  add_batch_norms(network, {"conv", "head"}, 17);
  TestRandom random(18);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  EXPECT_GT(check_gradients(network, network.full_widths(), batch, {}), 20);
}

TEST(TrainingGradients, BatchNormWithBatchStatistics) {
  ModelBuilder builder({4, 4, 2}, 19);
  builder.conv("conv", 5, 3, 3);
  Network<double> network = with_head(builder);
  add_batch_norms(network, {"conv", "head"}, 20);
  TestRandom random(21);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 4);
  PassOptions options;
  options.batch_norm = BatchNormMode::batch_statistics;
  EXPECT_GT(check_gradients(network, network.full_widths(), batch, options), 20);
}

// The DS-CNN S shape in miniature: conv 3x3 stride 2, then depthwise / pointwise blocks, each with batch
// norm and LeakyReLU, the wide average pool, Flatten, Dense.
Network<double> small_ds_cnn(std::uint64_t seed) {
  ModelBuilder builder({9, 8, 1}, seed);
  const Rectifier leaky{0.3f};
  builder.conv("conv2d", 6, 3, 3, 2).rectifier("lrelu", leaky);
  builder.depthwise("depthwise_conv2d", 3, 3).rectifier("lrelu_1", leaky);
  builder.conv("conv2d_1", 5, 1, 1, 1, Padding::valid).rectifier("lrelu_2", leaky);
  builder.depthwise("depthwise_conv2d_1", 3, 3).rectifier("lrelu_3", leaky);
  builder.conv("conv2d_2", 7, 1, 1, 1, Padding::valid).rectifier("lrelu_4", leaky);
  builder.average_pool("pool", 3, 2, 1);
  Network<double> network = with_head(builder);
  // Batch norms sit between a unit layer and its activation; rectifiers follow the batch norm.
  add_batch_norms(network, {"conv2d", "depthwise_conv2d", "conv2d_1", "depthwise_conv2d_1", "conv2d_2"},
                  seed + 1);
  return network;
}

TEST(TrainingGradients, SmallDsCnnAtFullWidth) {
  Network<double> network = small_ds_cnn(30);
  TestRandom random(31);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  EXPECT_GT(check_gradients(network, network.full_widths(), batch, {}), 100);
  PassOptions options;
  options.batch_norm = BatchNormMode::batch_statistics;
  EXPECT_GT(check_gradients(network, network.full_widths(), batch, options), 100);
}

TEST(TrainingGradients, SmallDsCnnAtNarrowLevels) {
  Network<double> network = small_ds_cnn(32);
  TestRandom random(33);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  // Units: conv2d, depthwise_conv2d (tied), conv2d_1, depthwise_conv2d_1 (tied), conv2d_2, head (full).
  for (const Widths& widths : {Widths{3, -1, 2, -1, 4, kClasses}, Widths{1, 1, 1, 1, 1, kClasses},
                               Widths{6, 6, 4, 4, 7, kClasses}}) {
    SCOPED_TRACE(::testing::PrintToString(widths));
    EXPECT_GT(check_gradients(network, widths, batch, {}), 30);
    PassOptions options;
    options.batch_norm = BatchNormMode::batch_statistics;
    EXPECT_GT(check_gradients(network, widths, batch, options), 30);
  }
}

// ResNet-8's blocks in miniature: a stem convolution; a block with a stride-2 1x1 projection (no bias, no
// batch norm) on its shortcut; an identity block whose first convolution pads explicitly (ZeroPadding2D,
// then 'valid'); Activation after each Add; global average pooling and a Dense head. Batch norms follow
// the block convolutions, as in ResNet-8.
Network<double> small_resnet(std::uint64_t seed) {
  ModelBuilder builder({6, 6, 2}, seed);
  builder.conv("stem", 4, 3, 3).rectifier("stem_relu");
  const std::size_t stem = builder.tensor();
  builder.conv("block1_conv1", 5, 3, 3, 2).rectifier("block1_relu1");
  builder.conv("block1_conv2", 6, 3, 3);
  const std::size_t residual = builder.tensor();
  builder.from(stem).conv("block1_projection", 6, 1, 1, 2, Padding::valid, 1, false);
  builder.sum("block1_add", {builder.tensor(), residual}).rectifier("block1_relu2");
  const std::size_t block1 = builder.tensor();
  builder.zero_padding("block2_pad", 1, 1, 1, 1).conv("block2_conv1", 3, 3, 3, 1, Padding::valid);
  builder.rectifier("block2_relu1").conv("block2_conv2", 6, 3, 3);
  builder.sum("block2_add", {block1, builder.tensor()}).rectifier("block2_relu2");
  builder.plain("pool", LayerKind::global_average_pool2d).dense("head", kClasses);
  Network<double> network = Network<double>::from_model(builder.model()).value();
  add_batch_norms(network, {"stem", "block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2"},
                  seed + 1);
  return network;
}

// Units: stem, block1_conv1, block1_conv2, block1_projection, block2_conv1, block2_conv2, head. The stream
// (block1_conv2, block1_projection, block2_conv2) keeps one width.
const Widths kResnetLevels[] = {{3, 2, 4, 4, 2, 4, kClasses}, {2, 3, 3, 3, 2, 3, kClasses}};

TEST(TrainingGradients, SmallResnetAtFullWidth) {
  Network<double> network = small_resnet(60);
  TestRandom random(61);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  EXPECT_GT(check_gradients(network, network.full_widths(), batch, {}), 100);
  PassOptions options;
  options.batch_norm = BatchNormMode::batch_statistics;
  EXPECT_GT(check_gradients(network, network.full_widths(), batch, options), 100);
}

TEST(TrainingGradients, SmallResnetAtNarrowLevels) {
  Network<double> network = small_resnet(62);
  TestRandom random(63);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  for (const Widths& widths : kResnetLevels) {
    SCOPED_TRACE(::testing::PrintToString(widths));
    EXPECT_GT(check_gradients(network, widths, batch, {}), 20);
    PassOptions options;
    options.batch_norm = BatchNormMode::batch_statistics;
    EXPECT_GT(check_gradients(network, widths, batch, options), 20);
  }
}

TEST(TrainingGradients, FloatResnetAgreesWithDouble) {
  Network<double> exact = small_resnet(64);
  Network<float> network(exact);
  TestRandom random(65);
  const TestBatch batch = testing::random_batch(random, exact.input_shape(), kClasses, 5);
  const std::vector<float> images(batch.images.begin(), batch.images.end());
  for (const Widths& widths : {exact.full_widths(), kResnetLevels[0]}) {
    exact.zero_gradients();
    network.zero_gradients();
    Pass<double> exact_pass;
    Pass<float> pass;
    ASSERT_TRUE(exact_pass.forward(exact, widths, batch.images, batch.count));
    ASSERT_TRUE(pass.forward(network, widths, images, batch.count));
    EXPECT_NEAR(pass.backward(network, batch.labels).value(),
                exact_pass.backward(exact, batch.labels).value(), 1e-5);
    for (std::size_t index = 0; index < exact.layers().size(); ++index)
      for (std::size_t at = 0; at < exact.layers()[index].kernel.gradient.size(); ++at) {
        const double want = exact.layers()[index].kernel.gradient[at];
        EXPECT_NEAR(network.layers()[index].kernel.gradient[at], want, 1e-4 * std::max(1.0, std::abs(want)))
            << exact.layers()[index].name << " " << at;
      }
  }
}

TEST(TrainingGradients, ResnetLevelsKeepOneWidthPerStream) {
  Network<double> network = small_resnet(66);
  TestRandom random(67);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 2);
  Pass<double> pass;
  // block1_projection narrower than the stream's other members: the addition cannot line them up.
  const Result<std::span<const double>> mismatched =
      pass.forward(network, {3, 2, 4, 3, 2, 4, kClasses}, batch.images, batch.count);
  ASSERT_FALSE(mismatched);
  EXPECT_NE(mismatched.error().message.find("block1_add"), std::string::npos) << mismatched.error().message;
  EXPECT_FALSE(pass.forward(network, {3, 2, 4, 4, 2, 5, kClasses}, batch.images, batch.count));
  EXPECT_TRUE(pass.forward(network, {3, 2, 5, 5, 2, 5, kClasses}, batch.images, batch.count));
}

TEST(TrainingGradients, NarrowLevelLeavesTheUnitsItDropsAlone) {
  Network<double> network = small_ds_cnn(34);
  TestRandom random(35);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  network.zero_gradients();
  Pass<double> pass;
  ASSERT_TRUE(pass.forward(network, {3, -1, 2, -1, 4, kClasses}, batch.images, batch.count));
  ASSERT_TRUE(pass.backward(network, batch.labels));
  // conv2d keeps filters 0..2 of 6: kernel [3][3][1][6], so column o >= 3 gets no gradient.
  const TrainingLayer<double>& conv = network.layers()[0];
  for (std::size_t at = 0; at < conv.kernel.gradient.size(); ++at) {
    if (at % 6 >= 3) {
      EXPECT_EQ(conv.kernel.gradient[at], 0.0) << at;
    } else {
      EXPECT_NE(conv.kernel.gradient[at], 0.0) << at;
    }
  }
}

TEST(TrainingGradients, GradientsAddUpOverBackwardPassesWithTheirScale) {
  Network<double> network = small_ds_cnn(36);
  TestRandom random(37);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  const Widths small{2, -1, 3, -1, 2, kClasses};
  Pass<double> pass;
  const auto gradient_of = [&](const Widths& widths, double scale) {
    network.zero_gradients();
    EXPECT_TRUE(pass.forward(network, widths, batch.images, batch.count));
    EXPECT_TRUE(pass.backward(network, batch.labels, scale));
    return network.layers()[2].kernel.gradient;  // depthwise_conv2d
  };
  const std::vector<double> full = gradient_of(network.full_widths(), 0.25);
  const std::vector<double> narrow = gradient_of(small, 0.75);
  network.zero_gradients();
  ASSERT_TRUE(pass.forward(network, network.full_widths(), batch.images, batch.count));
  ASSERT_TRUE(pass.backward(network, batch.labels, 0.25));
  ASSERT_TRUE(pass.forward(network, small, batch.images, batch.count));
  ASSERT_TRUE(pass.backward(network, batch.labels, 0.75));
  const std::vector<double>& both = network.layers()[2].kernel.gradient;
  for (std::size_t at = 0; at < both.size(); ++at) EXPECT_NEAR(both[at], full[at] + narrow[at], 1e-15) << at;
}

TEST(TrainingGradients, FloatNetworkAgreesWithDouble) {
  Network<double> exact = small_ds_cnn(38);
  Network<float> network(exact);
  TestRandom random(39);
  const TestBatch batch = testing::random_batch(random, exact.input_shape(), kClasses, 7);
  const std::vector<float> images(batch.images.begin(), batch.images.end());
  const Widths widths{5, -1, 3, -1, 6, kClasses};
  for (const BatchNormMode mode : {BatchNormMode::moving_statistics, BatchNormMode::batch_statistics}) {
    PassOptions options;
    options.batch_norm = mode;
    exact.zero_gradients();
    network.zero_gradients();
    Pass<double> exact_pass;
    Pass<float> pass;
    ASSERT_TRUE(exact_pass.forward(exact, widths, batch.images, batch.count, options));
    ASSERT_TRUE(pass.forward(network, widths, images, batch.count, options));
    const double exact_loss = exact_pass.backward(exact, batch.labels).value();
    EXPECT_NEAR(pass.backward(network, batch.labels).value(), exact_loss, 1e-5);
    for (std::size_t index = 0; index < exact.layers().size(); ++index) {
      const auto& expected = exact.layers()[index];
      const auto& actual = network.layers()[index];
      for (const auto& [want, got] :
           {std::pair{&expected.kernel, &actual.kernel}, std::pair{&expected.bias, &actual.bias},
            std::pair{&expected.gamma, &actual.gamma}, std::pair{&expected.beta, &actual.beta}})
        for (std::size_t at = 0; at < want->gradient.size(); ++at)
          EXPECT_NEAR(got->gradient[at], want->gradient[at],
                      1e-4 * std::max(1.0, std::abs(want->gradient[at])))
              << expected.name << " " << at;
    }
  }
}

TEST(TrainingGradients, MovingStatisticsFollowTheBatchOnlyWhenAsked) {
  Network<double> network = small_ds_cnn(40);
  TestRandom random(41);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 3);
  const std::vector<double> before = network.layers()[1].moving_mean;  // conv2d's batch norm
  Pass<double> pass;
  PassOptions options;
  options.batch_norm = BatchNormMode::batch_statistics;
  ASSERT_TRUE(pass.forward(network, {3, -1, 2, -1, 4, kClasses}, batch.images, batch.count, options));
  EXPECT_EQ(network.layers()[1].moving_mean, before);
  options.update_moving_statistics = true;
  ASSERT_TRUE(pass.forward(network, {3, -1, 2, -1, 4, kClasses}, batch.images, batch.count, options));
  const std::vector<double>& after = network.layers()[1].moving_mean;
  for (std::size_t c = 0; c < after.size(); ++c) {
    // The kept channels move 1 % of the way towards the batch mean; the others do not move.
    if (c < 3) {
      EXPECT_NE(after[c], before[c]) << c;
    } else {
      EXPECT_EQ(after[c], before[c]) << c;
    }
  }
}

TEST(TrainingGradients, RejectsWidthsThatAreNoLevel) {
  Network<double> network = small_ds_cnn(42);
  TestRandom random(43);
  const TestBatch batch = testing::random_batch(random, network.input_shape(), kClasses, 2);
  Pass<double> pass;
  EXPECT_FALSE(pass.forward(network, {3, 2, 2, -1, 4, kClasses}, batch.images, batch.count));   // tied dw
  EXPECT_FALSE(pass.forward(network, {7, -1, 2, -1, 4, kClasses}, batch.images, batch.count));  // > units
  EXPECT_FALSE(pass.forward(network, {3, -1, 2, -1, 4, 2}, batch.images, batch.count));         // output
  EXPECT_FALSE(pass.forward(network, {3, -1, 2}, batch.images, batch.count));
  EXPECT_FALSE(pass.forward(network, network.full_widths(), batch.images, batch.count + 1));
  EXPECT_FALSE(pass.backward(network, batch.labels));  // no successful forward
  ASSERT_TRUE(pass.forward(network, network.full_widths(), batch.images, batch.count));
  EXPECT_FALSE(pass.backward(network, std::vector<std::int64_t>{0}));
  EXPECT_FALSE(pass.backward(network, std::vector<std::int64_t>{0, kClasses}));
}

}  // namespace
}  // namespace reds::engine::training
