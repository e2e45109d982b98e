// What the session fuses into a convolution: a residual addition (the convolution accumulates onto the skip
// tensor, the rectifier after the addition applied to the sum) and a zero padding (read as the window's
// padding). The accumulating kernels equal a convolution followed by an addition bit for bit on every
// kernel path, a layer's column ranges computed in one pass equal them computed range by range, and a
// hand-built graph with both fusions equals a direct computation in double precision.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels.h"
#include "reds/engine/model.h"
#include "reds/engine/session.h"
#include "reds/splitmix64.h"
#include "support/engine/models.h"
#include "support/engine/reference.h"

namespace reds::engine {
namespace {

using kernels::ColumnRange;
using kernels::MapView;
using kernels::MutableMapView;
using kernels::SegmentedWeights;
using kernels::WeightSegment;
using kernels::Window;
using test::convolve;
using test::named_layer;
using test::rectified;

// With room for the kernels' reads past the end.
std::vector<float> random_floats(std::size_t count, std::uint64_t seed) {
  return test::random_floats(count, seed, static_cast<std::size_t>(kernels::kReadPadding));
}

Window square_window(std::int64_t size, std::int64_t kernel, std::int64_t stride, std::int64_t pad) {
  Window window;
  window.in_height = window.in_width = size;
  window.kernel_height = window.kernel_width = kernel;
  window.stride_height = window.stride_width = stride;
  window.pad_top = window.pad_left = pad;
  window.out_height = window.out_width = (size + 2 * pad - kernel) / stride + 1;
  return window;
}

// A geometry, and the layer's weights in Keras' layout ([tap][input][unit]) seen as one plain segment.
struct ConvCase {
  Window window;
  std::int64_t inputs = 0, units = 0;
};

// Every kernel path: a 1x1 convolution read in place, a packed 3x3 (32 or more units), the direct kernels
// (fewer units, a partial last block) with and without padding, a first convolution of 3 inputs at stride 2.
const std::vector<ConvCase> kCases = {
    {square_window(7, 1, 1, 0), 24, 40}, {square_window(9, 3, 1, 1), 16, 32},
    {square_window(9, 3, 1, 1), 16, 13}, {square_window(8, 3, 1, 0), 8, 16},
    {square_window(12, 3, 2, 1), 3, 16},
};

TEST(FusedAddition, AccumulatingEqualsConvolutionThenAddition) {
  const Rectifier relu;
  std::uint64_t seed = 1;
  for (const ConvCase& test : kCases) {
    const Window& window = test.window;
    const std::int64_t taps = window.kernel_height * window.kernel_width;
    const std::int64_t out_floats = window.out_height * window.out_width * test.units;
    const std::vector<float> input =
        random_floats(static_cast<std::size_t>(window.in_height * window.in_width * test.inputs), seed++);
    const std::vector<float> weights =
        random_floats(static_cast<std::size_t>(taps * test.inputs * test.units), seed++);
    const std::vector<float> bias = random_floats(static_cast<std::size_t>(test.units), seed++);
    const std::vector<float> skip = random_floats(static_cast<std::size_t>(out_floats), seed++);
    const WeightSegment segment{weights.data(), 0, test.inputs, test.units, test.inputs * test.units, 8};
    const ColumnRange range{0, test.units, &segment, 1};
    const SegmentedWeights segmented{&range, 1};
    const MapView in{input.data(), test.inputs, test.inputs};
    for (const Rectifier* rectifier : {static_cast<const Rectifier*>(nullptr), &relu}) {
      std::vector<float> separate(skip.size(), 0.0f);
      kernels::conv2d_segmented(window, in, segmented, bias.data(), nullptr,
                                {separate.data(), test.units, test.units});
      kernels::add(separate.data(), skip.data(), out_floats, rectifier, separate.data());
      std::vector<float> fused = skip;
      kernels::conv2d_segmented(window, in, segmented, bias.data(), rectifier,
                                {fused.data(), test.units, test.units}, true);
      EXPECT_TRUE(std::equal(separate.begin(), separate.begin() + out_floats, fused.begin()))
          << test.inputs << " -> " << test.units << ", kernel " << window.kernel_height;
    }
  }
}

// A nested layer's ranges at a level above its smallest: columns [0, 8) from a block of rows [0, 8) and a
// row strip of rows [8, rows), columns [8, units) from a column strip of every row; both in panels of 8.
TEST(ColumnPass, RangesInOnePassEqualRangesOneByOne) {
  std::uint64_t seed = 100;
  for (const ConvCase& test : {kCases[2], kCases[3], ConvCase{square_window(10, 3, 1, 1), 16, 24}}) {
    const Window& window = test.window;
    const std::int64_t taps = window.kernel_height * window.kernel_width, rows = test.inputs;
    const std::int64_t wide = test.units - 8;  // the column strip's units
    const std::int64_t wide_panels = (wide + 7) / 8;
    const std::vector<float> block = random_floats(static_cast<std::size_t>(taps * 8 * 8), seed++);
    const std::vector<float> row_strip =
        random_floats(static_cast<std::size_t>(taps * (rows - 8) * 8), seed++);
    const std::vector<float> column_strip =
        random_floats(static_cast<std::size_t>(wide_panels * taps * rows * 8), seed++);
    const std::vector<float> input =
        random_floats(static_cast<std::size_t>(window.in_height * window.in_width * rows), seed++);
    const std::vector<float> bias = random_floats(static_cast<std::size_t>(test.units), seed++);
    const WeightSegment first_segments[] = {
        {block.data(), 0, 8, 8, 8 * 8, taps * 8 * 8},
        {row_strip.data(), 8, rows, 8, (rows - 8) * 8, taps * (rows - 8) * 8}};
    const WeightSegment second_segment{column_strip.data(), 0, rows, 8, rows * 8, taps * rows * 8};
    const ColumnRange ranges[] = {{0, 8, first_segments, 2}, {8, test.units, &second_segment, 1}};
    const MapView in{input.data(), rows, rows};
    const std::int64_t out_floats = window.out_height * window.out_width * test.units;
    std::vector<float> together(static_cast<std::size_t>(out_floats + 8), 0.0f), apart = together;
    kernels::conv2d_segmented(window, in, SegmentedWeights{ranges, 2}, bias.data(), nullptr,
                              {together.data(), test.units, test.units});
    for (const ColumnRange& range : ranges)
      kernels::conv2d_segmented(window, in, SegmentedWeights{&range, 1}, bias.data(), nullptr,
                                {apart.data(), test.units, test.units});
    EXPECT_TRUE(std::equal(together.begin(), together.end(), apart.begin())) << test.units << " units";
  }
}

// input 6x6x3 -> c1: Conv2D 3x3 same (4) -> r1: ReLU -> c2: Conv2D 1x1 (4) -> r2: ReLU
// -> pad: ZeroPadding2D ((1, 1), (2, 0)) -> c3: Conv2D 3x3 valid (4), 6x6 again -> sum: Add(r1, c3) -> relu
// -> flatten -> dense (144 -> 3).
Model fused_graph() {
  SplitMix64 random(7);
  const auto values = [&](std::size_t count) {
    std::vector<float> out(count);
    for (float& value : out) value = static_cast<float>(random.next() % 2001) / 2000.0f - 0.5f;
    return out;
  };
  Model model;
  model.name = "fused";
  model.input = {6, 6, 3, false};
  const auto conv = [&](const char* name, std::int64_t kernel, std::int64_t inputs, Padding padding) {
    Layer layer = named_layer(name, LayerKind::conv2d);
    layer.units = 4;
    layer.kernel_height = layer.kernel_width = kernel;
    layer.padding = padding;
    layer.kernel = values(static_cast<std::size_t>(kernel * kernel * inputs * 4));
    layer.bias = values(4);
    return layer;
  };
  Layer pad = named_layer("pad", LayerKind::zero_padding2d);
  pad.pad_top = pad.pad_bottom = 1;
  pad.pad_left = 2;
  Layer dense = named_layer("dense", LayerKind::dense);
  dense.units = 3;
  dense.kernel = values(144 * 3);
  dense.bias = values(3);
  model.layers = {conv("c1", 3, 3, Padding::same),
                  named_layer("r1", LayerKind::rectifier),
                  conv("c2", 1, 4, Padding::valid),
                  named_layer("r2", LayerKind::rectifier),
                  pad,
                  conv("c3", 3, 4, Padding::valid),
                  named_layer("sum", LayerKind::add, {2, 6}),
                  named_layer("relu", LayerKind::rectifier),
                  named_layer("flatten", LayerKind::flatten),
                  dense};
  return model;
}

TEST(FusedAddition, HandBuiltGraphFusesAndMatchesADirectComputation) {
  const Model model = fused_graph();
  ASSERT_FALSE(validate(model));
  Result<Session> created = Session::create(model);
  ASSERT_TRUE(created) << created.error().message;
  Session session = std::move(created).value();
  // c1 + r1, c2 + r2, c3 reading the unpadded map with the addition and the rectifier, the dense layer.
  const std::span<const KernelCall> calls = session.level_calls(0);
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_TRUE(std::none_of(calls.begin(), calls.end(), [](const KernelCall& call) {
    return call.kind == CallKind::add || call.kind == CallKind::zero_padding2d;
  }));
  EXPECT_TRUE(calls[2].accumulate);
  EXPECT_EQ(calls[2].window.in_height, 6);
  EXPECT_EQ(calls[2].window.pad_top, 1);
  EXPECT_EQ(calls[2].window.pad_left, 2);
  EXPECT_EQ(calls[2].input.data, calls[1].output.data);
  EXPECT_EQ(calls[2].output.data, calls[0].output.data) << "written over the skip tensor, r1";

  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const std::vector<float> input = test::random_floats(6 * 6 * 3, seed);
    const std::vector<double> image(input.begin(), input.end());
    const std::vector<double> a = rectified(convolve(image, 6, 3, model.layers[0], 1, 1, 6));
    const std::vector<double> b = rectified(convolve(a, 6, 4, model.layers[2], 0, 0, 6));
    std::vector<double> c = convolve(b, 6, 4, model.layers[5], 1, 2, 6);
    for (std::size_t index = 0; index < c.size(); ++index) c[index] += a[index];
    c = rectified(c);
    const std::vector<double> expected = test::dense(c, model.layers[9]);
    const std::span<const float> result = session.run(input);
    ASSERT_EQ(result.size(), 3u);
    for (std::size_t unit = 0; unit < 3; ++unit)
      EXPECT_NEAR(result[unit], expected[unit], 1e-5) << "seed " << seed << " unit " << unit;
  }
}

}  // namespace
}  // namespace reds::engine
