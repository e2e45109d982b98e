// The inference engine's benchmarks (issue 5, parts 4 and 5), in one run so that every ratio compares
// numbers measured side by side:
//   set_level                   switching the active subnetwork of a Session (target < 100 ns);
//   level/MODEL/LAYOUT/L        batch-1 latency of level L of MODEL planned at 25, 50, 75 and 100 % of its
//                               MACs (L4 is the full network), weights in nested blocks or as a strided
//                               prefix of the full matrices;
//   masked/MODEL                the alternative to both: the full network with the dropped units' weights
//                               zeroed (the same work at every level);
//   dense/SHAPE/...             one full-network Dense layer (inputs x units) of the engine (as the full
//                               level of the nested layout, and as a single block) and OpenBLAS'
//                               cblas_sgemv on the same weights, one thread.
// After the runs a summary prints each level's time over its model's full time against the target
// 1.15 x MAC fraction + 0.02, each Dense layer's time over sgemv's against 1.25, and for every model that
// ran a per-call profile of every level below the full one (print_call_profile).
//
//   build/bin/reds_engine_bench --benchmark_repetitions=5   (medians of the repetitions are summarised)
//
// Models: DNN S and L, DS-CNN L, ResNet-8, MobileNetV2 0.35 and 1.0 at 96 (random weights,
// reds/engine/architectures.h) and the REDS authors' pretrained Fashion-MNIST DS-CNN S ($REDS_PRETRAINED_DIR
// or tests/data/reds-pretrained). Plans: L1 importance, bottom_up, MAC fractions 0.25/0.5/0.75/1. Planned
// native models named in $REDS_BENCH_PLANNED_MODELS (comma-separated) are timed with their own plans too.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kernels.h"
#include "reds/engine/architectures.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "reds/plan.h"

#ifdef REDS_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace {

using namespace reds::engine;

const std::vector<double> kFractions = {0.25, 0.5, 0.75, 1.0};

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "reds_engine_bench: " << message << '\n';
  std::exit(1);
}

template <class T>
T value_or_fail(reds::Result<T> result, const std::string& what) {
  if (!result) fail(what + ": " + result.error().message);
  return std::move(result).value();
}

std::string pretrained_path(const std::string& file) {
  const char* dir = std::getenv("REDS_PRETRAINED_DIR");
  return (std::filesystem::path(dir ? dir : REDS_PRETRAINED_DEFAULT_DIR) / file).string();
}

// The model zeroing, for every unit layer, the weights of the input channels `level` drops: it computes
// that level (the dropped units reach nothing) at the full network's cost.
Model masked(const Model& planned, const Session& session, std::size_t level) {
  Model model = planned;
  model.plan.reset();
  std::map<std::string, std::int64_t> widths(session.level_info(level).widths.begin(),
                                             session.level_info(level).widths.end());
  std::int64_t kept = model.input.channels;  // of the current map
  std::int64_t channels = model.input.channels;
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    Layer& layer = model.layers[index];
    if (layer.kind == LayerKind::flatten) continue;  // the rows below repeat per pixel
    if (layer.kind == LayerKind::conv2d || layer.kind == LayerKind::dense) {
      const std::size_t rows_per_pixel = static_cast<std::size_t>(channels);
      const auto units = static_cast<std::size_t>(layer.units);
      for (std::size_t at = 0; at < layer.kernel.size(); ++at)
        if (static_cast<std::int64_t>((at / units) % rows_per_pixel) >= kept) layer.kernel[at] = 0.0f;
      channels = layer.units;
      kept = widths.at(layer.name);
    }
  }
  return model;
}

// The plans' width granularity: $REDS_BENCH_PLAN_BLOCK, 8 by default (widths that fill whole 8-float
// vectors; with 1, levels may differ by single units, which the nested layout stores as thin strips).
std::int64_t plan_block() {
  const char* block = std::getenv("REDS_BENCH_PLAN_BLOCK");
  return block ? std::atoll(block) : 8;
}

struct PlannedModel {
  std::string name;
  Model model;
  // masked() follows a chain's channels only, so residual models have no masked session.
  std::unique_ptr<Session> nested, strided, masked, unplanned;
  std::vector<float> input;
};

bool is_residual(const Model& model) {
  return std::any_of(model.layers.begin(), model.layers.end(),
                     [](const Layer& layer) { return layer.kind == LayerKind::add; });
}

// The sessions every planned model is timed in (nested, strided, unplanned; masked, for a chain, when
// `with_masked`) and one random input image.
PlannedModel with_sessions(const std::string& name, Model model, bool with_masked) {
  PlannedModel planned{name, std::move(model), {}, {}, {}, {}, {}};
  planned.nested = std::make_unique<Session>(value_or_fail(Session::create(planned.model), name));
  planned.strided = std::make_unique<Session>(
      value_or_fail(Session::create(planned.model, SessionOptions{WeightLayout::strided}), name));
  Model unplanned = planned.model;
  unplanned.plan.reset();
  planned.unplanned =
      std::make_unique<Session>(value_or_fail(Session::create(unplanned), name + " unplanned"));
  if (with_masked && !is_residual(planned.model))
    planned.masked = std::make_unique<Session>(
        value_or_fail(Session::create(masked(planned.model, *planned.nested, 0)), name + " masked"));
  std::mt19937 generator(1);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  planned.input.resize(static_cast<std::size_t>(planned.model.input.size()));
  for (float& value : planned.input) value = pixel(generator);
  return planned;
}

PlannedModel plan_model(const std::string& name, Model model) {
  RequestOptions options;
  options.fractions = kFractions;
  options.block = plan_block();
  options.objective = reds::Objective::sum;  // the plans of the README's measurements: raw L1 importance
  const reds::PlanRequest request = value_or_fail(plan_request(model, options), name + " request");
  const reds::PlanResult plan = value_or_fail(reds::plan(request), name + " plan");
  return with_sessions(name, value_or_fail(apply_plan(model, plan), name + " apply"), true);
}

// A model planned elsewhere (a native file from `reds apply` or `reds finetune`), timed with its own plan:
// how the plans `reds request` makes run, beside the benchmark's own.
PlannedModel planned_file(const std::string& path) {
  Model model = value_or_fail(load_model(path), path);
  if (!model.plan) fail(path + ": the model has no plan");
  const std::string name = "file_" + std::filesystem::path(path).stem().string();
  return with_sessions(name, std::move(model), false);
}

std::vector<PlannedModel>& models() {
  static std::vector<PlannedModel> all = [] {
    std::vector<PlannedModel> planned;
    // $REDS_BENCH_PLANNED_MODELS: comma-separated planned native models, timed before the built-in ones.
    if (const char* files = std::getenv("REDS_BENCH_PLANNED_MODELS")) {
      std::stringstream list(files);
      for (std::string path; std::getline(list, path, ',');)
        if (!path.empty()) planned.push_back(planned_file(path));
    }
    planned.push_back(plan_model("dnn_s", value_or_fail(random_model("dnn_s"), "dnn_s")));
    planned.push_back(plan_model("dnn_l", value_or_fail(random_model("dnn_l"), "dnn_l")));
    planned.push_back(plan_model(
        "ds_cnn_s_fmnist", value_or_fail(load_model(pretrained_path("fashion_mnist_ds_cnn_sizeS.keras")),
                                         "the pretrained Fashion-MNIST model")));
    planned.push_back(plan_model("ds_cnn_l", value_or_fail(random_model("ds_cnn_l"), "ds_cnn_l")));
    for (const std::string name : {"resnet8", "mobilenet_v2_035_96", "mobilenet_v2_96"})
      planned.push_back(plan_model(name, value_or_fail(random_model(name), name)));
    return planned;
  }();
  return all;
}

void run_session(benchmark::State& state, Session* session, std::size_t level,
                 const std::vector<float>* input) {
  session->set_level(level);
  for (auto _ : state) {
    const std::span<const float> output = session->run(*input);
    benchmark::DoNotOptimize(output.data());
    benchmark::ClobberMemory();
  }
}

void set_level(benchmark::State& state) {
  const auto pretrained = std::find_if(models().begin(), models().end(), [](const PlannedModel& planned) {
    return planned.name == "ds_cnn_s_fmnist";
  });
  Session& session = *pretrained->nested;
  const std::size_t levels = session.level_count();
  std::size_t level = 0;
  for (auto _ : state) {
    session.set_level(level);
    benchmark::DoNotOptimize(session);
    level = level + 1 == levels ? 0 : level + 1;
  }
}

// One Dense layer: the engine's call (weights and input as the session holds them) and sgemv on a copy of
// the full matrix.
struct DenseCase {
  std::string name;
  KernelCall call;
  std::vector<float> input, output, bias, matrix;  // input and output padded for the kernels
  std::int64_t inputs = 0, units = 0;
};

std::vector<DenseCase>& dense_cases() {
  static std::vector<DenseCase> cases = [] {
    std::vector<DenseCase> all;
    for (PlannedModel& planned : models()) {
      const std::size_t full = planned.nested->level_count() - 1;
      std::vector<KernelCall> calls;  // the full level's Dense calls, in the model's order
      for (const KernelCall& call : planned.nested->level_calls(full))
        if (call.kind == CallKind::dense) calls.push_back(call);
      std::size_t next = 0;
      for (const Layer& layer : planned.model.layers) {
        if (layer.kind != LayerKind::dense) continue;
        DenseCase dense;
        dense.inputs = static_cast<std::int64_t>(layer.kernel.size()) / layer.units;
        dense.units = layer.units;
        dense.name = planned.name + "/" + layer.name + "/" + std::to_string(dense.inputs) + "x" +
                     std::to_string(dense.units);
        dense.call = calls.at(next++);
        dense.input.resize(static_cast<std::size_t>(dense.inputs + kernels::kReadPadding));
        for (std::size_t i = 0; i < dense.input.size(); ++i)
          dense.input[i] = 0.001f * static_cast<float>(i % 97);
        dense.output.assign(static_cast<std::size_t>(dense.units + kernels::kReadPadding), 0.0f);
        dense.bias = layer.bias;
        dense.bias.resize(dense.bias.size() + kernels::kReadPadding);
        dense.matrix = layer.kernel;
        dense.matrix.resize(dense.matrix.size() + kernels::kReadPadding);
        dense.call.dense_input.data = dense.input.data();
        all.push_back(std::move(dense));
      }
    }
    return all;
  }();
  return cases;
}

void dense_nested(benchmark::State& state, DenseCase* dense) {
  for (auto _ : state) {
    kernels::dense_segmented(dense->call.dense_input, dense->call.segmented, dense->call.bias, nullptr,
                             dense->output.data());
    benchmark::DoNotOptimize(dense->output.data());
    benchmark::ClobberMemory();
  }
}

void dense_block(benchmark::State& state, DenseCase* dense) {
  const kernels::DenseInput input{dense->input.data(), 1, dense->inputs, dense->inputs};
  for (auto _ : state) {
    kernels::dense(input, dense->matrix.data(), dense->units, dense->bias.data(), dense->units, nullptr,
                   dense->output.data());
    benchmark::DoNotOptimize(dense->output.data());
    benchmark::ClobberMemory();
  }
}

#ifdef REDS_HAVE_OPENBLAS
// y = W^T x + b with W the [inputs][units] row-major matrix: the bias copied into y, then beta = 1.
void dense_openblas(benchmark::State& state, DenseCase* dense) {
  for (auto _ : state) {
    std::copy(dense->bias.begin(), dense->bias.begin() + dense->units, dense->output.begin());
    cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(dense->inputs), static_cast<int>(dense->units),
                1.0f, dense->matrix.data(), static_cast<int>(dense->units), dense->input.data(), 1, 1.0f,
                dense->output.data(), 1);
    benchmark::DoNotOptimize(dense->output.data());
    benchmark::ClobberMemory();
  }
}
#endif

// Keeps every run's CPU time per iteration (the median's, with repetitions) for the summary: on a
// machine shared with other work, CPU time leaves out the time the benchmark waits for a core.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      const std::string name = run.run_name.str();
      if (median || !medians_.contains(name)) times_[name] = run.GetAdjustedCPUTime();
      if (median) medians_.insert(name);
    }
  }
  double time(const std::string& name) const {
    const auto found = times_.find(name);
    return found == times_.end() ? 0.0 : found->second;
  }
  bool has(const std::string& name) const { return times_.contains(name); }

 private:
  std::map<std::string, double> times_;
  std::set<std::string> medians_;
};

// One kernel call as Session::run makes it (session.cpp), for the per-call profile: the session keeps its
// dispatch private, and the profile needs each call on its own.
void run_call(const KernelCall& call) {
  const kernels::Window& window = call.window;
  const std::int64_t pixels = window.out_height * window.out_width;
  switch (call.kind) {
    case CallKind::conv2d:
      if (call.segmented.ranges)
        kernels::conv2d_segmented(window, call.input, call.segmented, call.bias, call.rectifier, call.output,
                                  call.accumulate);
      else
        kernels::conv2d(window, call.input, call.weights, call.bias, call.groups, call.rectifier,
                        call.output);
      break;
    case CallKind::depthwise_conv2d:
      kernels::depthwise_conv2d_segmented(window, call.input, call.segmented, call.bias, call.rectifier,
                                          call.output);
      break;
    case CallKind::dense:
      kernels::dense_segmented(call.dense_input, call.segmented, call.bias, call.rectifier, call.output.data);
      break;
    case CallKind::rectifier:  // in place: the copy Session::run makes first is a memcpy, left out
      kernels::rectify(*call.rectifier, call.output.data, pixels * call.output.channels);
      break;
    case CallKind::softmax:
      kernels::softmax(call.output.data, pixels, call.output.channels);
      break;
    case CallKind::add:
      kernels::add(call.input.data, call.addend, pixels * call.output.channels, call.rectifier,
                   call.output.data);
      break;
    case CallKind::zero_padding2d:
      kernels::zero_padding2d(window, call.input, call.output);
      break;
    case CallKind::average_pool2d:
      kernels::average_pool2d(window, call.input, call.output);
      break;
    case CallKind::max_pool2d:
      kernels::max_pool2d(window, call.input, call.output);
      break;
    case CallKind::global_average_pool2d:
      kernels::global_average_pool2d(call.input, window.in_height * window.in_width, call.output.data);
      break;
  }
}

double thread_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Median over 7 batches of the thread CPU time of one call of every kernel call of a level, in ns.
std::vector<double> call_times(Session& session, std::size_t level, const std::vector<float>& input) {
  session.set_level(level);
  session.run(input);  // every buffer holds a map of this level
  const std::span<const KernelCall> calls = session.level_calls(level);
  std::vector<double> times;
  for (const KernelCall& call : calls) {
    std::vector<double> batches;
    for (int batch = 0; batch < 7; ++batch) {
      const double start = thread_seconds();
      for (int repeat = 0; repeat < 20; ++repeat) {
        run_call(call);
        benchmark::ClobberMemory();
      }
      batches.push_back((thread_seconds() - start) / 20 * 1e9);
    }
    std::nth_element(batches.begin(), batches.begin() + 3, batches.end());
    times.push_back(batches[3]);
  }
  return times;
}

std::string call_label(const KernelCall& call) {
  const kernels::Window& window = call.window;
  switch (call.kind) {
    case CallKind::conv2d:
      return window.kernel_height == 1 && window.kernel_width == 1 ? "conv 1x1" : "conv kxk";
    case CallKind::depthwise_conv2d:
      return "depthwise";
    case CallKind::dense:
      return "dense";
    case CallKind::add:
      return "add";
    case CallKind::zero_padding2d:
      return "zero padding";
    case CallKind::rectifier:
    case CallKind::softmax:
      return "activation";
    default:
      return "pool";
  }
}

// Where a level below the full one spends its time, call by call against the unplanned full network (the
// level-time target's denominator) and the plan's full level L4. The target allows the level
// 1.15 f T + 0.02 T (f its MAC fraction, T the full time); per kind k of kernel call (f_k its MAC fraction at
// the level, T_k its full time) the level's time beyond 1.15 f T splits into
//   scaling  L1_k - 1.15 f_k T_k         what the kind takes beyond time proportional to its own MACs;
//   mix      1.15 (f_k - f) T_k          what the plan's choice of which MACs to keep costs: keeping more of
//                                        the kinds that are slow per MAC (f_k > f) than of the fast ones;
// summed over the kinds, scaling + mix - 0.02 T is the level's time over its target. Then the calls with
// the largest scaling term, and the calls where L4 (nested layout) is slower than the unplanned network.
void print_call_profile(PlannedModel& planned, std::size_t level, std::ostream& out) {
  const std::size_t top_level = planned.nested->level_count() - 1;
  const std::string name = "L" + std::to_string(level + 1);
  const std::vector<double> small = call_times(*planned.nested, level, planned.input);
  const std::vector<double> top = call_times(*planned.nested, top_level, planned.input);
  const std::vector<double> full = call_times(*planned.unplanned, 0, planned.input);
  const std::span<const KernelCall> small_calls = planned.nested->level_calls(level);
  const std::span<const KernelCall> full_calls = planned.unplanned->level_calls(0);
  if (small.size() != full.size()) fail(planned.name + ": levels with different kernel calls");
  const auto macs = [](const KernelCall& call) {
    const kernels::Window& w = call.window;
    const double pixels = static_cast<double>(w.out_height * w.out_width);
    const double taps = static_cast<double>(w.kernel_height * w.kernel_width);
    if (call.kind == CallKind::conv2d)
      return pixels * taps * static_cast<double>(call.input.channels * call.output.channels) /
             static_cast<double>(call.groups);
    if (call.kind == CallKind::depthwise_conv2d)
      return pixels * taps * static_cast<double>(call.output.channels);
    if (call.kind == CallKind::dense)
      return static_cast<double>(call.dense_input.input_groups * call.dense_input.group_features *
                                 call.output.channels);
    return 0.0;
  };
  std::array<double, 5> total{};                       // as below
  std::map<std::string, std::array<double, 5>> kinds;  // L1 ns, L4 ns, full ns, L1 MACs, full MACs
  for (std::size_t index = 0; index < full.size(); ++index) {
    const std::array<double, 5> call{small[index], top[index], full[index], macs(small_calls[index]),
                                     macs(full_calls[index])};
    auto& kind = kinds[call_label(full_calls[index])];
    for (std::size_t at = 0; at < call.size(); ++at) kind[at] += call[at], total[at] += call[at];
  }
  const double fraction = total[3] / total[4];
  const double target = 1.15 * fraction + 0.02;
  out << "\n"
      << planned.name << " " << name << " call by call (sums: " << name << " " << std::setprecision(1)
      << total[0] / 1e3 << " us, L4 " << total[1] / 1e3 << " us, full " << total[2] / 1e3 << " us; " << name
      << " MAC fraction " << std::setprecision(3) << fraction << ", target " << target << "):\n"
      << "kind            " << name << " us   L4 us  full us  " << name << "/full  " << name
      << " MACs/full  L4/full  scaling us  mix us\n";
  double scaling_total = 0, mix_total = 0;
  for (const auto& [kind_name, kind] : kinds) {
    const double kind_fraction = kind[4] > 0 ? kind[3] / kind[4] : 0.0;
    const double scaling = kind[0] - 1.15 * kind_fraction * kind[2];
    const double mix = 1.15 * (kind_fraction - fraction) * kind[2];
    scaling_total += scaling, mix_total += mix;
    out << std::left << std::setw(13) << kind_name << std::right << std::setprecision(1) << std::setw(8)
        << kind[0] / 1e3 << std::setw(8) << kind[1] / 1e3 << std::setw(9) << kind[2] / 1e3
        << std::setprecision(3) << std::setw(9) << kind[0] / kind[2] << std::setw(14) << kind_fraction
        << std::setw(9) << kind[1] / kind[2] << std::setprecision(1) << std::setw(12) << scaling / 1e3
        << std::setw(8) << mix / 1e3 << '\n';
  }
  out << "total: scaling " << std::setprecision(1) << scaling_total / 1e3 << " us + mix " << mix_total / 1e3
      << " us - 0.02 x full " << 0.02 * total[2] / 1e3 << " us = " << name << " over its target by "
      << (scaling_total + mix_total - 0.02 * total[2]) / 1e3 << " us\n";
  // ratio < 0: each call's own MAC fraction at the level (the scaling term); otherwise that fixed ratio.
  const auto print_calls = [&](const std::string& title, const std::vector<double>& times,
                               std::span<const KernelCall> level_calls, double ratio) {
    std::vector<std::pair<double, std::size_t>> excess;
    for (std::size_t index = 0; index < full.size(); ++index) {
      const double full_macs = macs(full_calls[index]);
      const double own = full_macs > 0 ? 1.15 * macs(level_calls[index]) / full_macs : 0.0;
      excess.emplace_back(times[index] - (ratio < 0 ? own : ratio) * full[index], index);
    }
    std::sort(excess.rbegin(), excess.rend());
    out << title
        << "\ncall  kind          out HxW  channels level/full  level us  full us  ratio  excess us\n";
    for (std::size_t rank = 0; rank < std::min<std::size_t>(12, excess.size()); ++rank) {
      const std::size_t index = excess[rank].second;
      const KernelCall& call = level_calls[index];
      out << std::setw(4) << index << "  " << std::left << std::setw(12) << call_label(call) << std::right
          << std::setw(5) << call.window.out_height << 'x' << std::left << std::setw(4)
          << call.window.out_width << std::right << std::setw(10) << call.output.channels << '/' << std::left
          << std::setw(5) << full_calls[index].output.channels << std::right << std::setprecision(1)
          << std::setw(9) << times[index] / 1e3 << std::setw(9) << full[index] / 1e3 << std::setprecision(3)
          << std::setw(7) << times[index] / full[index] << std::setprecision(1) << std::setw(11)
          << excess[rank].first / 1e3 << '\n';
    }
  };
  print_calls(
      name + " calls by scaling term (" + name + " us - 1.15 x own MAC fraction x full us), largest first:",
      small, small_calls, -1.0);
  if (level == 0)
    print_calls("L4 calls slower than the unplanned network's (L4 us - full us), largest first:", top,
                planned.nested->level_calls(top_level), 1.0);
}

void print_summary(const SummaryReporter& reporter) {
  std::ostringstream out;
  out << std::fixed;
  if (reporter.has("set_level"))
    out << "\nset_level: " << std::setprecision(2) << reporter.time("set_level") << " ns (target < 100 ns)\n";
  out << "\nLevel latency over the full network's (full: the model without a plan, one block per layer),\n"
      << "target 1.15 x MAC fraction + 0.02; strided and masked levels over the same full time:\n"
      << "model            level  MAC frac  nested us  ratio  target  ok  | strided us  ratio | masked "
         "ratio\n";
  for (const PlannedModel& planned : models()) {
    const std::size_t levels = planned.nested->level_count();
    if (!reporter.has("full/" + planned.name)) continue;
    const double full = reporter.time("full/" + planned.name);
    const double masked = reporter.time("masked/" + planned.name);
    const double full_macs = static_cast<double>(planned.unplanned->level_info(0).macs);
    out << std::left << std::setw(17) << planned.name << std::right << std::setw(5) << "full"
        << std::setprecision(3) << std::setw(10) << 1.0 << std::setprecision(1) << std::setw(11) << full / 1e3
        << '\n';
    for (std::size_t level = 0; level < levels; ++level) {
      const std::string suffix = "/L" + std::to_string(level + 1);
      const double fraction = static_cast<double>(planned.nested->level_info(level).macs) / full_macs;
      const std::string nested_name = "level/" + planned.name + "/nested" + suffix;
      const std::string strided_name = "level/" + planned.name + "/strided" + suffix;
      out << std::left << std::setw(17) << planned.name << std::right << std::setw(5) << suffix.substr(1)
          << std::setprecision(3) << std::setw(10) << fraction;
      if (!reporter.has(nested_name)) {
        out << "  (filtered out)\n";
        continue;
      }
      const double nested = reporter.time(nested_name);
      const double target = 1.15 * fraction + 0.02;
      out << std::setprecision(1) << std::setw(11) << nested / 1e3 << std::setprecision(3) << std::setw(7)
          << nested / full << std::setw(8) << target << std::setw(4)
          << (nested / full <= target ? "yes" : "NO") << "  |";
      if (reporter.has(strided_name)) {
        const double strided = reporter.time(strided_name);
        out << std::setprecision(1) << std::setw(11) << strided / 1e3 << std::setprecision(3) << std::setw(7)
            << strided / full << " |";
      } else {
        out << std::setw(11) << "-" << std::setw(7) << "-"
            << " |";
      }
      if (planned.masked && reporter.has("masked/" + planned.name))
        out << std::setprecision(3) << std::setw(13) << masked / full << '\n';
      else
        out << std::setw(13) << "-" << '\n';
    }
  }
  out << "\nFull-network Dense layers, time over OpenBLAS cblas_sgemv (one thread), target <= 1.25:\n"
      << "layer                          nested ns  block ns  sgemv ns  nested/sgemv  block/sgemv\n";
  for (const DenseCase& dense : dense_cases()) {
    if (!reporter.has("dense/" + dense.name + "/reds_nested")) continue;  // filtered out
    const double sgemv = reporter.time("dense/" + dense.name + "/openblas_sgemv");
    const double nested = reporter.time("dense/" + dense.name + "/reds_nested");
    const double block = reporter.time("dense/" + dense.name + "/reds_block");
    out << std::left << std::setw(30) << dense.name << std::right << std::setprecision(0) << std::setw(11)
        << nested << std::setw(10) << block << std::setw(10) << sgemv << std::setprecision(3) << std::setw(14)
        << (sgemv > 0 ? nested / sgemv : 0.0) << std::setw(13) << (sgemv > 0 ? block / sgemv : 0.0) << '\n';
  }
  for (PlannedModel& planned : models())
    if (reporter.has("full/" + planned.name))
      for (std::size_t level = 0; level + 1 < planned.nested->level_count(); ++level)
        print_call_profile(planned, level, out);
  std::cout << out.str() << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  // First, so that --help answers before the models are loaded and planned.
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#ifdef REDS_HAVE_OPENBLAS
  openblas_set_num_threads(1);  // the engine runs one thread; so does the baseline
#endif
  benchmark::RegisterBenchmark("set_level", set_level);
  for (PlannedModel& planned : models()) {
    for (std::size_t level = 0; level < planned.nested->level_count(); ++level) {
      const std::string suffix = "/L" + std::to_string(level + 1);
      benchmark::RegisterBenchmark(("level/" + planned.name + "/nested" + suffix).c_str(), run_session,
                                   planned.nested.get(), level, &planned.input);
      benchmark::RegisterBenchmark(("level/" + planned.name + "/strided" + suffix).c_str(), run_session,
                                   planned.strided.get(), level, &planned.input);
    }
    if (planned.masked)
      benchmark::RegisterBenchmark(("masked/" + planned.name).c_str(), run_session, planned.masked.get(),
                                   std::size_t{0}, &planned.input);
    benchmark::RegisterBenchmark(("full/" + planned.name).c_str(), run_session, planned.unplanned.get(),
                                 std::size_t{0}, &planned.input);
  }
  for (DenseCase& dense : dense_cases()) {
    benchmark::RegisterBenchmark(("dense/" + dense.name + "/reds_nested").c_str(), dense_nested, &dense);
    benchmark::RegisterBenchmark(("dense/" + dense.name + "/reds_block").c_str(), dense_block, &dense);
#ifdef REDS_HAVE_OPENBLAS
    benchmark::RegisterBenchmark(("dense/" + dense.name + "/openblas_sgemv").c_str(), dense_openblas, &dense);
#endif
  }
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter);
  benchmark::Shutdown();
  return 0;
}
