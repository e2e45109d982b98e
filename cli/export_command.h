// `reds export MODEL -o OUT`: the levels of a model as standalone ONNX models.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_export(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
