// schedule_layers() on small graphs worked out by hand (what each call fuses, which maps it keeps, where it
// writes), and set_scheduled_activation() refusing graphs it cannot schedule, as reds.torch may hand it.
#include "reds/models/layer_schedule.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace reds::models {
namespace {

using Kind = ScheduledKind;

// input -> conv -> relu -> conv -> relu -> pad -> conv (reads the padded map) -> add(conv, first relu) ->
// relu
// -> flatten -> dense: the request layers are the convolutions and the dense layer.
const std::vector<ScheduledLayer> kResidualBlock = {{Kind::convolution, {0}, 0},
                                                    {Kind::rectifier, {1}, std::nullopt},
                                                    {Kind::convolution, {2}, 1},
                                                    {Kind::rectifier, {3}, std::nullopt},
                                                    {Kind::zero_padding, {4}, std::nullopt},
                                                    {Kind::convolution, {5}, 2},
                                                    {Kind::addition, {6, 2}, std::nullopt},
                                                    {Kind::rectifier, {7}, std::nullopt},
                                                    {Kind::flatten, {8}, std::nullopt},
                                                    {Kind::dense, {9}, 3}};

TEST(LayerSchedule, ABlockFusesItsRectifiersPaddingAndAddition) {
  const LayerSchedule schedule = schedule_layers(kResidualBlock);
  ASSERT_EQ(schedule.calls.size(), 4u);
  const LayerCall& first = schedule.calls[0];
  EXPECT_EQ(first.layer, 0u);
  EXPECT_EQ(first.fused_rectifier, 1u);
  EXPECT_FALSE(first.in_place);
  EXPECT_EQ(schedule.calls[1].layer, 2u);
  EXPECT_EQ(schedule.calls[1].fused_rectifier, 3u);
  // The last convolution reads the unpadded map, adds its sums onto the block's input (which dies at the
  // addition) where it lies, and applies the rectifier after the addition.
  const LayerCall& last = schedule.calls[2];
  EXPECT_EQ(last.layer, 5u);
  EXPECT_EQ(last.fused_padding, 4u);
  EXPECT_EQ(last.fused_add, 6u);
  EXPECT_EQ(last.fused_rectifier, 7u);
  EXPECT_EQ(last.last_layer(), 7u);
  EXPECT_EQ(last.operands, (std::vector<std::size_t>{4}));
  EXPECT_EQ(last.resident, (std::vector<std::size_t>{4, 2}));
  EXPECT_TRUE(last.in_place);
  EXPECT_EQ(last.output_buffer, first.output_buffer);
  // The flatten is no call: the dense layer reads the block's output where it lies.
  const LayerCall& head = schedule.calls[3];
  EXPECT_EQ(head.layer, 9u);
  EXPECT_EQ(head.operands, (std::vector<std::size_t>{9}));
  EXPECT_EQ(head.input_buffers, (std::vector<int>{first.output_buffer}));
  EXPECT_EQ(schedule.output_buffer, head.output_buffer);
  EXPECT_EQ(schedule.buffer_count, 2);
}

TEST(LayerSchedule, AMapReadLaterStaysResidentAndTakesNoFusion) {
  // input -> conv -> relu, whose map the next convolution reads and the addition after a grouped
  // convolution adds.
  const std::vector<ScheduledLayer> layers = {{Kind::convolution, {0}, 0},
                                              {Kind::rectifier, {1}, std::nullopt},
                                              {Kind::convolution, {2}, 1},
                                              {Kind::grouped_convolution, {3}, std::nullopt},
                                              {Kind::addition, {4, 2}, std::nullopt}};
  const LayerSchedule schedule = schedule_layers(layers);
  ASSERT_EQ(schedule.calls.size(), 4u);
  EXPECT_EQ(schedule.calls[0].fused_rectifier, 1u);
  // The convolution after it is not followed by the addition: nothing joins it, and the block's input
  // stays in memory while it and the grouped convolution run.
  EXPECT_FALSE(schedule.calls[1].fused_add);
  EXPECT_EQ(schedule.calls[1].resident, (std::vector<std::size_t>{2}));
  EXPECT_EQ(schedule.calls[2].resident, (std::vector<std::size_t>{3, 2}));  // by buffer
  // The addition writes over an operand that dies there.
  EXPECT_EQ(schedule.calls[3].layer, 4u);
  EXPECT_TRUE(schedule.calls[3].in_place);
  EXPECT_EQ(schedule.buffer_count, 3);
}

std::string refusal(const std::vector<ScheduledLayer>& layers, const std::vector<LiveMap>& maps) {
  Network network;
  network.name = "tiny";
  network.inputs = 3;
  network.resources = {{"activation", Aggregation::max}};
  for (const char* name : {"a", "b", "c", "d"}) {
    reds::Layer& layer = network.layers.emplace_back();
    layer.name = name;
    layer.units = 4;
    layer.importance.assign(4, 1.0);
  }
  const std::optional<Error> error = set_scheduled_activation(network, layers, maps);
  EXPECT_TRUE(error);
  if (!error) return "";
  EXPECT_EQ(error->code, ErrorCode::invalid_argument);
  return error->message;
}

TEST(ScheduledActivation, GraphsItCannotScheduleAreRefused) {
  const std::vector<LiveMap> maps(kResidualBlock.size() + 1, LiveMap{0, 16});
  EXPECT_EQ(refusal(kResidualBlock, std::vector<LiveMap>(3, LiveMap{0, 16})),
            "the graph has 10 layers and 3 maps; it needs one map more than layers");
  std::vector<ScheduledLayer> later = kResidualBlock;
  later[1].inputs = {3};
  EXPECT_EQ(refusal(later, maps), "layer 1 reads map 3, computed after it");
  std::vector<ScheduledLayer> none = kResidualBlock;
  none[2].inputs.clear();
  EXPECT_EQ(refusal(none, maps), "layer 2 reads no map");
  std::vector<ScheduledLayer> lone = kResidualBlock;
  lone[6].inputs = {6};
  EXPECT_EQ(refusal(lone, maps), "layer 6 is an addition of fewer than two maps");
  std::vector<ScheduledLayer> two = kResidualBlock;
  two[3].inputs = {3, 2};
  EXPECT_EQ(refusal(two, maps), "layer 3 reads 2 maps, not one");
  std::vector<ScheduledLayer> unknown = kResidualBlock;
  unknown[9].request_layer = 4;
  EXPECT_EQ(refusal(unknown, maps), "layer 9 computes request layer 4 of 4");
  std::vector<LiveMap> wide = maps;
  wide[2].layer = 5;
  EXPECT_EQ(refusal(kResidualBlock, wide), "a map's width is request layer 5 of 4");
}

}  // namespace
}  // namespace reds::models
