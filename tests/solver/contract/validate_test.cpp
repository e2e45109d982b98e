// validate(): every rule of the plan contract on the C++ form, each reported with its JSON Pointer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "reds/network.h"
#include "reds/plan.h"
#include "reds/status.h"

namespace reds {
namespace {

constexpr std::int64_t k2To53 = std::int64_t{1} << 53;

Layer make_layer(const std::string& name, std::int64_t units) {
  Layer layer;
  layer.name = name;
  layer.units = units;
  for (std::int64_t unit = 0; unit < units; ++unit)
    layer.importance.push_back(1.0 + static_cast<double>(unit));
  return layer;
}

// fc1 (3 units) -> dw (tied to fc1) -> fc2 (2 units), 4 inputs. Full MACs: 3*4 + 3 + 2*3 = 21.
PlanRequest valid_request() {
  PlanRequest request;
  request.network.inputs = 4;
  Layer fc1 = make_layer("fc1", 3);
  fc1.cost["macs"].unit_input = 1;
  fc1.cost["params"] = CostTerms{.fixed = 0, .unit = 1, .input = 0, .unit_input = 1, .table = {}, .held = {}};
  Layer dw = make_layer("dw", 3);
  dw.tied = true;
  dw.cost["macs"].unit = 1;
  Layer fc2 = make_layer("fc2", 2);
  fc2.cost["macs"].unit_input = 1;
  request.network.layers = {fc1, dw, fc2};
  request.levels = {Level{{{"macs", Limit::of_fraction(0.5)}}}, Level{{{"macs", Limit::of_max(21)}}}};
  return request;
}

void expect_invalid(const PlanRequest& request, const std::string& message_part, const std::string& path) {
  const std::optional<Error> error = validate(request);
  ASSERT_TRUE(error.has_value()) << "expected an error at " << path;
  EXPECT_EQ(error->code, ErrorCode::invalid_argument);
  EXPECT_NE(error->message.find(message_part), std::string::npos)
      << "message: " << error->message << "\nexpected to contain: " << message_part;
  EXPECT_EQ(error->path, path) << "message: " << error->message;
}

TEST(Validate, AcceptsAValidRequest) {
  const std::optional<Error> error = validate(valid_request());
  EXPECT_FALSE(error.has_value()) << error->message << " at " << error->path;
}

TEST(Validate, InputsAtLeastOne) {
  PlanRequest request = valid_request();
  request.network.inputs = 0;
  expect_invalid(request, "network.inputs must be >= 1", "/network/inputs");
}

TEST(Validate, LayersNotEmpty) {
  PlanRequest request = valid_request();
  request.network.layers.clear();
  expect_invalid(request, "network.layers must not be empty", "/network/layers");
}

TEST(Validate, LayerNameNotEmpty) {
  PlanRequest request = valid_request();
  request.network.layers[1].name.clear();
  expect_invalid(request, "layers[1].name must not be empty", "/network/layers/1/name");
}

TEST(Validate, LayerNamesUnique) {
  PlanRequest request = valid_request();
  request.network.layers[2].name = "fc1";
  expect_invalid(request, "'fc1' is already used by layers[0]", "/network/layers/2/name");
}

TEST(Validate, UnitsAtLeastOne) {
  PlanRequest request = valid_request();
  request.network.layers[0].units = 0;
  request.network.layers[0].importance.clear();
  expect_invalid(request, "layers[0].units must be >= 1", "/network/layers/0/units");
}

TEST(Validate, ImportanceHasOneNumberPerUnit) {
  PlanRequest request = valid_request();
  request.network.layers[2].importance.pop_back();
  expect_invalid(request, "layers[2].importance has 1 numbers, expected 2", "/network/layers/2/importance");
}

TEST(Validate, ImportanceNonNegative) {
  PlanRequest request = valid_request();
  request.network.layers[0].importance[1] = -0.5;
  expect_invalid(request, "layers[0].importance[1] must be a finite number >= 0",
                 "/network/layers/0/importance/1");
}

TEST(Validate, ImportanceSumFinite) {
  PlanRequest request = valid_request();
  request.network.layers[0].importance = {1e308, 1e308, 1e308};
  expect_invalid(request, "sum to more than the largest double", "/network/layers");
}

TEST(Validate, ImportanceFinite) {
  PlanRequest request = valid_request();
  request.network.layers[2].importance[0] = std::numeric_limits<double>::quiet_NaN();
  expect_invalid(request, "layers[2].importance[0] must be a finite number",
                 "/network/layers/2/importance/0");
  request.network.layers[2].importance[0] = std::numeric_limits<double>::infinity();
  expect_invalid(request, "layers[2].importance[0] must be a finite number",
                 "/network/layers/2/importance/0");
}

TEST(Validate, MinUnitsWithinUnits) {
  PlanRequest request = valid_request();
  request.network.layers[0].min_units = 0;
  expect_invalid(request, "layers[0].min_units must be between 1 and units (3), got 0",
                 "/network/layers/0/min_units");
  request.network.layers[0].min_units = 4;
  expect_invalid(request, "got 4", "/network/layers/0/min_units");
  request.network.layers[0].min_units = 3;
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, BlockAtLeastOne) {
  PlanRequest request = valid_request();
  request.network.layers[2].block = 0;
  expect_invalid(request, "layers[2].block must be >= 1", "/network/layers/2/block");
}

TEST(Validate, FirstLayerCannotBeTied) {
  PlanRequest request = valid_request();
  request.network.layers[0].tied = true;
  expect_invalid(request, "layers[0] cannot be tied", "/network/layers/0/tied");
}

TEST(Validate, TiedLayerHasThePreviousLayersUnits) {
  PlanRequest request = valid_request();
  request.network.layers[2].tied = true;  // fc2 has 2 units, dw has 3
  expect_invalid(request, "layers[2].units is 2 but a tied layer needs the previous layer's 3",
                 "/network/layers/2/units");
}

TEST(Validate, TiedLayerKeepsTheWidthDefaults) {
  PlanRequest request = valid_request();
  request.network.layers[1].min_units = 2;
  expect_invalid(request, "layers[1].min_units cannot be set on a tied layer", "/network/layers/1/min_units");
  request = valid_request();
  request.network.layers[1].block = 3;
  expect_invalid(request, "layers[1].block cannot be set on a tied layer", "/network/layers/1/block");
  request = valid_request();
  request.network.layers[1].prunable = false;
  expect_invalid(request, "layers[1].prunable cannot be set on a tied layer", "/network/layers/1/prunable");
}

TEST(Validate, CostCoefficientsNonNegative) {
  PlanRequest request = valid_request();
  request.network.layers[0].cost["macs"].unit_input = -1;
  expect_invalid(request, "layers[0].cost.macs.unit_input must be >= 0, got -1",
                 "/network/layers/0/cost/macs/unit_input");
  request = valid_request();
  request.network.layers[2].cost["macs"].fixed = -3;
  expect_invalid(request, "layers[2].cost.macs.fixed must be >= 0", "/network/layers/2/cost/macs/fixed");
}

TEST(Validate, CostCoefficientsBelow2To53) {
  PlanRequest request = valid_request();
  request.network.layers[0].cost["params"].unit = k2To53;
  expect_invalid(request, "layers[0].cost.params.unit must be below 2^53",
                 "/network/layers/0/cost/params/unit");
}

TEST(Validate, TableHasOneEntryPerWidth) {
  PlanRequest request = valid_request();
  request.network.layers[0].cost["latency"].table = {1, 2};
  expect_invalid(request, "layers[0].cost.latency.table has 2 numbers, expected 3",
                 "/network/layers/0/cost/latency/table");
}

TEST(Validate, TableEntriesNonNegativeAndBelow2To53) {
  PlanRequest request = valid_request();
  request.network.layers[2].cost["latency"].table = {1, -2};
  expect_invalid(request, "layers[2].cost.latency.table[1] must be >= 0",
                 "/network/layers/2/cost/latency/table/1");
  request.network.layers[2].cost["latency"].table = {k2To53, 2};
  expect_invalid(request, "must be below 2^53", "/network/layers/2/cost/latency/table/0");
}

TEST(Validate, FullNetworkCostBelow2To53) {
  PlanRequest request = valid_request();
  // Each layer alone is fine, their sum is 2^53.
  request.network.layers[0].cost["latency"].fixed = k2To53 / 2;
  request.network.layers[2].cost["latency"].fixed = k2To53 / 2;
  expect_invalid(request, "the full network's 'latency' cost reaches 2^53", "/network/layers/0/cost/latency");
}

TEST(Validate, FullNetworkCostOverflowIsAnErrorNotACrash) {
  PlanRequest request = valid_request();
  request.network.inputs = std::numeric_limits<std::int64_t>::max();
  request.network.layers[0].cost["macs"].unit_input = k2To53 - 1;
  expect_invalid(request, "the full network's 'macs' cost reaches 2^53", "/network/layers/0/cost/macs");
}

TEST(Validate, OneToSixtyFourLevels) {
  PlanRequest request = valid_request();
  request.levels.clear();
  expect_invalid(request, "levels must have 1 to 64 entries, got 0", "/levels");
  request.levels.assign(65, Level{{{"macs", Limit::of_max(21)}}});
  expect_invalid(request, "got 65", "/levels");
  request.levels.resize(64);
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, LevelLimitsSomething) {
  PlanRequest request = valid_request();
  request.levels[1].limits.clear();
  expect_invalid(request, "levels[1] limits no resource", "/levels/1");
}

TEST(Validate, UncostedResourceCannotBeLimited) {
  PlanRequest request = valid_request();
  request.levels[0].limits["latency"] = Limit::of_max(5);
  expect_invalid(request, "levels[0].latency limits 'latency', which no layer costs", "/levels/0/latency");
  // Listing the resource with zero coefficients does not cost it either.
  request.network.layers[0].cost["latency"] = CostTerms{};
  request.network.resources["latency"] = Aggregation::sum;
  expect_invalid(request, "which no layer costs", "/levels/0/latency");
  request.network.layers[0].cost["latency"].fixed = 1;
  request.levels[1].limits["latency"] = Limit::of_max(5);
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, FractionInZeroToOne) {
  PlanRequest request = valid_request();
  for (double fraction :
       {0.0, -0.25, 1.5, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    request.levels[0].limits["macs"] = Limit::of_fraction(fraction);
    expect_invalid(request, "levels[0].macs.fraction must be a number with 0 < fraction <= 1",
                   "/levels/0/macs/fraction");
  }
  request.levels[0].limits["macs"] = Limit::of_fraction(1.0);
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, MaxNonNegativeAndBelow2To53) {
  PlanRequest request = valid_request();
  request.levels[1].limits["macs"] = Limit::of_max(-1);
  expect_invalid(request, "levels[1].macs.max must be an integer with 0 <= max < 2^53, got -1",
                 "/levels/1/macs/max");
  request.levels[1].limits["macs"] = Limit::of_max(k2To53);
  expect_invalid(request, "got 9007199254740992", "/levels/1/macs/max");
  request.levels[1].limits["macs"] = Limit::of_max(k2To53 - 1);
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, LevelsMustNotDecrease) {
  PlanRequest request = valid_request();
  request.levels[1].limits["macs"] = Limit::of_max(9);  // level 0 resolves 0.5 * 21 to 10
  expect_invalid(request, "levels[1].macs resolves to 9, below levels[0]'s 10", "/levels/1/macs/max");
  request.levels[1].limits["macs"] = Limit::of_max(10);
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, LevelsCompareResolvedFractions) {
  PlanRequest request = valid_request();
  request.levels[0].limits["macs"] = Limit::of_max(11);
  request.levels[1].limits["macs"] = Limit::of_fraction(0.5);  // 10
  expect_invalid(request, "resolves to 10, below levels[0]'s 11", "/levels/1/macs/fraction");
}

TEST(Validate, NextLevelLimitsOnlyWhatThePreviousLimits) {
  PlanRequest request = valid_request();
  request.levels[1].limits["params"] = Limit::of_max(5);
  expect_invalid(request, "levels[0] does not limit 'params'", "/levels/1/params");
  // The other way round is fine: a later level may drop a resource.
  request = valid_request();
  request.levels[0].limits["params"] = Limit::of_max(5);
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, JointIsValidInput) {
  PlanRequest request = valid_request();
  request.strategy = Strategy::joint;
  EXPECT_FALSE(validate(request).has_value());
  request.weights = {1.0, 2.5};
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, WeightsOnlyWithJoint) {
  PlanRequest request = valid_request();
  request.weights = {1.0, 1.0};
  expect_invalid(request, "weights are only accepted with strategy 'joint', not 'bottom_up'", "/weights");
}

TEST(Validate, OneWeightPerLevel) {
  PlanRequest request = valid_request();
  request.strategy = Strategy::joint;
  request.weights = {1.0};
  expect_invalid(request, "weights has 1 numbers, expected 2", "/weights");
}

TEST(Validate, WeightsPositiveAndFinite) {
  PlanRequest request = valid_request();
  request.strategy = Strategy::joint;
  for (double weight :
       {0.0, -1.0, std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    request.weights = {1.0, weight};
    expect_invalid(request, "weights[1] must be a positive finite number", "/weights/1");
  }
}

TEST(Validate, TimeLimitPositive) {
  PlanRequest request = valid_request();
  request.time_limit_ms = 0;
  expect_invalid(request, "time_limit_ms must be a positive integer, got 0", "/time_limit_ms");
  request.time_limit_ms = 1;
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, AnyResourceNameMayBeAggregated) {
  PlanRequest request = valid_request();
  request.network.resources["energy/uJ"] = Aggregation::max;
  EXPECT_FALSE(validate(request).has_value());
}

// The whole message, not a part: validate() spells messages only when it reports one.
void expect_error(const PlanRequest& request, const std::string& message, const std::string& path) {
  const std::optional<Error> error = validate(request);
  ASSERT_TRUE(error.has_value()) << "expected an error at " << path;
  EXPECT_EQ(error->code, ErrorCode::invalid_argument);
  EXPECT_EQ(error->message, message);
  EXPECT_EQ(error->path, path);
}

TEST(Validate, RepeatedNameIsReportedAtItsFirstRepetitionInLayerOrder) {
  PlanRequest request = valid_request();
  request.network.layers.push_back(make_layer("fc1b", 2));
  // Names z a z a: in name order 'a' comes first, but layers[2] repeats a name before layers[3] does.
  const char* names[] = {"z", "a", "z", "a"};
  for (std::size_t index = 0; index < 4; ++index) request.network.layers[index].name = names[index];
  request.network.layers[1].tied = false;
  expect_error(request, "layers[2].name 'z' is already used by layers[0]", "/network/layers/2/name");
  request.network.layers[2].name = "a";  // now z a a a: the second 'a' names the first user
  expect_error(request, "layers[2].name 'a' is already used by layers[1]", "/network/layers/2/name");
}

TEST(Validate, FirstWrongImportanceOfALayerIsReported) {
  PlanRequest request = valid_request();
  request.network.layers[0].importance = {1.0, -2.5, std::numeric_limits<double>::quiet_NaN()};
  expect_error(request, "layers[0].importance[1] must be a finite number >= 0, got -2.5",
               "/network/layers/0/importance/1");
  request.network.layers[0].importance = {1.0, 2.0, -std::numeric_limits<double>::infinity()};
  expect_error(request, "layers[0].importance[2] must be a finite number >= 0, got -inf",
               "/network/layers/0/importance/2");
  request.network.layers[0].importance = {-0.0, 0.0, std::numeric_limits<double>::max()};
  EXPECT_FALSE(validate(request).has_value());
}

TEST(Validate, WrongImportanceAfterAnOverflowingSumIsReportedFirst) {
  PlanRequest request = valid_request();
  request.network.layers[0].importance = {1e308, 1e308, 1e308};  // the sum is already infinite here
  request.network.layers[2].importance[1] = std::numeric_limits<double>::infinity();
  expect_error(request, "layers[2].importance[1] must be a finite number >= 0, got inf",
               "/network/layers/2/importance/1");
  request.network.layers[2].importance[1] = 1.0;
  expect_error(request, "the importances of all layers sum to more than the largest double; scale them down",
               "/network/layers");
}

TEST(Validate, FullNetworkCostNamesTheCostliestLayer) {
  PlanRequest request = valid_request();
  request.network.layers[0].cost["latency"].fixed = k2To53 / 2;
  request.network.layers[2].cost["latency"].fixed = k2To53 / 2 + 5;
  expect_error(request,
               "the full network's 'latency' cost reaches 2^53 or more (layers[2].cost.latency alone is "
               "4503599627370501 at full width); every cost must be below 2^53",
               "/network/layers/2/cost/latency");
}

TEST(Validate, FullNetworkCostReportsResourcesInNameOrder) {
  PlanRequest request = valid_request();
  // Only layers[0] costs 'zeta' and only layers[2] costs 'alpha'; both reach 2^53, 'alpha' is reported.
  request.network.layers[0].cost["zeta"].fixed = k2To53 - 1;
  request.network.layers[0].cost["zeta"].unit = 1;
  request.network.layers[2].cost["alpha"].fixed = k2To53 - 1;
  request.network.layers[2].cost["alpha"].unit = 1;
  expect_error(request,
               "the full network's 'alpha' cost reaches 2^53 or more (layers[2].cost.alpha alone is "
               "9007199254740993 at full width); every cost must be below 2^53",
               "/network/layers/2/cost/alpha");
  request.network.layers[2].cost["alpha"].unit = 0;
  expect_error(request,
               "the full network's 'zeta' cost reaches 2^53 or more (layers[0].cost.zeta alone is "
               "9007199254740994 at full width); every cost must be below 2^53",
               "/network/layers/0/cost/zeta");
}

TEST(Validate, CostedOnlyByALaterLayerIsCosted) {
  PlanRequest request = valid_request();
  request.network.layers[1].cost["latency"] = CostTerms{};  // listed with zeros: not costed by dw
  request.network.layers[2].cost["latency"].unit = 2;       // costed by fc2 only: 4
  request.levels[0].limits["latency"] = Limit::of_fraction(0.5);
  request.levels[1].limits["latency"] = Limit::of_max(1);
  expect_error(request,
               "levels[1].latency resolves to 1, below levels[0]'s 2: levels are given smallest first and "
               "must not decrease",
               "/levels/1/latency/max");
}

TEST(Validate, ResourceNamesAreEscapedInPaths) {
  PlanRequest request = valid_request();
  request.levels[0].limits["energy/uJ~1"] = Limit::of_max(5);
  expect_error(request,
               "levels[0].energy/uJ~1 limits 'energy/uJ~1', which no layer costs (give some layer a non-zero "
               "cost for it)",
               "/levels/0/energy~1uJ~01");
  request.network.layers[2].cost["energy/uJ~1"].table = {1, -7};
  expect_error(request, "layers[2].cost.energy/uJ~1.table[1] must be >= 0, got -7",
               "/network/layers/2/cost/energy~1uJ~01/table/1");
}

TEST(Validate, EveryLimitOfALevelIsCheckedBeforeItIsComparedWithThePreviousLevel) {
  PlanRequest request = valid_request();
  request.levels[1].limits["macs"] = Limit::of_max(1);           // below levels[0]'s 10
  request.levels[1].limits["params"] = Limit::of_fraction(2.0);  // and, later in name order, wrong
  expect_error(request, "levels[1].params.fraction must be a number with 0 < fraction <= 1, got 2",
               "/levels/1/params/fraction");
}

TEST(Validate, ReportsTheFirstViolation) {
  PlanRequest request = valid_request();
  request.network.layers[2].units = 0;
  request.network.layers[1].name = "fc1";
  request.levels.clear();
  expect_invalid(request, "already used", "/network/layers/1/name");
}

}  // namespace
}  // namespace reds
