// What the chain and the residual models compute alike from a plan given by its group widths: the shape of
// their costs differs (each model's cost_of for one resource), their groups' values and layers do not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace reds::detail {

// `Model` has `resources`, `groups` (each with `value[k]`, the importance of its k best units, and its
// `layers`) and cost_of(group_widths, resource); it brings these in with `using GroupPlans::cost_of`.
template <class Model>
class GroupPlans {
 public:
  // Cost per resource of a plan (exact, saturating; max resources aggregate the largest single layer cost).
  std::vector<std::int64_t> cost_of(const std::vector<std::int64_t>& group_widths) const {
    const Model& model = static_cast<const Model&>(*this);
    std::vector<std::int64_t> total(model.resources.size());
    for (std::size_t r = 0; r < model.resources.size(); ++r) total[r] = model.cost_of(group_widths, r);
    return total;
  }

  double value_of(const std::vector<std::int64_t>& group_widths) const {
    const Model& model = static_cast<const Model&>(*this);
    double value = 0.0;
    for (std::size_t g = 0; g < model.groups.size(); ++g) value += model.groups[g].value[group_widths[g]];
    return value;
  }

  // Width of every layer of the network from the group widths.
  std::vector<std::int64_t> layer_widths(const std::vector<std::int64_t>& group_widths,
                                         std::size_t layer_count) const {
    const Model& model = static_cast<const Model&>(*this);
    std::vector<std::int64_t> widths(layer_count, 0);
    for (std::size_t g = 0; g < model.groups.size(); ++g) {
      for (std::size_t layer : model.groups[g].layers) widths[layer] = group_widths[g];
    }
    return widths;
  }
};

}  // namespace reds::detail
