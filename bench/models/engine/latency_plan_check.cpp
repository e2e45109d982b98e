// Not a timing benchmark of the engine: whether latency plans hold on this machine. For each model, profiles
// its latency (reds/engine/latency.h), plans levels under time budgets (a share of the full network's
// predicted time), applies the plan and times every level of the planned model in one session, as
// `reds run` does: interleaved rounds of --rounds single-image runs after a warm-up, the median. Prints per
// level the budget, the plan's predicted latency, the measured one and their difference.
//
//   nice -n 10 build/bin/reds_latency_plan_check [--models ds_cnn_s_fmnist,ds_cnn_l,vww_96]
//       [--budgets 0.3,0.5,0.7,0.9] [--rounds 201] [--grid 5] [--profile-rounds 31]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "named_models.h"
#include "reds/engine/latency.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/plan.h"

namespace {

using namespace reds::engine;

template <class T>
T value_or_fail(reds::Result<T> result, const std::string& what) {
  if (!result) {
    std::cerr << what << ": " << result.error().message << "\n";
    std::exit(1);
  }
  return std::move(result).value();
}

Model named_model(const std::string& name) { return value_or_fail(bench::named_model(name), name); }

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> words;
  std::stringstream in(text);
  for (std::string word; std::getline(in, word, ',');)
    if (!word.empty()) words.push_back(word);
  return words;
}

double median(std::vector<double> values) {
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

void check(const std::string& name, const std::vector<double>& budgets, std::int64_t rounds,
           std::int64_t image_count, bool per_layer, const ProfileOptions& profile_options) {
  const Model model = named_model(name);
  const LatencyProfile profile = value_or_fail(profile_latency(model, profile_options), name + " profile");
  RequestOptions options;
  options.block = profile_options.block;
  reds::PlanRequest request = value_or_fail(plan_request(model, options), name + " request");
  if (auto error = add_latency(request, profile)) {
    std::cerr << name << " latency: " << error->message << "\n";
    std::exit(1);
  }
  const std::int64_t full = reds::full_network_cost(request.network).at(kLatencyResource);
  request.levels.clear();
  for (const double share : budgets)
    request.levels.push_back(reds::Level{
        {{kLatencyResource, reds::Limit::of_max(std::llround(share * static_cast<double>(full)))}}});
  const reds::PlanResult plan = value_or_fail(reds::plan(request), name + " plan");
  reds::PlanResult feasible_plan = plan;  // a level under the smallest widths' time has nothing to run
  std::erase_if(feasible_plan.levels,
                [](const reds::LevelPlan& level) { return level.status == reds::PlanStatus::infeasible; });
  const Model planned = value_or_fail(apply_plan(model, feasible_plan), name + " apply");
  Session session = value_or_fail(Session::create(planned), name + " session");
  // Each level's widths alone, as the profile times them: the nested layout's own cost shows as the
  // difference.
  std::vector<Session> alone;
  for (std::size_t level = 0; level < planned.plan->widths.size(); ++level) {
    Model single = planned;
    single.plan->widths = {planned.plan->widths[level]};
    alone.push_back(value_or_fail(Session::create(single), name + " single level"));
  }

  std::mt19937 generator(1);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  // A stream of distinct images (--images of them, in turn), as `reds run` reads a test set: each run
  // copies an image that may not be in the cache.
  const auto image_size = static_cast<std::size_t>(model.input.size());
  std::vector<float> images(image_size * static_cast<std::size_t>(image_count));
  for (float& value : images) value = pixel(generator);
  std::size_t next_image = 0;
  const auto image = [&] {
    next_image = (next_image + 1) % static_cast<std::size_t>(image_count);
    return std::span<const float>(images).subspan(next_image * image_size, image_size);
  };
  const std::size_t levels = session.level_count();
  std::vector<std::vector<double>> times(levels), alone_times(levels);
  constexpr int kRunsPerVisit = 10;  // after as many untimed: a steady stream of images, as `reds run`
  for (std::int64_t round = 0; round < rounds; ++round)
    for (std::size_t level = 0; level < levels; ++level) {
      session.set_level(level);
      for (int run = 0; run < kRunsPerVisit; ++run) session.run(image());
      for (int run = 0; run < kRunsPerVisit; ++run) {
        const auto start = std::chrono::steady_clock::now();
        session.run(image());
        times[level].push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
      }
      for (int run = 0; run < kRunsPerVisit; ++run) alone[level].run(image());
      for (int run = 0; run < kRunsPerVisit; ++run) {
        const auto start = std::chrono::steady_clock::now();
        alone[level].run(image());
        alone_times[level].push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
      }
    }
  std::printf(
      "%s: profile fit %.1f %% rms, %.1f %% max over %zu configurations; full network %.1f us; overhead %.1f "
      "us\n",
      name.c_str(), 100 * profile.network_rms_error, 100 * profile.network_max_error, profile.networks.size(),
      static_cast<double>(full) / 1e6, profile.overhead_picoseconds / 1e6);
  if (per_layer)
    for (const LayerLatency& layer : profile.layers)
      std::printf("  layer %-24s %-8s fit %5.1f %% rms %5.1f %% max (bilinear %5.1f %% rms)\n",
                  layer.name.c_str(), layer.fit.cost.table.empty() ? "bilinear" : "table",
                  100 * layer.fit.rms_error, 100 * layer.fit.max_error, 100 * layer.fit.bilinear_rms_error);
  std::printf("  level  budget us  predicted us  measured us  measured/predicted  over budget  alone us\n");
  std::size_t feasible = 0;
  for (std::size_t level = 0; level < plan.levels.size(); ++level) {
    const double budget = static_cast<double>(plan.levels[level].limits.at(kLatencyResource)) / 1e6;
    if (plan.levels[level].status == reds::PlanStatus::infeasible) {
      std::printf("  %5zu  %9.1f  infeasible\n", level + 1, budget);
      continue;
    }
    const double predicted = static_cast<double>(plan.levels[level].cost.at(kLatencyResource)) / 1e6;
    const double measured = median(times[feasible]);
    const double measured_alone = median(alone_times[feasible++]);
    std::printf("  %5zu  %9.1f  %12.1f  %11.1f  %18.3f  %10.1f %%  %8.1f\n", level + 1, budget, predicted,
                measured, measured / predicted, 100 * std::max(measured / budget - 1, 0.0), measured_alone);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf(
        "Usage: reds_latency_plan_check [--models LIST] [--budgets LIST] [--rounds N] [--images N]\n"
        "                               [--grid N] [--profile-rounds N] [--layers 1]\n\n"
        "Profiles each model's latency (as 'reds profile'), plans levels under time budgets (--budgets:\n"
        "shares of the full network's predicted time; default 0.3,0.5,0.7,0.9), applies the plan and\n"
        "times every level (--rounds interleaved rounds of 10 runs after 10 untimed; median): prints\n"
        "the budget, predicted and measured latency of every level, and each level's widths timed\n"
        "alone in a session of one level. --images N: the runs take N random images in turn (default\n"
        "10000, as many as Fashion-MNIST's test set: each run reads its image from memory).\n"
        "--layers 1 prints every layer's fit error too. Models (default all): ds_cnn_s_fmnist, ds_cnn_l, "
        "vww_96, or\n"
        "any bundled architecture (random weights). Run it with nice -n 10 on a loaded machine.\n");
    return 0;
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "reds_latency_plan_check: every option takes a value; try --help\n");
    return 2;
  }
  std::vector<std::string> models = {"ds_cnn_s_fmnist", "ds_cnn_l", "vww_96"};
  std::vector<double> budgets = {0.3, 0.5, 0.7, 0.9};
  std::int64_t rounds = 201;
  std::int64_t image_count = 10000;
  bool per_layer = false;
  ProfileOptions profile_options;
  for (int index = 1; index + 1 < argc; index += 2) {
    const std::string option = argv[index], value = argv[index + 1];
    if (option == "--models") {
      models = split(value);
    } else if (option == "--budgets") {
      budgets.clear();
      for (const std::string& word : split(value)) budgets.push_back(std::stod(word));
    } else if (option == "--rounds") {
      rounds = std::stoll(value);
    } else if (option == "--layers") {
      per_layer = value == "1";
    } else if (option == "--images") {
      image_count = std::max<std::int64_t>(std::stoll(value), 1);
    } else if (option == "--grid") {
      profile_options.grid = std::stoll(value);
    } else if (option == "--profile-rounds") {
      profile_options.rounds = std::stoll(value);
    } else {
      std::cerr << "unknown option " << option << "\n";
      return 2;
    }
  }
  for (const std::string& name : models)
    check(name, budgets, rounds, image_count, per_layer, profile_options);
  return 0;
}
