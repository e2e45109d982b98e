// Plan time of the paper's architectures: 3 levels (25/50/75 % MACs), every strategy, all levels together,
// including validation and the independent optimum reported for every level.
//
//   build/bin/reds_solver_bench --benchmark_filter=ds_cnn_l
#include <benchmark/benchmark.h>

#include <string>

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

void register_all() {
  struct Case {
    const char* architecture;
    std::int64_t block;
  };
  const Case cases[] = {{"dnn_s", 1},       {"dnn_l", 1},           {"cnn_s", 1},
                        {"cnn_l", 1},       {"ds_cnn_s", 1},        {"ds_cnn_l", 1},
                        {"ds_cnn_s_fmnist", 1}, {"mobilenet_v1_96", 1}, {"mobilenet_v1_224", 8},
                        {"mobilenet_v1_224", 1}};
  for (const Case& c : cases) {
    for (const reds::Strategy strategy :
         {reds::Strategy::bottom_up, reds::Strategy::top_down, reds::Strategy::independent}) {
      const std::string label = std::string(c.architecture) + "/block" + std::to_string(c.block) + "/" +
                                reds::to_string(strategy);
      benchmark::RegisterBenchmark(label.c_str(), plan_architecture, std::string(c.architecture), c.block,
                                   strategy)
          ->Unit(benchmark::kMillisecond);
    }
  }
}

const int registered = (register_all(), 0);

}  // namespace
