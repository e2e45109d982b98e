// The instance generator (reds/knapsack_generator.h): every class follows its published definition, the
// capacity follows the series rule, and the same options give the same instance; 0-1 and multiple-choice.
#include "reds/knapsack_generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace {

using reds::knapsack::ChoiceClass;
using reds::knapsack::ChoiceGeneratorOptions;
using reds::knapsack::GeneratorOptions;
using reds::knapsack::InstanceClass;
using reds::knapsack::Item;

reds::knapsack::GeneratedInstance generate(InstanceClass instance_class, std::int64_t n, std::int64_t range,
                                           std::uint64_t seed = 1, std::int64_t h = 50) {
  GeneratorOptions options;
  options.instance_class = instance_class;
  options.items = n;
  options.range = range;
  options.seed = seed;
  options.instance = h;
  auto instance = reds::knapsack::generate(options);
  EXPECT_TRUE(instance.ok()) << instance.error().message;
  return std::move(instance).value();
}

// The defining relation between an item's weight and profit, R the range.
void expect_class_relation(InstanceClass instance_class, const Item<std::int64_t>& item, std::int64_t range) {
  const std::int64_t w = item.weight;
  const std::int64_t p = item.profit;
  switch (instance_class) {
    case InstanceClass::uncorrelated:
      EXPECT_TRUE(1 <= w && w <= range && 1 <= p && p <= range);
      break;
    case InstanceClass::weakly_correlated:
      EXPECT_TRUE(1 <= w && w <= range);
      EXPECT_GE(p, std::max<std::int64_t>(1, w - range / 10));
      EXPECT_LE(p, w + range / 10);
      break;
    case InstanceClass::strongly_correlated:
      EXPECT_TRUE(1 <= w && w <= range);
      EXPECT_EQ(p, w + range / 10);
      break;
    case InstanceClass::inverse_strongly_correlated:
      EXPECT_TRUE(1 <= p && p <= range);
      EXPECT_EQ(w, p + range / 10);
      break;
    case InstanceClass::almost_strongly_correlated:
      EXPECT_TRUE(1 <= w && w <= range);
      EXPECT_GE(p, w + range / 10 - range / 500);
      EXPECT_LE(p, w + range / 10 + range / 500);
      break;
    case InstanceClass::subset_sum:
      EXPECT_TRUE(1 <= w && w <= range);
      EXPECT_EQ(p, w);
      break;
    case InstanceClass::profit_ceiling:
      EXPECT_TRUE(1 <= w && w <= range);
      EXPECT_EQ(p % 3, 0);
      EXPECT_TRUE(p >= w && p < w + 3);
      break;
    case InstanceClass::circle: {
      EXPECT_TRUE(1 <= w && w <= range);
      // p = floor(2/3 * sqrt(4R^2 - (w - 2R)^2)), checked in long double away from the rounding edge.
      const long double exact =
          2.0L / 3.0L *
          std::sqrt(4.0L * range * range - static_cast<long double>(w - 2 * range) * (w - 2 * range));
      EXPECT_LE(std::fabs(static_cast<long double>(p) - std::floor(exact)), 1.0L);
      EXPECT_LE(static_cast<long double>(p), exact);
      break;
    }
    default:
      break;
  }
}

TEST(KnapsackGenerator, EveryClassFollowsItsDefinition) {
  for (const InstanceClass instance_class : reds::knapsack::instance_classes()) {
    SCOPED_TRACE(reds::knapsack::to_string(instance_class));
    for (const std::int64_t range : {10, 1000, 10'000'000}) {
      const auto instance = generate(instance_class, 2000, range);
      ASSERT_EQ(instance.problem.items.size(), 2000u);
      for (const Item<std::int64_t>& item : instance.problem.items)
        expect_class_relation(instance_class, item, range);
    }
  }
}

// span(2, 10): two spanner items, every item a multiple 1..10 of one of them.
TEST(KnapsackGenerator, SpannerItemsAreMultiplesOfTwoSpanners) {
  for (const InstanceClass instance_class :
       {InstanceClass::spanner_uncorrelated, InstanceClass::spanner_weakly_correlated,
        InstanceClass::spanner_strongly_correlated}) {
    const auto instance = generate(instance_class, 3000, 100'000);
    std::set<std::pair<std::int64_t, std::int64_t>> reduced;
    for (const Item<std::int64_t>& item : instance.problem.items) {
      const std::int64_t divisor = std::gcd(item.weight, item.profit);
      reduced.emplace(item.weight / divisor, item.profit / divisor);
    }
    EXPECT_LE(reduced.size(), 2u) << reds::knapsack::to_string(instance_class);
    std::set<std::pair<std::int64_t, std::int64_t>> distinct;
    for (const Item<std::int64_t>& item : instance.problem.items) distinct.emplace(item.weight, item.profit);
    EXPECT_LE(distinct.size(), 20u);
    EXPECT_GE(distinct.size(), 15u) << "multipliers 1..10 of two spanners";
  }
}

TEST(KnapsackGenerator, CapacityFollowsTheSeries) {
  for (const std::int64_t h : {1, 37, 100}) {
    const auto instance = generate(InstanceClass::weakly_correlated, 500, 1000, 7, h);
    std::int64_t total = 0;
    std::int64_t largest = 0;
    for (const Item<std::int64_t>& item : instance.problem.items) {
      total += item.weight;
      largest = std::max(largest, item.weight);
    }
    EXPECT_EQ(instance.problem.capacity, std::max(h * total / 101, largest));
  }
  // A tiny series position with few items: the capacity still holds the largest item.
  const auto tight = generate(InstanceClass::uncorrelated, 3, 1000, 2, 1);
  std::int64_t largest = 0;
  for (const Item<std::int64_t>& item : tight.problem.items) largest = std::max(largest, item.weight);
  EXPECT_EQ(tight.problem.capacity, largest);
}

TEST(KnapsackGenerator, IsReproducibleAndSeeded) {
  const auto first = generate(InstanceClass::circle, 300, 10'000, 5);
  const auto again = generate(InstanceClass::circle, 300, 10'000, 5);
  const auto other = generate(InstanceClass::circle, 300, 10'000, 6);
  ASSERT_EQ(first.problem.items.size(), again.problem.items.size());
  bool differs = false;
  for (std::size_t j = 0; j < first.problem.items.size(); ++j) {
    EXPECT_EQ(first.problem.items[j].weight, again.problem.items[j].weight);
    EXPECT_EQ(first.problem.items[j].profit, again.problem.items[j].profit);
    differs = differs || first.problem.items[j].weight != other.problem.items[j].weight;
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(first.name, "circle_n300_r10000_h50_s5");
}

// Uniform weights in [1, R]: mean (R + 1) / 2 and both ends reached.
TEST(KnapsackGenerator, WeightsAreUniform) {
  const std::int64_t range = 100;
  const auto instance = generate(InstanceClass::subset_sum, 100'000, range, 11);
  long double sum = 0;
  std::int64_t lowest = range;
  std::int64_t highest = 0;
  for (const Item<std::int64_t>& item : instance.problem.items) {
    sum += static_cast<long double>(item.weight);
    lowest = std::min(lowest, item.weight);
    highest = std::max(highest, item.weight);
  }
  EXPECT_NEAR(static_cast<double>(sum / 100'000), (range + 1) / 2.0, 0.5);
  EXPECT_EQ(lowest, 1);
  EXPECT_EQ(highest, range);
}

TEST(KnapsackGenerator, NamesRoundTrip) {
  for (const InstanceClass instance_class : reds::knapsack::instance_classes())
    EXPECT_EQ(reds::knapsack::parse_instance_class(reds::knapsack::to_string(instance_class)),
              instance_class);
  EXPECT_FALSE(reds::knapsack::parse_instance_class("strongly").has_value());
}

TEST(KnapsackGenerator, RejectsOptionsOutOfRange) {
  GeneratorOptions options;
  options.items = 0;
  EXPECT_NE(reds::knapsack::generate(options).error().message.find("items"), std::string::npos);
  options.items = 10;
  options.range = 5;
  EXPECT_NE(reds::knapsack::generate(options).error().message.find("range"), std::string::npos);
  options.range = 100;
  options.instance = 101;
  EXPECT_NE(reds::knapsack::generate(options).error().message.find("instance"), std::string::npos);
}

reds::knapsack::GeneratedChoiceInstance generate_choice(ChoiceClass choice_class, std::int64_t classes,
                                                        std::int64_t class_size, std::int64_t range,
                                                        std::uint64_t seed = 1, std::int64_t h = 50) {
  ChoiceGeneratorOptions options;
  options.choice_class = choice_class;
  options.classes = classes;
  options.class_size = class_size;
  options.range = range;
  options.seed = seed;
  options.instance = h;
  auto instance = reds::knapsack::generate(options);
  EXPECT_TRUE(instance.ok()) << instance.error().message;
  return std::move(instance).value();
}

// The defining relation of a class's items, R the range.
void expect_choice_relation(ChoiceClass choice_class, std::vector<Item<std::int64_t>> items,
                            std::int64_t range) {
  for (const Item<std::int64_t>& item : items) {
    const std::int64_t w = item.weight;
    const std::int64_t p = item.profit;
    switch (choice_class) {
      case ChoiceClass::uncorrelated:
        EXPECT_TRUE(1 <= w && w <= range && 1 <= p && p <= range);
        break;
      case ChoiceClass::weakly_correlated:
        EXPECT_TRUE(1 <= w && w <= range);
        EXPECT_GE(p, std::max<std::int64_t>(1, w - range / 10));
        EXPECT_LE(p, w + range / 10);
        break;
      case ChoiceClass::subset_sum:
        EXPECT_TRUE(1 <= w && w <= range);
        EXPECT_EQ(p, w);
        break;
      case ChoiceClass::strongly_correlated:
        break;
    }
  }
  if (choice_class != ChoiceClass::strongly_correlated) return;
  // Sums of the first j increments (w', w' + R/10), w' in [1, R] ascending: consecutive differences.
  std::sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.weight < b.weight; });
  Item<std::int64_t> previous{0, 0};
  std::int64_t previous_increment = 0;
  for (const Item<std::int64_t>& item : items) {
    const std::int64_t increment = item.weight - previous.weight;
    EXPECT_TRUE(1 <= increment && increment <= range);
    EXPECT_GE(increment, previous_increment);
    EXPECT_EQ(item.profit - previous.profit, increment + range / 10);
    previous = item;
    previous_increment = increment;
  }
}

TEST(KnapsackGenerator, EveryChoiceClassFollowsItsDefinition) {
  for (const ChoiceClass choice_class : reds::knapsack::choice_classes()) {
    SCOPED_TRACE(reds::knapsack::to_string(choice_class));
    for (const std::int64_t range : {10, 1000, 10'000'000}) {
      const auto instance = generate_choice(choice_class, 50, 20, range);
      ASSERT_EQ(instance.problem.classes.size(), 50u);
      for (const auto& items : instance.problem.classes) {
        ASSERT_EQ(items.size(), 20u);
        expect_choice_relation(choice_class, items, range);
      }
    }
  }
}

TEST(KnapsackGenerator, ChoiceCapacityFollowsTheSeries) {
  for (const std::int64_t h : {1, 50, 100}) {
    const auto instance = generate_choice(ChoiceClass::weakly_correlated, 30, 8, 1000, 3, h);
    std::int64_t lightest = 0;
    std::int64_t heaviest = 0;
    for (const auto& items : instance.problem.classes) {
      std::int64_t low = items.front().weight;
      std::int64_t high = items.front().weight;
      for (const Item<std::int64_t>& item : items) {
        low = std::min(low, item.weight);
        high = std::max(high, item.weight);
      }
      lightest += low;
      heaviest += high;
    }
    EXPECT_EQ(instance.problem.capacity, lightest + h * (heaviest - lightest) / 101);
  }
}

TEST(KnapsackGenerator, ChoiceInstancesAreReproducibleSeededAndNamed) {
  const auto first = generate_choice(ChoiceClass::strongly_correlated, 40, 5, 10'000, 5);
  const auto again = generate_choice(ChoiceClass::strongly_correlated, 40, 5, 10'000, 5);
  const auto other = generate_choice(ChoiceClass::strongly_correlated, 40, 5, 10'000, 6);
  bool differs = false;
  for (std::size_t k = 0; k < first.problem.classes.size(); ++k) {
    for (std::size_t i = 0; i < first.problem.classes[k].size(); ++i) {
      EXPECT_EQ(first.problem.classes[k][i].weight, again.problem.classes[k][i].weight);
      EXPECT_EQ(first.problem.classes[k][i].profit, again.problem.classes[k][i].profit);
      differs = differs || first.problem.classes[k][i].weight != other.problem.classes[k][i].weight;
    }
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(first.name, "mckp_strongly_correlated_k40_m5_r10000_h50_s5");
  for (const ChoiceClass choice_class : reds::knapsack::choice_classes())
    EXPECT_EQ(reds::knapsack::parse_choice_class(reds::knapsack::to_string(choice_class)), choice_class);
  EXPECT_FALSE(reds::knapsack::parse_choice_class("circle").has_value());
}

TEST(KnapsackGenerator, RejectsChoiceOptionsOutOfRange) {
  ChoiceGeneratorOptions options;
  options.classes = 0;
  EXPECT_NE(reds::knapsack::generate(options).error().message.find("classes"), std::string::npos);
  options.classes = 10'000;
  options.class_size = 10'000;
  EXPECT_NE(reds::knapsack::generate(options).error().message.find("classes"), std::string::npos);
  options.class_size = 10;
  options.range = 9;
  EXPECT_NE(reds::knapsack::generate(options).error().message.find("range"), std::string::npos);
  options.range = 100;
  options.instance = 0;
  EXPECT_NE(reds::knapsack::generate(options).error().message.find("instance"), std::string::npos);
}

}  // namespace
