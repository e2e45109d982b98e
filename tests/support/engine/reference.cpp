#include "support/engine/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

namespace {

struct Map {
  std::int64_t height = 1, width = 1, channels = 1;
  std::vector<double> values;
  double& at(std::int64_t y, std::int64_t x, std::int64_t c) {
    return values[static_cast<std::size_t>((y * width + x) * channels + c)];
  }
  double at(std::int64_t y, std::int64_t x, std::int64_t c) const {
    return values[static_cast<std::size_t>((y * width + x) * channels + c)];
  }
};

// One axis of a window: the output size and the padding before the first input.
std::pair<std::int64_t, std::int64_t> window_axis(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                                  std::int64_t dilation, engine::Padding padding) {
  const std::int64_t span = (kernel - 1) * dilation + 1;
  if (padding == engine::Padding::valid) return {(in - span) / stride + 1, 0};
  const std::int64_t out = (in + stride - 1) / stride;
  return {out, std::max<std::int64_t>((out - 1) * stride + span - in, 0) / 2};
}

// A unit layer's output channel c from its sum: the map's affine, or the sum plus the layer's bias.
double finish(const engine::Layer& layer, const engine::ChannelMap* map, std::int64_t c, double sum) {
  const auto at = static_cast<std::size_t>(c);
  if (map) return static_cast<double>(map->scale[at]) * sum + static_cast<double>(map->bias[at]);
  return layer.bias.empty() ? sum : sum + static_cast<double>(layer.bias[at]);
}

// Convolution, depthwise convolution and pools: every output pixel's window of valid input pixels.
Map windowed(const engine::Layer& layer, const Map& in, const engine::ChannelMap* map) {
  const auto [out_height, pad_top] =
      window_axis(in.height, layer.kernel_height, layer.stride_height, layer.dilation_height, layer.padding);
  const auto [out_width, pad_left] =
      window_axis(in.width, layer.kernel_width, layer.stride_width, layer.dilation_width, layer.padding);
  const bool pool =
      layer.kind == engine::LayerKind::average_pool2d || layer.kind == engine::LayerKind::max_pool2d;
  const bool depthwise = layer.kind == engine::LayerKind::depthwise_conv2d;
  Map out{out_height,
          out_width,
          pool        ? in.channels
          : depthwise ? in.channels * layer.depth_multiplier
                      : layer.units,
          {}};
  out.values.assign(static_cast<std::size_t>(out.height * out.width * out.channels), 0.0);
  for (std::int64_t y = 0; y < out.height; ++y)
    for (std::int64_t x = 0; x < out.width; ++x)
      for (std::int64_t o = 0; o < out.channels; ++o) {
        double total =
            layer.kind == engine::LayerKind::max_pool2d ? -std::numeric_limits<double>::infinity() : 0.0;
        std::int64_t inside = 0;
        for (std::int64_t ty = 0; ty < layer.kernel_height; ++ty)
          for (std::int64_t tx = 0; tx < layer.kernel_width; ++tx) {
            const std::int64_t iy = y * layer.stride_height - pad_top + ty * layer.dilation_height;
            const std::int64_t ix = x * layer.stride_width - pad_left + tx * layer.dilation_width;
            if (iy < 0 || ix < 0 || iy >= in.height || ix >= in.width) continue;
            ++inside;
            const std::int64_t tap = ty * layer.kernel_width + tx;
            if (layer.kind == engine::LayerKind::average_pool2d) {
              total += in.at(iy, ix, o);
            } else if (layer.kind == engine::LayerKind::max_pool2d) {
              total = std::max(total, in.at(iy, ix, o));
            } else if (depthwise) {
              const std::int64_t c = o / layer.depth_multiplier;
              total += in.at(iy, ix, c) * layer.kernel[static_cast<std::size_t>(tap * out.channels + o)];
            } else {
              for (std::int64_t c = 0; c < in.channels; ++c)
                total += in.at(iy, ix, c) *
                         layer.kernel[static_cast<std::size_t>((tap * in.channels + c) * out.channels + o)];
            }
          }
        if (layer.kind == engine::LayerKind::average_pool2d) total /= static_cast<double>(inside);
        out.at(y, x, o) = pool ? total : finish(layer, map, o, total);
      }
  return out;
}

}  // namespace

std::vector<double> forward(const engine::Model& model, const std::vector<float>& input,
                            const std::vector<engine::ChannelMap>& maps) {
  using engine::LayerKind;
  std::vector<Map> tensors(model.layers.size() + 1);
  tensors[0] = {model.input.height, model.input.width, model.input.channels,
                std::vector<double>(input.begin(), input.end())};
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const engine::Layer& layer = model.layers[index];
    const engine::ChannelMap* map = maps.empty() || maps[index].scale.empty() ? nullptr : &maps[index];
    const Map& in = tensors[layer.inputs.empty() ? index : layer.inputs[0]];
    Map& out = tensors[index + 1];
    switch (layer.kind) {
      case LayerKind::conv2d:
      case LayerKind::depthwise_conv2d:
      case LayerKind::average_pool2d:
      case LayerKind::max_pool2d:
        out = windowed(layer, in, map);
        break;
      case LayerKind::dense: {
        out = {1, 1, layer.units, std::vector<double>(static_cast<std::size_t>(layer.units), 0.0)};
        const std::size_t features = in.values.size();
        for (std::int64_t o = 0; o < layer.units; ++o) {
          double total = 0.0;
          for (std::size_t f = 0; f < features; ++f)
            total += in.values[f] *
                     layer.kernel[f * static_cast<std::size_t>(layer.units) + static_cast<std::size_t>(o)];
          out.values[static_cast<std::size_t>(o)] = finish(layer, map, o, total);
        }
        break;
      }
      case LayerKind::rectifier: {
        out = in;
        const engine::Rectifier& rectifier = layer.rectifier;
        for (double& value : out.values)
          value = value >= rectifier.threshold ? std::min(value, static_cast<double>(rectifier.max_value))
                                               : rectifier.negative_slope * (value - rectifier.threshold);
        break;
      }
      case LayerKind::global_average_pool2d: {
        out = {1, 1, in.channels, std::vector<double>(static_cast<std::size_t>(in.channels), 0.0)};
        for (std::int64_t y = 0; y < in.height; ++y)
          for (std::int64_t x = 0; x < in.width; ++x)
            for (std::int64_t c = 0; c < in.channels; ++c)
              out.values[static_cast<std::size_t>(c)] +=
                  in.at(y, x, c) / static_cast<double>(in.height * in.width);
        break;
      }
      case LayerKind::flatten:
        out = {1, 1, static_cast<std::int64_t>(in.values.size()), in.values};
        break;
      case LayerKind::softmax: {
        out = in;
        for (std::size_t pixel = 0; pixel < out.values.size();
             pixel += static_cast<std::size_t>(in.channels)) {
          double largest = -std::numeric_limits<double>::infinity(), total = 0.0;
          for (std::int64_t c = 0; c < in.channels; ++c)
            largest = std::max(largest, out.values[pixel + static_cast<std::size_t>(c)]);
          for (std::int64_t c = 0; c < in.channels; ++c)
            total += out.values[pixel + static_cast<std::size_t>(c)] =
                std::exp(out.values[pixel + static_cast<std::size_t>(c)] - largest);
          for (std::int64_t c = 0; c < in.channels; ++c)
            out.values[pixel + static_cast<std::size_t>(c)] /= total;
        }
        break;
      }
      case LayerKind::add:
        out = in;
        for (std::size_t operand = 1; operand < layer.inputs.size(); ++operand)
          for (std::size_t at = 0; at < out.values.size(); ++at)
            out.values[at] += tensors[layer.inputs[operand]].values[at];
        break;
      case LayerKind::zero_padding2d: {
        out = {in.height + layer.pad_top + layer.pad_bottom,
               in.width + layer.pad_left + layer.pad_right,
               in.channels,
               {}};
        out.values.assign(static_cast<std::size_t>(out.height * out.width * out.channels), 0.0);
        for (std::int64_t y = 0; y < in.height; ++y)
          for (std::int64_t x = 0; x < in.width; ++x)
            for (std::int64_t c = 0; c < in.channels; ++c)
              out.at(y + layer.pad_top, x + layer.pad_left, c) = in.at(y, x, c);
        break;
      }
    }
  }
  return tensors.back().values;
}

}  // namespace reds::test
