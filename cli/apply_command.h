// `reds apply MODEL PLAN -o OUT`: a model permuted into a plan's order, with the plan embedded.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_apply(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
