#include "support/brute_force.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>

namespace reds::test {
namespace {

__extension__ using Wide = unsigned __int128;  // a GCC and Clang extension, hence the marker for -Wpedantic

std::int64_t checked_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) throw std::overflow_error("brute force: cost overflows 64 bits");
  return sum;
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b) {
  std::int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    throw std::overflow_error("brute force: cost overflows 64 bits");
  }
  return product;
}

// c(k_in, k) = fixed + unit*k + input*k_in + unit_input*k*k_in (+ table[k-1]), straight from the contract.
std::int64_t layer_cost(const CostTerms& terms, std::int64_t width_in, std::int64_t width) {
  std::int64_t cost = terms.fixed;
  cost = checked_add(cost, checked_mul(terms.unit, width));
  cost = checked_add(cost, checked_mul(terms.input, width_in));
  cost = checked_add(cost, checked_mul(checked_mul(terms.unit_input, width), width_in));
  if (!terms.table.empty()) cost = checked_add(cost, terms.table[width - 1]);
  return cost;
}

Aggregation aggregation(const Network& network, const std::string& resource) {
  auto declared = network.resources.find(resource);
  if (declared != network.resources.end()) return declared->second;
  return resource == "activation" ? Aggregation::max : Aggregation::sum;
}

// The first layer named `name` (the contract makes names unique).
std::size_t named_layer(const Network& network, const std::string& name) {
  for (std::size_t l = 0; l < network.layers.size(); ++l) {
    if (network.layers[l].name == name) return l;
  }
  throw std::invalid_argument("brute force: no layer is named '" + name + "'");
}

// Per layer, the importances of its width group (a stream's members and the tied layers following any of
// them, or a layer and its tied followers) summed unit by unit in layer order, stored at the group's first
// layer; the other layers get an empty vector.
std::vector<std::vector<double>> group_importance(const Network& network) {
  const std::vector<std::size_t> source = width_source(network);
  std::vector<std::vector<double>> summed(network.layers.size());
  for (std::size_t l = 0; l < network.layers.size(); ++l) {
    const Layer& layer = network.layers[l];
    if (source[l] == l) {
      summed[l] = layer.importance;
      continue;
    }
    for (std::size_t unit = 0; unit < layer.importance.size(); ++unit) {
      summed[source[l]][unit] += layer.importance[unit];
    }
  }
  return summed;
}

}  // namespace

bool component_wise_at_most(const Widths& smaller, const Widths& larger) {
  if (smaller.size() != larger.size()) return false;
  for (std::size_t l = 0; l < smaller.size(); ++l) {
    if (smaller[l] > larger[l]) return false;
  }
  return true;
}

bool same_importance(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

std::int64_t floor_of_product(double fraction, std::int64_t full) {
  // fraction = mantissa * 2^(exponent - 53) exactly, with an integer mantissa below 2^53; the product of
  // the two integers is below 2^106, so a 128-bit integer holds it exactly and a shift floors it.
  int exponent = 0;
  const double normalized = std::frexp(fraction, &exponent);
  const auto mantissa = static_cast<Wide>(std::ldexp(normalized, 53));
  const Wide product = mantissa * static_cast<Wide>(full);
  const int shift = exponent - 53;
  if (shift >= 0) return static_cast<std::int64_t>(product << shift);
  if (-shift >= 128) return 0;
  return static_cast<std::int64_t>(product >> -shift);
}

std::vector<std::size_t> width_source(const Network& network) {
  std::vector<std::size_t> source(network.layers.size());
  std::map<std::string, std::size_t> first_member;
  for (std::size_t l = 0; l < network.layers.size(); ++l) {
    const Layer& layer = network.layers[l];
    if (layer.tied && l > 0) {
      source[l] = source[l - 1];
    } else if (layer.stream) {
      source[l] = first_member.try_emplace(*layer.stream, l).first->second;
    } else {
      source[l] = l;
    }
  }
  return source;
}

std::vector<Widths> layer_width_choices(const Network& network) {
  const std::vector<std::size_t> source = width_source(network);
  std::vector<Widths> choices(network.layers.size());
  for (std::size_t l = 0; l < network.layers.size(); ++l) {
    const Layer& layer = network.layers[l];
    if (source[l] != l) continue;
    if (!layer.prunable) {
      choices[l] = {layer.units};
      continue;
    }
    for (std::int64_t width = layer.min_units; width < layer.units; ++width) {
      if (width % layer.block == 0) choices[l].push_back(width);
    }
    choices[l].push_back(layer.units);
  }
  return choices;
}

std::size_t count_width_vectors(const Network& network) {
  std::size_t count = 1;
  for (const Widths& choices : layer_width_choices(network)) {
    if (!choices.empty()) count *= choices.size();
  }
  return count;
}

std::vector<Widths> expected_order(const Network& network) {
  const std::vector<std::vector<double>> summed = group_importance(network);
  const std::vector<std::size_t> source = width_source(network);
  std::vector<Widths> order(network.layers.size());
  for (std::size_t l = 0; l < network.layers.size(); ++l) {
    const Layer& layer = network.layers[l];
    if (source[l] != l) {
      order[l] = order[source[l]];
      continue;
    }
    order[l].resize(static_cast<std::size_t>(layer.units));
    std::iota(order[l].begin(), order[l].end(), 0);
    if (!layer.prunable) continue;
    const std::vector<double>& importance = summed[l];
    std::stable_sort(order[l].begin(), order[l].end(),
                     [&](std::int64_t a, std::int64_t b) { return importance[a] > importance[b]; });
  }
  return order;
}

BruteForce::BruteForce(const PlanRequest& request) : network_(request.network) {
  std::set<std::string> mentioned;
  for (const auto& [name, how] : network_.resources) mentioned.insert(name);
  for (const Layer& layer : network_.layers) {
    for (const auto& [name, terms] : layer.cost) mentioned.insert(name);
  }
  resources_.assign(mentioned.begin(), mentioned.end());
  for (const std::string& name : resources_) aggregation_.push_back(aggregation(network_, name));

  // V of a group at width k: the sum of its k largest summed importances.
  const std::vector<std::vector<double>> summed = group_importance(network_);
  prefix_.resize(network_.layers.size());
  for (std::size_t l = 0; l < network_.layers.size(); ++l) {
    if (summed[l].empty()) continue;
    std::vector<double> sorted = summed[l];
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    prefix_[l].assign(sorted.size() + 1, 0.0);
    for (std::size_t k = 1; k <= sorted.size(); ++k) prefix_[l][k] = prefix_[l][k - 1] + sorted[k - 1];
  }

  // Odometer over the width variables' choices (at their first layers), last fastest: lexicographic order.
  const std::vector<Widths> choices = layer_width_choices(network_);
  source_ = width_source(network_);
  for (const Layer& layer : network_.layers) {
    input_.push_back(layer.input && !layer.tied ? named_layer(network_, *layer.input) : kPrevious);
  }
  std::vector<std::size_t> position(choices.size(), 0);
  bool advanced = true;
  while (advanced) {
    Widths widths(choices.size());
    for (std::size_t l = 0; l < choices.size(); ++l) {
      widths[l] = choices[l].empty() ? widths[source_[l]] : choices[l][position[l]];
    }
    all_widths_.push_back(std::move(widths));
    advanced = false;
    for (std::size_t l = choices.size(); l-- > 0 && !advanced;) {
      if (choices[l].empty()) continue;
      advanced = ++position[l] < choices[l].size();
      if (!advanced) position[l] = 0;
    }
  }

  for (const Widths& widths : all_widths_) {
    all_importance_.push_back(importance(widths));
    const Costs costs = cost(widths);
    std::vector<std::int64_t> per_resource;
    for (const std::string& name : resources_) per_resource.push_back(costs.at(name));
    all_cost_.push_back(std::move(per_resource));
  }

  Widths full;
  for (const Layer& layer : network_.layers) full.push_back(layer.units);
  full_cost_ = cost(full);
  full_importance_ = importance(full);

  for (const Level& level : request.levels) {
    Costs resolved;
    for (const auto& [name, limit] : level.limits) {
      const auto full_cost = full_cost_.find(name);
      const std::int64_t full_amount = full_cost == full_cost_.end() ? 0 : full_cost->second;
      resolved[name] =
          limit.kind == Limit::Kind::max ? limit.maximum : floor_of_product(limit.fraction, full_amount);
    }
    limits_.push_back(std::move(resolved));
  }
}

bool BruteForce::allowed(const Widths& widths) const {
  if (widths.size() != network_.layers.size()) return false;
  const std::vector<Widths> choices = layer_width_choices(network_);
  for (std::size_t l = 0; l < widths.size(); ++l) {
    if (choices[l].empty()) {
      if (widths[l] != widths[source_[l]]) return false;
      continue;
    }
    if (std::find(choices[l].begin(), choices[l].end(), widths[l]) == choices[l].end()) return false;
  }
  return true;
}

double BruteForce::importance(const Widths& widths) const {
  double value = 0.0;
  for (std::size_t l = 0; l < widths.size(); ++l) {
    if (!prefix_[l].empty()) value += prefix_[l][static_cast<std::size_t>(widths[l])];
  }
  return value;
}

Costs BruteForce::cost(const Widths& widths) const {
  Costs costs;
  for (std::size_t r = 0; r < resources_.size(); ++r) {
    const std::string& name = resources_[r];
    std::int64_t total = 0;
    for (std::size_t l = 0; l < network_.layers.size(); ++l) {
      const auto terms = network_.layers[l].cost.find(name);
      if (terms == network_.layers[l].cost.end()) continue;
      const std::int64_t width_in = input_[l] != kPrevious ? widths[input_[l]]
                                    : l == 0               ? network_.inputs
                                                           : widths[l - 1];
      std::int64_t cost = layer_cost(terms->second, width_in, widths[l]);
      for (const auto& [held, coefficient] : terms->second.held) {
        cost = checked_add(cost, checked_mul(coefficient, widths[named_layer(network_, held)]));
      }
      total = aggregation_[r] == Aggregation::sum ? checked_add(total, cost) : std::max(total, cost);
    }
    costs[name] = total;
  }
  return costs;
}

bool BruteForce::within_budget(std::size_t level, const Costs& cost) const {
  for (const auto& [name, limit] : limits_[level]) {
    const auto spent = cost.find(name);
    if (spent != cost.end() && spent->second > limit) return false;
  }
  return true;
}

bool BruteForce::within_budget(std::size_t level, std::size_t candidate) const {
  for (std::size_t r = 0; r < resources_.size(); ++r) {
    const auto limit = limits_[level].find(resources_[r]);
    if (limit != limits_[level].end() && all_cost_[candidate][r] > limit->second) return false;
  }
  return true;
}

LevelOptimum BruteForce::best(std::size_t level, const std::optional<Widths>& at_least,
                              const std::optional<Widths>& at_most) const {
  std::vector<std::size_t> admissible;
  for (std::size_t candidate = 0; candidate < all_widths_.size(); ++candidate) {
    const Widths& widths = all_widths_[candidate];
    if (at_least && !component_wise_at_most(*at_least, widths)) continue;
    if (at_most && !component_wise_at_most(widths, *at_most)) continue;
    if (within_budget(level, candidate)) admissible.push_back(candidate);
  }
  LevelOptimum optimum;
  if (admissible.empty()) return optimum;
  optimum.feasible = true;
  optimum.importance = all_importance_[admissible.front()];
  for (std::size_t candidate : admissible) {
    optimum.importance = std::max(optimum.importance, all_importance_[candidate]);
  }
  for (std::size_t candidate : admissible) {
    if (same_importance(all_importance_[candidate], optimum.importance)) {
      optimum.optimal_widths.push_back(all_widths_[candidate]);
    }
  }
  return optimum;
}

std::vector<LevelOptimum> BruteForce::solve(Strategy strategy) const {
  const std::size_t levels = limits_.size();
  std::vector<LevelOptimum> chain(levels);
  switch (strategy) {
    case Strategy::independent:
      for (std::size_t j = 0; j < levels; ++j) chain[j] = best(j);
      return chain;
    case Strategy::bottom_up: {
      std::optional<Widths> previous;
      for (std::size_t j = 0; j < levels; ++j) {
        chain[j] = best(j, previous, std::nullopt);
        if (chain[j].feasible) previous = chain[j].optimal_widths.front();
      }
      return chain;
    }
    case Strategy::top_down: {
      std::optional<Widths> next;
      for (std::size_t j = levels; j-- > 0;) {
        chain[j] = best(j, std::nullopt, next);
        if (chain[j].feasible) next = chain[j].optimal_widths.front();
      }
      return chain;
    }
    case Strategy::joint:
      break;
  }
  throw std::invalid_argument("brute force: the joint strategy is not supported");
}

}  // namespace reds::test
