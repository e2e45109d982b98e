// The knapsack literature's instance classes (Pisinger 2005; for MCKP, Pisinger 1995), from their
// published definitions.
#include "reds/knapsack_generator.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "reds/splitmix64.h"

namespace reds::knapsack {

namespace {

__extension__ typedef unsigned __int128 uint128;

constexpr std::int64_t kMaxItems = 10'000'000;
constexpr std::int64_t kMaxRange = 1'000'000'000;
// span(v, m): the number of spanner items and the largest multiplier.
constexpr std::int64_t kSpanners = 2;
constexpr std::int64_t kSpanMultiplier = 10;

constexpr std::array<std::pair<InstanceClass, const char*>, 11> kNames = {{
    {InstanceClass::uncorrelated, "uncorrelated"},
    {InstanceClass::weakly_correlated, "weakly_correlated"},
    {InstanceClass::strongly_correlated, "strongly_correlated"},
    {InstanceClass::inverse_strongly_correlated, "inverse_strongly_correlated"},
    {InstanceClass::almost_strongly_correlated, "almost_strongly_correlated"},
    {InstanceClass::subset_sum, "subset_sum"},
    {InstanceClass::spanner_uncorrelated, "spanner_uncorrelated"},
    {InstanceClass::spanner_weakly_correlated, "spanner_weakly_correlated"},
    {InstanceClass::spanner_strongly_correlated, "spanner_strongly_correlated"},
    {InstanceClass::profit_ceiling, "profit_ceiling"},
    {InstanceClass::circle, "circle"},
}};

// floor(sqrt(x)) exactly, for x < 2^126.
std::uint64_t integer_sqrt(uint128 x) {
  std::uint64_t root = 0;
  for (int bit = 62; bit >= 0; --bit) {
    const std::uint64_t candidate = root | (std::uint64_t{1} << bit);
    if (static_cast<uint128>(candidate) * candidate <= x) root = candidate;
  }
  return root;
}

// One item of the classes defined by a weight distribution and a profit rule.
Item<std::int64_t> basic_item(InstanceClass instance_class, std::int64_t range, SplitMix64& random) {
  const std::int64_t tenth = range / 10;
  switch (instance_class) {
    case InstanceClass::weakly_correlated: {
      const std::int64_t weight = random.uniform_integer(1, range);
      return {weight, std::max<std::int64_t>(1, random.uniform_integer(weight - tenth, weight + tenth))};
    }
    case InstanceClass::strongly_correlated: {
      const std::int64_t weight = random.uniform_integer(1, range);
      return {weight, weight + tenth};
    }
    case InstanceClass::inverse_strongly_correlated: {
      const std::int64_t profit = random.uniform_integer(1, range);
      return {profit + tenth, profit};
    }
    case InstanceClass::almost_strongly_correlated: {
      const std::int64_t weight = random.uniform_integer(1, range);
      const std::int64_t spread = range / 500;
      return {weight, random.uniform_integer(weight + tenth - spread, weight + tenth + spread)};
    }
    case InstanceClass::subset_sum: {
      const std::int64_t weight = random.uniform_integer(1, range);
      return {weight, weight};
    }
    case InstanceClass::profit_ceiling: {
      constexpr std::int64_t d = 3;
      const std::int64_t weight = random.uniform_integer(1, range);
      return {weight, d * ((weight + d - 1) / d)};
    }
    case InstanceClass::circle: {
      // (2/3) sqrt(4R^2 - (w - 2R)^2) = sqrt(4 w (4R - w)) / 3: the largest q with 9 q^2 <= 4 w (4R - w).
      const std::int64_t weight = random.uniform_integer(1, range);
      const uint128 radicand = 4 * static_cast<uint128>(weight) * static_cast<uint128>(4 * range - weight);
      return {weight, static_cast<std::int64_t>(integer_sqrt(radicand / 9))};
    }
    default: {
      const std::int64_t weight = random.uniform_integer(1, range);
      return {weight, random.uniform_integer(1, range)};
    }
  }
}

InstanceClass spanner_base(InstanceClass instance_class) {
  switch (instance_class) {
    case InstanceClass::spanner_weakly_correlated:
      return InstanceClass::weakly_correlated;
    case InstanceClass::spanner_strongly_correlated:
      return InstanceClass::strongly_correlated;
    default:
      return InstanceClass::uncorrelated;
  }
}

bool is_spanner(InstanceClass instance_class) {
  return instance_class == InstanceClass::spanner_uncorrelated ||
         instance_class == InstanceClass::spanner_weakly_correlated ||
         instance_class == InstanceClass::spanner_strongly_correlated;
}

std::vector<Item<std::int64_t>> generate_items(const GeneratorOptions& options, SplitMix64& random) {
  std::vector<Item<std::int64_t>> items;
  items.reserve(static_cast<std::size_t>(options.items));
  if (!is_spanner(options.instance_class)) {
    for (std::int64_t j = 0; j < options.items; ++j)
      items.push_back(basic_item(options.instance_class, options.range, random));
    return items;
  }
  // span(v, m): the spanner items are scaled by 2/m so that the multiples stay within about [1, R].
  std::array<Item<std::int64_t>, kSpanners> spanners;
  for (Item<std::int64_t>& spanner : spanners) {
    const Item<std::int64_t> drawn = basic_item(spanner_base(options.instance_class), options.range, random);
    spanner.weight = (2 * drawn.weight + kSpanMultiplier - 1) / kSpanMultiplier;
    spanner.profit = (2 * drawn.profit + kSpanMultiplier - 1) / kSpanMultiplier;
  }
  for (std::int64_t j = 0; j < options.items; ++j) {
    const Item<std::int64_t>& spanner =
        spanners[static_cast<std::size_t>(random.uniform_integer(0, kSpanners - 1))];
    const std::int64_t multiplier = random.uniform_integer(1, kSpanMultiplier);
    items.push_back({multiplier * spanner.weight, multiplier * spanner.profit});
  }
  return items;
}

constexpr std::array<std::pair<ChoiceClass, const char*>, 4> kChoiceNames = {{
    {ChoiceClass::uncorrelated, "uncorrelated"},
    {ChoiceClass::weakly_correlated, "weakly_correlated"},
    {ChoiceClass::strongly_correlated, "strongly_correlated"},
    {ChoiceClass::subset_sum, "subset_sum"},
}};

std::vector<Item<std::int64_t>> generate_class(const ChoiceGeneratorOptions& options, SplitMix64& random) {
  const std::int64_t range = options.range;
  std::vector<Item<std::int64_t>> items;
  items.reserve(static_cast<std::size_t>(options.class_size));
  for (std::int64_t j = 0; j < options.class_size; ++j) {
    const std::int64_t weight = random.uniform_integer(1, range);
    switch (options.choice_class) {
      case ChoiceClass::uncorrelated:
        items.push_back({weight, random.uniform_integer(1, range)});
        break;
      case ChoiceClass::weakly_correlated:
        items.push_back({weight, std::max<std::int64_t>(
                                     1, random.uniform_integer(weight - range / 10, weight + range / 10))});
        break;
      case ChoiceClass::strongly_correlated:
      case ChoiceClass::subset_sum:
        items.push_back(
            {weight, options.choice_class == ChoiceClass::subset_sum ? weight : weight + range / 10});
        break;
    }
  }
  if (options.choice_class == ChoiceClass::strongly_correlated) {
    // Increments of decreasing efficiency (w' + R/10) / w', summed: a concave chain of items.
    std::sort(items.begin(), items.end(),
              [](const Item<std::int64_t>& a, const Item<std::int64_t>& b) { return a.weight < b.weight; });
    for (std::size_t j = 1; j < items.size(); ++j) {
      items[j].weight += items[j - 1].weight;
      items[j].profit += items[j - 1].profit;
    }
  }
  return items;
}

}  // namespace

const std::vector<InstanceClass>& instance_classes() {
  static const std::vector<InstanceClass> all = [] {
    std::vector<InstanceClass> classes;
    for (const auto& [instance_class, name] : kNames) classes.push_back(instance_class);
    return classes;
  }();
  return all;
}

const char* to_string(InstanceClass instance_class) {
  for (const auto& [candidate, name] : kNames)
    if (candidate == instance_class) return name;
  return "unknown";
}

std::optional<InstanceClass> parse_instance_class(std::string_view name) {
  for (const auto& [instance_class, candidate] : kNames)
    if (name == candidate) return instance_class;
  return std::nullopt;
}

Result<GeneratedInstance> generate(const GeneratorOptions& options) {
  if (options.items < 1 || options.items > kMaxItems)
    return invalid_argument("items must be in [1, " + std::to_string(kMaxItems) + "], got " +
                            std::to_string(options.items));
  if (options.range < 10 || options.range > kMaxRange)
    return invalid_argument("range must be in [10, " + std::to_string(kMaxRange) + "], got " +
                            std::to_string(options.range));
  if (options.series < 1 || options.instance < 1 || options.instance > options.series)
    return invalid_argument("instance must be in [1, series], got instance " +
                            std::to_string(options.instance) + " of series " +
                            std::to_string(options.series));

  SplitMix64 random(options.seed);
  GeneratedInstance generated;
  generated.problem.items = generate_items(options, random);
  std::int64_t total_weight = 0;
  std::int64_t largest_weight = 0;
  for (const Item<std::int64_t>& item : generated.problem.items) {
    total_weight += item.weight;
    largest_weight = std::max(largest_weight, item.weight);
  }
  const auto capacity =
      static_cast<std::int64_t>(static_cast<uint128>(options.instance) * static_cast<uint128>(total_weight) /
                                static_cast<uint128>(options.series + 1));
  generated.problem.capacity = std::max(capacity, largest_weight);
  generated.name = std::string(to_string(options.instance_class)) + "_n" + std::to_string(options.items) +
                   "_r" + std::to_string(options.range) + "_h" + std::to_string(options.instance) + "_s" +
                   std::to_string(options.seed);
  return generated;
}

const std::vector<ChoiceClass>& choice_classes() {
  static const std::vector<ChoiceClass> all = [] {
    std::vector<ChoiceClass> classes;
    for (const auto& [choice_class, name] : kChoiceNames) classes.push_back(choice_class);
    return classes;
  }();
  return all;
}

const char* to_string(ChoiceClass choice_class) {
  for (const auto& [candidate, name] : kChoiceNames)
    if (candidate == choice_class) return name;
  return "unknown";
}

std::optional<ChoiceClass> parse_choice_class(std::string_view name) {
  for (const auto& [choice_class, candidate] : kChoiceNames)
    if (name == candidate) return choice_class;
  return std::nullopt;
}

Result<GeneratedChoiceInstance> generate(const ChoiceGeneratorOptions& options) {
  if (options.classes < 1 || options.class_size < 1 || options.classes > kMaxItems / options.class_size)
    return invalid_argument("classes and class_size must be >= 1 with at most " + std::to_string(kMaxItems) +
                            " items in all, got " + std::to_string(options.classes) + " classes of " +
                            std::to_string(options.class_size));
  if (options.range < 10 || options.range > kMaxRange)
    return invalid_argument("range must be in [10, " + std::to_string(kMaxRange) + "], got " +
                            std::to_string(options.range));
  if (options.series < 1 || options.instance < 1 || options.instance > options.series)
    return invalid_argument("instance must be in [1, series], got instance " +
                            std::to_string(options.instance) + " of series " +
                            std::to_string(options.series));

  SplitMix64 random(options.seed);
  GeneratedChoiceInstance generated;
  std::int64_t lightest = 0;
  std::int64_t heaviest = 0;
  for (std::int64_t k = 0; k < options.classes; ++k) {
    generated.problem.classes.push_back(generate_class(options, random));
    const auto& items = generated.problem.classes.back();
    const auto [low, high] = std::minmax_element(
        items.begin(), items.end(),
        [](const Item<std::int64_t>& a, const Item<std::int64_t>& b) { return a.weight < b.weight; });
    lightest += low->weight;
    heaviest += high->weight;
  }
  generated.problem.capacity =
      lightest + static_cast<std::int64_t>(static_cast<uint128>(options.instance) *
                                           static_cast<uint128>(heaviest - lightest) /
                                           static_cast<uint128>(options.series + 1));
  generated.name = std::string("mckp_") + to_string(options.choice_class) + "_k" +
                   std::to_string(options.classes) + "_m" + std::to_string(options.class_size) + "_r" +
                   std::to_string(options.range) + "_h" + std::to_string(options.instance) + "_s" +
                   std::to_string(options.seed);
  return generated;
}

}  // namespace reds::knapsack
