// Exact 0-1 knapsack solve time on the literature's instance classes (reds/knapsack_generator.h): every
// class at n = 1,000, 10,000 and 100,000 items with coefficients up to R = 10^7 and R = 10^3. Each
// benchmark solves five instances once each (seeds 1..5, capacities h = 10, 30, 50, 70, 90 of a series
// of 100), so the reported time is the mean over them; counters give the slowest one, the instances the
// time limit stopped (unsolved, reported at the limit) and the average core and state counts.
//
//   build/bin/reds_solver_bench --benchmark_filter=knapsack/ --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "reds/knapsack.h"
#include "reds/knapsack_generator.h"

namespace {

constexpr int kInstances = 5;
constexpr std::int64_t kTimeLimitMs = 10'000;

void solve_class(benchmark::State& state, reds::knapsack::InstanceClass instance_class, std::int64_t n,
                 std::int64_t range) {
  std::vector<reds::knapsack::Problem<std::int64_t>> problems;
  for (int seed = 1; seed <= kInstances; ++seed) {
    reds::knapsack::GeneratorOptions options;
    options.instance_class = instance_class;
    options.items = n;
    options.range = range;
    options.seed = static_cast<std::uint64_t>(seed);
    options.instance = 20 * seed - 10;
    auto generated = reds::knapsack::generate(options);
    if (!generated) {
      state.SkipWithError(generated.error().message.c_str());
      return;
    }
    problems.push_back(std::move(generated).value().problem);
  }
  reds::knapsack::Options options;
  options.time_limit_ms = kTimeLimitMs;
  std::size_t next = 0;
  double slowest = 0.0;
  double unsolved = 0.0;
  double core = 0.0;
  double states = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const auto solution = reds::knapsack::solve(problems[next++ % problems.size()], options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!solution) {
      state.SkipWithError(solution.error().message.c_str());
      return;
    }
    slowest = std::max(slowest, seconds);
    unsolved += solution->status == reds::knapsack::Status::optimal ? 0.0 : 1.0;
    core += static_cast<double>(solution->statistics.core_items);
    states += static_cast<double>(solution->statistics.states);
  }
  const auto runs = static_cast<double>(state.iterations());
  state.counters["max_ms"] = slowest * 1e3;
  state.counters["unsolved"] = unsolved;
  state.counters["core"] = core / runs;
  state.counters["states"] = states / runs;
}

void register_all() {
  for (const std::int64_t range : {10'000'000, 1'000}) {
    for (const std::int64_t n : {1'000, 10'000, 100'000}) {
      for (const reds::knapsack::InstanceClass instance_class : reds::knapsack::instance_classes()) {
        const std::string label = std::string("knapsack/") + reds::knapsack::to_string(instance_class) +
                                  "/n:" + std::to_string(n) + "/R:" + std::to_string(range);
        benchmark::RegisterBenchmark(label.c_str(), solve_class, instance_class, n, range)
            ->Iterations(kInstances)
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

const int registered = (register_all(), 0);

}  // namespace
