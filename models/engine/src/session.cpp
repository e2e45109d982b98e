#include "reds/engine/session.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "kernels.h"
#include "level_shapes.h"
#include "schedule.h"

namespace reds::engine {

namespace {

using detail::BufferPlan;
using detail::LevelShape;
using detail::Schedule;

// The tensor a layer reads (an addition's first operand): tensor i + 1 is layers[i]'s output.
std::size_t first_input(const Layer& layer, std::size_t index) {
  return layer.inputs.empty() ? index : layer.inputs[0];
}

// A layer's weights seen as taps x rows x columns: weight(t, r, c) = kernel[(t * rows + r) * columns + c].
// Rows are input channels (a Dense layer after Flatten: the features of one pixel, the pixels being its
// taps), columns are the layer's units; a depthwise layer has one row per tap.
struct TappedMatrix {
  const float* kernel = nullptr;
  std::int64_t taps = 1;
  std::int64_t rows = 1;
  std::int64_t columns = 1;
};

// The rows and columns one level uses.
struct UsedExtent {
  std::int64_t rows = 0;
  std::int64_t columns = 0;
};

// Segments and ranges as offsets and indices while the weight buffer grows; pointers once it is complete.
struct SegmentPlan {
  std::int64_t offset = 0;  // into the weight buffer
  std::int64_t first_row = 0, end_row = 0, row_stride = 0, tap_stride = 0, panel_stride = 0;
};
struct RangePlan {
  std::int64_t first = 0, end = 0;
  std::size_t first_segment = 0, segment_count = 0;
};
struct RangeList {
  std::size_t first_range = 0, range_count = 0;
};

class WeightArena {
 public:
  // Appends the values and at least kReadPadding zeros, up to a multiple of 16 floats, so that every
  // buffer starts on 64 bytes; returns the values' offset.
  std::int64_t append(const float* values, std::size_t count) {
    const auto offset = static_cast<std::int64_t>(floats_.size());
    floats_.insert(floats_.end(), values, values + count);
    const std::size_t end = (floats_.size() + static_cast<std::size_t>(kernels::kReadPadding) + 15) / 16 * 16;
    floats_.resize(end, 0.0f);
    return offset;
  }

  // The whole matrix; every level reads a prefix of its rows and columns. Returns each level's ranges.
  std::vector<RangeList> add_strided(const TappedMatrix& matrix, const std::vector<UsedExtent>& levels) {
    const std::int64_t offset =
        append(matrix.kernel, static_cast<std::size_t>(matrix.taps * matrix.rows * matrix.columns));
    std::vector<RangeList> lists;
    for (const UsedExtent& level : levels) {
      const std::size_t first_segment = segments_.size();
      segments_.push_back(
          {offset, 0, level.rows, matrix.columns, matrix.rows * matrix.columns, kernels::kVectorLanes});
      lists.push_back({ranges_.size(), 1});
      ranges_.push_back({0, level.columns, first_segment, 1});
    }
    return lists;
  }

  // A depthwise kernel [taps][channels]: as it is, or in panels of 8 channels, taps x 8 each, so that a
  // level's channels are a prefix of whole panels. One range per level.
  std::vector<RangeList> add_depthwise(const TappedMatrix& matrix, const std::vector<UsedExtent>& levels,
                                       bool panels) {
    const std::int64_t lanes = kernels::kVectorLanes;
    std::int64_t offset = 0, panel_stride = lanes, tap_stride = matrix.columns;
    if (!panels) {
      offset = append(matrix.kernel, static_cast<std::size_t>(matrix.taps * matrix.columns));
    } else {
      std::vector<float> values;
      for (std::int64_t first = 0; first < matrix.columns; first += lanes)
        for (std::int64_t tap = 0; tap < matrix.taps; ++tap)
          for (std::int64_t channel = first; channel < first + lanes; ++channel)
            values.push_back(channel < matrix.columns ? matrix.kernel[tap * matrix.columns + channel] : 0.0f);
      offset = append(values.data(), values.size());
      panel_stride = matrix.taps * lanes;
      tap_stride = lanes;
    }
    std::vector<RangeList> lists;
    for (const UsedExtent& level : levels) {
      lists.push_back({ranges_.size(), 1});
      ranges_.push_back({0, level.columns, segments_.size(), 1});
      segments_.push_back({offset, 0, 1, 0, tap_stride, panel_stride});
    }
    return lists;
  }

  // Nested blocks (session.h). Level i's column strip holds rows [0, rows_i) of columns
  // [aligned(columns_{i-1}), columns_i), its row strip rows [rows_{i-1}, rows_i) of columns
  // [0, aligned(columns_{i-1})), where aligned() rounds down to a multiple of the kernels' 8 lanes; each is
  // stored in panels of 8 columns (kernels.h), level after level. A larger level j computes the columns
  // [aligned(columns_{i-1}), aligned(columns_i)) of every earlier level i from level i's column strip and
  // the row strips of levels i+1..j, and its own last columns from its own column strip. So every range but
  // a level's last is a whole number of 8-lane blocks (ranges of a width like 3 would cost a whole block
  // each), at the price of storing the up to 7 columns past an aligned boundary twice: in level i's column
  // strip, which level i reads, and in level i+1's, which the larger levels read.
  std::vector<RangeList> add_nested(const TappedMatrix& matrix, const std::vector<UsedExtent>& levels) {
    struct Block {
      std::int64_t offset = 0, first_row = 0, end_row = 0, first_column = 0, end_column = 0;
      std::int64_t width() const { return end_column - first_column; }
      std::int64_t height() const { return end_row - first_row; }
    };
    const auto aligned = [](std::int64_t columns) { return columns - columns % kernels::kVectorLanes; };
    std::vector<float> values;
    std::vector<Block> column_strips, row_strips;  // index i: level i's (level 0's block is its column strip)
    const std::int64_t start = static_cast<std::int64_t>(floats_.size());
    // A block in panels of 8 columns (the last one padded with zeros), each panel taps x rows x 8.
    const std::int64_t lanes = kernels::kVectorLanes;
    const auto add_block = [&](std::int64_t first_row, std::int64_t end_row, std::int64_t first_column,
                               std::int64_t end_column) {
      Block block{start + static_cast<std::int64_t>(values.size()), first_row, end_row, first_column,
                  end_column};
      for (std::int64_t panel = first_column; panel < end_column; panel += lanes)
        for (std::int64_t tap = 0; tap < matrix.taps; ++tap)
          for (std::int64_t row = first_row; row < end_row; ++row) {
            const float* from = matrix.kernel + (tap * matrix.rows + row) * matrix.columns;
            for (std::int64_t column = panel; column < panel + lanes; ++column)
              values.push_back(column < end_column ? from[column] : 0.0f);
          }
      return block;
    };
    for (std::size_t level = 0; level < levels.size(); ++level) {
      const UsedExtent before = level == 0 ? UsedExtent{} : levels[level - 1];
      column_strips.push_back(
          add_block(0, levels[level].rows, aligned(before.columns), levels[level].columns));
      row_strips.push_back(add_block(before.rows, levels[level].rows, 0, aligned(before.columns)));
    }
    append(values.data(), values.size());

    std::vector<RangeList> lists;
    for (std::size_t level = 0; level < levels.size(); ++level) {
      RangeList list{ranges_.size(), 0};
      for (std::size_t added = 0; added <= level; ++added) {
        const Block& columns = column_strips[added];
        const std::int64_t end = added == level ? columns.end_column : aligned(columns.end_column);
        if (end == columns.first_column) continue;
        RangePlan range{columns.first_column, end, segments_.size(), 0};
        const auto add_segment = [&](const Block& block, std::int64_t column_offset) {
          if (block.height() == 0) return;
          const std::int64_t tap_stride = block.height() * lanes;
          segments_.push_back({block.offset + column_offset / lanes * matrix.taps * tap_stride,
                               block.first_row, block.end_row, lanes, tap_stride, matrix.taps * tap_stride});
          ++range.segment_count;
        };
        add_segment(columns, 0);
        for (std::size_t later = added + 1; later <= level; ++later)
          add_segment(row_strips[later], columns.first_column);
        ranges_.push_back(range);
        ++list.range_count;
      }
      lists.push_back(list);
    }
    return lists;
  }

  detail::AlignedFloats floats_;
  std::vector<SegmentPlan> segments_;
  std::vector<RangePlan> ranges_;
};

bool grows(const std::vector<UsedExtent>& levels) {
  for (std::size_t level = 1; level < levels.size(); ++level)
    if (levels[level].rows < levels[level - 1].rows || levels[level].columns < levels[level - 1].columns)
      return false;
  return true;
}

}  // namespace

Result<Session> Session::create(const Model& model, const SessionOptions& options) {
  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  if (!shapes) return shapes.error();
  if (auto error = validate(model)) return *error;

  Session session;
  for (const Layer& layer : model.layers) session.rectifiers_.push_back(layer.rectifier);
  session.input_shape_ = model.input;
  session.output_size_ = shapes->back().size();
  std::int64_t largest = model.input.size();
  for (const Shape& shape : shapes.value()) largest = std::max(largest, shape.size());
  const BufferPlan buffers = detail::schedule(model);
  session.buffers_.assign(
      static_cast<std::size_t>(buffers.buffer_count),
      detail::AlignedFloats(static_cast<std::size_t>(largest + kernels::kReadPadding), 0.0f));

  // Every level's shapes and what it computes.
  const std::size_t levels = model.plan ? model.plan->widths.size() : 1;
  std::vector<std::vector<LevelShape>> level_shapes;
  for (std::size_t level = 0; level < levels; ++level) {
    std::optional<std::vector<std::int64_t>> widths;
    if (model.plan) {
      Result<std::vector<std::int64_t>> planned = detail::plan_widths(model, *model.plan, level);
      if (!planned) return planned.error();
      widths = std::move(planned).value();
    }
    Result<std::vector<LevelShape>> shapes_at_level = detail::level_shapes(model, shapes.value(), widths);
    if (!shapes_at_level) return shapes_at_level.error();
    level_shapes.push_back(std::move(shapes_at_level).value());

    LevelInfo info;
    for (std::size_t index = 0; index < model.layers.size(); ++index) {
      const Layer& layer = model.layers[index];
      if (!detail::is_unit_layer(layer.kind)) continue;
      info.widths.emplace_back(layer.name, level_shapes.back()[index + 1].channels);
      info.macs += detail::layer_macs(layer, level_shapes.back()[first_input(layer, index)],
                                      level_shapes.back()[index + 1]);
    }
    session.infos_.push_back(std::move(info));
  }

  // The weights: biases whole (a level reads a prefix), kernels nested or strided per level.
  WeightArena arena;
  std::vector<std::int64_t> kernel_offsets(model.layers.size(), -1), bias_offsets(model.layers.size(), -1);
  std::vector<std::vector<RangeList>> layer_ranges(model.layers.size());
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    if (!detail::is_unit_layer(layer.kind)) continue;
    if (!layer.bias.empty()) bias_offsets[index] = arena.append(layer.bias.data(), layer.bias.size());
    const std::size_t input = first_input(layer, index);
    const Shape& full_input = level_shapes[0][input].full;
    const bool grouped = (layer.kind == LayerKind::conv2d && layer.groups > 1) ||
                         (layer.kind == LayerKind::depthwise_conv2d && layer.depth_multiplier > 1);
    if (grouped) {
      kernel_offsets[index] = arena.append(layer.kernel.data(), layer.kernel.size());
      continue;
    }
    TappedMatrix matrix{layer.kernel.data(), layer.kernel_height * layer.kernel_width, full_input.channels,
                        layer.units};
    if (layer.kind == LayerKind::depthwise_conv2d) matrix.rows = 1, matrix.columns = full_input.channels;
    if (layer.kind == LayerKind::dense) {
      matrix.taps = level_shapes[0][input].groups;  // pixels before a Flatten, the same at every level
      matrix.rows = full_input.channels / matrix.taps;
    }
    std::vector<UsedExtent> used;
    for (const std::vector<LevelShape>& level : level_shapes) {
      const LevelShape& in = level[input];
      used.push_back(
          {layer.kind == LayerKind::depthwise_conv2d ? 1 : in.group_features, level[index + 1].channels});
    }
    const bool nested = options.layout == WeightLayout::nested;
    if (layer.kind == LayerKind::depthwise_conv2d)
      layer_ranges[index] = arena.add_depthwise(matrix, used, nested);
    else
      layer_ranges[index] =
          nested && grows(used) ? arena.add_nested(matrix, used) : arena.add_strided(matrix, used);
  }
  // Per-level statistics: every level's scale and bias of every layer it maps, after all the weights (a
  // model without them keeps its layout). Offsets per level and layer, -1 for none.
  std::vector<std::vector<std::int64_t>> scale_offsets, map_bias_offsets;
  if (model.plan && !model.plan->level_maps.empty()) {
    for (const std::vector<ChannelMap>& maps : model.plan->level_maps) {
      scale_offsets.emplace_back(model.layers.size(), -1);
      map_bias_offsets.emplace_back(model.layers.size(), -1);
      for (std::size_t index = 0; index < maps.size(); ++index) {
        if (maps[index].scale.empty()) continue;
        scale_offsets.back()[index] = arena.append(maps[index].scale.data(), maps[index].scale.size());
        map_bias_offsets.back()[index] = arena.append(maps[index].bias.data(), maps[index].bias.size());
      }
    }
  }
  session.weights_ = std::move(arena.floats_);
  for (const SegmentPlan& segment : arena.segments_)
    session.segments_.push_back({session.weights_.data() + segment.offset, segment.first_row, segment.end_row,
                                 segment.row_stride, segment.tap_stride, segment.panel_stride});
  for (const RangePlan& range : arena.ranges_)
    session.ranges_.push_back({range.first, range.end, session.segments_.data() + range.first_segment,
                               static_cast<std::int64_t>(range.segment_count)});

  session.output_ = session.buffers_[static_cast<std::size_t>(buffers.output_buffer)].data();
  for (std::size_t level = 0; level < levels; ++level) {
    for (const Schedule& scheduled : buffers.calls) {
      const std::size_t index = scheduled.layer;
      const Layer& layer = model.layers[index];
      const LevelShape& in = level_shapes[level][scheduled.operands[0]];
      const LevelShape& out = level_shapes[level][index + 1];
      const auto buffer = [&](int number) {
        return session.buffers_[static_cast<std::size_t>(number)].data();
      };
      float* input_data = buffer(scheduled.input_buffers[0]);
      float* output_data = buffer(scheduled.output_buffer);
      KernelCall call;
      call.kind = scheduled.kind;
      call.layer = index;
      if (scheduled.fused_padding) {
        // The window over the padded map, moved onto the unpadded one: taps on the padding read nothing.
        const Layer& padding = model.layers[*scheduled.fused_padding];
        call.window = kernels::window_of(layer, level_shapes[level][index].full, out.full);
        call.window.in_height = in.full.height;
        call.window.in_width = in.full.width;
        call.window.pad_top += padding.pad_top;
        call.window.pad_left += padding.pad_left;
      } else {
        call.window = kernels::window_of(layer, in.full, out.full);
      }
      call.input = {input_data, in.channels, in.channels};
      call.output = {output_data, out.channels, out.channels};
      call.bias = bias_offsets[index] < 0 ? nullptr : session.weights_.data() + bias_offsets[index];
      if (!scale_offsets.empty() && scale_offsets[level][index] >= 0) {
        call.scale = session.weights_.data() + scale_offsets[level][index];
        call.bias = session.weights_.data() + map_bias_offsets[level][index];
      }
      if (scheduled.fused_rectifier) call.rectifier = &session.rectifiers_[*scheduled.fused_rectifier];
      call.accumulate = scheduled.fused_add.has_value();
      if (!layer_ranges[index].empty()) {
        const RangeList& ranges = layer_ranges[index][level];
        call.segmented = {session.ranges_.data() + ranges.first_range,
                          static_cast<std::int64_t>(ranges.range_count)};
      }
      const float* kernel =
          kernel_offsets[index] < 0 ? nullptr : session.weights_.data() + kernel_offsets[index];
      switch (scheduled.kind) {
        case CallKind::conv2d:
          if (layer.kind == LayerKind::depthwise_conv2d) {
            // Depth multiplier m: the grouped convolution with one group of m outputs per input channel.
            call.weights = {kernel, in.full.channels * layer.depth_multiplier, 1};
            call.groups = in.channels;
          } else if (layer.groups > 1) {
            call.weights = {kernel, layer.units, in.full.channels / layer.groups};
            call.groups = layer.groups;
          }
          break;
        case CallKind::dense:
          call.dense_input = {input_data, in.groups, in.group_features, in.group_stride};
          break;
        case CallKind::rectifier:
          call.rectifier = &session.rectifiers_[index];
          break;
        case CallKind::zero_padding2d:
          call.window.pad_top = layer.pad_top;
          call.window.pad_left = layer.pad_left;
          break;
        case CallKind::add:
          // n operands: n - 1 calls, each adding one more into the output; the rectifier on the last.
          for (std::size_t operand = 1; operand < scheduled.input_buffers.size(); ++operand) {
            KernelCall sum = call;
            if (operand > 1) sum.input.data = output_data;
            sum.addend = buffer(scheduled.input_buffers[operand]);
            if (operand + 1 < scheduled.input_buffers.size()) sum.rectifier = nullptr;
            session.calls_.push_back(sum);
          }
          continue;
        case CallKind::depthwise_conv2d:
        case CallKind::softmax:
        case CallKind::average_pool2d:
        case CallKind::max_pool2d:
        case CallKind::global_average_pool2d:
          break;
      }
      session.calls_.push_back(call);
    }
    if (level == 0) session.calls_per_level_ = session.calls_.size();
  }
  session.set_level(0);
  return session;
}

namespace {

// A rectifier's or softmax's input, still read later, copied to where it computes in place.
void copy_map(const KernelCall& call, std::int64_t pixels) {
  std::copy(call.input.data, call.input.data + pixels * call.output.channels, call.output.data);
}

}  // namespace

std::span<const float> Session::run(std::span<const float> input) {
  if (static_cast<std::int64_t>(input.size()) != input_size()) return {};
  std::copy(input.begin(), input.end(), buffers_[0].begin());
  auto lap = call_nanoseconds_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  for (const KernelCall* call = active_; call != active_ + calls_per_level_; ++call) {
    const kernels::Window& window = call->window;
    const std::int64_t pixels = window.out_height * window.out_width;
    switch (call->kind) {
      case CallKind::conv2d:
        if (call->segmented.ranges)
          kernels::conv2d_segmented(window, call->input, call->segmented, call->bias, call->rectifier,
                                    call->output, call->accumulate, call->scale);
        else
          kernels::conv2d(window, call->input, call->weights, call->bias, call->groups, call->rectifier,
                          call->output, call->scale);
        break;
      case CallKind::depthwise_conv2d:
        kernels::depthwise_conv2d_segmented(window, call->input, call->segmented, call->bias, call->rectifier,
                                            call->output, call->scale);
        break;
      case CallKind::dense:
        kernels::dense_segmented(call->dense_input, call->segmented, call->bias, call->rectifier,
                                 call->output.data, call->scale);
        break;
      case CallKind::rectifier:
        if (call->input.data != call->output.data) copy_map(*call, pixels);
        kernels::rectify(*call->rectifier, call->output.data, pixels * call->output.channels);
        break;
      case CallKind::softmax:
        if (call->input.data != call->output.data) copy_map(*call, pixels);
        kernels::softmax(call->output.data, pixels, call->output.channels);
        break;
      case CallKind::add:
        kernels::add(call->input.data, call->addend, pixels * call->output.channels, call->rectifier,
                     call->output.data);
        break;
      case CallKind::zero_padding2d:
        kernels::zero_padding2d(window, call->input, call->output);
        break;
      case CallKind::average_pool2d:
        kernels::average_pool2d(window, call->input, call->output);
        break;
      case CallKind::max_pool2d:
        kernels::max_pool2d(window, call->input, call->output);
        break;
      case CallKind::global_average_pool2d:
        kernels::global_average_pool2d(call->input, window.in_height * window.in_width, call->output.data);
        break;
    }
    if (call_nanoseconds_) [[unlikely]] {
      const auto now = std::chrono::steady_clock::now();
      call_nanoseconds_[call - active_] =
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - lap).count();
      lap = now;
    }
  }
  return {output_, static_cast<std::size_t>(output_size_)};
}

std::span<const float> Session::run_timed(std::span<const float> input,
                                          std::span<std::int64_t> call_nanoseconds) {
  if (call_nanoseconds.size() != calls_per_level_) return {};
  call_nanoseconds_ = call_nanoseconds.data();
  const std::span<const float> output = run(input);
  call_nanoseconds_ = nullptr;
  return output;
}

bool Session::run_batch(std::span<const float> inputs, std::span<float> outputs) {
  const auto in_size = static_cast<std::size_t>(input_size());
  const auto out_size = static_cast<std::size_t>(output_size_);
  if (inputs.size() % in_size != 0 || outputs.size() != inputs.size() / in_size * out_size) return false;
  for (std::size_t image = 0; image < inputs.size() / in_size; ++image) {
    const std::span<const float> result = run(inputs.subspan(image * in_size, in_size));
    std::copy(result.begin(), result.end(), outputs.begin() + static_cast<std::ptrdiff_t>(image * out_size));
  }
  return true;
}

}  // namespace reds::engine
