// Exact knapsack solve times on the literature's instance classes (reds/knapsack_generator.h).
//
// 0-1: every class at n = 1,000, 10,000 and 100,000 items with coefficients up to R = 10^7 and R = 10^3;
// the easy classes (uncorrelated, weakly correlated) also at n = 1,000,000, where the time should grow
// linearly.
// Multiple choice: every class with k classes of m items, (k, m) = (100, 10), (1,000, 10), (10,000, 10)
// and (1,000, 100), R = 10^3 and 10^4.
//
// The text format's reader (reds/knapsack_format.h): an uncorrelated instance of 10^5 and 10^6 items
// (R = 10^7) parsed from memory, the solve left out; bytes_per_second is the reading speed.
//
// Each benchmark solves five instances once each (seeds 1..5, capacities h = 10, 30, 50, 70, 90 of a
// series of 100), so the reported time is the mean over them; counters give the slowest one in wall
// time (max_ms) and in the solving thread's CPU time (max_cpu_ms, which other processes on a loaded
// machine do not inflate), the instances the time limit stopped (unsolved, reported at the limit) and the
// average core and state counts.
//
//   build/bin/reds_solver_bench --benchmark_filter=knapsack --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>
#include <type_traits>
#include <vector>

#include "reds/knapsack.h"
#include "reds/knapsack_format.h"
#include "reds/knapsack_generator.h"

namespace {

constexpr int kInstances = 5;
constexpr std::int64_t kTimeLimitMs = 10'000;

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// The workspace of the benchmark `name`: one per class and size, kept across the benchmark's repetitions
// (which run one after another), so that only its first solve faults the workspace's memory in.
reds::knapsack::Workspace& workspace_of(const std::string& name) {
  static std::string owner;
  static reds::knapsack::Workspace workspace;
  if (name != owner) {
    workspace = reds::knapsack::Workspace();
    owner = name;
  }
  return workspace;
}

// Solves the problems in turn, one per iteration, and sets the counters. The 0-1 problems share one
// workspace (`workspace`), as a caller solving a stream of instances would.
template <class Problem>
void solve_each(benchmark::State& state, const std::vector<Problem>& problems,
                reds::knapsack::Workspace* workspace = nullptr) {
  constexpr bool kZeroOne = std::is_same_v<Problem, reds::knapsack::Problem<std::int64_t>>;
  reds::knapsack::Options options;
  options.time_limit_ms = kTimeLimitMs;
  std::size_t next = 0;
  double slowest = 0.0;
  double slowest_cpu = 0.0;
  double unsolved = 0.0;
  double core = 0.0;
  double states = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const double start_cpu = thread_cpu_seconds();
    const auto solve = [&](const Problem& problem) {
      if constexpr (kZeroOne)
        return reds::knapsack::solve(problem, options, *workspace);
      else
        return reds::knapsack::solve(problem, options);
    };
    const auto solution = solve(problems[next++ % problems.size()]);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu_seconds = thread_cpu_seconds() - start_cpu;
    if (!solution) {
      state.SkipWithError(solution.error().message.c_str());
      return;
    }
    slowest = std::max(slowest, seconds);
    slowest_cpu = std::max(slowest_cpu, cpu_seconds);
    unsolved += solution->status == reds::knapsack::Status::optimal ? 0.0 : 1.0;
    core += static_cast<double>(solution->statistics.core_items);
    states += static_cast<double>(solution->statistics.states);
  }
  const auto runs = static_cast<double>(state.iterations());
  state.counters["max_ms"] = slowest * 1e3;
  state.counters["max_cpu_ms"] = slowest_cpu * 1e3;
  state.counters["unsolved"] = unsolved;
  state.counters["core"] = core / runs;
  state.counters["states"] = states / runs;
}

void solve_zero_one(benchmark::State& state, reds::knapsack::InstanceClass instance_class, std::int64_t n,
                    std::int64_t range, const std::string& label) {
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
  solve_each(state, problems, &workspace_of(label));
}

void solve_multiple_choice(benchmark::State& state, reds::knapsack::ChoiceClass choice_class,
                           std::int64_t classes, std::int64_t class_size, std::int64_t range) {
  std::vector<reds::knapsack::MultipleChoiceProblem<std::int64_t>> problems;
  for (int seed = 1; seed <= kInstances; ++seed) {
    reds::knapsack::ChoiceGeneratorOptions options;
    options.choice_class = choice_class;
    options.classes = classes;
    options.class_size = class_size;
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
  solve_each(state, problems);
}

void parse_text(benchmark::State& state, std::int64_t n) {
  reds::knapsack::GeneratorOptions options;
  options.items = n;
  options.range = 10'000'000;
  auto generated = reds::knapsack::generate(options);
  if (!generated) {
    state.SkipWithError(generated.error().message.c_str());
    return;
  }
  reds::knapsack::TextInstance instance;
  instance.name = generated->name;
  instance.problem = std::move(generated->problem);
  const std::string text = reds::knapsack::format_instance(instance);
  for (auto _ : state) {
    auto parsed = reds::knapsack::parse_instances(text);
    if (!parsed) {
      state.SkipWithError(parsed.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(parsed->front().problem.items.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(text.size()));
}

void register_all() {
  for (const std::int64_t n : {100'000, 1'000'000}) {
    const std::string label = "knapsack_format/parse/n:" + std::to_string(n);
    benchmark::RegisterBenchmark(label.c_str(), parse_text, n)->Iterations(5)->Unit(benchmark::kMillisecond);
  }
  for (const std::int64_t range : {10'000'000, 1'000}) {
    for (const std::int64_t n : {1'000, 10'000, 100'000, 1'000'000}) {
      for (const reds::knapsack::InstanceClass instance_class : reds::knapsack::instance_classes()) {
        const bool easy = instance_class == reds::knapsack::InstanceClass::uncorrelated ||
                          instance_class == reds::knapsack::InstanceClass::weakly_correlated;
        if (n > 100'000 && !easy) continue;
        const std::string label = std::string("knapsack/") + reds::knapsack::to_string(instance_class) +
                                  "/n:" + std::to_string(n) + "/R:" + std::to_string(range);
        benchmark::RegisterBenchmark(label.c_str(), solve_zero_one, instance_class, n, range, label)
            ->Iterations(kInstances)
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  const std::pair<std::int64_t, std::int64_t> shapes[] = {{100, 10}, {1'000, 10}, {10'000, 10}, {1'000, 100}};
  for (const std::int64_t range : {1'000, 10'000}) {
    for (const auto& [classes, class_size] : shapes) {
      for (const reds::knapsack::ChoiceClass choice_class : reds::knapsack::choice_classes()) {
        const std::string label = std::string("knapsack_mckp/") + reds::knapsack::to_string(choice_class) +
                                  "/k:" + std::to_string(classes) + "/m:" + std::to_string(class_size) +
                                  "/R:" + std::to_string(range);
        benchmark::RegisterBenchmark(label.c_str(), solve_multiple_choice, choice_class, classes, class_size,
                                     range)
            ->Iterations(kInstances)
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

const int registered = (register_all(), 0);

}  // namespace
