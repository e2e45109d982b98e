// resolve_fraction() (contract, precise rule 1) and full_network_cost().
//
// Expected values of the exactness cases were computed with Python's fractions.Fraction, which multiplies
// the double's exact binary value by the integer without rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "reds/network.h"
#include "reds/plan.h"

namespace reds {
namespace {

constexpr std::int64_t kBelow2To53 = (std::int64_t{1} << 53) - 1;

TEST(ResolveFraction, DoubleSlightlyAboveTheDecimalRoundsDownToIt) {
  // 0.1 is stored as 0.1000000000000000055..., so 10 * f is just above 1.
  EXPECT_EQ(resolve_fraction(0.1, 10), 1);
}

TEST(ResolveFraction, DoubleSlightlyBelowTheDecimalLosesOne) {
  // 0.3 is stored as 0.29999999999999998889..., so 10 * f is just below 3 (a rounded product gives 3).
  EXPECT_EQ(resolve_fraction(0.3, 10), 2);
  EXPECT_EQ(resolve_fraction(0.7, 10), 6);
  EXPECT_EQ(resolve_fraction(0.35, 100), 34);
  EXPECT_EQ(resolve_fraction(1.0 / 3.0, 3), 0);
  EXPECT_EQ(resolve_fraction(2.0 / 3.0, 3), 1);
}

TEST(ResolveFraction, WholeFractionGivesTheFullCost) {
  EXPECT_EQ(resolve_fraction(1.0, 10), 10);
  EXPECT_EQ(resolve_fraction(1.0, kBelow2To53), kBelow2To53);
  EXPECT_EQ(resolve_fraction(0.5, 10), 5);
  EXPECT_EQ(resolve_fraction(0.25, 0), 0);
}

TEST(ResolveFraction, ExactNearTwoToThe53) {
  EXPECT_EQ(resolve_fraction(0.25, kBelow2To53), 2251799813685247);
  EXPECT_EQ(resolve_fraction(0.3, kBelow2To53), 2702159776422297);
  // Here the double product rounds up across an integer; the exact product does not.
  EXPECT_EQ(resolve_fraction(0.1, 9007199254740989), 900719925474098);
  EXPECT_EQ(resolve_fraction(0.2, 9007199254740989), 1801439850948197);
  EXPECT_EQ(resolve_fraction(0.7, 9007199254740989), 6305039478318691);
  // The largest double below 1.
  const double below_one = std::nextafter(1.0, 0.0);
  EXPECT_EQ(resolve_fraction(below_one, kBelow2To53), kBelow2To53 - 1);
  EXPECT_EQ(resolve_fraction(below_one, 3), 2);
}

TEST(ResolveFraction, TinyFractionsResolveToZero) {
  EXPECT_EQ(resolve_fraction(std::ldexp(1.0, -54), kBelow2To53), 0);
  EXPECT_EQ(resolve_fraction(std::numeric_limits<double>::denorm_min(), kBelow2To53), 0);
  // 2^-52 of 2^53 - 1 is just below 2.
  EXPECT_EQ(resolve_fraction(std::ldexp(1.0, -52), kBelow2To53), 1);
}

TEST(ResolveFraction, NeverExceedsTheProductAndIsWithinOneOfIt) {
  for (std::int64_t full : {1LL, 7LL, 1000LL, 123456789LL, 4503599627370497LL}) {
    for (double fraction : {0.01, 0.05, 0.125, 0.33, 0.5, 0.66, 0.875, 0.999}) {
      const std::int64_t limit = resolve_fraction(fraction, full);
      const long double product = static_cast<long double>(fraction) * static_cast<long double>(full);
      EXPECT_LE(static_cast<long double>(limit), product + 1e-3L) << fraction << " of " << full;
      EXPECT_GT(static_cast<long double>(limit) + 1.0L, product - 1e-3L) << fraction << " of " << full;
    }
  }
}

Layer dense(const std::string& name, std::int64_t units) {
  Layer layer;
  layer.name = name;
  layer.units = units;
  layer.importance.assign(static_cast<std::size_t>(units), 1.0);
  return layer;
}

TEST(FullNetworkCost, SumsOverLayersWithThePreviousWidthAsInput) {
  Network network;
  network.inputs = 10;
  Layer first = dense("fc1", 4);
  first.cost["macs"].unit_input = 1;
  first.cost["params"] =
      CostTerms{.fixed = 0, .unit = 1, .input = 0, .unit_input = 1, .table = {}, .held = {}};
  Layer second = dense("fc2", 3);
  second.cost["macs"].unit_input = 1;
  second.cost["params"] =
      CostTerms{.fixed = 5, .unit = 1, .input = 2, .unit_input = 1, .table = {1, 2, 7}, .held = {}};
  network.layers = {first, second};

  const std::map<std::string, std::int64_t> full = full_network_cost(network);
  EXPECT_EQ(full.at("macs"), 4 * 10 + 3 * 4);
  // fc1: 4 + 4*10; fc2: 5 + 3 + 2*4 + 3*4 + table[2] = 35.
  EXPECT_EQ(full.at("params"), 44 + 35);
  EXPECT_EQ(full.size(), 2u);
}

TEST(FullNetworkCost, MaxResourceTakesTheLargestLayer) {
  Network network;
  network.inputs = 8;
  Layer first = dense("conv1", 16);
  first.cost["activation"] =
      CostTerms{.fixed = 0, .unit = 4, .input = 4, .unit_input = 0, .table = {}, .held = {}};
  Layer second = dense("conv2", 2);
  second.cost["activation"] =
      CostTerms{.fixed = 0, .unit = 4, .input = 4, .unit_input = 0, .table = {}, .held = {}};
  network.layers = {first, second};

  // `activation` defaults to max: conv1 = 4*16 + 4*8 = 96, conv2 = 4*2 + 4*16 = 72.
  EXPECT_EQ(full_network_cost(network).at("activation"), 96);
  network.resources["activation"] = Aggregation::sum;
  EXPECT_EQ(full_network_cost(network).at("activation"), 96 + 72);
}

TEST(FullNetworkCost, ResourceOnlyNamedInResourcesCostsZero) {
  Network network;
  network.inputs = 3;
  network.layers = {dense("fc", 2)};
  network.resources["latency"] = Aggregation::sum;
  const std::map<std::string, std::int64_t> full = full_network_cost(network);
  ASSERT_EQ(full.count("latency"), 1u);
  EXPECT_EQ(full.at("latency"), 0);
}

TEST(AggregationOf, DefaultsToSumExceptActivation) {
  Network network;
  EXPECT_EQ(aggregation_of(network, "macs"), Aggregation::sum);
  EXPECT_EQ(aggregation_of(network, "activation"), Aggregation::max);
  network.resources["macs"] = Aggregation::max;
  EXPECT_EQ(aggregation_of(network, "macs"), Aggregation::max);
}

TEST(StrategyNames, RoundTrip) {
  for (Strategy strategy :
       {Strategy::independent, Strategy::bottom_up, Strategy::top_down, Strategy::joint}) {
    EXPECT_EQ(strategy_from_string(to_string(strategy)), strategy);
  }
  EXPECT_STREQ(to_string(Strategy::bottom_up), "bottom_up");
  EXPECT_FALSE(strategy_from_string("bottom-up").has_value());
  EXPECT_STREQ(to_string(ErrorCode::invalid_argument), "invalid_argument");
  EXPECT_STREQ(to_string(PlanStatus::infeasible), "infeasible");
}

}  // namespace
}  // namespace reds
