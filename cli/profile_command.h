// `reds profile MODEL`: the model's latency on this machine, layer by layer, fitted to the plan contract's
// cost form (reds/engine/latency.h), for `reds request --profile`.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_profile(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
