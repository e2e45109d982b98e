// `reds request MODEL`: the plan request (plan contract v1) of a trained model, from its weights and shapes.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_request(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
