// `reds apply MODEL PLAN -o OUT`: a model permuted into a plan's order, with the plan embedded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "reds/engine/model.h"

namespace reds::cli {

// Nothing when the plan (a `reds plan` response, as text) was made for `model`: its `order` names the
// model's planned layers, each with the model's unit count, its levels' widths name no other layer, and
// its full cost agrees with the model's on every resource both price. Otherwise invalid_argument naming
// the first difference. Text that is not a plan response passes: apply_plan reports what is wrong with it.
std::optional<Error> check_plan_matches_model(const engine::Model& model, std::string_view plan);

int run_apply(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
