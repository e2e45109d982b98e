// validate(): every rule of the plan contract on the C++ form of a request, first violation wins.
//
// Checks run in document order (network, its layers one by one, the full network's cost, the levels one
// by one, strategy and weights, time limit), so the error a user sees is the first one in their request.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>

#include "cost_model.h"
#include "reds/network.h"
#include "reds/plan.h"
#include "reds/status.h"
#include "request_field.h"

namespace reds {
namespace {

using detail::kCostBound;
using detail::RequestField;

Error error_at(const RequestField& field, const std::string& message) {
  return invalid_argument(message, field.path());
}

// Shortest text that reads back as the same double.
std::string number_text(double value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc{} ? std::string(buffer, end) : std::string("?");
}

std::optional<Error> check_cost_value(std::int64_t value, const RequestField& field) {
  if (value < 0) {
    return error_at(field, field.name() + " must be >= 0, got " + std::to_string(value));
  }
  if (value >= kCostBound) {
    return error_at(field, field.name() + " must be below 2^53, got " + std::to_string(value));
  }
  return std::nullopt;
}

std::optional<Error> validate_cost(const Layer& layer, const RequestField& layer_field) {
  const RequestField cost_field = layer_field.key("cost");
  for (const auto& [resource, terms] : layer.cost) {
    const RequestField terms_field = cost_field.key(resource);
    const std::pair<const char*, std::int64_t> coefficients[] = {{"fixed", terms.fixed},
                                                                 {"unit", terms.unit},
                                                                 {"input", terms.input},
                                                                 {"unit_input", terms.unit_input}};
    for (const auto& [name, value] : coefficients) {
      if (auto error = check_cost_value(value, terms_field.key(name))) return error;
    }
    if (terms.table.empty()) continue;
    const RequestField table_field = terms_field.key("table");
    if (static_cast<std::int64_t>(terms.table.size()) != layer.units) {
      return error_at(table_field, table_field.name() + " has " + std::to_string(terms.table.size()) +
                                       " numbers, expected " + std::to_string(layer.units) +
                                       " (one per width 1..units)");
    }
    for (std::size_t width = 0; width < terms.table.size(); ++width) {
      if (auto error = check_cost_value(terms.table[width], table_field.index(width))) return error;
    }
  }
  return std::nullopt;
}

// Rules on a tied layer (contract, "tied" and precise rule 3).
std::optional<Error> validate_tied(const Network& network, std::size_t index, const RequestField& field) {
  const Layer& layer = network.layers[index];
  if (index == 0) {
    return error_at(field.key("tied"), field.name() + " cannot be tied: the first layer follows no layer");
  }
  const Layer& previous = network.layers[index - 1];
  if (layer.units != previous.units) {
    return error_at(field.key("units"), field.name() + ".units is " + std::to_string(layer.units) +
                                            " but a tied layer needs the previous layer's " +
                                            std::to_string(previous.units));
  }
  const std::pair<const char*, bool> defaults_kept[] = {
      {"min_units", layer.min_units == 1}, {"block", layer.block == 1}, {"prunable", layer.prunable}};
  for (const auto& [name, kept] : defaults_kept) {
    if (!kept) {
      return error_at(field.key(name), field.name() + "." + name +
                                           " cannot be set on a tied layer: its width comes from the layer "
                                           "it follows");
    }
  }
  return std::nullopt;
}

std::optional<Error> validate_layer(const Network& network, std::size_t index,
                                    std::unordered_map<std::string, std::size_t>& index_of_name) {
  const Layer& layer = network.layers[index];
  const RequestField field = RequestField::layers().index(index);
  if (layer.name.empty()) return error_at(field.key("name"), field.name() + ".name must not be empty");
  const auto [named, inserted] = index_of_name.emplace(layer.name, index);
  if (!inserted) {
    return error_at(field.key("name"), field.name() + ".name '" + layer.name +
                                           "' is already used by layers[" + std::to_string(named->second) +
                                           "]");
  }
  if (layer.units < 1) {
    return error_at(field.key("units"),
                    field.name() + ".units must be >= 1, got " + std::to_string(layer.units));
  }
  const RequestField importance_field = field.key("importance");
  if (static_cast<std::int64_t>(layer.importance.size()) != layer.units) {
    return error_at(importance_field, importance_field.name() + " has " +
                                          std::to_string(layer.importance.size()) + " numbers, expected " +
                                          std::to_string(layer.units));
  }
  for (std::size_t unit = 0; unit < layer.importance.size(); ++unit) {
    const double importance = layer.importance[unit];
    if (!std::isfinite(importance) || importance < 0.0) {
      const RequestField unit_field = importance_field.index(unit);
      return error_at(unit_field,
                      unit_field.name() + " must be a finite number >= 0, got " + number_text(importance));
    }
  }
  if (layer.min_units < 1 || layer.min_units > layer.units) {
    return error_at(field.key("min_units"), field.name() + ".min_units must be between 1 and units (" +
                                                std::to_string(layer.units) + "), got " +
                                                std::to_string(layer.min_units));
  }
  if (layer.block < 1) {
    return error_at(field.key("block"),
                    field.name() + ".block must be >= 1, got " + std::to_string(layer.block));
  }
  if (layer.tied) {
    if (auto error = validate_tied(network, index, field)) return error;
  }
  return validate_cost(layer, field);
}

// Precise rule 2: the full network's cost of every resource stays below 2^53.
std::optional<Error> validate_full_cost(const Network& network,
                                        const std::map<std::string, std::int64_t>& full) {
  for (const auto& [resource, total] : full) {
    if (total < kCostBound) continue;
    // Point at the layer that costs the most, the likeliest culprit.
    std::size_t culprit = 0;
    std::int64_t largest = -1;
    std::int64_t k_in = network.inputs;
    for (std::size_t index = 0; index < network.layers.size(); ++index) {
      const Layer& layer = network.layers[index];
      const auto terms = layer.cost.find(resource);
      if (terms != layer.cost.end()) {
        const std::int64_t cost = detail::layer_cost(terms->second, k_in, layer.units);
        if (cost > largest) {
          largest = cost;
          culprit = index;
        }
      }
      k_in = layer.units;
    }
    const RequestField field = RequestField::layers().index(culprit).key("cost").key(resource);
    return error_at(field, "the full network's '" + resource + "' cost reaches 2^53 or more (" +
                               field.name() + " alone is " + std::to_string(largest) +
                               " at full width); every cost must be below 2^53");
  }
  return std::nullopt;
}

std::optional<Error> validate_network(const Network& network) {
  const RequestField field = RequestField::root().key("network");
  if (network.inputs < 1) {
    return error_at(field.key("inputs"),
                    "network.inputs must be >= 1, got " + std::to_string(network.inputs));
  }
  if (network.layers.empty()) {
    return error_at(field.key("layers"), "network.layers must not be empty");
  }
  std::unordered_map<std::string, std::size_t> index_of_name;
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    if (auto error = validate_layer(network, index, index_of_name)) return error;
  }
  // Plan importances are sums of unit importances; they must stay finite doubles.
  double total_importance = 0.0;
  for (const Layer& layer : network.layers) {
    for (const double importance : layer.importance) total_importance += importance;
  }
  if (!std::isfinite(total_importance)) {
    return error_at(field.key("layers"),
                    "the importances of all layers sum to more than the largest double; scale them down");
  }
  return std::nullopt;
}

// A resource is costed when some layer gives it a non-zero coefficient or a table.
bool is_costed(const Network& network, const std::string& resource) {
  for (const Layer& layer : network.layers) {
    const auto terms = layer.cost.find(resource);
    if (terms == layer.cost.end()) continue;
    const CostTerms& t = terms->second;
    if (t.fixed != 0 || t.unit != 0 || t.input != 0 || t.unit_input != 0 || !t.table.empty()) return true;
  }
  return false;
}

std::int64_t resolved_limit(const Limit& limit, std::int64_t full) {
  return limit.kind == Limit::Kind::fraction ? resolve_fraction(limit.fraction, full) : limit.maximum;
}

RequestField limit_value_field(const RequestField& limit_field, const Limit& limit) {
  return limit_field.key(limit.kind == Limit::Kind::fraction ? "fraction" : "max");
}

std::optional<Error> validate_limit(const Network& network, const std::string& resource, const Limit& limit,
                                    const RequestField& limit_field) {
  if (!is_costed(network, resource)) {
    return error_at(limit_field, limit_field.name() + " limits '" + resource +
                                     "', which no layer costs (give some layer a non-zero cost for it)");
  }
  const RequestField value_field = limit_value_field(limit_field, limit);
  if (limit.kind == Limit::Kind::fraction) {
    if (!std::isfinite(limit.fraction) || !(limit.fraction > 0.0) || limit.fraction > 1.0) {
      return error_at(value_field, value_field.name() + " must be a number with 0 < fraction <= 1, got " +
                                       number_text(limit.fraction));
    }
    return std::nullopt;
  }
  if (limit.maximum < 0 || limit.maximum >= kCostBound) {
    return error_at(value_field, value_field.name() + " must be an integer with 0 <= max < 2^53, got " +
                                     std::to_string(limit.maximum));
  }
  return std::nullopt;
}

// Precise rule 4: level j+1 limits only what level j limits, never below it.
std::optional<Error> validate_growth(const Level& previous, const Level& level, std::size_t index,
                                     const std::map<std::string, std::int64_t>& full,
                                     const RequestField& levels_field) {
  const RequestField previous_name = levels_field.index(index - 1);
  for (const auto& [resource, limit] : level.limits) {
    const RequestField limit_field = levels_field.index(index).key(resource);
    const auto previous_limit = previous.limits.find(resource);
    if (previous_limit == previous.limits.end()) {
      return error_at(limit_field, limit_field.name() + " is limited but " + previous_name.name() +
                                       " does not limit '" + resource +
                                       "': every level must limit what the next one limits");
    }
    const std::int64_t now = resolved_limit(limit, full.at(resource));
    const std::int64_t before = resolved_limit(previous_limit->second, full.at(resource));
    if (now < before) {
      return error_at(limit_value_field(limit_field, limit),
                      limit_field.name() + " resolves to " + std::to_string(now) + ", below " +
                          previous_name.name() + "'s " + std::to_string(before) +
                          ": levels are given smallest first and must not decrease");
    }
  }
  return std::nullopt;
}

std::optional<Error> validate_levels(const PlanRequest& request,
                                     const std::map<std::string, std::int64_t>& full) {
  const RequestField levels_field = RequestField::root().key("levels");
  const std::size_t count = request.levels.size();
  if (count < 1 || count > 64) {
    return error_at(levels_field, "levels must have 1 to 64 entries, got " + std::to_string(count));
  }
  for (std::size_t index = 0; index < count; ++index) {
    const Level& level = request.levels[index];
    const RequestField level_field = levels_field.index(index);
    if (level.limits.empty()) {
      return error_at(level_field, level_field.name() + " limits no resource; give at least one limit");
    }
    for (const auto& [resource, limit] : level.limits) {
      if (auto error = validate_limit(request.network, resource, limit, level_field.key(resource))) {
        return error;
      }
    }
    if (index > 0) {
      if (auto error = validate_growth(request.levels[index - 1], level, index, full, levels_field)) {
        return error;
      }
    }
  }
  return std::nullopt;
}

std::optional<Error> validate_weights(const PlanRequest& request) {
  const RequestField weights_field = RequestField::root().key("weights");
  if (request.weights.empty()) return std::nullopt;
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
  const std::map<std::string, std::int64_t> full = full_network_cost(request.network);
  if (auto error = validate_full_cost(request.network, full)) return error;
  if (auto error = validate_levels(request, full)) return error;
  if (auto error = validate_weights(request)) return error;
  if (request.time_limit_ms && *request.time_limit_ms <= 0) {
    return invalid_argument(
        "time_limit_ms must be a positive integer, got " + std::to_string(*request.time_limit_ms),
        RequestField::root().key("time_limit_ms").path());
  }
  return std::nullopt;
}

}  // namespace reds
