// `reds finetune MODEL PLAN --data DIR -o OUT`: joint fine-tuning of every level of a plan (reds-paper
// section 7.2), with a progress bar and a resumable checkpoint.
#pragma once

#include <string>
#include <vector>

#include "commands.h"

namespace reds::cli {

int run_finetune(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
