#include "support/engine/reference.h"

#include <algorithm>

#include "reds/splitmix64.h"

namespace reds::test {

std::vector<float> random_floats(std::size_t count, std::uint64_t seed, std::size_t trailing_zeros) {
  SplitMix64 random(seed);
  std::vector<float> values(count + trailing_zeros, 0.0f);
  for (std::size_t index = 0; index < count; ++index)
    values[index] = static_cast<float>(random.next() % 2001) / 1000.0f - 1.0f;
  return values;
}

std::vector<double> convolve(const std::vector<double>& in, std::int64_t size, std::int64_t channels,
                             const engine::Layer& layer, std::int64_t pad_top, std::int64_t pad_left,
                             std::int64_t out_size) {
  std::vector<double> out(static_cast<std::size_t>(out_size * out_size * layer.units));
  const std::int64_t kernel = layer.kernel_height;
  for (std::int64_t y = 0; y < out_size; ++y)
    for (std::int64_t x = 0; x < out_size; ++x)
      for (std::int64_t unit = 0; unit < layer.units; ++unit) {
        double total = layer.bias[static_cast<std::size_t>(unit)];
        for (std::int64_t dy = 0; dy < kernel; ++dy)
          for (std::int64_t dx = 0; dx < kernel; ++dx) {
            const std::int64_t iy = y + dy - pad_top, ix = x + dx - pad_left;
            if (iy < 0 || ix < 0 || iy >= size || ix >= size) continue;
            for (std::int64_t c = 0; c < channels; ++c)
              total += in[static_cast<std::size_t>((iy * size + ix) * channels + c)] *
                       layer.kernel[static_cast<std::size_t>(
                           ((dy * kernel + dx) * channels + c) * layer.units + unit)];
          }
        out[static_cast<std::size_t>((y * out_size + x) * layer.units + unit)] = total;
      }
  return out;
}

std::vector<double> rectified(std::vector<double> values) {
  for (double& value : values) value = std::max(value, 0.0);
  return values;
}

std::vector<double> dense(const std::vector<double>& features, const engine::Layer& layer) {
  const auto units = static_cast<std::size_t>(layer.units);
  std::vector<double> out(units);
  for (std::size_t unit = 0; unit < units; ++unit) {
    out[unit] = layer.bias[unit];
    for (std::size_t feature = 0; feature < features.size(); ++feature)
      out[unit] += features[feature] * layer.kernel[feature * units + unit];
  }
  return out;
}

}  // namespace reds::test
