// The width structure of a network (contract 1.1, "Width variables and open widths") and the unit order of
// every width group.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "reds/contract.h"
#include "reds/network.h"
#include "request_field.h"
#include "width_spans.h"

namespace reds {
namespace detail {

WidthSpans width_spans(const Network& network) {
  const std::size_t count = network.layers.size();
  WidthSpans spans;
  WidthVariables& variables = spans.variables;
  variables.group_of_layer.assign(count, 0);
  variables.input_of_layer.assign(count, WidthVariables::kNetworkInputs);
  // Only earlier layers are in `earlier` when a layer's references are resolved: a later or own name is
  // ignored as the precondition says, and a repeated name resolves to its first layer.
  std::unordered_map<std::string_view, std::size_t> earlier;
  std::unordered_map<std::string_view, std::size_t> stream_group;
  auto resolve = [&earlier](const std::string& name) -> std::optional<std::size_t> {
    const auto found = earlier.find(name);
    if (found == earlier.end()) return std::nullopt;
    return found->second;
  };
  for (std::size_t index = 0; index < count; ++index) {
    const Layer& layer = network.layers[index];
    std::size_t group = variables.groups.size();
    if (layer.tied && index > 0) {
      group = variables.group_of_layer[index - 1];
    } else if (layer.stream) {
      group = stream_group.try_emplace(*layer.stream, variables.groups.size()).first->second;
    }
    if (group == variables.groups.size()) {
      variables.groups.push_back(WidthGroup{{}, !layer.prunable});
      spans.last_reference.push_back(index);
    }
    variables.groups[group].layers.push_back(index);
    variables.group_of_layer[index] = group;

    auto refer = [&](std::size_t referenced) {
      std::size_t& last = spans.last_reference[variables.group_of_layer[referenced]];
      last = std::max(last, index);
    };
    refer(index);
    std::optional<std::size_t> input;
    if (layer.input && !layer.tied) input = resolve(*layer.input);
    if (!input && index > 0) input = index - 1;
    if (input) {
      variables.input_of_layer[index] = *input;
      refer(*input);
    }
    for (const auto& [resource, terms] : layer.cost) {
      for (const auto& [name, coefficient] : terms.held) {
        if (const std::optional<std::size_t> held = resolve(name)) refer(*held);
      }
    }
    earlier.try_emplace(layer.name, index);
  }
  return spans;
}

}  // namespace detail

WidthVariables width_variables(const Network& network) {
  detail::WidthSpans spans = detail::width_spans(network);
  WidthVariables& variables = spans.variables;
  variables.open_after.assign(network.layers.size(), {});
  for (std::size_t group = 0; group < variables.groups.size(); ++group) {
    if (variables.groups[group].pinned) continue;
    for (std::size_t cut = variables.groups[group].layers.front(); cut < spans.last_reference[group]; ++cut)
      variables.open_after[cut].push_back(group);
  }
  return std::move(variables);
}

std::optional<std::size_t> layer_index(const Network& network, const std::string& name) {
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    if (network.layers[index].name == name) return index;
  }
  return std::nullopt;
}

std::optional<std::string> first_residual_field(const Network& network) {
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    const Layer& layer = network.layers[index];
    const char* field = layer.stream ? "stream" : layer.input ? "input" : nullptr;
    if (field) return detail::RequestField::layers().index(index).key(field).path();
    for (const auto& [resource, terms] : layer.cost) {
      if (!terms.held.empty())
        return detail::RequestField::layers().index(index).key("cost").key(resource).key("held").path();
    }
  }
  return std::nullopt;
}

std::vector<std::vector<std::int64_t>> unit_orders(const Network& network) {
  const WidthVariables variables = detail::width_spans(network).variables;
  std::vector<std::vector<std::int64_t>> orders(network.layers.size());
  for (const WidthGroup& group : variables.groups) {
    const std::size_t units = network.layers[group.layers.front()].importance.size();
    std::vector<std::int64_t> order(units);
    std::iota(order.begin(), order.end(), std::int64_t{0});
    if (!group.pinned) {
      std::vector<double> summed(units, 0.0);
      for (std::size_t layer : group.layers) {
        for (std::size_t unit = 0; unit < units; ++unit)
          summed[unit] += network.layers[layer].importance[unit];
      }
      std::stable_sort(order.begin(), order.end(), [&summed](std::int64_t a, std::int64_t b) {
        return summed[static_cast<std::size_t>(a)] > summed[static_cast<std::size_t>(b)];
      });
    }
    for (std::size_t layer : group.layers) orders[layer] = order;
  }
  return orders;
}

}  // namespace reds
