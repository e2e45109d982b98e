// How a Session stores weights: with nested blocks every level reads one contiguous prefix of every
// layer's weights (checked float by float from the kernel calls' segments), both layouts compute the same
// levels, layers whose widths do not grow fall back to the strided layout, and neither set_level() nor
// run() allocates.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <map>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "models/test_plans.h"
#include "reds/engine/architectures.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "reds/plan.h"
#include "support/engine/models.h"

// Counts the allocations made while `counting` is set (the whole test program uses this operator new).
namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

// AddressSanitizer replaces operator new itself (and would see ours as a mismatch): no counting there.
#ifndef __SANITIZE_ADDRESS__
#define REDS_COUNT_ALLOCATIONS 1
// GCC 12 takes the replaced pair for a mismatch (free of what operator new returned); they match.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  if (counting) ++allocations;
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
#pragma GCC diagnostic pop
#endif

namespace reds::engine {
namespace {

// A model with a plan applied: the pretrained Fashion-MNIST model or a random architecture, at the given
// fractions of the full MACs.
Model planned_model(const std::string& name, const std::vector<double>& fractions) {
  Result<Model> model =
      name == "fashion_mnist" ? load_model(testing::pretrained_model(name)) : random_model(name);
  EXPECT_TRUE(model) << model.error().message;
  RequestOptions options;
  options.fractions = fractions;
  const Result<PlanRequest> request = plan_request(model.value(), options);
  EXPECT_TRUE(request) << request.error().message;
  const Result<PlanResult> plan = reds::plan(request.value());
  EXPECT_TRUE(plan) << plan.error().message;
  Result<Model> applied = apply_plan(model.value(), plan.value());
  EXPECT_TRUE(applied) << applied.error().message;
  return std::move(applied).value();
}

// The weight buffer offsets a call reads (every tap, row and column of every segment; a depthwise call's
// whole 8-channel blocks), one entry per read.
std::vector<std::int64_t> footprint(const KernelCall& call, const float* base) {
  std::int64_t taps = call.window.kernel_height * call.window.kernel_width;
  if (call.kind == CallKind::dense) taps = call.dense_input.input_groups;
  std::vector<std::int64_t> offsets;
  for (std::int64_t r = 0; r < call.segmented.range_count; ++r) {
    const kernels::ColumnRange& range = call.segmented.ranges[r];
    for (std::int64_t s = 0; s < range.segment_count; ++s) {
      const kernels::WeightSegment& segment = range.segments[s];
      const std::int64_t at = segment.data - base;
      const bool depthwise = call.kind == CallKind::depthwise_conv2d;
      // A depthwise level reads whole panels of 8 channels.
      const std::int64_t columns =
          depthwise ? (range.end - range.first + 7) / 8 * 8 : range.end - range.first;
      for (std::int64_t tap = 0; tap < taps; ++tap)
        for (std::int64_t row = depthwise ? 0 : segment.first_row; row < (depthwise ? 1 : segment.end_row);
             ++row)
          for (std::int64_t column = 0; column < columns; ++column)
            offsets.push_back(at + column / 8 * segment.panel_stride + tap * segment.tap_stride +
                              (depthwise ? 0 : row - segment.first_row) * segment.row_stride + column % 8);
    }
  }
  return offsets;
}

// Each level reads within one prefix of a layer's weights, which grows level after level, and reads all of
// it but, per strip, up to 7 columns: those stored twice (in a level's strip, and again in the next one,
// which starts at a multiple of 8) and the zeros that pad a strip's last panel of 8 columns.
// MLPerf Tiny's ResNet-8 with a nested plan of 4 levels made by hand: every stream (the layers whose outputs
// are added) and every inner layer of a block keeps a random prefix that grows level after level.
Model planned_resnet8() {
  Result<Model> model = load_model(test::mlperf_model("pretrainedResnet.h5"));
  EXPECT_TRUE(model) << model.error().message;
  const PlanResult plan = testing::random_group_plan(model.value(), test::kResnet8Groups, 4, 3);
  Result<Model> applied = apply_plan(model.value(), plan);
  EXPECT_TRUE(applied) << applied.error().message;
  return std::move(applied).value();
}

TEST(Layout, NestedLevelsReadOneContiguousPrefixOfEveryLayer) {
  for (const std::string name : {"fashion_mnist", "dnn_s", "cnn_s", "ds_cnn_m", "resnet8"}) {
    const Model model = name == "resnet8" ? planned_resnet8() : planned_model(name, {0.25, 0.5, 0.75, 1.0});
    const Session session = Session::create(model).value();
    const float* base = session.weights().data();
    std::map<std::size_t, std::int64_t> starts;  // per call index: where its layer's weights start
    std::map<std::size_t, std::int64_t> ends;    // per call index: the end of the previous level's prefix
    std::int64_t holes = 0;
    for (std::size_t level = 0; level < session.level_count(); ++level) {
      const std::span<const KernelCall> calls = session.level_calls(level);
      for (std::size_t index = 0; index < calls.size(); ++index) {
        const KernelCall& call = calls[index];
        if (!call.segmented.ranges) continue;
        std::vector<std::int64_t> offsets = footprint(call, base);
        std::sort(offsets.begin(), offsets.end());
        const std::string what =
            name + " level " + std::to_string(level + 1) + " call " + std::to_string(index);
        ASSERT_FALSE(offsets.empty()) << what;
        EXPECT_EQ(std::adjacent_find(offsets.begin(), offsets.end()), offsets.end())
            << what << ": read twice";
        if (level == 0) starts[index] = offsets.front();
        EXPECT_GE(offsets.front(), starts[index]) << what << ": reads before the layer's weights";
        const std::int64_t end = offsets.back() + 1;
        EXPECT_GE(end, ends[index]) << what << ": the prefix shrank";
        ends[index] = end;
        const std::int64_t unread = end - starts[index] - static_cast<std::int64_t>(offsets.size());
        std::int64_t rows = 1;
        for (std::int64_t r = 0; r < call.segmented.range_count; ++r)
          for (std::int64_t s = 0; s < call.segmented.ranges[r].segment_count; ++s)
            rows = std::max(rows, call.segmented.ranges[r].segments[s].end_row);
        const std::int64_t taps = call.kind == CallKind::dense
                                      ? call.dense_input.input_groups
                                      : call.window.kernel_height * call.window.kernel_width;
        if (call.kind == CallKind::depthwise_conv2d) {
          EXPECT_EQ(unread, 0) << what;
        }
        EXPECT_LE(unread, (2 * static_cast<std::int64_t>(level) + 1) * 7 * taps * rows) << what;
        holes += unread;
      }
    }
    EXPECT_GT(holes, 0) << name << ": no level ended off a multiple of 8, the test shows little";
    // The strided layout reads gaps as soon as a layer is narrowed.
    const Session strided = Session::create(model, SessionOptions{WeightLayout::strided}).value();
    bool gaps = false;
    for (const KernelCall& call : strided.level_calls(0)) {
      if (!call.segmented.ranges || call.kind == CallKind::depthwise_conv2d) continue;
      std::vector<std::int64_t> offsets = footprint(call, strided.weights().data());
      std::sort(offsets.begin(), offsets.end());
      gaps |= offsets.back() - offsets.front() + 1 != static_cast<std::int64_t>(offsets.size());
    }
    EXPECT_TRUE(gaps) << name;
  }
}

void expect_same_levels(Session& a, Session& b, const Model& model, const std::string& what) {
  ASSERT_EQ(a.level_count(), b.level_count());
  std::mt19937 generator(7);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  std::vector<float> input(static_cast<std::size_t>(model.input.size()));
  for (int trial = 0; trial < 3; ++trial) {
    for (float& value : input) value = pixel(generator);
    for (std::size_t level = 0; level < a.level_count(); ++level) {
      a.set_level(level);
      b.set_level(level);
      const std::vector<float> expected(b.run(input).begin(), b.run(input).end());
      const std::span<const float> actual = a.run(input);
      ASSERT_EQ(actual.size(), expected.size());
      for (std::size_t i = 0; i < actual.size(); ++i)
        EXPECT_NEAR(actual[i], expected[i], 1e-5 * std::max(1.0f, std::abs(expected[i])))
            << what << " level " << level + 1 << " output " << i;
    }
  }
}

TEST(Layout, NestedAndStridedComputeTheSameLevels) {
  for (const std::string name : {"fashion_mnist", "dnn_s", "cnn_s", "ds_cnn_s", "resnet8"}) {
    const Model model = name == "resnet8" ? planned_resnet8() : planned_model(name, {0.2, 0.45, 0.7});
    Session nested = Session::create(model).value();
    Session strided = Session::create(model, SessionOptions{WeightLayout::strided}).value();
    expect_same_levels(nested, strided, model, name);
  }
}

TEST(Layout, WidthsThatShrinkFallBackToTheStridedLayout) {
  // An `independent` plan need not nest: dnn_s's fc2 narrows from level 1 to level 2 here.
  Result<Model> model = random_model("dnn_s");
  ASSERT_TRUE(model);
  const PlanResult plan =
      testing::plan_with_widths(model.value(), {{{"fc1", 40}, {"fc2", 100}, {"fc3", 50}, {"head", 12}},
                                                {{"fc1", 90}, {"fc2", 60}, {"fc3", 144}, {"head", 12}}});
  ASSERT_FALSE(attach_plan(model.value(), plan));
  Session nested = Session::create(model.value()).value();
  // fc2's call (the second dense call) reads the full matrix's rows with its full row length.
  const KernelCall& fc2 = nested.level_calls(1)[1];
  ASSERT_EQ(fc2.kind, CallKind::dense);
  ASSERT_EQ(fc2.segmented.range_count, 1);
  EXPECT_EQ(fc2.segmented.ranges[0].segments[0].row_stride, 144);
  Session strided = Session::create(model.value(), SessionOptions{WeightLayout::strided}).value();
  expect_same_levels(nested, strided, model.value(), "dnn_s");
}

TEST(Layout, SetLevelAndRunDoNotAllocate) {
#ifndef REDS_COUNT_ALLOCATIONS
  GTEST_SKIP() << "allocations are not counted under AddressSanitizer";
#endif
  for (const Model& model : {planned_model("fashion_mnist", {0.25, 0.5, 1.0}), planned_resnet8()}) {
    Session session = Session::create(model).value();
    const std::vector<float> input(static_cast<std::size_t>(session.input_size()), 0.5f);
    float sum = 0.0f;
    allocations = 0;
    counting = true;
    for (std::size_t round = 0; round < 10; ++round) {
      session.set_level(round % session.level_count());
      sum += session.run(input)[0];
    }
    counting = false;
    EXPECT_EQ(allocations.load(), 0) << model.name;
    EXPECT_TRUE(std::isfinite(sum)) << model.name;
  }
  // The counter counts: a vector allocates.
  counting = true;
  std::vector<float> allocated(10);
  counting = false;
  EXPECT_EQ(allocations.load(), 1);
  EXPECT_EQ(allocated.size(), 10u);
}

}  // namespace
}  // namespace reds::engine
