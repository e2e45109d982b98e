// `reds train --architecture NAME --data DIR -o OUT`: trains a network from scratch (random He-initialised
// weights) with the project's own training, reporting the test accuracy after every epoch.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_train(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
