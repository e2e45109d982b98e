// `reds apply MODEL PLAN -o OUT`: a model permuted into a plan's order, with the plan embedded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "reds/contract.h"
#include "reds/engine/model.h"

namespace reds::cli {

// Nothing when the plan (a `reds plan` response) was made for `model`: it names the model's planned layers,
// each with the model's unit count (its `order`), and its full cost agrees with the model's on every
// resource both price. Otherwise invalid_argument naming the first difference. A model the contract cannot
// describe passes: apply_plan reports what is wrong with it.
std::optional<Error> check_plan_matches_model(const engine::Model& model, const PlanResult& plan);

int run_apply(const std::vector<std::string>& args, Streams streams);

}  // namespace reds::cli
