// tests/support/engine/kernel_window.h: the window a kernel test calls a layer with, from its input size,
// kernel, strides, dilation and padding, as the session derives it (kernels::window_of).
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels.h"

namespace reds::test {

struct WindowShape {
  std::int64_t height = 0, width = 0, kernel_height = 0, kernel_width = 0;
  std::int64_t stride_height = 1, stride_width = 1, dilation = 1;
  engine::Padding padding = engine::Padding::valid;
};

inline engine::kernels::Window kernel_window(const WindowShape& shape) {
  engine::Layer layer;
  layer.kernel_height = shape.kernel_height;
  layer.kernel_width = shape.kernel_width;
  layer.stride_height = shape.stride_height;
  layer.stride_width = shape.stride_width;
  layer.dilation_height = layer.dilation_width = shape.dilation;
  layer.padding = shape.padding;
  engine::Shape input, output;
  input.height = shape.height;
  input.width = shape.width;
  output.height = engine::kernels::axis_geometry(shape.height, shape.kernel_height, shape.stride_height,
                                                 shape.dilation, shape.padding)
                      .out;
  output.width = engine::kernels::axis_geometry(shape.width, shape.kernel_width, shape.stride_width,
                                                shape.dilation, shape.padding)
                     .out;
  return engine::kernels::window_of(layer, input, output);
}

// What kernels::rectify makes of `value`, in double precision.
inline double rectified(const engine::Rectifier& rectifier, double value) {
  return value >= rectifier.threshold ? std::min<double>(value, rectifier.max_value)
                                      : rectifier.negative_slope * (value - rectifier.threshold);
}

}  // namespace reds::test
