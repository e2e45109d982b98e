// set_peak_activation() against brute force: at every width a small residual network allows, the request's
// `activation` equals the largest live set of any step, steps without units included, whichever way they
// were priced (covered by a layer, a layer's cost raised, or a table).
#include "reds/models/peak_activation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "reds/contract.h"

namespace reds::models {
namespace {

Layer& add_layer(Network& network, const std::string& name, std::int64_t units) {
  Layer entry;
  entry.name = name;
  entry.units = units;
  entry.importance.assign(static_cast<std::size_t>(units), 1.0);
  network.layers.push_back(entry);
  return network.layers.back();
}

Network empty_network() {
  Network network;
  network.name = "tiny";
  network.inputs = 3;
  network.resources = {{"activation", Aggregation::max}};
  return network;
}

LiveMap of(std::size_t layer, std::int64_t bytes) { return LiveMap{layer, bytes}; }
const LiveMap kInput{std::nullopt, 3 * 36};  // the network's input: 3 channels of 36 bytes

// stem (8 units, stream "stem") -> inner (6) -> back (stream "stem"), added to the stem's output, padded
// -> head (2, pinned).
struct Case {
  Network network;
  std::vector<ScheduleStep> steps;
};

Case residual(std::int64_t stem_min_units) {
  Case c{empty_network(), {}};
  add_layer(c.network, "stem", 8).stream = "stem";
  c.network.layers.back().min_units = stem_min_units;
  add_layer(c.network, "inner", 6).min_units = 2;
  add_layer(c.network, "back", 8).stream = "stem";
  add_layer(c.network, "head", 2).prunable = false;
  c.steps.push_back({0, 0, kInput, {kInput, of(0, 36)}});
  c.steps.push_back({1, 1, of(0, 36), {of(0, 36), of(1, 36)}});
  c.steps.push_back({2, 2, of(1, 36), {of(0, 36), of(1, 36), of(2, 36)}});
  // The addition, in place: covered by `back`.
  c.steps.push_back({std::nullopt, 3, std::nullopt, {of(0, 36), of(2, 36)}});
  // A zero padding of the sum: neither covered nor covering `back` at every allowed width (then the head
  // takes it) unless the stem keeps 6 channels or more (then `back` does).
  c.steps.push_back({std::nullopt, 3, std::nullopt, {of(2, 36), of(2, 40)}});
  c.steps.push_back({3, 3, of(2, 40), {of(2, 40), of(3, 4)}});
  return c;
}

// stem (8, from 1) -> pool -> head (2, pinned): the pool's 60 bytes per channel cross the stem's 108 + 36 k
// at k = 4.5, so the stem's cost takes the difference as a table.
Case pooled() {
  Case c{empty_network(), {}};
  add_layer(c.network, "stem", 8);
  add_layer(c.network, "head", 2).prunable = false;
  c.steps.push_back({0, 0, kInput, {kInput, of(0, 36)}});
  c.steps.push_back({std::nullopt, 1, std::nullopt, {of(0, 36), of(0, 24)}});
  c.steps.push_back({1, 1, of(0, 1), {of(0, 1), of(1, 4)}});
  return c;
}

std::int64_t largest_live_set(const std::vector<ScheduleStep>& steps,
                              const std::vector<std::int64_t>& widths) {
  std::int64_t largest = 0;
  for (const ScheduleStep& step : steps) {
    std::int64_t bytes = 0;
    for (const LiveMap& map : step.live) bytes += map.layer ? map.bytes * widths[*map.layer] : map.bytes;
    largest = std::max(largest, bytes);
  }
  return largest;
}

// Every width vector the network allows (streams share one width), checked against brute force.
void expect_exact(Case c, const std::vector<std::vector<std::int64_t>>& all_widths) {
  ASSERT_FALSE(set_peak_activation(c.network, c.steps).has_value());
  PlanRequest request;
  request.network = c.network;
  request.levels = {Level{{{"activation", Limit::of_fraction(1.0)}}}};
  const std::optional<Error> error = validate(request);
  ASSERT_FALSE(error.has_value()) << error->path << ": " << error->message;
  ASSERT_FALSE(all_widths.empty());
  for (const std::vector<std::int64_t>& widths : all_widths)
    EXPECT_EQ(network_cost(c.network, widths).at("activation"), largest_live_set(c.steps, widths))
        << testing::PrintToString(widths);
}

TEST(PeakActivation, EqualsTheLargestLiveSetAtEveryAllowedWidth) {
  for (const std::int64_t stem_min_units : {1, 6}) {
    std::vector<std::vector<std::int64_t>> all_widths;
    for (std::int64_t stem = stem_min_units; stem <= 8; ++stem)
      for (std::int64_t inner = 2; inner <= 6; ++inner) all_widths.push_back({stem, inner, stem, 2});
    expect_exact(residual(stem_min_units), all_widths);
  }
  std::vector<std::vector<std::int64_t>> all_widths;
  for (std::int64_t stem = 1; stem <= 8; ++stem) all_widths.push_back({stem, 2});
  expect_exact(pooled(), all_widths);
}

TEST(PeakActivation, LayerStepsBecomeInputUnitAndHeldTerms) {
  Case c = residual(1);
  ASSERT_FALSE(set_peak_activation(c.network, c.steps).has_value());
  const CostTerms& stem = c.network.layers[0].cost.at("activation");
  EXPECT_EQ(stem.input, 36);  // 108 bytes over the 3 input channels
  EXPECT_EQ(stem.unit, 36);
  const CostTerms& back = c.network.layers[2].cost.at("activation");
  EXPECT_EQ(back.input, 36);
  EXPECT_EQ(back.unit, 36);
  EXPECT_EQ(back.held, (std::map<std::string, std::int64_t>{{"stem", 36}}));

  Case pool = pooled();
  ASSERT_FALSE(set_peak_activation(pool.network, pool.steps).has_value());
  const CostTerms& priced = pool.network.layers[0].cost.at("activation");
  ASSERT_EQ(priced.table.size(), 8u);
  EXPECT_EQ(priced.table[3], 0);                        // 4 channels: the stem's 252 bytes, above 240
  EXPECT_EQ(priced.table[7], 60 * 8 - (108 + 36 * 8));  // 8 channels: the pool's 480
}

TEST(PeakActivation, RefusesAStepNoLayerCanState) {
  Case c = residual(1);
  // Before any layer, maps of `inner`'s and the stem's widths larger than any layer's cost: the stem, the
  // only layer next to the step, cannot name `inner`, which comes after it.
  c.steps.insert(c.steps.begin(), {std::nullopt, 0, std::nullopt, {of(1, 1000), of(2, 1000)}});
  const std::optional<Error> error = set_peak_activation(c.network, c.steps);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, ErrorCode::invalid_argument);
}

TEST(PeakActivation, RefusesAnInputOfAnotherWidth) {
  Case c = residual(1);
  c.steps[1].input = of(3, 36);  // `inner` reads the stem's width, not the head's
  c.steps[1].live = {of(3, 36), of(1, 36)};
  EXPECT_TRUE(set_peak_activation(c.network, c.steps).has_value());
}

}  // namespace
}  // namespace reds::models
