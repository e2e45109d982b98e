// Compares the nesting strategies on the paper's architectures: each level's importance as a fraction of
// the independent optimum at the same budget (the price of nesting), and the joint objective.
//
//   build/bin/reds_strategy_report [fractions...]      (default 0.25 0.5 0.75)
// Prints a Markdown table.
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "reds/models/architectures.h"
#include "reds/plan.h"

int main(int argc, char** argv) {
  reds::models::ExampleOptions options;
  if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::printf(
        "Usage: reds_strategy_report [FRACTION...]\n\n"
        "Plans the paper's architectures at one MAC level per FRACTION (default 0.25 0.5 0.75) with\n"
        "each nesting strategy and prints a Markdown table: every level's importance over the\n"
        "independent optimum at its budget (the price of nesting), their sum and the solve time.\n");
    return 0;
  }
  if (argc > 1) options.mac_fractions.clear();
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    double fraction = 0.0;
    const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), fraction);
    if (word.empty() || error != std::errc() || end != word.data() + word.size() || !(fraction > 0.0) ||
        fraction > 1.0) {
      std::fprintf(stderr, "reds_strategy_report: '%s' is not a fraction in (0, 1]; try --help\n", argv[i]);
      return 2;
    }
    options.mac_fractions.push_back(fraction);
  }
  const char* architectures[] = {"dnn_s",          "dnn_l",    "cnn_s",           "cnn_l",
                                 "ds_cnn_s",       "ds_cnn_l", "ds_cnn_s_fmnist", "ds_cnn_s_cifar10",
                                 "mobilenet_v1_96"};
  std::printf("| architecture | strategy | level / independent optimum, per level | sum | seconds |\n");
  std::printf("| --- | --- | --- | --- | --- |\n");
  for (const char* name : architectures) {
    reds::Result<reds::PlanRequest> request = reds::models::example_request(name, options);
    if (!request) {
      std::fprintf(stderr, "%s: %s\n", name, request.error().message.c_str());
      return 1;
    }
    for (const reds::Strategy strategy :
         {reds::Strategy::bottom_up, reds::Strategy::top_down, reds::Strategy::joint}) {
      request.value().strategy = strategy;
      const reds::Result<reds::PlanResult> plan = reds::plan(*request);
      if (!plan) {
        std::fprintf(stderr, "%s: %s\n", name, plan.error().message.c_str());
        return 1;
      }
      std::string ratios;
      double sum = 0.0;
      for (const reds::LevelPlan& level : plan->levels) {
        char cell[32];
        std::snprintf(cell, sizeof cell, "%s%.4f", ratios.empty() ? "" : " / ",
                      level.importance / level.independent_importance.value_or(level.importance));
        ratios += cell;
        sum += level.importance;
      }
      std::printf("| %s | %s | %s | %.2f | %.3f |\n", name, reds::to_string(strategy), ratios.c_str(), sum,
                  plan->solve_seconds);
    }
  }
  return 0;
}
