// `reds plot plan PLAN` and `reds plot levels RUN`: standalone SVG figures of a plan (kept width per layer
// and level) and of a model's levels (accuracy and latency against their share of the full network's MACs).
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_plot(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
