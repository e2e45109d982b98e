#include "support/random_network.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "reds/contract.h"
#include "support/brute_force.h"

namespace reds::test {
namespace {

// Draws from the raw 64-bit engine only: std's distributions differ between standard libraries, and a seed
// must reproduce the same request everywhere. The modulo bias is irrelevant here.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  std::int64_t between(std::int64_t low, std::int64_t high) {
    return low + static_cast<std::int64_t>(engine_() % static_cast<std::uint64_t>(high - low + 1));
  }
  bool chance(int percent) { return between(0, 99) < percent; }
  // Uniform in [0, 1) with 53 random bits.
  double unit_interval() { return std::ldexp(static_cast<double>(engine_() >> 11), -53); }

  template <class T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[static_cast<std::size_t>(between(0, static_cast<std::int64_t>(i) - 1))]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

struct ResourceKind {
  const char* name;
  Aggregation aggregation;
};

// "peak" is not a name the contract gives a default for, so it is always declared.
constexpr std::array<ResourceKind, 5> kResourceKinds = {{{"macs", Aggregation::sum},
                                                         {"params", Aggregation::sum},
                                                         {"latency", Aggregation::sum},
                                                         {"activation", Aggregation::max},
                                                         {"peak", Aggregation::max}}};

std::vector<double> random_importance(Random& random, std::int64_t units) {
  std::vector<double> importance(static_cast<std::size_t>(units));
  const std::int64_t kind = random.between(0, 3);
  const double shared = static_cast<double>(random.between(0, 9));
  for (double& value : importance) {
    switch (kind) {
      case 0:  // small integers: many ties and zeros
        value = static_cast<double>(random.between(0, 3));
        break;
      case 1:
        value = random.unit_interval();
        break;
      case 2:  // 10 bits of mantissa over 2^-16..2^16: wide range, yet every sum is exact
        value = std::ldexp(static_cast<double>(random.between(0, 1023)),
                           static_cast<int>(random.between(-16, 16)));
        break;
      default:  // every unit alike
        value = shared;
        break;
    }
    if (random.chance(10)) value = 0.0;
  }
  return importance;
}

CostTerms random_cost_terms(Random& random, std::int64_t units) {
  auto coefficient = [&random] { return random.chance(50) ? 0 : random.between(1, 20); };
  CostTerms terms;
  terms.fixed = coefficient();
  terms.unit = coefficient();
  terms.input = coefficient();
  terms.unit_input = coefficient();
  if (random.chance(25)) {
    for (std::int64_t width = 1; width <= units; ++width) terms.table.push_back(random.between(0, 200));
    // A table dearer at narrow widths makes the cheapest plans wide: the case where top_down cannot nest.
    if (random.chance(50)) std::sort(terms.table.begin(), terms.table.end(), std::greater<>());
  }
  return terms;
}

bool costs_something(const CostTerms& terms) {
  return terms.fixed > 0 || terms.unit > 0 || terms.input > 0 || terms.unit_input > 0 ||
         std::any_of(terms.table.begin(), terms.table.end(), [](std::int64_t entry) { return entry > 0; });
}

// One to three resources in random order; "peak", and now and then another, get their aggregation stated.
std::vector<ResourceKind> random_resources(Random& random, Network& network) {
  std::vector<ResourceKind> kinds(kResourceKinds.begin(), kResourceKinds.end());
  random.shuffle(kinds);
  kinds.resize(static_cast<std::size_t>(random.between(1, 3)));
  for (const ResourceKind& kind : kinds) {
    if (std::string(kind.name) == "peak" || random.chance(40))
      network.resources[kind.name] = kind.aggregation;
  }
  return kinds;
}

Network random_network(Random& random, std::uint64_t seed) {
  Network network;
  network.name = "random_" + std::to_string(seed);
  network.inputs = random.between(1, 4);

  const std::vector<ResourceKind> kinds = random_resources(random, network);

  // Mostly deeper chains: they are where nesting and coupling interact.
  const std::int64_t layer_count = random.chance(60) ? random.between(3, 5) : random.between(1, 5);
  for (std::int64_t l = 0; l < layer_count; ++l) {
    Layer layer;
    layer.name = "layer" + std::to_string(l);
    layer.tied = l > 0 && random.chance(20);
    if (layer.tied) {
      layer.units = network.layers.back().units;
    } else {
      layer.units = random.chance(50) ? random.between(4, 6) : random.between(1, 6);
      if (random.chance(20)) layer.min_units = random.between(1, layer.units);
      if (random.chance(20)) layer.block = random.between(2, 3);
      layer.prunable = !random.chance(12);
    }
    layer.importance = random_importance(random, layer.units);
    for (const ResourceKind& kind : kinds) {
      if (random.chance(80)) layer.cost[kind.name] = random_cost_terms(random, layer.units);
    }
    network.layers.push_back(std::move(layer));
  }

  // A resource no layer costs cannot be limited; make every resource cost something somewhere.
  for (const ResourceKind& kind : kinds) {
    const bool costed = std::any_of(network.layers.begin(), network.layers.end(), [&](const Layer& layer) {
      auto terms = layer.cost.find(kind.name);
      return terms != layer.cost.end() && costs_something(terms->second);
    });
    if (!costed) network.layers.front().cost[kind.name].unit = random.between(1, 20);
  }
  return network;
}

// A limit near `target`: absolute, or a fraction of the full cost `full`, sometimes a round one such as 0.3,
// which exercises precise rule 1 (0.3 of 10 resolves to 2).
Limit random_limit(Random& random, std::int64_t target, std::int64_t full) {
  if (full == 0 || target == 0 || target > full || random.chance(50)) return Limit::of_max(target);
  if (random.chance(40)) {
    const std::int64_t twentieths = std::clamp<std::int64_t>((target * 20 + full / 2) / full, 1, 20);
    return Limit::of_fraction(static_cast<double>(twentieths) / 20.0);
  }
  return Limit::of_fraction(static_cast<double>(target) / static_cast<double>(full));
}

// Levels smallest first per precise rule 4: level j limits every resource level j+1 limits (so the limited
// sets shrink), with a resolved limit no larger (so each resource's limits are drawn, then sorted). A
// level's targets are the costs of a random width vector, so that most levels are feasible and bind; one
// in eight (roughly) goes below the cheapest width vector on one resource instead, infeasible on purpose.
std::vector<Level> random_levels(Random& random, const Network& network) {
  PlanRequest unlimited;
  unlimited.network = network;
  const BruteForce oracle(unlimited);
  std::vector<std::string> resources = oracle.resources();
  random.shuffle(resources);

  Costs cheapest;
  for (const Widths& widths : oracle.all_widths()) {
    for (const auto& [name, cost] : oracle.cost(widths)) {
      cheapest[name] = cheapest.count(name) > 0 ? std::min(cheapest[name], cost) : cost;
    }
  }

  const std::size_t level_count = static_cast<std::size_t>(random.between(1, 4));
  std::vector<Costs> targets;
  for (std::size_t j = 0; j < level_count; ++j) {
    const auto pick = random.between(0, static_cast<std::int64_t>(oracle.all_widths().size()) - 1);
    Costs target = oracle.cost(oracle.all_widths()[static_cast<std::size_t>(pick)]);
    const std::string& short_one = resources[static_cast<std::size_t>(
        random.between(0, static_cast<std::int64_t>(resources.size()) - 1))];
    if (random.chance(12) && cheapest[short_one] > 0) {
      target[short_one] =
          random.between(std::max<std::int64_t>(0, cheapest[short_one] * 3 / 4), cheapest[short_one] - 1);
    }
    targets.push_back(std::move(target));
  }

  std::vector<std::size_t> limited_count(level_count);
  for (std::size_t& count : limited_count) {
    count = static_cast<std::size_t>(random.between(1, static_cast<std::int64_t>(resources.size())));
  }
  std::sort(limited_count.begin(), limited_count.end(), std::greater<>());

  std::vector<Level> levels(level_count);
  for (std::size_t r = 0; r < resources.size(); ++r) {
    const std::string& name = resources[r];
    const std::int64_t full = oracle.full_cost().at(name);
    std::vector<std::pair<std::int64_t, Limit>> drawn;
    for (std::size_t j = 0; j < level_count && limited_count[j] > r; ++j) {
      const Limit limit = random_limit(random, targets[j].at(name), full);
      const std::int64_t resolved =
          limit.kind == Limit::Kind::max ? limit.maximum : floor_of_product(limit.fraction, full);
      drawn.emplace_back(resolved, limit);
    }
    std::stable_sort(drawn.begin(), drawn.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t j = 0; j < drawn.size(); ++j) levels[j].limits[name] = drawn[j].second;
  }
  return levels;
}

// Residual networks (contract 1.1) built from the blocks people deploy, each open at most two widths:
//   * a plain layer, sometimes followed by a tied one;
//   * an identity block: the block input x joins (or starts) a stream, an inner layer (sometimes followed
//     by a tied, depthwise one, as in MobileNetV2) and a closing member of x's stream, sometimes followed
//     by a tied layer;
//   * a projection block: a new stream with a closing member and a shortcut projection reading x through
//     `input`, the projection before the inner layer (which then reads x through `input` too) or after the
//     closing member.
// Inner layers hold x (`held`) on a max resource now and then, as the skip tensor is live during a block;
// afterwards a few layers hold a random earlier layer, kept only when the network stays within two open
// widths (width_variables()). Coefficients are sometimes 0: openness is structural.
Network random_residual_network(Random& random, std::uint64_t seed) {
  Network network;
  network.name = "residual_" + std::to_string(seed);
  network.inputs = random.between(1, 4);

  const std::vector<ResourceKind> kinds = random_resources(random, network);
  const auto held_resource = [&]() -> const ResourceKind& {
    for (const ResourceKind& kind : kinds) {
      if (kind.aggregation == Aggregation::max) return kind;
    }
    return kinds.front();
  };

  std::size_t streams = 0;
  const auto add = [&](Layer layer) {
    layer.name = "layer" + std::to_string(network.layers.size());
    layer.importance = random_importance(random, layer.units);
    for (const ResourceKind& kind : kinds) {
      if (random.chance(80)) layer.cost[kind.name] = random_cost_terms(random, layer.units);
    }
    network.layers.push_back(std::move(layer));
    return network.layers.size() - 1;
  };
  // A layer with a width of its own (or the first member of a stream): it may set the width rules.
  const auto variable = [&](std::int64_t units) {
    Layer layer;
    layer.units = units;
    if (random.chance(20)) layer.min_units = random.between(1, layer.units);
    if (random.chance(20)) layer.block = random.between(2, 3);
    layer.prunable = !random.chance(10);
    return layer;
  };
  const auto tied_after = [&]() {
    Layer layer;
    layer.units = network.layers.back().units;
    layer.tied = true;
    return add(std::move(layer));
  };
  const auto member = [&](const std::string& stream, std::int64_t units) {
    Layer layer;
    layer.units = units;
    layer.stream = stream;
    return layer;
  };
  const auto hold = [&](std::size_t holder, std::size_t held, std::int64_t coefficient) {
    network.layers[holder].cost[held_resource().name].held[network.layers[held].name] = coefficient;
  };
  const auto random_units = [&] { return random.between(1, 4); };

  add(variable(random_units()));
  const std::int64_t blocks = random.between(1, 3);
  for (std::int64_t block = 0; block < blocks; ++block) {
    const std::size_t x = network.layers.size() - 1;
    const std::int64_t kind = random.between(0, 2);
    if (kind == 0) {
      add(variable(random_units()));
      if (random.chance(30)) tied_after();
    } else if (kind == 1 && !network.layers[x].tied) {
      Layer& input = network.layers[x];
      if (!input.stream) input.stream = "s" + std::to_string(streams++);
      const std::string stream = *input.stream;
      const std::int64_t units = input.units;
      const std::size_t inner = add(variable(random_units()));
      if (random.chance(40)) hold(inner, x, random.between(0, 8));
      if (random.chance(40)) {
        const std::size_t depthwise = tied_after();
        if (random.chance(50)) hold(depthwise, x, random.between(0, 8));
      }
      add(member(stream, units));
      if (random.chance(30)) tied_after();
    } else {
      const std::string stream = "s" + std::to_string(streams++);
      const std::int64_t units = random_units();
      // The stream's first member, projection or closing layer, may set its width rules.
      const bool projection_first = random.chance(50);
      Layer projection = projection_first ? variable(units) : member(stream, units);
      projection.stream = stream;
      projection.input = network.layers[x].name;
      if (projection_first) add(projection);
      Layer inner_layer = variable(random_units());
      if (projection_first) inner_layer.input = network.layers[x].name;
      const std::size_t inner = add(std::move(inner_layer));
      if (random.chance(40)) hold(inner, x, random.between(0, 8));
      if (random.chance(30)) tied_after();
      Layer closing = projection_first ? member(stream, units) : variable(units);
      closing.stream = stream;
      add(std::move(closing));
      if (!projection_first) add(std::move(projection));
      if (random.chance(20)) tied_after();
    }
  }
  if (random.chance(40)) add(variable(random_units()));

  for (std::size_t holder = 1; holder < network.layers.size(); ++holder) {
    if (!random.chance(20)) continue;
    const auto held = static_cast<std::size_t>(random.between(0, static_cast<std::int64_t>(holder) - 1));
    std::map<std::string, std::int64_t>& terms = network.layers[holder].cost[held_resource().name].held;
    const std::string& name = network.layers[held].name;
    if (terms.count(name) > 0) continue;
    terms[name] = random.between(0, 8);
    const WidthVariables structure = width_variables(network);
    const bool within_two = std::all_of(structure.open_after.begin(), structure.open_after.end(),
                                        [](const auto& open) { return open.size() <= 2; });
    if (!within_two) terms.erase(name);
  }

  for (const ResourceKind& kind : kinds) {
    const bool costed = std::any_of(network.layers.begin(), network.layers.end(), [&](const Layer& layer) {
      auto terms = layer.cost.find(kind.name);
      return terms != layer.cost.end() && costs_something(terms->second);
    });
    if (!costed) network.layers.front().cost[kind.name].unit = random.between(1, 20);
  }
  return network;
}

}  // namespace

PlanRequest random_plan_request(std::uint64_t seed, std::size_t max_width_vectors) {
  Random random(seed);
  PlanRequest request;
  do {
    request.network = random_network(random, seed);
  } while (count_width_vectors(request.network) > max_width_vectors);
  request.levels = random_levels(random, request.network);
  return request;
}

PlanRequest random_residual_plan_request(std::uint64_t seed, std::size_t max_width_vectors) {
  Random random(seed);
  PlanRequest request;
  do {
    request.network = random_residual_network(random, seed);
  } while (count_width_vectors(request.network) > max_width_vectors);
  request.levels = random_levels(random, request.network);
  return request;
}

}  // namespace reds::test
