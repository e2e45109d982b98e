// The convolution kernels' tiles and their remainders: maps whose rows are not a whole number of tiles (1,
// 2, 5, 7, 13 and 14 pixels wide: rows cut into tiles of equal sizes, or, in the packed kernels of layers
// wider than 64 channels, the last tile overlapping the one before it), output widths that are not a
// multiple of 8 (the last block stored in part), one output pixel, strides 2 and 3, dilation, padding on
// every side, first layers of 1 and 3 input channels, nested column ranges of odd widths, 256 input
// channels (smaller tiles at the borders) and thin layers (up to 8 output channels from up to 16 input
// channels at stride 1, vectorised over pixels: 1 to 5 vectors of 8 pixels a row, tiles across rows). Every
// case is checked against a direct computation in double precision; the accumulating form against the
// convolution followed by the addition, bit for bit; ranges in one call against ranges one by one, bit for
// bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels.h"
#include "reds/engine/model.h"
#include "support/engine/kernel_window.h"
#include "support/engine/reference.h"

namespace reds::engine {
namespace {

using kernels::ColumnRange;
using kernels::MapView;
using kernels::MutableMapView;
using kernels::SegmentedWeights;
using kernels::WeightSegment;
using kernels::Window;

// The kernels read up to kReadPadding floats past what they use.
std::vector<float> random_floats(std::int64_t count, std::uint64_t seed) {
  return test::random_floats(static_cast<std::size_t>(count), seed, kernels::kReadPadding);
}

struct Geometry {
  std::int64_t height, width, kernel, stride, dilation;
  Padding padding;
};

Window window_for(const Geometry& geometry) {
  return test::kernel_window({geometry.height, geometry.width, geometry.kernel, geometry.kernel,
                              geometry.stride, geometry.stride, geometry.dilation, geometry.padding});
}

// Keras-layout weights [tap][input][unit], the output [pixel][unit], in double precision.
std::vector<double> direct(const Window& window, const std::vector<float>& input, std::int64_t inputs,
                           const std::vector<float>& weights, const std::vector<float>& bias,
                           std::int64_t units) {
  std::vector<double> out(static_cast<std::size_t>(window.out_height * window.out_width * units));
  for (std::int64_t y = 0; y < window.out_height; ++y)
    for (std::int64_t x = 0; x < window.out_width; ++x)
      for (std::int64_t unit = 0; unit < units; ++unit) {
        double total = bias[static_cast<std::size_t>(unit)];
        for (std::int64_t dy = 0; dy < window.kernel_height; ++dy)
          for (std::int64_t dx = 0; dx < window.kernel_width; ++dx) {
            const std::int64_t iy = y * window.stride_height - window.pad_top + dy * window.dilation_height;
            const std::int64_t ix = x * window.stride_width - window.pad_left + dx * window.dilation_width;
            if (iy < 0 || ix < 0 || iy >= window.in_height || ix >= window.in_width) continue;
            for (std::int64_t c = 0; c < inputs; ++c)
              total += static_cast<double>(
                           input[static_cast<std::size_t>((iy * window.in_width + ix) * inputs + c)]) *
                       weights[static_cast<std::size_t>(
                           ((dy * window.kernel_width + dx) * inputs + c) * units + unit)];
          }
        out[static_cast<std::size_t>((y * window.out_width + x) * units + unit)] = total;
      }
  return out;
}

const std::vector<Geometry> kGeometries = {
    {1, 1, 1, 1, 1, Padding::valid},  {3, 1, 3, 1, 1, Padding::same},   {2, 2, 3, 1, 1, Padding::same},
    {4, 5, 3, 1, 1, Padding::same},   {3, 7, 1, 1, 1, Padding::valid},  {5, 13, 3, 1, 1, Padding::same},
    {4, 14, 3, 1, 1, Padding::same},  {9, 14, 3, 2, 1, Padding::same},  {7, 13, 3, 3, 1, Padding::same},
    {6, 11, 3, 2, 1, Padding::valid}, {9, 16, 3, 1, 2, Padding::same},  {8, 15, 5, 2, 1, Padding::same},
    {5, 20, 1, 2, 1, Padding::valid}, {6, 31, 1, 1, 1, Padding::valid}, {12, 12, 3, 2, 1, Padding::same},
    {6, 8, 3, 1, 1, Padding::same},   {5, 20, 3, 1, 1, Padding::same},  {3, 42, 3, 1, 1, Padding::valid},
};
const std::vector<std::int64_t> kInputs = {1, 3, 5, 8, 17};
const std::vector<std::int64_t> kUnits = {1, 5, 8, 13, 16, 24, 29, 40, 48, 61, 72};

TEST(ConvolutionTiles, EveryGeometryAndWidthMatchesADirectComputation) {
  std::uint64_t seed = 1;
  for (const Geometry& geometry : kGeometries)
    for (const std::int64_t inputs : kInputs)
      for (const std::int64_t units : kUnits) {
        const Window window = window_for(geometry);
        const std::int64_t taps = window.kernel_height * window.kernel_width;
        const std::vector<float> input = random_floats(geometry.height * geometry.width * inputs, seed++);
        const std::vector<float> weights = random_floats(taps * inputs * units, seed++);
        const std::vector<float> bias = random_floats(units, seed++);
        const WeightSegment segment{weights.data(), 0, inputs, units, inputs * units, 8};
        const ColumnRange range{0, units, &segment, 1};
        const std::int64_t out_floats = window.out_height * window.out_width * units;
        std::vector<float> out(static_cast<std::size_t>(out_floats + 8), 0.0f);
        kernels::conv2d_segmented(window, {input.data(), inputs, inputs}, SegmentedWeights{&range, 1},
                                  bias.data(), nullptr, {out.data(), units, units});
        const std::vector<double> expected = direct(window, input, inputs, weights, bias, units);
        const std::string what = std::to_string(geometry.height) + "x" + std::to_string(geometry.width) +
                                 "x" + std::to_string(inputs) + " -> " + std::to_string(units) + ", kernel " +
                                 std::to_string(geometry.kernel) + "/" + std::to_string(geometry.stride);
        for (std::int64_t index = 0; index < out_floats; ++index)
          ASSERT_NEAR(out[static_cast<std::size_t>(index)], expected[static_cast<std::size_t>(index)], 1e-4)
              << what << ", output " << index;
        EXPECT_EQ(out[static_cast<std::size_t>(out_floats)], 0.0f) << what << ": wrote past the output";
      }
}

TEST(ConvolutionTiles, AccumulatingEqualsConvolutionThenAdditionOnEveryTile) {
  const Rectifier relu6{0.0f, 0.0f, 6.0f};
  std::uint64_t seed = 1000;
  for (const Geometry& geometry : kGeometries)
    for (const std::int64_t inputs : {std::int64_t{3}, std::int64_t{8}})
      for (const std::int64_t units : {std::int64_t{5}, std::int64_t{13}, std::int64_t{40}}) {
        const Window window = window_for(geometry);
        const std::int64_t taps = window.kernel_height * window.kernel_width;
        const std::int64_t out_floats = window.out_height * window.out_width * units;
        const std::vector<float> input = random_floats(geometry.height * geometry.width * inputs, seed++);
        const std::vector<float> weights = random_floats(taps * inputs * units, seed++);
        const std::vector<float> bias = random_floats(units, seed++);
        const std::vector<float> skip = random_floats(out_floats, seed++);
        const WeightSegment segment{weights.data(), 0, inputs, units, inputs * units, 8};
        const ColumnRange range{0, units, &segment, 1};
        const MapView in{input.data(), inputs, inputs};
        for (const Rectifier* rectifier : {static_cast<const Rectifier*>(nullptr), &relu6}) {
          std::vector<float> separate(skip.size(), 0.0f);
          kernels::conv2d_segmented(window, in, SegmentedWeights{&range, 1}, bias.data(), nullptr,
                                    {separate.data(), units, units});
          kernels::add(separate.data(), skip.data(), out_floats, rectifier, separate.data());
          std::vector<float> fused = skip;
          kernels::conv2d_segmented(window, in, SegmentedWeights{&range, 1}, bias.data(), rectifier,
                                    {fused.data(), units, units}, true);
          EXPECT_TRUE(std::equal(separate.begin(), separate.begin() + out_floats, fused.begin()))
              << geometry.height << "x" << geometry.width << "x" << inputs << " -> " << units;
          EXPECT_EQ(fused[static_cast<std::size_t>(out_floats)], skip[static_cast<std::size_t>(out_floats)]);
        }
      }
}

// Nested ranges of odd widths: columns [0, 8) over a block of rows [0, 3) and a strip of rows [3, inputs),
// columns [8, 16) over one segment, and columns [16, units) (a partial last block) over another, in panels
// of 8; the three in
// one call give the values of each alone, and those of the plain layer.
TEST(ConvolutionTiles, OddNestedRangesInOneCallEqualRangesOneByOne) {
  std::uint64_t seed = 5000;
  for (const Geometry& geometry : kGeometries)
    for (const std::int64_t units : {std::int64_t{21}, std::int64_t{29}}) {
      const std::int64_t inputs = 7;
      const Window window = window_for(geometry);
      const std::int64_t taps = window.kernel_height * window.kernel_width;
      const std::int64_t last = units - 16;
      const std::vector<float> block = random_floats(taps * 3 * 8, seed++);
      const std::vector<float> strip = random_floats(taps * (inputs - 3) * 8, seed++);
      const std::vector<float> middle = random_floats(taps * inputs * 8, seed++);
      const std::int64_t right_panels = (last + 7) / 8;
      const std::vector<float> right = random_floats(right_panels * taps * inputs * 8, seed++);
      const std::vector<float> input = random_floats(geometry.height * geometry.width * inputs, seed++);
      const std::vector<float> bias = random_floats(units, seed++);
      const WeightSegment first_segments[] = {
          {block.data(), 0, 3, 8, 3 * 8, taps * 3 * 8},
          {strip.data(), 3, inputs, 8, (inputs - 3) * 8, taps * (inputs - 3) * 8}};
      const WeightSegment middle_segment{middle.data(), 0, inputs, 8, inputs * 8, taps * inputs * 8};
      const WeightSegment right_segment{right.data(), 0, inputs, 8, inputs * 8, taps * inputs * 8};
      const ColumnRange ranges[] = {
          {0, 8, first_segments, 2}, {8, 16, &middle_segment, 1}, {16, 16 + last, &right_segment, 1}};
      const MapView in{input.data(), inputs, inputs};
      const std::int64_t out_floats = window.out_height * window.out_width * units;
      std::vector<float> together(static_cast<std::size_t>(out_floats + 8), 0.0f), apart = together;
      kernels::conv2d_segmented(window, in, SegmentedWeights{ranges, 3}, bias.data(), nullptr,
                                {together.data(), units, units});
      for (const ColumnRange& range : ranges)
        kernels::conv2d_segmented(window, in, SegmentedWeights{&range, 1}, bias.data(), nullptr,
                                  {apart.data(), units, units});
      EXPECT_TRUE(std::equal(together.begin(), together.end(), apart.begin()))
          << geometry.height << "x" << geometry.width << ", " << units << " units";
      // The plain layer's weights [tap][input][unit] from the three ranges.
      std::vector<float> plain(static_cast<std::size_t>(taps * inputs * units));
      for (std::int64_t tap = 0; tap < taps; ++tap)
        for (std::int64_t row = 0; row < inputs; ++row)
          for (std::int64_t unit = 0; unit < units; ++unit) {
            const std::int64_t lane = unit % 8;
            float weight = 0.0f;
            if (unit < 8)
              weight = row < 3 ? block[static_cast<std::size_t>((tap * 3 + row) * 8 + lane)]
                               : strip[static_cast<std::size_t>((tap * (inputs - 3) + row - 3) * 8 + lane)];
            else if (unit < 16)
              weight = middle[static_cast<std::size_t>((tap * inputs + row) * 8 + lane)];
            else
              weight =
                  right[static_cast<std::size_t>((((unit - 16) / 8 * taps + tap) * inputs + row) * 8 + lane)];
            plain[static_cast<std::size_t>((tap * inputs + row) * units + unit)] = weight;
          }
      const std::vector<double> expected = direct(window, input, inputs, plain, bias, units);
      for (std::int64_t index = 0; index < out_floats; ++index)
        ASSERT_NEAR(together[static_cast<std::size_t>(index)], expected[static_cast<std::size_t>(index)],
                    1e-4)
            << geometry.height << "x" << geometry.width << ", output " << index;
    }
}

// Thin layers (one block of up to 8 output channels from 5 to 16 input channels, stride 1: vectorised
// over 8 adjacent pixels, from the input rows transposed per channel; up to 4 input channels run the first
// layer's kernel): rows of 1 to 5 vectors and a last vector of 1 to 7 pixels, maps narrower than the window
// (windows 9 columns wide, dilated, on 8 or 9 columns), padding on one side only, dilation, 2 channel groups
// of input, several bands of rows (16 channels x 120 columns), heights of 1 to 3 rows (rows with different
// rows of taps). Outputs narrower than 8 pixels take the tiles; they are here as the boundary. Each layer is
// checked against a direct computation in double precision, and, bit for bit, against the same channels
// computed as the first block of a 16-channel layer (the tiles, which sum every channel's products in the
// same order), with a bias, a rectifier, the accumulating form and per-level statistics (a scale), and
// against its weights cut into two row segments.
TEST(ConvolutionTiles, ThinLayersMatchTheTilesBitForBitAndADirectComputation) {
  struct Shape {
    std::int64_t height, width, kernel, dilation;
    Padding padding;
  };
  const std::vector<Shape> shapes = {
      {3, 8, 3, 1, Padding::same},   {2, 9, 3, 1, Padding::same},  {4, 15, 3, 1, Padding::same},
      {3, 16, 3, 1, Padding::same},  {5, 17, 3, 1, Padding::same}, {1, 23, 3, 1, Padding::same},
      {3, 24, 3, 1, Padding::same},  {4, 25, 3, 1, Padding::same}, {6, 32, 3, 1, Padding::same},
      {3, 33, 3, 1, Padding::same},  {4, 40, 3, 1, Padding::same}, {5, 12, 3, 1, Padding::valid},
      {4, 26, 3, 1, Padding::valid}, {3, 8, 5, 2, Padding::same},  {9, 9, 5, 2, Padding::same},
      {4, 8, 3, 4, Padding::same},   {6, 19, 3, 2, Padding::same}, {5, 21, 5, 1, Padding::same},
      {4, 18, 2, 1, Padding::same},  {4, 17, 4, 1, Padding::same}, {20, 120, 3, 1, Padding::same},
      {2, 7, 3, 1, Padding::same},   {3, 5, 3, 1, Padding::same},  {9, 10, 3, 1, Padding::valid},
  };
  const Rectifier leaky{0.1f, 0.25f, 6.0f};
  const Rectifier relu{0.0f, 0.0f, std::numeric_limits<float>::infinity()};
  std::uint64_t seed = 9000;
  for (const Shape& shape : shapes)
    for (const std::int64_t inputs :
         {std::int64_t{5}, std::int64_t{8}, std::int64_t{9}, std::int64_t{12}, std::int64_t{16}})
      for (const std::int64_t units : {std::int64_t{1}, std::int64_t{3}, std::int64_t{5}, std::int64_t{8}}) {
        const Window window = test::kernel_window(
            {shape.height, shape.width, shape.kernel, shape.kernel, 1, 1, shape.dilation, shape.padding});
        const std::int64_t taps = window.kernel_height * window.kernel_width;
        const std::int64_t pixels = window.out_height * window.out_width;
        const std::vector<float> input = random_floats(shape.height * shape.width * inputs, seed++);
        const std::vector<float> weights = random_floats(taps * inputs * units, seed++);
        const std::vector<float> bias = random_floats(16, seed++);
        const std::vector<float> scale = random_floats(16, seed++);
        const std::vector<float> skip = random_floats(pixels * units, seed++);
        // The 16-channel layer: these weights in its first `units` columns, others beside them.
        constexpr std::int64_t kWide = 16;
        std::vector<float> wide = random_floats(taps * inputs * kWide, seed++);
        for (std::int64_t row = 0; row < taps * inputs; ++row)
          for (std::int64_t unit = 0; unit < units; ++unit)
            wide[static_cast<std::size_t>(row * kWide + unit)] =
                weights[static_cast<std::size_t>(row * units + unit)];
        const WeightSegment segment{weights.data(), 0, inputs, units, inputs * units, 8};
        const ColumnRange range{0, units, &segment, 1};
        // The same weights in two segments of rows: [0, split) and [split, inputs).
        const std::int64_t split = inputs / 2;
        std::vector<float> top(static_cast<std::size_t>(taps * std::max<std::int64_t>(split, 1) * units)),
            bottom(static_cast<std::size_t>(taps * (inputs - split) * units));
        for (std::int64_t tap = 0; tap < taps; ++tap)
          for (std::int64_t row = 0; row < inputs; ++row)
            for (std::int64_t unit = 0; unit < units; ++unit) {
              const float weight = weights[static_cast<std::size_t>((tap * inputs + row) * units + unit)];
              if (row < split)
                top[static_cast<std::size_t>((tap * split + row) * units + unit)] = weight;
              else
                bottom[static_cast<std::size_t>((tap * (inputs - split) + row - split) * units + unit)] =
                    weight;
            }
        const WeightSegment halves[] = {{top.data(), 0, split, units, split * units, 8},
                                        {bottom.data(), split, inputs, units, (inputs - split) * units, 8}};
        const ColumnRange split_range{0, units, split == 0 ? &halves[1] : halves, split == 0 ? 1 : 2};
        const WeightSegment wide_segment{wide.data(), 0, inputs, kWide, inputs * kWide, 8};
        const ColumnRange wide_range{0, kWide, &wide_segment, 1};
        const MapView in{input.data(), inputs, inputs};
        const std::string what = std::to_string(shape.height) + "x" + std::to_string(shape.width) + "x" +
                                 std::to_string(inputs) + " -> " + std::to_string(units) + ", kernel " +
                                 std::to_string(shape.kernel) + " dilation " + std::to_string(shape.dilation);
        // (rectifier, accumulate, scale) combinations.
        struct Form {
          const Rectifier* rectifier;
          bool accumulate;
          bool scaled;
        };
        for (const Form form :
             {Form{nullptr, false, false}, Form{&relu, false, false}, Form{&leaky, true, false},
              Form{&relu, true, true}, Form{&leaky, false, true}}) {
          const float* const scale_data = form.scaled ? scale.data() : nullptr;
          std::vector<float> thin(static_cast<std::size_t>(pixels * units + 8), 0.0f);
          std::copy(skip.begin(), skip.end(), thin.begin());
          std::vector<float> segmented = thin;
          std::vector<float> tiles(static_cast<std::size_t>(pixels * kWide + 8), 0.0f);
          for (std::int64_t pixel = 0; pixel < pixels; ++pixel)
            for (std::int64_t unit = 0; unit < units; ++unit)
              tiles[static_cast<std::size_t>(pixel * kWide + unit)] =
                  skip[static_cast<std::size_t>(pixel * units + unit)];
          kernels::conv2d_segmented(window, in, SegmentedWeights{&range, 1}, bias.data(), form.rectifier,
                                    {thin.data(), units, units}, form.accumulate, scale_data);
          kernels::conv2d_segmented(window, in, SegmentedWeights{&split_range, 1}, bias.data(),
                                    form.rectifier, {segmented.data(), units, units}, form.accumulate,
                                    scale_data);
          kernels::conv2d_segmented(window, in, SegmentedWeights{&wide_range, 1}, bias.data(), form.rectifier,
                                    {tiles.data(), kWide, kWide}, form.accumulate, scale_data);
          for (std::int64_t pixel = 0; pixel < pixels; ++pixel)
            for (std::int64_t unit = 0; unit < units; ++unit) {
              const float value = thin[static_cast<std::size_t>(pixel * units + unit)];
              ASSERT_EQ(std::bit_cast<std::uint32_t>(value),
                        std::bit_cast<std::uint32_t>(tiles[static_cast<std::size_t>(pixel * kWide + unit)]))
                  << what << ": pixel " << pixel << ", unit " << unit << ", rectifier "
                  << (form.rectifier != nullptr) << ", accumulate " << form.accumulate << ", scale "
                  << form.scaled;
              ASSERT_EQ(
                  std::bit_cast<std::uint32_t>(value),
                  std::bit_cast<std::uint32_t>(segmented[static_cast<std::size_t>(pixel * units + unit)]))
                  << what << ": two segments, pixel " << pixel << ", unit " << unit;
            }
          EXPECT_EQ(thin[static_cast<std::size_t>(pixels * units)], 0.0f)
              << what << ": wrote past the output";
        }
        // The plain form against double precision.
        std::vector<float> out(static_cast<std::size_t>(pixels * units + 8), 0.0f);
        kernels::conv2d_segmented(window, in, SegmentedWeights{&range, 1}, bias.data(), nullptr,
                                  {out.data(), units, units});
        const std::vector<double> expected = direct(window, input, inputs, weights, bias, units);
        for (std::int64_t index = 0; index < pixels * units; ++index)
          ASSERT_NEAR(out[static_cast<std::size_t>(index)], expected[static_cast<std::size_t>(index)],
                      1e-4 * (1.0 + std::abs(expected[static_cast<std::size_t>(index)])))
              << what << ", output " << index;
      }
}

// A map of 256 input channels: the copy of a border tile's windows does not fit 12 pixels (one block
// alone) or 6 (two), and the kernels run smaller tiles. Two ranges of one block each, in one call, equal
// them one by one bit for bit, and the plain layer in double precision.
TEST(ConvolutionTiles, WideInputsRunSmallerBorderTilesToTheSameValues) {
  const std::int64_t inputs = 256, units = 16;
  const Window window = window_for({5, 20, 3, 1, 1, Padding::same});
  const std::int64_t taps = window.kernel_height * window.kernel_width;
  const std::vector<float> left = random_floats(taps * inputs * 8, 7000);
  const std::vector<float> right = random_floats(taps * inputs * 8, 7001);
  const std::vector<float> input = random_floats(window.in_height * window.in_width * inputs, 7002);
  const std::vector<float> bias = random_floats(units, 7003);
  const WeightSegment segments[] = {{left.data(), 0, inputs, 8, inputs * 8, taps * inputs * 8},
                                    {right.data(), 0, inputs, 8, inputs * 8, taps * inputs * 8}};
  const ColumnRange ranges[] = {{0, 8, &segments[0], 1}, {8, 16, &segments[1], 1}};
  const std::int64_t out_floats = window.out_height * window.out_width * units;
  std::vector<float> together(static_cast<std::size_t>(out_floats + 8), 0.0f), apart = together;
  const MapView in{input.data(), inputs, inputs};
  kernels::conv2d_segmented(window, in, SegmentedWeights{ranges, 2}, bias.data(), nullptr,
                            {together.data(), units, units});
  for (const ColumnRange& range : ranges)
    kernels::conv2d_segmented(window, in, SegmentedWeights{&range, 1}, bias.data(), nullptr,
                              {apart.data(), units, units});
  EXPECT_TRUE(std::equal(together.begin(), together.end(), apart.begin()));
  std::vector<float> plain(static_cast<std::size_t>(taps * inputs * units));
  for (std::int64_t row = 0; row < taps * inputs; ++row)
    for (std::int64_t unit = 0; unit < units; ++unit)
      plain[static_cast<std::size_t>(row * units + unit)] =
          (unit < 8 ? left : right)[static_cast<std::size_t>(row * 8 + unit % 8)];
  const std::vector<double> expected = direct(window, input, inputs, plain, bias, units);
  for (std::int64_t index = 0; index < out_floats; ++index)
    ASSERT_NEAR(together[static_cast<std::size_t>(index)], expected[static_cast<std::size_t>(index)],
                1e-4 * (1.0 + std::abs(expected[static_cast<std::size_t>(index)])))
        << "output " << index;
}

}  // namespace
}  // namespace reds::engine
