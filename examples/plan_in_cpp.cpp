// Plans a small dense network in C++ with libreds_solver: three hidden layers, MACs coupled to the previous
// layer's kept width, three levels at 25/50/75 % of the full MACs, bottom-up nesting.
#include <iostream>
#include <string_view>

#include "reds/plan.h"

int main(int argc, char** argv) {
  if (argc > 1) {
    const std::string_view word = argv[1];
    const bool help = word == "--help" || word == "-h";
    (help ? std::cout : std::cerr)
        << "Usage: reds_plan_in_cpp\n\n"
           "Plans a small dense network at 25/50/75 % of its MACs with the library and prints\n"
           "every level's widths (the README's library example). Takes no arguments.\n";
    return help ? 0 : 2;
  }
  reds::PlanRequest request;
  request.network.inputs = 16;
  const std::int64_t widths[] = {12, 10, 8};
  for (int l = 0; l < 3; ++l) {
    reds::Layer layer;
    layer.name = "fc" + std::to_string(l + 1);
    layer.units = widths[l];
    for (std::int64_t u = 0; u < layer.units; ++u) layer.importance.push_back(1.0 / double(u + 1 + l));
    layer.min_units = (layer.units + 3) / 4;  // never narrower than a quarter: no bottlenecks
    layer.cost["macs"].unit_input = 1;        // MACs = kept units * kept inputs
    request.network.layers.push_back(layer);
  }
  reds::Layer head;
  head.name = "head";
  head.units = 4;
  head.importance.assign(4, 1.0);
  head.prunable = false;  // the classes are never pruned
  head.cost["macs"].unit_input = 1;
  request.network.layers.push_back(head);
  for (double fraction : {0.25, 0.5, 0.75}) {
    request.levels.push_back(reds::Level{{{"macs", reds::Limit::of_fraction(fraction)}}});
  }

  const reds::Result<reds::PlanResult> plan = reds::plan(request);
  if (!plan) {
    std::cerr << plan.error().message << " (at " << plan.error().path << ")\n";
    return 2;
  }
  for (const reds::LevelPlan& level : plan->levels) {
    std::cout << reds::to_string(level.status) << "  macs " << level.cost.at("macs")
              << " <= " << level.limits.at("macs") << "  widths";
    for (std::int64_t width : level.widths) std::cout << ' ' << width;
    std::cout << "  importance " << level.importance << '\n';
  }
  return 0;
}
