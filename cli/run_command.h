// `reds run MODEL --data DIR`: accuracy and batch-1 latency of every level of a model on a test set.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_run(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
