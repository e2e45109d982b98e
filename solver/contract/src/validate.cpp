// validate(): every rule of the plan contract on the C++ form of a request, first violation wins.
//
// Checks run in document order (network, its layers one by one, the full network's cost, the levels one
// by one, strategy and weights, time limit), so the error a user sees is the first one in their request.
//
// validate() runs on every request, twice per POST /plan (the parser validates, then plan() validates again
// for library callers), and nearly every request is valid. So the checks only compare numbers: a field's
// RequestField, its path and its message are built for the one error reported, never on the way there.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "reds/contract.h"
#include "reds/detail/cost_model.h"
#include "reds/detail/saturating.h"
#include "reds/network.h"
#include "reds/status.h"
#include "request_field.h"
#include "width_spans.h"

namespace reds {
namespace {

using detail::kCostBound;
using detail::RequestField;

Error error_at(const RequestField& field, const std::string& message) {
  return invalid_argument(message, field.path());
}

RequestField layer_field(std::size_t index) { return RequestField::layers().index(index); }

// Shortest text that reads back as the same double.
std::string number_text(double value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc{} ? std::string(buffer, end) : std::string("?");
}

// 0 <= value < 2^53 in one comparison: a negative value wraps to above 2^63.
bool is_cost_value(std::int64_t value) {
  return static_cast<std::uint64_t>(value) < static_cast<std::uint64_t>(kCostBound);
}

Error cost_value_error(std::int64_t value, const RequestField& field) {
  if (value < 0) return error_at(field, field.name() + " must be >= 0, got " + std::to_string(value));
  return error_at(field, field.name() + " must be below 2^53, got " + std::to_string(value));
}

// A finite number >= 0 (NaN fails both comparisons).
bool is_importance(double value) { return value >= 0.0 && value <= std::numeric_limits<double>::max(); }

// A layer whose name an earlier layer already uses, and the first layer using it.
struct RepeatedName {
  std::size_t layer;
  std::size_t first_user;
};

// The layers sorted by name (ties by index): the first repeated name and the layer a name refers to, in
// O(log n) each, for a request with many layers.
class LayerNames {
 public:
  explicit LayerNames(const std::vector<Layer>& layers) : layers_(layers), by_name_(layers.size()) {
    std::iota(by_name_.begin(), by_name_.end(), std::size_t{0});
    std::sort(by_name_.begin(), by_name_.end(), [&layers](std::size_t a, std::size_t b) {
      const int order = layers[a].name.compare(layers[b].name);
      return order != 0 ? order < 0 : a < b;
    });
  }

  // The first repeated name in layer order.
  std::optional<RepeatedName> first_repeated() const {
    std::optional<RepeatedName> first;
    std::size_t first_user = 0;
    for (std::size_t rank = 0; rank < by_name_.size(); ++rank) {
      const std::size_t index = by_name_[rank];
      if (rank == 0 || layers_[index].name != layers_[by_name_[rank - 1]].name) {
        first_user = index;
      } else if (!first || index < first->layer) {
        first = RepeatedName{index, first_user};
      }
    }
    return first;
  }

  // The first layer named `name`.
  std::optional<std::size_t> find(const std::string& name) const {
    const auto found = std::lower_bound(
        by_name_.begin(), by_name_.end(), name,
        [this](std::size_t index, const std::string& wanted) { return layers_[index].name < wanted; });
    if (found == by_name_.end() || layers_[*found].name != name) return std::nullopt;
    return *found;
  }

 private:
  const std::vector<Layer>& layers_;
  std::vector<std::size_t> by_name_;
};

// Rule 9: `input` and `held` name a layer strictly before the one at `index`. `field` is the naming value,
// `what` how a message names it.
std::optional<Error> validate_reference(const LayerNames& names, const std::string& name, std::size_t index,
                                        const RequestField& field, const std::string& what) {
  const std::optional<std::size_t> named = names.find(name);
  if (!named) {
    return error_at(field, what + " names '" + name +
                               "', which is no layer of the network; it must name an "
                               "earlier layer");
  }
  if (*named == index) {
    return error_at(field, what + " names layer '" + name + "' itself; it must name an earlier layer");
  }
  if (*named > index) {
    return error_at(field, what + " names '" + name + "', which is layers[" + std::to_string(*named) +
                               "], after this layer; it must name an earlier layer");
  }
  return std::nullopt;
}

std::optional<Error> validate_cost(const Layer& layer, std::size_t index, const LayerNames& names) {
  for (const auto& [resource, terms] : layer.cost) {
    const std::pair<const char*, std::int64_t> coefficients[] = {{"fixed", terms.fixed},
                                                                 {"unit", terms.unit},
                                                                 {"input", terms.input},
                                                                 {"unit_input", terms.unit_input}};
    for (const auto& [name, value] : coefficients) {
      if (!is_cost_value(value))
        return cost_value_error(value, layer_field(index).key("cost").key(resource).key(name));
    }
    if (terms.table.empty()) continue;
    if (static_cast<std::int64_t>(terms.table.size()) != layer.units) {
      const RequestField table_field = layer_field(index).key("cost").key(resource).key("table");
      return error_at(table_field, table_field.name() + " has " + std::to_string(terms.table.size()) +
                                       " numbers, expected " + std::to_string(layer.units) +
                                       " (one per width 1..units)");
    }
    const auto wrong = std::find_if_not(terms.table.begin(), terms.table.end(), is_cost_value);
    if (wrong != terms.table.end()) {
      const auto width = static_cast<std::size_t>(wrong - terms.table.begin());
      return cost_value_error(*wrong, layer_field(index).key("cost").key(resource).key("table").index(width));
    }
  }
  for (const auto& [resource, terms] : layer.cost) {
    for (const auto& [name, coefficient] : terms.held) {
      const RequestField held_field = layer_field(index).key("cost").key(resource).key("held");
      if (auto error = validate_reference(names, name, index, held_field.key(name), held_field.name()))
        return error;
      if (!is_cost_value(coefficient)) return cost_value_error(coefficient, held_field.key(name));
    }
  }
  return std::nullopt;
}

// Rule 9 on `stream` and `input`. `first_members` maps every stream seen so far to its first member.
std::optional<Error> validate_references(const Network& network, std::size_t index, const LayerNames& names,
                                         std::map<std::string, std::size_t>& first_members) {
  const Layer& layer = network.layers[index];
  if (layer.stream) {
    const RequestField field = layer_field(index);
    if (layer.stream->empty())
      return error_at(field.key("stream"), field.name() + ".stream must not be empty");
    if (layer.tied) {
      return error_at(field.key("stream"), field.name() +
                                               ".stream cannot be set on a tied layer: it follows the width "
                                               "and order of the layer before it");
    }
    const auto [first, inserted] = first_members.try_emplace(*layer.stream, index);
    if (!inserted) {
      const Layer& first_member = network.layers[first->second];
      const std::string first_name = "layers[" + std::to_string(first->second) + "]";
      if (layer.units != first_member.units) {
        return error_at(field.key("units"), field.name() + ".units is " + std::to_string(layer.units) +
                                                " but stream '" + *layer.stream + "' has " +
                                                std::to_string(first_member.units) + " units (" + first_name +
                                                ", its first member): the members' outputs are added");
      }
      const std::pair<const char*, bool> defaults_kept[] = {
          {"min_units", layer.min_units == 1}, {"block", layer.block == 1}, {"prunable", layer.prunable}};
      for (const auto& [name, kept] : defaults_kept) {
        if (!kept) {
          return error_at(field.key(name), field.name() + "." + name +
                                               " cannot be set on a member of stream '" + *layer.stream +
                                               "' other than its first (" + first_name +
                                               "), whose settings apply to the whole stream");
        }
      }
    }
  }
  if (layer.input) {
    const RequestField field = layer_field(index).key("input");
    if (layer.tied) {
      return error_at(field, field.name() +
                                 " cannot be set on a tied layer: it always follows the layer "
                                 "before it");
    }
    return validate_reference(names, *layer.input, index, field, field.name());
  }
  return std::nullopt;
}

// Rule 10: no cut opens more than two width variables.
std::optional<Error> validate_open_widths(const Network& network) {
  const detail::WidthSpans spans = detail::width_spans(network);
  const std::vector<WidthGroup>& groups = spans.variables.groups;
  // change[i]: how many variables open at the cut after layer i minus how many close there.
  std::vector<std::int64_t> change(network.layers.size() + 1, 0);
  for (std::size_t group = 0; group < groups.size(); ++group) {
    if (groups[group].pinned) continue;
    ++change[groups[group].layers.front()];
    --change[spans.last_reference[group]];
  }
  std::int64_t open = 0;
  for (std::size_t cut = 0; cut < network.layers.size(); ++cut) {
    open += change[cut];
    if (open <= 2) continue;
    std::string widths;
    for (std::size_t group = 0; group < groups.size(); ++group) {
      const std::size_t first = groups[group].layers.front();
      if (groups[group].pinned || first > cut || spans.last_reference[group] <= cut) continue;
      widths += (widths.empty() ? "'" : ", '") + network.layers[first].name + "'";
    }
    const RequestField field = layer_field(cut);
    return error_at(field, "at most two widths may be open across a layer boundary, but the cut after " +
                               field.name() + " opens " + std::to_string(open) + ": the widths of " + widths);
  }
  return std::nullopt;
}

// Rules on a tied layer (contract, "tied" and precise rule 3).
std::optional<Error> validate_tied(const Network& network, std::size_t index) {
  const Layer& layer = network.layers[index];
  if (index == 0) {
    const RequestField field = layer_field(index);
    return error_at(field.key("tied"), field.name() + " cannot be tied: the first layer follows no layer");
  }
  const Layer& previous = network.layers[index - 1];
  if (layer.units != previous.units) {
    const RequestField field = layer_field(index);
    return error_at(field.key("units"), field.name() + ".units is " + std::to_string(layer.units) +
                                            " but a tied layer needs the previous layer's " +
                                            std::to_string(previous.units));
  }
  const std::pair<const char*, bool> defaults_kept[] = {
      {"min_units", layer.min_units == 1}, {"block", layer.block == 1}, {"prunable", layer.prunable}};
  for (const auto& [name, kept] : defaults_kept) {
    if (!kept) {
      const RequestField field = layer_field(index);
      return error_at(field.key(name), field.name() + "." + name +
                                           " cannot be set on a tied layer: its width comes from the layer "
                                           "it follows");
    }
  }
  return std::nullopt;
}

// Also adds the layer's importances to total_importance, in the order the sum check below expects.
std::optional<Error> validate_layer(const Network& network, std::size_t index, const LayerNames& names,
                                    const std::optional<RepeatedName>& repeated_name,
                                    std::map<std::string, std::size_t>& first_members,
                                    double& total_importance) {
  const Layer& layer = network.layers[index];
  if (layer.name.empty()) {
    const RequestField field = layer_field(index);
    return error_at(field.key("name"), field.name() + ".name must not be empty");
  }
  if (repeated_name && repeated_name->layer == index) {
    const RequestField field = layer_field(index);
    return error_at(field.key("name"), field.name() + ".name '" + layer.name +
                                           "' is already used by layers[" +
                                           std::to_string(repeated_name->first_user) + "]");
  }
  if (layer.units < 1) {
    const RequestField field = layer_field(index);
    return error_at(field.key("units"),
                    field.name() + ".units must be >= 1, got " + std::to_string(layer.units));
  }
  if (static_cast<std::int64_t>(layer.importance.size()) != layer.units) {
    const RequestField importance_field = layer_field(index).key("importance");
    return error_at(importance_field, importance_field.name() + " has " +
                                          std::to_string(layer.importance.size()) + " numbers, expected " +
                                          std::to_string(layer.units));
  }
  // One pass sums the importances, in order, and finds the smallest: a negative importance shows in the
  // smallest, a NaN or an infinity in the sum. Only then is the offending one looked for.
  double total = total_importance;
  double smallest = 0.0;
  for (const double importance : layer.importance) {
    total += importance;
    smallest = std::min(importance, smallest);
  }
  if (!(smallest >= 0.0) || !std::isfinite(total)) {
    const auto wrong = std::find_if_not(layer.importance.begin(), layer.importance.end(), is_importance);
    if (wrong != layer.importance.end()) {
      const auto unit = static_cast<std::size_t>(wrong - layer.importance.begin());
      const RequestField unit_field = layer_field(index).key("importance").index(unit);
      return error_at(unit_field,
                      unit_field.name() + " must be a finite number >= 0, got " + number_text(*wrong));
    }
  }
  total_importance = total;
  if (layer.min_units < 1 || layer.min_units > layer.units) {
    const RequestField field = layer_field(index);
    return error_at(field.key("min_units"), field.name() + ".min_units must be between 1 and units (" +
                                                std::to_string(layer.units) + "), got " +
                                                std::to_string(layer.min_units));
  }
  if (layer.block < 1) {
    const RequestField field = layer_field(index);
    return error_at(field.key("block"),
                    field.name() + ".block must be >= 1, got " + std::to_string(layer.block));
  }
  if (layer.tied) {
    if (auto error = validate_tied(network, index)) return error;
  }
  if (layer.stream || layer.input) {
    if (auto error = validate_references(network, index, names, first_members)) return error;
  }
  return validate_cost(layer, index, names);
}

std::optional<Error> validate_network(const Network& network) {
  if (network.inputs < 1) {
    return invalid_argument("network.inputs must be >= 1, got " + std::to_string(network.inputs),
                            RequestField::root().key("network").key("inputs").path());
  }
  if (network.layers.empty()) {
    return invalid_argument("network.layers must not be empty", RequestField::layers().path());
  }
  const LayerNames names(network.layers);
  const std::optional<RepeatedName> repeated_name = names.first_repeated();
  std::map<std::string, std::size_t> first_members;  // per stream
  // Plan importances are sums of unit importances; they must stay finite doubles.
  double total_importance = 0.0;
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    if (auto error = validate_layer(network, index, names, repeated_name, first_members, total_importance))
      return error;
  }
  if (!std::isfinite(total_importance)) {
    return invalid_argument(
        "the importances of all layers sum to more than the largest double; scale them down",
        RequestField::layers().path());
  }
  // A chain of version 1 layers opens at most the width of the layer before each cut.
  if (first_residual_field(network)) return validate_open_widths(network);
  return std::nullopt;
}

// The full network's cost of one resource some layer lists, as full_network_cost() computes it.
struct FullCost {
  const std::string* resource;
  Aggregation aggregation;
  std::int64_t total;
  bool costed;  // some layer gives the resource a non-zero coefficient or a table
};

// k_in of layer `index` in the full network.
std::int64_t full_input_width(const Network& network, const detail::LayerReferences& references,
                              std::size_t index) {
  const std::size_t input = references.input_of(index);
  return input == WidthVariables::kNetworkInputs ? network.inputs : network.layers[input].units;
}

// A layer's cost in the full network, its `held` terms included.
std::int64_t full_layer_cost(const Network& network, const detail::LayerReferences& references,
                             const CostTerms& terms, std::int64_t k_in, std::int64_t units) {
  std::int64_t cost = detail::layer_cost(terms, k_in, units);
  for (const auto& [name, coefficient] : terms.held) {
    const std::size_t held = references.index_of(name);
    cost = detail::saturating_add(cost, detail::saturating_mul(coefficient, network.layers[held].units));
  }
  return cost;
}

// full_network_cost() without its set and map, in resource order. Every layer of a request usually lists
// the same resources, so merging each layer's (sorted) cost map in costs one comparison per entry.
std::vector<FullCost> full_costs(const Network& network) {
  std::vector<FullCost> costs;
  if (!network.layers.empty()) costs.reserve(network.layers.front().cost.size());
  const detail::LayerReferences references(network);
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    const Layer& layer = network.layers[index];
    const std::int64_t k_in = full_input_width(network, references, index);
    std::size_t position = 0;
    for (const auto& [resource, terms] : layer.cost) {
      int order = 1;
      while (position < costs.size() && (order = costs[position].resource->compare(resource)) < 0) {
        ++position;
      }
      if (position == costs.size() || order > 0) {
        costs.insert(costs.begin() + static_cast<std::ptrdiff_t>(position),
                     FullCost{&resource, aggregation_of(network, resource), 0, false});
      }
      FullCost& full = costs[position];
      const std::int64_t cost = full_layer_cost(network, references, terms, k_in, layer.units);
      full.total = full.aggregation == Aggregation::sum ? detail::saturating_add(full.total, cost)
                                                        : std::max(full.total, cost);
      full.costed = full.costed || terms.fixed != 0 || terms.unit != 0 || terms.input != 0 ||
                    terms.unit_input != 0 || !terms.table.empty() ||
                    std::any_of(terms.held.begin(), terms.held.end(),
                                [](const auto& held) { return held.second != 0; });
      ++position;
    }
  }
  return costs;
}

const FullCost* find_full_cost(const std::vector<FullCost>& costs, const std::string& resource) {
  const auto found = std::lower_bound(
      costs.begin(), costs.end(), resource,
      [](const FullCost& cost, const std::string& name) { return cost.resource->compare(name) < 0; });
  return found != costs.end() && *found->resource == resource ? &*found : nullptr;
}

// Precise rule 2: the full network's cost of every resource stays below 2^53.
std::optional<Error> validate_full_cost(const Network& network, const std::vector<FullCost>& costs) {
  for (const FullCost& full : costs) {
    if (full.total < kCostBound) continue;
    const std::string& resource = *full.resource;
    // Point at the layer that costs the most, the likeliest culprit.
    std::size_t culprit = 0;
    std::int64_t largest = -1;
    const detail::LayerReferences references(network);
    for (std::size_t index = 0; index < network.layers.size(); ++index) {
      const Layer& layer = network.layers[index];
      const auto terms = layer.cost.find(resource);
      if (terms != layer.cost.end()) {
        const std::int64_t cost = full_layer_cost(network, references, terms->second,
                                                  full_input_width(network, references, index), layer.units);
        if (cost > largest) {
          largest = cost;
          culprit = index;
        }
      }
    }
    const RequestField field = layer_field(culprit).key("cost").key(resource);
    return error_at(field, "the full network's '" + resource + "' cost reaches 2^53 or more (" +
                               field.name() + " alone is " + std::to_string(largest) +
                               " at full width); every cost must be below 2^53");
  }
  return std::nullopt;
}

std::int64_t resolved_limit(const Limit& limit, std::int64_t full) {
  return limit.kind == Limit::Kind::fraction ? resolve_fraction(limit.fraction, full) : limit.maximum;
}

RequestField limit_field(std::size_t level, const std::string& resource) {
  return RequestField::root().key("levels").index(level).key(resource);
}

RequestField limit_value_field(const RequestField& limit_field, const Limit& limit) {
  return limit_field.key(limit.kind == Limit::Kind::fraction ? "fraction" : "max");
}

std::optional<Error> validate_limit(const FullCost* full, const std::string& resource, const Limit& limit,
                                    std::size_t level) {
  if (full == nullptr || !full->costed) {
    const RequestField field = limit_field(level, resource);
    return error_at(field, field.name() + " limits '" + resource +
                               "', which no layer costs (give some layer a non-zero cost for it)");
  }
  if (limit.kind == Limit::Kind::fraction) {
    if (!std::isfinite(limit.fraction) || !(limit.fraction > 0.0) || limit.fraction > 1.0) {
      const RequestField value_field = limit_value_field(limit_field(level, resource), limit);
      return error_at(value_field, value_field.name() + " must be a number with 0 < fraction <= 1, got " +
                                       number_text(limit.fraction));
    }
    return std::nullopt;
  }
  if (limit.maximum < 0 || limit.maximum >= kCostBound) {
    const RequestField value_field = limit_value_field(limit_field(level, resource), limit);
    return error_at(value_field, value_field.name() + " must be an integer with 0 <= max < 2^53, got " +
                                     std::to_string(limit.maximum));
  }
  return std::nullopt;
}

// Precise rule 4: level j+1 limits only what level j limits, never below it. `full` is the full cost of
// `resource`, which validate_limit() found costed.
std::optional<Error> validate_growth(const Level& previous, const std::string& resource, const Limit& limit,
                                     std::int64_t full, std::size_t level) {
  const auto previous_limit = previous.limits.find(resource);
  if (previous_limit == previous.limits.end()) {
    const RequestField field = limit_field(level, resource);
    return error_at(field, field.name() + " is limited but " +
                               RequestField::root().key("levels").index(level - 1).name() +
                               " does not limit '" + resource +
                               "': every level must limit what the next one limits");
  }
  const std::int64_t now = resolved_limit(limit, full);
  const std::int64_t before = resolved_limit(previous_limit->second, full);
  if (now < before) {
    const RequestField field = limit_field(level, resource);
    return error_at(limit_value_field(field, limit),
                    field.name() + " resolves to " + std::to_string(now) + ", below " +
                        RequestField::root().key("levels").index(level - 1).name() + "'s " +
                        std::to_string(before) + ": levels are given smallest first and must not decrease");
  }
  return std::nullopt;
}

std::optional<Error> validate_levels(const PlanRequest& request, const std::vector<FullCost>& costs) {
  const std::size_t count = request.levels.size();
  if (count < 1 || count > 64) {
    return invalid_argument("levels must have 1 to 64 entries, got " + std::to_string(count),
                            RequestField::root().key("levels").path());
  }
  for (std::size_t index = 0; index < count; ++index) {
    const Level& level = request.levels[index];
    if (level.limits.empty()) {
      const RequestField field = RequestField::root().key("levels").index(index);
      return error_at(field, field.name() + " limits no resource; give at least one limit");
    }
    // Every limit of the level is checked before any is compared with the previous level's.
    for (const auto& [resource, limit] : level.limits) {
      if (auto error = validate_limit(find_full_cost(costs, resource), resource, limit, index)) return error;
    }
    if (index == 0) continue;
    for (const auto& [resource, limit] : level.limits) {
      const std::int64_t full = find_full_cost(costs, resource)->total;
      if (auto error = validate_growth(request.levels[index - 1], resource, limit, full, index)) return error;
    }
  }
  return std::nullopt;
}

std::optional<Error> validate_weights(const PlanRequest& request) {
  if (request.weights.empty()) return std::nullopt;
  const RequestField weights_field = RequestField::root().key("weights");
  if (request.strategy != Strategy::joint) {
    return error_at(weights_field, std::string("weights are only accepted with strategy 'joint', not '") +
                                       to_string(request.strategy) + "'");
  }
  if (request.weights.size() != request.levels.size()) {
    return error_at(weights_field, "weights has " + std::to_string(request.weights.size()) +
                                       " numbers, expected " + std::to_string(request.levels.size()) +
                                       " (one per level)");
  }
  for (std::size_t index = 0; index < request.weights.size(); ++index) {
    const double weight = request.weights[index];
    if (!std::isfinite(weight) || !(weight > 0.0)) {
      const RequestField field = weights_field.index(index);
      return error_at(field, field.name() + " must be a positive finite number, got " + number_text(weight));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Error> validate(const PlanRequest& request) {
  if (auto error = validate_network(request.network)) return error;
  const std::vector<FullCost> costs = full_costs(request.network);
  if (auto error = validate_full_cost(request.network, costs)) return error;
  if (auto error = validate_levels(request, costs)) return error;
  if (auto error = validate_weights(request)) return error;
  if (request.time_limit_ms && *request.time_limit_ms <= 0) {
    return invalid_argument(
        "time_limit_ms must be a positive integer, got " + std::to_string(*request.time_limit_ms),
        RequestField::root().key("time_limit_ms").path());
  }
  return std::nullopt;
}

}  // namespace reds
