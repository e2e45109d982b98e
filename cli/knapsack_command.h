// `reds knapsack FILE|-`: solves the 0-1 knapsack instances of a file in the literature's text format
// (reds/knapsack_format.h) and prints one JSON line per instance; `reds knapsack --generate CLASS ...`
// prints a generated instance of one of the literature's classes in that format.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_knapsack(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
