// The average pool kernel on the maps a level hands it: channel counts that are not a multiple of 8 (a
// narrowed layer's, the last block stored in part) read from pixels of the full layer's stride, windows
// that overlap along a row (summed column by column) and windows that do not, padded windows (the mean over
// the pixels inside the input) and rows too wide to be summed column by column. Each case is checked
// against the mean in double precision, and no channel past the level's is written.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels.h"
#include "reds/engine/model.h"
#include "support/engine/reference.h"

namespace reds::engine {
namespace {

struct PoolGeometry {
  std::int64_t height, width, kernel_height, kernel_width, stride;
  Padding padding;
};

kernels::Window pool_window(const PoolGeometry& geometry) {
  kernels::Window window;
  window.in_height = geometry.height;
  window.in_width = geometry.width;
  window.kernel_height = geometry.kernel_height;
  window.kernel_width = geometry.kernel_width;
  window.stride_height = window.stride_width = geometry.stride;
  const kernels::AxisGeometry rows =
      kernels::axis_geometry(geometry.height, geometry.kernel_height, geometry.stride, 1, geometry.padding);
  const kernels::AxisGeometry columns =
      kernels::axis_geometry(geometry.width, geometry.kernel_width, geometry.stride, 1, geometry.padding);
  window.out_height = rows.out;
  window.out_width = columns.out;
  window.pad_top = rows.pad_before;
  window.pad_left = columns.pad_before;
  return window;
}

TEST(AveragePool, EveryWindowAndChannelCountMatchesTheMeanInDoublePrecision) {
  const std::vector<PoolGeometry> geometries = {
      {14, 14, 13, 5, 1, Padding::valid},  // DS-CNN S's pool: overlapping rows and columns
      {5, 9, 3, 3, 1, Padding::same},      // padded, overlapping
      {7, 7, 3, 3, 2, Padding::same},      // stride 2 under a 3-wide window
      {8, 8, 2, 2, 2, Padding::valid},     // windows side by side
      {3, 70, 3, 3, 1, Padding::same},     // a row wider than the column sums hold
      {6, 6, 1, 4, 1, Padding::valid},     // one row per window
  };
  constexpr std::int64_t kPixelStride = 64;  // the full layer's; a level reads a prefix of it
  std::uint64_t seed = 1;
  for (const PoolGeometry& geometry : geometries)
    for (const std::int64_t channels : {1, 5, 8, 13, 24, 29, 36, 40, 48, 61, 64}) {
      const kernels::Window window = pool_window(geometry);
      const std::vector<float> input =
          test::random_floats(static_cast<std::size_t>(geometry.height * geometry.width * kPixelStride),
                              seed++, kernels::kReadPadding);
      constexpr float kUntouched = -7.0f;
      std::vector<float> output(static_cast<std::size_t>(window.out_height * window.out_width * kPixelStride +
                                                         kernels::kReadPadding),
                                kUntouched);
      kernels::average_pool2d(window, {input.data(), kPixelStride, channels},
                              {output.data(), kPixelStride, channels});
      const std::string where =
          std::to_string(geometry.height) + "x" + std::to_string(geometry.width) + " pool " +
          std::to_string(geometry.kernel_height) + "x" + std::to_string(geometry.kernel_width) + " stride " +
          std::to_string(geometry.stride) + ", " + std::to_string(channels) + " channels";
      for (std::int64_t y = 0; y < window.out_height; ++y)
        for (std::int64_t x = 0; x < window.out_width; ++x)
          for (std::int64_t c = 0; c < kPixelStride; ++c) {
            const float got = output[static_cast<std::size_t>((y * window.out_width + x) * kPixelStride + c)];
            if (c >= channels) {
              ASSERT_EQ(got, kUntouched) << where << ": channel " << c << " written";
              continue;
            }
            double total = 0;
            std::int64_t count = 0;
            for (std::int64_t dy = 0; dy < window.kernel_height; ++dy)
              for (std::int64_t dx = 0; dx < window.kernel_width; ++dx) {
                const std::int64_t iy = y * window.stride_height - window.pad_top + dy;
                const std::int64_t ix = x * window.stride_width - window.pad_left + dx;
                if (iy < 0 || ix < 0 || iy >= window.in_height || ix >= window.in_width) continue;
                total += input[static_cast<std::size_t>((iy * window.in_width + ix) * kPixelStride + c)];
                ++count;
              }
            const double mean = total / static_cast<double>(count);
            ASSERT_NEAR(got, mean, 1e-6 * (1.0 + std::abs(mean)))
                << where << ": pixel " << y << "," << x << " channel " << c;
          }
    }
}

}  // namespace
}  // namespace reds::engine
