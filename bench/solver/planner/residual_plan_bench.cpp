// Plan time of residual networks (contract 1.1): ResNet-18 and MobileNetV2 1.0 at 224, 3 levels of MACs
// (25/50/75 %), bottom_up, every width at least a quarter of the layer's, block 8 or 1; all levels together,
// including validation and the independent optimum reported for every level. The `_activation` cases also
// limit the peak activation, which forbids some edges of the graph.
//
//   build/bin/reds_solver_bench --benchmark_filter=residual
//
// The requests are built here from the architectures' shapes (MACs per kept unit pair, random importances),
// independently of reds::models.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "reds/plan.h"
#include "reds/splitmix64.h"

namespace {

class NetworkBuilder {
 public:
  NetworkBuilder(std::string name, std::int64_t inputs, std::int64_t block, std::uint64_t seed)
      : block_(block), random_(seed) {
    request_.network.name = std::move(name);
    request_.network.inputs = inputs;
    request_.network.resources["macs"] = reds::Aggregation::sum;
    request_.network.resources["activation"] = reds::Aggregation::max;
  }

  // A convolution of `units` filters over `pixels` output positions with a kernel of `kernel` taps per
  // input channel: MACs pixels * kernel * k * k_in; activation bytes (float32) of its output map and of its
  // input map, of `input_pixels` positions (`pixels` when 0).
  std::string conv(std::int64_t units, std::int64_t pixels, std::int64_t kernel,
                   std::optional<std::string> stream = {}, std::optional<std::string> input = {},
                   std::int64_t input_pixels = 0) {
    reds::Layer layer = plain(units, stream);
    layer.cost["macs"].unit_input = pixels * kernel;
    layer.cost["activation"].unit = 4 * pixels;
    layer.cost["activation"].input = 4 * (input_pixels > 0 ? input_pixels : pixels);
    layer.input = std::move(input);
    return add(std::move(layer));
  }

  // A depthwise convolution tied to the layer before: MACs pixels * kernel * k.
  std::string depthwise(std::int64_t units, std::int64_t pixels, std::int64_t kernel) {
    reds::Layer layer;
    layer.name = "layer" + std::to_string(request_.network.layers.size());
    layer.units = units;
    layer.importance = importances(units);
    layer.tied = true;
    layer.cost["macs"].unit = pixels * kernel;
    layer.cost["activation"].unit = 8 * pixels;  // output and input maps: both of its width
    return add(std::move(layer));
  }

  void classifier(std::int64_t classes) {
    reds::Layer layer = plain(classes, std::nullopt);
    layer.prunable = false;
    layer.min_units = 1;
    layer.block = 1;
    layer.cost["macs"].unit_input = 1;
    add(std::move(layer));
  }

  reds::PlanRequest request() {
    reds::PlanRequest request = request_;
    for (double fraction : {0.25, 0.5, 0.75})
      request.levels.push_back(reds::Level{{{"macs", reds::Limit::of_fraction(fraction)}}});
    request.strategy = reds::Strategy::bottom_up;
    return request;
  }

 private:
  reds::Layer plain(std::int64_t units, const std::optional<std::string>& stream) {
    reds::Layer layer;
    layer.name = "layer" + std::to_string(request_.network.layers.size());
    layer.units = units;
    layer.importance = importances(units);
    layer.stream = stream;
    // Only a stream's first member gives its min_units and block.
    const bool first = !stream || streams_.insert(*stream).second;
    if (first) {
      layer.min_units = std::max<std::int64_t>(1, units / 4);
      layer.block = std::min(block_, units);
    }
    return layer;
  }
  std::vector<double> importances(std::int64_t units) {
    std::vector<double> importance(static_cast<std::size_t>(units));
    for (double& value : importance) value = random_.uniform();
    return importance;
  }
  std::string add(reds::Layer layer) {
    request_.network.layers.push_back(std::move(layer));
    return request_.network.layers.back().name;
  }

  std::int64_t block_;
  reds::SplitMix64 random_;
  reds::PlanRequest request_;
  std::set<std::string> streams_;
};

// ResNet-18 at 224: a 7x7/2 stem and max pooling to 56x56, four stages of two basic blocks (64, 128, 256,
// 512 filters; stages 2-4 start with a stride-2 block whose 1x1 projection reads the previous stream).
reds::PlanRequest resnet18(std::int64_t block) {
  NetworkBuilder network("resnet18", 3, block, 18);
  std::string last_member = network.conv(64, 112 * 112, 49, "s64", std::nullopt, 224 * 224);
  std::int64_t side = 56;
  for (const std::int64_t filters : {64, 128, 256, 512}) {
    const std::string stream = "s" + std::to_string(filters);
    for (int b = 0; b < 2; ++b) {
      const bool downsample = b == 0 && filters != 64;
      if (downsample) side /= 2;
      const std::string previous = last_member;
      const std::int64_t input_pixels = downsample ? 4 * side * side : side * side;
      network.conv(filters, side * side, 9, std::nullopt, std::nullopt, input_pixels);
      last_member = network.conv(filters, side * side, 9, stream);
      if (downsample) last_member = network.conv(filters, side * side, 1, stream, previous, input_pixels);
    }
  }
  network.classifier(1000);
  return network.request();
}

// MobileNetV2 1.0 at 224: a 3x3/2 stem, inverted residual blocks (expand 1x1, depthwise 3x3 tied to it,
// linear 1x1 projection added to the block's input where stride and width allow), a 1x1 conv to 1280.
reds::PlanRequest mobilenet_v2(std::int64_t block) {
  NetworkBuilder network("mobilenet_v2", 3, block, 2);
  std::int64_t side = 112;
  std::int64_t channels = 32;
  network.conv(32, side * side, 9, std::nullopt, std::nullopt, 224 * 224);
  struct Stage {
    std::int64_t expansion, filters, repeats, stride;
  };
  for (const Stage stage : {Stage{1, 16, 1, 1}, Stage{6, 24, 2, 2}, Stage{6, 32, 3, 2}, Stage{6, 64, 4, 2},
                            Stage{6, 96, 3, 1}, Stage{6, 160, 3, 2}, Stage{6, 320, 1, 1}}) {
    const std::optional<std::string> stream =
        stage.repeats > 1 ? std::optional<std::string>("s" + std::to_string(stage.filters)) : std::nullopt;
    for (std::int64_t r = 0; r < stage.repeats; ++r) {
      const std::int64_t input_side = side;
      if (r == 0) side /= stage.stride;
      const std::int64_t expanded = channels * stage.expansion;
      if (stage.expansion != 1) network.conv(expanded, input_side * input_side, 1);
      network.depthwise(expanded, side * side, 9);
      network.conv(stage.filters, side * side, 1, stream);
      channels = stage.filters;
    }
  }
  network.conv(1280, side * side, 1);
  network.classifier(1000);
  return network.request();
}

void plan_residual(benchmark::State& state, reds::PlanRequest request) {
  for (auto _ : state) {
    reds::Result<reds::PlanResult> result = reds::plan(request);
    if (!result || result->status != reds::PlanStatus::optimal) {
      state.SkipWithError(result ? "a level is not optimal" : result.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(result);
  }
}

// Each level also limits the peak activation to 60 % of the full network's, which binds on the widest stages.
reds::PlanRequest with_activation_limit(reds::PlanRequest request) {
  const std::int64_t peak = reds::full_network_cost(request.network).at("activation");
  for (reds::Level& level : request.levels) level.limits["activation"] = reds::Limit::of_max(peak * 6 / 10);
  return request;
}

BENCHMARK_CAPTURE(plan_residual, resnet18_block8_activation, with_activation_limit(resnet18(8)))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, resnet18_block1_activation, with_activation_limit(resnet18(1)))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, resnet18_block8, resnet18(8))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, resnet18_block1, resnet18(1))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, mobilenet_v2_block8, mobilenet_v2(8))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, mobilenet_v2_block1, mobilenet_v2(1))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, mobilenet_v2_block8_activation, with_activation_limit(mobilenet_v2(8)))
    ->Unit(benchmark::kMillisecond);

}  // namespace
