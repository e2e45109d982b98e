// tests/support/engine/kernel_window.h: the window a kernel test calls a layer with, from its input size,
// kernel, strides, dilation and padding, as the session derives it (kernels::axis_geometry per axis).
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
  const engine::kernels::AxisGeometry rows = engine::kernels::axis_geometry(
      shape.height, shape.kernel_height, shape.stride_height, shape.dilation, shape.padding);
  const engine::kernels::AxisGeometry columns = engine::kernels::axis_geometry(
      shape.width, shape.kernel_width, shape.stride_width, shape.dilation, shape.padding);
  engine::kernels::Window window;
  window.in_height = shape.height;
  window.in_width = shape.width;
  window.out_height = rows.out;
  window.out_width = columns.out;
  window.kernel_height = shape.kernel_height;
  window.kernel_width = shape.kernel_width;
  window.stride_height = shape.stride_height;
  window.stride_width = shape.stride_width;
  window.dilation_height = window.dilation_width = shape.dilation;
  window.pad_top = rows.pad_before;
  window.pad_left = columns.pad_before;
  return window;
}

// What kernels::rectify makes of `value`, in double precision.
inline double rectified(const engine::Rectifier& rectifier, double value) {
  return value >= rectifier.threshold ? std::min<double>(value, rectifier.max_value)
                                      : rectifier.negative_slope * (value - rectifier.threshold);
}

}  // namespace reds::test
