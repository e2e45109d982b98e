// Plan time of the paper's architectures: 3 levels (25/50/75 % MACs), every strategy, all levels together,
// including validation and the independent optimum reported for every level.
//
//   build/bin/reds_solver_bench --benchmark_filter=ds_cnn_l
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "reds/models/architectures.h"
#include "reds/plan.h"

namespace {

void plan_architecture(benchmark::State& state, const std::string& name, std::int64_t block,
                       reds::Strategy strategy) {
  reds::models::ExampleOptions options;
  options.block = block;
  reds::Result<reds::PlanRequest> request = reds::models::example_request(name, options);
  if (!request) {
    state.SkipWithError(request.error().message.c_str());
    return;
  }
  request.value().strategy = strategy;
  for (auto _ : state) {
    reds::Result<reds::PlanResult> result = reds::plan(*request);
    if (!result || result->status != reds::PlanStatus::optimal) {
      state.SkipWithError("plan failed or not optimal");
      return;
    }
    benchmark::DoNotOptimize(result);
  }
}

// Issue-scale cases: several limits per level and the joint strategy.
void plan_request(benchmark::State& state, const reds::PlanRequest& request) {
  for (auto _ : state) {
    reds::Result<reds::PlanResult> result = reds::plan(request);
    if (!result || result->status != reds::PlanStatus::optimal) {
      state.SkipWithError("plan failed or not optimal");
      return;
    }
    benchmark::DoNotOptimize(result);
  }
}

reds::PlanRequest scale_request(const std::string& name, std::int64_t block, double min_width_fraction,
                                std::vector<double> fractions, reds::Strategy strategy) {
  reds::models::ExampleOptions options;
  options.block = block;
  options.min_width_fraction = min_width_fraction;
  options.mac_fractions = std::move(fractions);
  reds::PlanRequest request = reds::models::example_request(name, options).value();
  request.strategy = strategy;
  return request;
}

void register_scale_cases() {
  // MobileNetV1-224, block 1, 4 levels of MACs each with the reference's 200 kB peak-memory limit (largest
  // output map); every layer may shrink to one unit, as in the reference.
  reds::PlanRequest peak =
      scale_request("mobilenet_v1_224", 1, 0.0, {0.2, 0.4, 0.6, 0.8}, reds::Strategy::bottom_up);
  for (reds::Level& level : peak.levels) level.limits["output_activation"] = reds::Limit::of_max(200'000);
  benchmark::RegisterBenchmark("scale/mobilenet_v1_224/block1/macs+peak200kB/4levels/bottom_up", plan_request,
                               peak)
      ->Unit(benchmark::kMillisecond);
  // DS-CNN L, joint, 4 levels.
  benchmark::RegisterBenchmark(
      "scale/ds_cnn_l/block1/4levels/joint", plan_request,
      scale_request("ds_cnn_l", 1, 0.25, {0.2, 0.4, 0.6, 0.8}, reds::Strategy::joint))
      ->Unit(benchmark::kMillisecond);
  // Two sum limits per level: MACs and params.
  for (const auto& [name, block] : {std::pair<const char*, std::int64_t>{"ds_cnn_l", 1},
                                    {"mobilenet_v1_224", 8},
                                    {"mobilenet_v1_224", 1}}) {
    reds::PlanRequest two = scale_request(name, block, 0.25, {0.25, 0.5, 0.75}, reds::Strategy::bottom_up);
    const double params_fractions[] = {0.2, 0.45, 0.7};
    for (std::size_t j = 0; j < two.levels.size(); ++j) {
      two.levels[j].limits["params"] = reds::Limit::of_fraction(params_fractions[j]);
    }
    const std::string label =
        std::string("scale/") + name + "/block" + std::to_string(block) + "/macs+params/3levels/bottom_up";
    benchmark::RegisterBenchmark(label.c_str(), plan_request, two)->Unit(benchmark::kMillisecond);
  }
}

void register_all() {
  struct Case {
    const char* architecture;
    std::int64_t block;
  };
  const Case cases[] = {{"dnn_s", 1},           {"dnn_l", 1},           {"cnn_s", 1},
                        {"cnn_l", 1},           {"ds_cnn_s", 1},        {"ds_cnn_l", 1},
                        {"ds_cnn_s_fmnist", 1}, {"mobilenet_v1_96", 1}, {"mobilenet_v1_224", 8},
                        {"mobilenet_v1_224", 1}};
  for (const Case& c : cases) {
    for (const reds::Strategy strategy : {reds::Strategy::bottom_up, reds::Strategy::top_down,
                                          reds::Strategy::independent, reds::Strategy::joint}) {
      const std::string label =
          std::string(c.architecture) + "/block" + std::to_string(c.block) + "/" + reds::to_string(strategy);
      benchmark::RegisterBenchmark(label.c_str(), plan_architecture, std::string(c.architecture), c.block,
                                   strategy)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

const int registered = (register_all(), register_scale_cases(), 0);

}  // namespace
