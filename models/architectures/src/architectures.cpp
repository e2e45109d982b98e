// The bundled architectures (architecture_spec.cpp) as plan requests: layers with exact cost coefficients
// (network_builder.h), stand-in importance and one MAC budget per level.
#include "reds/models/architectures.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "importance_stand_in.h"
#include "network_builder.h"
#include "reds/models/architecture_spec.h"
#include "reds/models/layer_schedule.h"

namespace reds::models {
namespace {

constexpr std::size_t kMaxLevels = 64;  // plan contract: 1 to 64 levels

std::string valid_names() {
  std::string names;
  for (const ArchitectureSpec& spec : architecture_specs()) {
    if (!names.empty()) names += ", ";
    names += spec.name;
  }
  return names;
}

std::optional<Error> check_network_options(const ExampleOptions& options) {
  if (options.block < 1) {
    return invalid_argument("block must be at least 1, got " + std::to_string(options.block));
  }
  const double fraction = options.min_width_fraction;
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    return invalid_argument("min_width_fraction must be between 0 and 1, got " + std::to_string(fraction));
  }
  return std::nullopt;
}

std::optional<Error> check_mac_fractions(const std::vector<double>& fractions) {
  if (fractions.empty() || fractions.size() > kMaxLevels) {
    return invalid_argument("mac_fractions must hold 1 to 64 fractions, got " +
                            std::to_string(fractions.size()));
  }
  for (std::size_t level = 0; level < fractions.size(); ++level) {
    const double fraction = fractions[level];
    if (!(fraction > 0.0 && fraction <= 1.0)) {
      return invalid_argument("mac_fractions[" + std::to_string(level) + "] must be in (0, 1], got " +
                              std::to_string(fraction));
    }
    // Levels are given smallest first (plan contract, "levels grow").
    if (level > 0 && fraction < fractions[level - 1]) {
      return invalid_argument("mac_fractions must not decrease: mac_fractions[" + std::to_string(level) +
                              "] is smaller than the one before it");
    }
  }
  return std::nullopt;
}

// Smallest kept width of a prunable layer. Without it the exact optimum falls into a trap the paper's
// separable cost model never sees: with coupled MACs (a unit's cost grows with the kept width of the layer
// before it), keeping a single unit of one layer makes that layer and the next one almost free, so the
// optimum spends the budget on the neighbours' importance and squeezes everything through a one-unit
// bottleneck that no trained network would survive. A floor proportional to the layer's width rules that
// out while leaving most of the range open.
std::int64_t min_units_of(std::int64_t units, double min_width_fraction) {
  const auto floor = static_cast<std::int64_t>(std::ceil(min_width_fraction * static_cast<double>(units)));
  return std::clamp<std::int64_t>(floor, 1, units);
}

void apply_options(Network& network, const ExampleOptions& options) {
  for (Layer& layer : network.layers) {
    layer.importance = importance_stand_in(options.seed, layer.name, layer.units);
    // Tied layers take their width from the layer they follow, a stream's members from its first member;
    // the head's outputs are the classes.
    if (layer.tied || !layer.prunable || (layer.stream && *layer.stream != layer.name)) continue;
    layer.block = std::min(options.block, layer.units);
    layer.min_units = min_units_of(layer.units, options.min_width_fraction);
  }
}

}  // namespace

const std::vector<ArchitectureInfo>& architectures() {
  static const std::vector<ArchitectureInfo> kInfos = [] {
    std::vector<ArchitectureInfo> infos;
    for (const ArchitectureSpec& spec : architecture_specs()) infos.push_back({spec.name, spec.description});
    return infos;
  }();
  return kInfos;
}

Result<Network> build_network(const std::string& name, const ExampleOptions& options) {
  const ArchitectureSpec* spec = find_architecture_spec(name);
  if (spec == nullptr) {
    return invalid_argument("unknown architecture \"" + name + "\"; valid names: " + valid_names());
  }
  if (std::optional<Error> error = check_network_options(options)) return *error;
  Result<SpecNetwork> built = spec_network(*spec);
  if (!built) return built.error();
  Network network = std::move(built->network);
  apply_options(network, options);
  if (std::optional<Error> error = set_scheduled_activation(network, built->graph, built->maps))
    return *error;
  return network;
}

Result<PlanRequest> example_request(const std::string& name, const ExampleOptions& options) {
  Result<Network> network = build_network(name, options);
  if (!network) return network.error();
  if (std::optional<Error> error = check_mac_fractions(options.mac_fractions)) return *error;
  PlanRequest request;
  request.network = std::move(network).value();
  for (const double fraction : options.mac_fractions) {
    request.levels.push_back(Level{{{"macs", Limit::of_fraction(fraction)}}});
  }
  request.strategy = Strategy::bottom_up;
  return request;
}

}  // namespace reds::models
