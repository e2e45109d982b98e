// Plan time of residual networks (contract 1.1): ResNet-18 and MobileNetV2 1.0 at 224 as reds::models
// builds their requests (exact MACs, params and peak activation with the skip tensors held, stand-in
// importance), 3 levels of MACs (25/50/75 %), bottom_up, every width at least a quarter of the layer's,
// block 8 or 1; all levels together, including validation and the independent optimum reported for every
// level. The `_activation` cases also limit the peak activation, which forbids some edges of the graph.
//
//   build/bin/reds_solver_bench --benchmark_filter=residual
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "reds/models/architectures.h"
#include "reds/plan.h"

namespace {

// The bundled architecture's request at width granularity `block`.
reds::PlanRequest example(const std::string& name, std::int64_t block) {
  reds::models::ExampleOptions options;
  options.block = block;
  reds::Result<reds::PlanRequest> request = reds::models::example_request(name, options);
  if (!request) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), request.error().message.c_str());
    std::abort();
  }
  return *request;
}

reds::PlanRequest resnet18(std::int64_t block) { return example("resnet18", block); }
reds::PlanRequest mobilenet_v2(std::int64_t block) { return example("mobilenet_v2_224", block); }

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

// Each level also limits the peak activation to `percent` of the full network's (60 %: only the stem's
// edges are limited; 40 %: the first stages' as well, where the maps are largest).
reds::PlanRequest with_activation_limit(reds::PlanRequest request, std::int64_t percent = 60) {
  const std::int64_t peak = reds::full_network_cost(request.network).at("activation");
  for (reds::Level& level : request.levels)
    level.limits["activation"] = reds::Limit::of_max(peak * percent / 100);
  return request;
}

// The joint strategy's branch and bound on a wide residual network (as the time-limit test's): 9 dense
// layers of 160 units with unit-input MACs, every second layer one stream, the middle member a projection of
// the first, 3 levels (20/45/70 % of MACs).
reds::PlanRequest wide_residual_joint() {
  reds::PlanRequest request;
  constexpr std::int64_t kWidth = 160;
  request.network.inputs = kWidth;
  std::uint64_t state = 12345;
  for (int l = 0; l < 9; ++l) {
    reds::Layer layer;
    layer.name = "fc" + std::to_string(l);
    layer.units = kWidth;
    for (std::int64_t u = 0; u < kWidth; ++u) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      layer.importance.push_back(1.0 + static_cast<double>(state >> 40) / static_cast<double>(1 << 24));
    }
    layer.cost["macs"].unit_input = 1;
    if (l % 2 == 0) layer.stream = "s";
    if (l == 8) layer.input = "fc0";
    request.network.layers.push_back(std::move(layer));
  }
  for (double fraction : {0.2, 0.45, 0.7})
    request.levels.push_back(reds::Level{{{"macs", reds::Limit::of_fraction(fraction)}}});
  request.strategy = reds::Strategy::joint;
  return request;
}

BENCHMARK_CAPTURE(plan_residual, wide_residual_joint, wide_residual_joint())->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, resnet18_block8_activation, with_activation_limit(resnet18(8)))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, resnet18_block1_activation, with_activation_limit(resnet18(1)))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, resnet18_block1_tight_activation, with_activation_limit(resnet18(1), 40))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, mobilenet_v2_block1_tight_activation,
                  with_activation_limit(mobilenet_v2(1), 40))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, resnet18_block8, resnet18(8))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, resnet18_block1, resnet18(1))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, mobilenet_v2_block8, mobilenet_v2(8))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, mobilenet_v2_block1, mobilenet_v2(1))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(plan_residual, mobilenet_v2_block8_activation, with_activation_limit(mobilenet_v2(8)))
    ->Unit(benchmark::kMillisecond);

}  // namespace
