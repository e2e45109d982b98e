// The plan contract's JSON form: strict request parsing (every input error with its JSON Pointer), the
// request round trip, and the response and error documents.
#include "reds/json.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "reds/network.h"
#include "reds/plan.h"
#include "reds/status.h"

namespace reds {
namespace {

using Json = nlohmann::ordered_json;

// The contract's example request, its "..." replaced by importances of the right length.
std::string contract_example() {
  std::string importance = "0.91, 0.02";
  for (int unit = 2; unit < 144; ++unit) importance += ", " + std::to_string(unit % 7) + ".25";
  return R"({
  "network": {
    "name": "dnn_s",
    "inputs": 250,
    "resources": {"macs": "sum", "params": "sum", "activation": "max"},
    "layers": [
      {
        "name": "fc1",
        "units": 144,
        "importance": [)" +
         importance + R"(],
        "min_units": 2,
        "block": 1,
        "prunable": true,
        "tied": false,
        "cost": {
          "macs":   {"unit_input": 1},
          "params": {"unit_input": 1, "unit": 1},
          "activation": {"unit": 4, "input": 4}
        }
      }
    ]
  },
  "levels": [
    {"macs": {"fraction": 0.25}, "activation": {"max": 200000}},
    {"macs": {"fraction": 0.50}, "activation": {"max": 200000}},
    {"macs": {"max": 60000}}
  ],
  "strategy": "bottom_up",
  "time_limit_ms": 10000
})";
}

// A small valid request as a JSON document, to be broken one field at a time.
Json small_request() {
  return Json::parse(R"({
    "network": {
      "inputs": 4,
      "layers": [
        {"name": "fc1", "units": 3, "importance": [0.5, 2, 1], "cost": {"macs": {"unit_input": 1}}},
        {"name": "dw", "units": 3, "importance": [1, 1, 1], "tied": true, "cost": {"macs": {"unit": 1}}},
        {"name": "fc2", "units": 2, "importance": [3, 4], "cost": {"macs": {"unit_input": 1}}}
      ]
    },
    "levels": [{"macs": {"fraction": 0.5}}, {"macs": {"max": 21}}]
  })");
}

Error parse_error_of(const std::string& text) {
  const Result<PlanRequest> parsed = parse_plan_request(text);
  EXPECT_FALSE(parsed.ok()) << "expected an error for: " << text.substr(0, 200);
  return parsed.ok() ? Error{} : parsed.error();
}

void expect_text_error(const std::string& text, const std::string& message_part, const std::string& path) {
  const Error error = parse_error_of(text);
  EXPECT_EQ(error.code, ErrorCode::invalid_argument) << error.message;
  EXPECT_NE(error.message.find(message_part), std::string::npos)
      << "message: " << error.message << "\nexpected to contain: " << message_part;
  EXPECT_EQ(error.path, path) << "message: " << error.message;
}

void expect_error(const Json& document, const std::string& message_part, const std::string& path) {
  expect_text_error(document.dump(), message_part, path);
}

TEST(ParsePlanRequest, SmallRequestIsValid) {
  const Result<PlanRequest> parsed = parse_plan_request(small_request().dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message << " at " << parsed.error().path;
  ASSERT_EQ(parsed->network.layers.size(), 3u);
  EXPECT_TRUE(parsed->network.layers[1].tied);
  EXPECT_EQ(parsed->network.name, "");
  EXPECT_EQ(parsed->strategy, Strategy::bottom_up);
  EXPECT_FALSE(parsed->time_limit_ms.has_value());
  EXPECT_EQ(parsed->objective, Objective::sum);
}

TEST(ParsePlanRequest, ContractExample) {
  const Result<PlanRequest> parsed = parse_plan_request(contract_example());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message << " at " << parsed.error().path;
  const PlanRequest& request = *parsed;
  EXPECT_EQ(request.network.name, "dnn_s");
  EXPECT_EQ(request.network.inputs, 250);
  EXPECT_EQ(request.network.resources.at("activation"), Aggregation::max);
  EXPECT_EQ(request.network.resources.at("params"), Aggregation::sum);
  ASSERT_EQ(request.network.layers.size(), 1u);
  const Layer& fc1 = request.network.layers[0];
  EXPECT_EQ(fc1.name, "fc1");
  EXPECT_EQ(fc1.units, 144);
  ASSERT_EQ(fc1.importance.size(), 144u);
  EXPECT_DOUBLE_EQ(fc1.importance[0], 0.91);
  EXPECT_EQ(fc1.min_units, 2);
  EXPECT_EQ(fc1.block, 1);
  EXPECT_TRUE(fc1.prunable);
  EXPECT_FALSE(fc1.tied);
  EXPECT_EQ(fc1.cost.at("macs").unit_input, 1);
  EXPECT_EQ(fc1.cost.at("params").unit, 1);
  EXPECT_EQ(fc1.cost.at("activation").input, 4);
  ASSERT_EQ(request.levels.size(), 3u);
  EXPECT_EQ(request.levels[0].limits.at("macs").kind, Limit::Kind::fraction);
  EXPECT_DOUBLE_EQ(request.levels[0].limits.at("macs").fraction, 0.25);
  EXPECT_EQ(request.levels[0].limits.at("activation").maximum, 200000);
  EXPECT_EQ(request.levels[2].limits.at("macs").kind, Limit::Kind::max);
  EXPECT_EQ(request.levels[2].limits.at("macs").maximum, 60000);
  EXPECT_EQ(request.strategy, Strategy::bottom_up);
  EXPECT_EQ(request.time_limit_ms, 10000);
}

// ---- malformed text ----

TEST(ParsePlanRequest, MalformedJson) {
  // Byte offsets count from 0: the end of this 12-byte text, then the ']' after a trailing comma.
  expect_text_error(R"({"network": )", "malformed JSON at byte 12", "");
  expect_text_error("", "malformed JSON at byte", "");
  expect_text_error(R"({"levels": [1, 2,]})", "malformed JSON at byte 17", "");
  expect_text_error("{} trailing", "malformed JSON", "");
  expect_text_error(R"({"network": NaN})", "malformed JSON", "");
}

TEST(ParsePlanRequest, RequestMustBeAnObject) {
  expect_text_error("[]", "request must be an object, got an array", "");
  expect_text_error("42", "request must be an object", "");
}

std::string repeated(const std::string& part, int times) {
  std::string text;
  for (int count = 0; count < times; ++count) text += part;
  return text;
}

TEST(ParsePlanRequest, DeepNestingIsRejectedBeforeBuildingTheDocument) {
  // The 65th container opens 64 levels down: at /0/0/.../0, or /a/a/.../a.
  expect_text_error(repeated("[", 100000), "nesting is deeper than 64", repeated("/0", 64));
  expect_text_error(repeated("[", 100000) + repeated("]", 100000), "nesting is deeper than 64",
                    repeated("/0", 64));
  expect_text_error(repeated(R"({"a":)", 100000), "nesting is deeper than 64", repeated("/a", 64));
}

TEST(ParsePlanRequest, NestingUpToTheLimitIsOnlyATypeError) {
  // The root object and `network` are two containers; 62 arrays more make 64 in all.
  Json document = small_request();
  document["network"]["name"] = Json::parse(repeated("[", 62) + repeated("]", 62));
  expect_error(document, "network.name must be a string, got an array", "/network/name");
  document["network"]["name"] = Json::parse(repeated("[", 63) + repeated("]", 63));
  expect_error(document, "nesting is deeper than 64", "/network/name" + repeated("/0", 62));
}

TEST(ParsePlanRequest, DuplicateKeys) {
  expect_text_error(R"({"network": {"inputs": 1, "inputs": 2, "layers": []}, "levels": []})",
                    "duplicate field 'inputs' in network", "/network/inputs");
}

TEST(ParsePlanRequest, InfiniteNumber) {
  Json document = small_request();
  std::string text = document.dump();
  const std::string importance = "[0.5,2,1]";
  text.replace(text.find(importance), importance.size(), "[0.5,1e999,1]");
  expect_text_error(text, "layers[0].importance[1] is 1e999, too large for a finite number",
                    "/network/layers/0/importance/1");
}

// ---- wrong types ----

TEST(ParsePlanRequest, WrongTypes) {
  Json document = small_request();
  document["network"]["layers"][0]["units"] = "3";
  expect_error(document, "layers[0].units must be an integer, got a string", "/network/layers/0/units");

  document = small_request();
  document["network"]["layers"][2]["name"] = 7;
  expect_error(document, "layers[2].name must be a string, got 7", "/network/layers/2/name");

  document = small_request();
  document["network"]["layers"][0]["importance"][1] = "high";
  expect_error(document, "layers[0].importance[1] must be a number, got a string",
               "/network/layers/0/importance/1");

  document = small_request();
  document["network"]["layers"][0]["importance"] = 1.0;
  expect_error(document, "layers[0].importance must be an array, got 1.0", "/network/layers/0/importance");

  document = small_request();
  document["network"]["layers"][0]["prunable"] = "yes";
  expect_error(document, "layers[0].prunable must be true or false", "/network/layers/0/prunable");

  document = small_request();
  document["network"] = Json::array();
  expect_error(document, "network must be an object, got an array", "/network");

  document = small_request();
  document["levels"] = Json::object();
  expect_error(document, "levels must be an array, got an object", "/levels");

  document = small_request();
  document["levels"][1] = 21;
  expect_error(document, "levels[1] must be an object", "/levels/1");

  document = small_request();
  document["network"]["layers"][0]["cost"]["macs"] = Json::array();
  expect_error(document, "layers[0].cost.macs must be an object", "/network/layers/0/cost/macs");

  document = small_request();
  document["time_limit_ms"] = nullptr;
  expect_error(document, "time_limit_ms must be an integer, got null", "/time_limit_ms");
}

TEST(ParsePlanRequest, IntegersMustBeJsonIntegers) {
  Json document = small_request();
  document["network"]["layers"][0]["units"] = 3.0;
  expect_error(document, "layers[0].units must be a JSON integer (like 5, not 5.0), got 3.0",
               "/network/layers/0/units");

  document = small_request();
  document["levels"][1]["macs"]["max"] = 21.0;
  expect_error(document, "levels[1].macs.max must be a JSON integer", "/levels/1/macs/max");

  document = small_request();
  document["network"]["layers"][0]["cost"]["macs"]["unit_input"] = 1.5;
  expect_error(document, "must be a JSON integer", "/network/layers/0/cost/macs/unit_input");

  document = small_request();
  document["time_limit_ms"] = 5.0;
  expect_error(document, "time_limit_ms must be a JSON integer", "/time_limit_ms");
}

TEST(ParsePlanRequest, IntegersBeyond64Bits) {
  std::string text = small_request().dump();
  const std::string inputs = "\"inputs\":4";
  text.replace(text.find(inputs), inputs.size(), "\"inputs\":18446744073709551615");
  expect_text_error(text, "network.inputs is 18446744073709551615, too large for a 64-bit integer",
                    "/network/inputs");

  text.replace(text.find("18446744073709551615"), 20, "99999999999999999999999");
  expect_text_error(text, "too large for a 64-bit integer", "/network/inputs");
}

TEST(ParsePlanRequest, LimitsAndCostsBelow2To53) {
  Json document = small_request();
  document["levels"][1]["macs"]["max"] = std::int64_t{1} << 53;
  expect_error(document, "levels[1].macs.max must be an integer with 0 <= max < 2^53", "/levels/1/macs/max");

  document = small_request();
  document["network"]["layers"][2]["cost"]["macs"]["table"] = {std::int64_t{1} << 53, 0};
  expect_error(document, "layers[2].cost.macs.table[0] must be below 2^53",
               "/network/layers/2/cost/macs/table/0");
}

TEST(ParsePlanRequest, NegativeCost) {
  Json document = small_request();
  document["network"]["layers"][1]["cost"]["macs"]["unit"] = -1;
  expect_error(document, "layers[1].cost.macs.unit must be >= 0, got -1", "/network/layers/1/cost/macs/unit");
}

TEST(ParsePlanRequest, NegativeImportance) {
  Json document = small_request();
  document["network"]["layers"][2]["importance"][1] = -4;
  expect_error(document, "layers[2].importance[1] must be a finite number >= 0",
               "/network/layers/2/importance/1");
}

// ---- unknown names ----

TEST(ParsePlanRequest, UnknownStrategy) {
  Json document = small_request();
  document["strategy"] = "greedy";
  expect_error(document, "unknown strategy 'greedy'", "/strategy");
}

TEST(ParsePlanRequest, Objective) {
  Json document = small_request();
  for (const char* name : {"sum", "normalized", "product"}) {
    document["objective"] = name;
    const Result<PlanRequest> parsed = parse_plan_request(document.dump());
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_STREQ(to_string(parsed->objective), name);
  }
  document["objective"] = "max";
  expect_error(document, "unknown objective 'max' (expected sum, normalized or product)", "/objective");
  document["objective"] = 1;
  expect_error(document, "objective must be a string", "/objective");
}

TEST(ParsePlanRequest, UnknownAggregation) {
  Json document = small_request();
  document["network"]["resources"] = {{"macs", "mean"}};
  expect_error(document, "network.resources.macs must be \"sum\" or \"max\", got \"mean\"",
               "/network/resources/macs");
}

TEST(ParsePlanRequest, UnknownFieldsAnywhere) {
  Json document = small_request();
  document["network"]["layers"][0]["min_unit"] = 2;
  expect_error(document, "unknown field 'min_unit' in layers[0]", "/network/layers/0/min_unit");

  document = small_request();
  document["time_limit"] = 100;
  expect_error(document, "unknown field 'time_limit' in request", "/time_limit");

  document = small_request();
  document["network"]["input"] = 4;
  expect_error(document, "unknown field 'input' in network", "/network/input");

  document = small_request();
  document["network"]["layers"][0]["cost"]["macs"]["units"] = 1;
  expect_error(document, "unknown field 'units' in layers[0].cost.macs", "/network/layers/0/cost/macs/units");

  document = small_request();
  document["levels"][0]["macs"] = {{"maximum", 3}};
  expect_error(document, "unknown field 'maximum' in levels[0].macs", "/levels/0/macs/maximum");
}

TEST(ParsePlanRequest, PointerEscapesResourceNames) {
  Json document = small_request();
  document["network"]["layers"][0]["cost"]["energy/uJ"] = {{"fixd", 1}};
  expect_error(document, "unknown field 'fixd' in layers[0].cost.energy/uJ",
               "/network/layers/0/cost/energy~1uJ/fixd");
}

// ---- missing fields ----

TEST(ParsePlanRequest, MissingRequiredFields) {
  struct Case {
    std::vector<std::string> parent;  // keys and indices down to the object that loses `field`
    std::string field;
    std::string message;
    std::string path;
  };
  const std::vector<Case> cases = {
      {{}, "network", "missing field 'network' in request", ""},
      {{}, "levels", "missing field 'levels' in request", ""},
      {{"network"}, "inputs", "missing field 'inputs' in network", "/network"},
      {{"network"}, "layers", "missing field 'layers' in network", "/network"},
      {{"network", "layers", "1"}, "name", "missing field 'name' in layers[1]", "/network/layers/1"},
      {{"network", "layers", "1"}, "units", "missing field 'units' in layers[1]", "/network/layers/1"},
      {{"network", "layers", "1"},
       "importance",
       "missing field 'importance' in layers[1]",
       "/network/layers/1"},
  };
  for (const Case& missing : cases) {
    Json document = small_request();
    Json* parent = &document;
    for (const std::string& step : missing.parent) {
      parent = parent->is_array() ? &(*parent)[std::stoul(step)] : &(*parent)[step];
    }
    parent->erase(missing.field);
    expect_error(document, missing.message, missing.path);
  }
}

TEST(ParsePlanRequest, EmptyLayers) {
  Json document = small_request();
  document["network"]["layers"] = Json::array();
  expect_error(document, "network.layers must not be empty", "/network/layers");
}

TEST(ParsePlanRequest, MissingCostMeansZeroCost) {
  Json document = small_request();
  document["network"]["layers"][1].erase("cost");
  const Result<PlanRequest> parsed = parse_plan_request(document.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->network.layers[1].cost.empty());
  // fc1: 3 * 4, fc2: 2 * 3; the tied layer adds nothing.
  EXPECT_EQ(full_network_cost(parsed->network).at("macs"), 18);
}

// ---- rules checked by validate(), reached through JSON ----

TEST(ParsePlanRequest, DuplicateLayerNames) {
  Json document = small_request();
  document["network"]["layers"][2]["name"] = "dw";
  expect_error(document, "layers[2].name 'dw' is already used by layers[1]", "/network/layers/2/name");
}

TEST(ParsePlanRequest, DecreasingLevels) {
  Json document = small_request();
  document["levels"][1]["macs"] = {{"max", 9}};
  expect_error(document, "levels[1].macs resolves to 9, below levels[0]'s 10", "/levels/1/macs/max");
}

TEST(ParsePlanRequest, TiedLayersCannotGiveWidthFields) {
  for (const char* field : {"min_units", "block", "prunable"}) {
    Json document = small_request();
    // Even the default value is an error: a tied layer takes its width from the layer it follows.
    document["network"]["layers"][1][field] = std::string(field) == "prunable" ? Json(true) : Json(1);
    expect_error(document, std::string("layers[1].") + field + " cannot be given for a tied layer",
                 "/network/layers/1/" + std::string(field));
  }
}

TEST(ParsePlanRequest, TiedLayerRules) {
  Json document = small_request();
  document["network"]["layers"][0]["tied"] = true;
  expect_error(document, "layers[0] cannot be tied", "/network/layers/0/tied");

  document = small_request();
  document["network"]["layers"][2]["tied"] = true;
  expect_error(document, "a tied layer needs the previous layer's 3", "/network/layers/2/units");
}

TEST(ParsePlanRequest, TableLength) {
  Json document = small_request();
  document["network"]["layers"][0]["cost"]["latency"] = {{"table", {1, 2}}};
  expect_error(document, "layers[0].cost.latency.table has 2 numbers, expected 3",
               "/network/layers/0/cost/latency/table");
}

TEST(ParsePlanRequest, ImportanceLength) {
  Json document = small_request();
  document["network"]["layers"][2]["importance"] = {1, 2, 3};
  expect_error(document, "layers[2].importance has 3 numbers, expected 2", "/network/layers/2/importance");
}

TEST(ParsePlanRequest, LimitIsExactlyOneOfFractionOrMax) {
  Json document = small_request();
  document["levels"][0]["macs"] = {{"fraction", 0.5}, {"max", 10}};
  expect_error(document, "levels[0].macs must have exactly one of \"fraction\" or \"max\"", "/levels/0/macs");
  document["levels"][0]["macs"] = Json::object();
  expect_error(document, "exactly one of", "/levels/0/macs");
}

TEST(ParsePlanRequest, FractionRange) {
  Json document = small_request();
  document["levels"][0]["macs"] = {{"fraction", 0}};
  expect_error(document, "levels[0].macs.fraction must be a number with 0 < fraction <= 1",
               "/levels/0/macs/fraction");
  document["levels"][0]["macs"] = {{"fraction", 1.5}};
  expect_error(document, "0 < fraction <= 1, got 1.5", "/levels/0/macs/fraction");
}

TEST(ParsePlanRequest, LevelWithoutLimit) {
  Json document = small_request();
  document["levels"][1] = Json::object();
  expect_error(document, "levels[1] limits no resource", "/levels/1");
}

TEST(ParsePlanRequest, LimitOnAResourceNoLayerCosts) {
  Json document = small_request();
  document["levels"][0]["params"] = {{"max", 5}};
  expect_error(document, "which no layer costs", "/levels/0/params");
}

TEST(ParsePlanRequest, WeightsOnlyWithJoint) {
  Json document = small_request();
  document["weights"] = {1, 2};
  expect_error(document, "weights are only accepted with strategy 'joint'", "/weights");

  document["strategy"] = "joint";
  const Result<PlanRequest> parsed = parse_plan_request(document.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->strategy, Strategy::joint);
  EXPECT_EQ(parsed->weights, (std::vector<double>{1.0, 2.0}));

  document["weights"] = {1, 0};
  expect_error(document, "weights[1] must be a positive finite number", "/weights/1");
}

TEST(ParsePlanRequest, TimeLimitPositive) {
  Json document = small_request();
  document["time_limit_ms"] = 0;
  expect_error(document, "time_limit_ms must be a positive integer, got 0", "/time_limit_ms");
  document["time_limit_ms"] = -5;
  expect_error(document, "got -5", "/time_limit_ms");
}

TEST(ParsePlanRequest, TooManyLevels) {
  Json document = small_request();
  document["levels"] = Json::array();
  for (int level = 0; level < 65; ++level) document["levels"].push_back({{"macs", {{"max", 21}}}});
  expect_error(document, "levels must have 1 to 64 entries, got 65", "/levels");
}

// ---- the request round trip ----

void expect_same_request(const PlanRequest& expected, const PlanRequest& actual) {
  EXPECT_EQ(actual.network.name, expected.network.name);
  EXPECT_EQ(actual.network.inputs, expected.network.inputs);
  EXPECT_EQ(actual.network.resources, expected.network.resources);
  ASSERT_EQ(actual.network.layers.size(), expected.network.layers.size());
  for (std::size_t index = 0; index < expected.network.layers.size(); ++index) {
    const Layer& want = expected.network.layers[index];
    const Layer& got = actual.network.layers[index];
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.units, want.units);
    EXPECT_EQ(got.importance, want.importance) << want.name;  // bit-exact doubles
    EXPECT_EQ(got.min_units, want.min_units);
    EXPECT_EQ(got.block, want.block);
    EXPECT_EQ(got.prunable, want.prunable);
    EXPECT_EQ(got.tied, want.tied);
    ASSERT_EQ(got.cost.size(), want.cost.size());
    for (const auto& [resource, terms] : want.cost) {
      ASSERT_EQ(got.cost.count(resource), 1u) << resource;
      const CostTerms& other = got.cost.at(resource);
      EXPECT_EQ(other.fixed, terms.fixed);
      EXPECT_EQ(other.unit, terms.unit);
      EXPECT_EQ(other.input, terms.input);
      EXPECT_EQ(other.unit_input, terms.unit_input);
      EXPECT_EQ(other.table, terms.table);
    }
  }
  ASSERT_EQ(actual.levels.size(), expected.levels.size());
  for (std::size_t index = 0; index < expected.levels.size(); ++index) {
    ASSERT_EQ(actual.levels[index].limits.size(), expected.levels[index].limits.size());
    for (const auto& [resource, limit] : expected.levels[index].limits) {
      const Limit& other = actual.levels[index].limits.at(resource);
      EXPECT_EQ(other.kind, limit.kind);
      if (limit.kind == Limit::Kind::fraction) {
        EXPECT_EQ(other.fraction, limit.fraction);
      } else {
        EXPECT_EQ(other.maximum, limit.maximum);
      }
    }
  }
  EXPECT_EQ(actual.strategy, expected.strategy);
  EXPECT_EQ(actual.weights, expected.weights);
  EXPECT_EQ(actual.time_limit_ms, expected.time_limit_ms);
  EXPECT_EQ(actual.objective, expected.objective);
}

PlanRequest rich_request() {
  PlanRequest request;
  request.network.name = "mixed \"quotes\" and ünïcode";
  request.network.inputs = 7;
  request.network.resources = {{"activation", Aggregation::sum}, {"latency", Aggregation::max}};
  Layer conv;
  conv.name = "conv";
  conv.units = 4;
  conv.importance = {0.1, 1e-300, 123456.789, 0.0};
  conv.min_units = 2;
  conv.block = 2;
  conv.cost["macs"] = CostTerms{.fixed = 3, .unit = 0, .input = 5, .unit_input = 9, .table = {}, .held = {}};
  conv.cost["latency"] = CostTerms{
      .fixed = 0, .unit = 0, .input = 0, .unit_input = 0, .table = {1, 2, 3, 9007199254740991}, .held = {}};
  Layer depthwise;
  depthwise.name = "dw";
  depthwise.units = 4;
  depthwise.importance = {1.0 / 3.0, 2.0 / 3.0, 1.0, 0.3};
  depthwise.tied = true;
  depthwise.cost["activation"].unit = 4;
  Layer head;
  head.name = "head";
  head.units = 2;
  head.importance = {5, 6};
  head.prunable = false;
  request.network.layers = {conv, depthwise, head};
  request.levels = {Level{{{"macs", Limit::of_fraction(0.1)}, {"latency", Limit::of_max(6)}}},
                    Level{{{"macs", Limit::of_fraction(0.3)}, {"latency", Limit::of_max(9007199254740991)}}},
                    Level{{{"macs", Limit::of_fraction(1.0)}}}};
  request.strategy = Strategy::joint;
  request.weights = {1.0, 0.5, 0.25};
  request.time_limit_ms = 2500;
  request.objective = Objective::product;
  return request;
}

TEST(RequestToJson, RoundTrips) {
  const PlanRequest request = rich_request();
  ASSERT_FALSE(validate(request).has_value()) << validate(request)->message;
  for (int indent : {-1, 0, 2}) {
    const Result<PlanRequest> parsed = parse_plan_request(to_json(request, indent));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message << " at " << parsed.error().path;
    expect_same_request(request, *parsed);
  }
}

TEST(RequestToJson, ContractExampleRoundTrips) {
  const Result<PlanRequest> parsed = parse_plan_request(contract_example());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const Result<PlanRequest> again = parse_plan_request(to_json(*parsed));
  ASSERT_TRUE(again.ok()) << again.error().message;
  expect_same_request(*parsed, *again);
}

TEST(RequestToJson, KeepsLayerOrderAndOmitsDefaults) {
  const Json json = Json::parse(to_json(rich_request()));
  const Json& layers = json["network"]["layers"];
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0]["name"], "conv");
  EXPECT_EQ(layers[1]["name"], "dw");
  EXPECT_EQ(layers[2]["name"], "head");
  // A tied layer must not carry width fields, or the request would not parse back.
  EXPECT_FALSE(layers[1].contains("min_units"));
  EXPECT_FALSE(layers[1].contains("block"));
  EXPECT_FALSE(layers[1].contains("prunable"));
  EXPECT_FALSE(layers[2].contains("tied"));
  EXPECT_FALSE(layers[2].contains("cost"));
  EXPECT_EQ(layers[2]["prunable"], false);
  EXPECT_EQ(json["network"]["layers"][0]["cost"]["macs"],
            Json::parse(R"({"fixed": 3, "input": 5, "unit_input": 9})"));
}

TEST(RequestToJson, CompactOrPretty) {
  const std::string compact = to_json(rich_request());
  const std::string pretty = to_json(rich_request(), 2);
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_NE(pretty.find("\n  \"levels\""), std::string::npos);
  EXPECT_EQ(Json::parse(compact), Json::parse(pretty));
}

// ---- the response ----

PlanResult two_level_result() {
  PlanResult result;
  result.status = PlanStatus::infeasible;
  result.strategy = Strategy::top_down;
  result.layer_names = {"zeta", "alpha"};  // not alphabetical: the response keeps layer order
  result.full_cost = {{"macs", 9007199254740991}, {"activation", 64}};
  result.full_importance = 12.5;
  result.order = {{2, 0, 1}, {0, 1}};
  LevelPlan feasible;
  feasible.status = PlanStatus::optimal;
  feasible.limits = {{"macs", 100}};
  feasible.widths = {2, 1};
  feasible.cost = {{"macs", 96}, {"activation", 40}};
  feasible.importance = 8.25;
  feasible.upper_bound = 8.25;
  feasible.gap = 0.0;
  feasible.independent_importance = 8.5;
  LevelPlan infeasible;
  infeasible.status = PlanStatus::infeasible;
  infeasible.limits = {{"macs", 3}};
  result.levels = {feasible, infeasible};
  result.solve_seconds = 0.0007;
  return result;
}

std::vector<std::string> keys_of(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

TEST(ResultToJson, ContractShapeAndKeyOrder) {
  const Json json = Json::parse(to_json(two_level_result()));
  EXPECT_EQ(keys_of(json),
            (std::vector<std::string>{"status", "strategy", "full", "order", "levels", "solve_seconds"}));
  EXPECT_EQ(json["status"], "infeasible");
  EXPECT_EQ(json["strategy"], "top_down");
  EXPECT_EQ(keys_of(json["full"]), (std::vector<std::string>{"cost", "importance"}));
  EXPECT_EQ(json["full"]["importance"], 12.5);
  EXPECT_EQ(keys_of(json["order"]), (std::vector<std::string>{"zeta", "alpha"}));
  EXPECT_EQ(json["order"]["zeta"], Json::parse("[2, 0, 1]"));
  EXPECT_EQ(json["solve_seconds"], 0.0007);

  const Json& level = json["levels"][0];
  EXPECT_EQ(keys_of(level), (std::vector<std::string>{"status", "limits", "widths", "cost", "importance",
                                                      "upper_bound", "gap", "independent_importance"}));
  EXPECT_EQ(level["status"], "optimal");
  EXPECT_EQ(keys_of(level["widths"]), (std::vector<std::string>{"zeta", "alpha"}));
  EXPECT_EQ(level["widths"]["zeta"], 2);
  EXPECT_EQ(level["widths"]["alpha"], 1);
  EXPECT_EQ(level["importance"], 8.25);
  EXPECT_EQ(level["independent_importance"], 8.5);
}

TEST(ResultToJson, CostsAndLimitsAreIntegers) {
  const Json json = Json::parse(to_json(two_level_result()));
  EXPECT_TRUE(json["full"]["cost"]["macs"].is_number_integer());
  EXPECT_EQ(json["full"]["cost"]["macs"].get<std::int64_t>(), 9007199254740991);
  EXPECT_TRUE(json["levels"][0]["limits"]["macs"].is_number_integer());
  EXPECT_TRUE(json["levels"][0]["cost"]["activation"].is_number_integer());
  EXPECT_EQ(json["levels"][0]["cost"]["macs"], 96);
}

TEST(ResultToJson, InfeasibleLevelHasOnlyStatusAndLimits) {
  const Json json = Json::parse(to_json(two_level_result()));
  const Json& level = json["levels"][1];
  EXPECT_EQ(keys_of(level), (std::vector<std::string>{"status", "limits"}));
  EXPECT_EQ(level["status"], "infeasible");
  EXPECT_EQ(level["limits"]["macs"], 3);
}

TEST(ResultToJson, IndependentImportanceOnlyWhenKnown) {
  PlanResult result = two_level_result();
  result.levels[0].independent_importance.reset();
  const Json json = Json::parse(to_json(result));
  EXPECT_FALSE(json["levels"][0].contains("independent_importance"));
}

TEST(ResultToJson, Pretty) {
  const std::string pretty = to_json(two_level_result(), 2);
  EXPECT_NE(pretty.find("\n  \"strategy\": \"top_down\""), std::string::npos) << pretty;
  EXPECT_EQ(Json::parse(pretty), Json::parse(to_json(two_level_result())));
}

// ---- the fast reader answers as the checked reader does ----

std::string describe(const Result<PlanRequest>& result) {
  return result.ok() ? "accepted " + to_json(result.value())
                     : "rejected: " + result.error().message + " at '" + result.error().path + "'";
}

// The fast reader's answer, when it gives one, is the checked reader's; parse_plan_request() gives that
// answer either way. Returns whether the fast reader answered.
bool readers_agree_on(const std::string& text) {
  const Result<PlanRequest> checked = detail::parse_plan_request_checked(text);
  const Result<PlanRequest> parsed = parse_plan_request(text);
  EXPECT_EQ(describe(parsed), describe(checked)) << text.substr(0, 300);
  const std::optional<Result<PlanRequest>> fast = detail::parse_plan_request_fast(text);
  if (!fast) return false;
  EXPECT_EQ(describe(*fast), describe(checked)) << text.substr(0, 300);
  // to_json() spells every field, doubles exactly (-0.0 too); the error's code is compared here.
  if (!fast->ok() && !checked.ok()) {
    EXPECT_EQ(fast->error().code, checked.error().code);
  }
  return true;
}

// `text` with `from` (which must occur in it) replaced by `to` at its first occurrence.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(FastReader, ReadsValidRequestsAsTheCheckedReaderDoes) {
  // The fast reader must answer for these, or parse_plan_request() is no faster than before.
  EXPECT_TRUE(readers_agree_on(small_request().dump()));
  EXPECT_TRUE(readers_agree_on(small_request().dump(2)));
  EXPECT_TRUE(readers_agree_on(contract_example()));
  for (int indent : {-1, 0, 2}) EXPECT_TRUE(readers_agree_on(to_json(rich_request(), indent)));
  // Larger than the text a thread's parser keeps its buffers for, and then a small one again.
  Json large = small_request();
  large["network"]["layers"][2]["units"] = 20000;
  large["network"]["layers"][2]["importance"] = std::vector<double>(20000, 0.123456789);
  ASSERT_GT(large.dump().size(), std::size_t{200000});
  EXPECT_TRUE(readers_agree_on(large.dump()));
  EXPECT_TRUE(readers_agree_on(small_request().dump()));
}

TEST(FastReader, AnswersValidateErrorsItself) {
  Json document = small_request();
  document["network"]["layers"][2]["name"] = "dw";
  EXPECT_TRUE(readers_agree_on(document.dump()));
  document = small_request();
  document["levels"] = Json::array();
  EXPECT_TRUE(readers_agree_on(document.dump()));
  document = small_request();
  document["network"]["layers"] = Json::array();
  EXPECT_TRUE(readers_agree_on(document.dump()));
  document = small_request();
  document["time_limit_ms"] = 0;
  EXPECT_TRUE(readers_agree_on(document.dump()));
}

TEST(FastReader, GivesUpOnEveryReadingError) {
  const std::string valid = small_request().dump();
  const std::vector<std::string> broken = {
      // duplicate keys, at every kind of object
      replaced(valid, R"({"network")", R"({"strategy":"joint","strategy":"joint","network")"),
      replaced(valid, R"("inputs":4)", R"("inputs":4,"inputs":4)"),
      replaced(valid, R"("name":"fc1")", R"("name":"fc1","name":"fc1")"),
      replaced(valid, R"({"macs":{"unit_input":1}})", R"({"macs":{"unit_input":1},"macs":{"unit":1}})"),
      replaced(valid, R"({"unit_input":1})", R"({"unit_input":1,"unit_input":1})"),
      replaced(valid, R"({"macs":{"fraction":0.5}})", R"({"macs":{"fraction":0.5},"macs":{"max":1}})"),
      replaced(valid, R"({"fraction":0.5})", R"({"fraction":0.5,"fraction":0.5})"),
      replaced(valid, R"("inputs":4)", R"("resources":{"macs":"sum","macs":"max"},"inputs":4)"),
      // a key that only an escape makes a duplicate
      replaced(valid, R"("inputs":4)", R"("inputs":4,"\u0069nputs":4)"),
      // numbers
      replaced(valid, "[0.5,2,1]", "[0.5,1e400,1]"),
      replaced(valid, "[0.5,2,1]", "[0.5,-1e400,1]"),
      replaced(valid, R"("inputs":4)", R"("inputs":4.0)"),
      replaced(valid, R"("inputs":4)", R"("inputs":4e0)"),
      replaced(valid, R"("inputs":4)", R"("inputs":-0.0)"),
      replaced(valid, R"("inputs":4)", R"("inputs":9223372036854775808)"),
      replaced(valid, R"("inputs":4)", R"("inputs":18446744073709551616)"),
      replaced(valid, R"("unit_input":1)", R"("unit_input":1.0)"),
      replaced(valid, R"({"max":21})", R"({"max":21.5})"),
      replaced(valid, "[0.5,2,1]", "[0.5,NaN,1]"),
      replaced(valid, "[0.5,2,1]", "[0.5,Infinity,1]"),
      replaced(valid, "[0.5,2,1]", "[0.5,01,1]"),
      replaced(valid, "[0.5,2,1]", "[0.5,2.,1]"),
      replaced(valid, "[0.5,2,1]", "[0.5,+2,1]"),
      // wrong types, unknown and missing fields
      replaced(valid, "[0.5,2,1]", "[0.5,\"2\",1]"),
      replaced(valid, "[0.5,2,1]", "[0.5,null,1]"),
      replaced(valid, "[0.5,2,1]", "[0.5,true,1]"),
      replaced(valid, R"("inputs":4)", R"("inputs":4,"input":4)"),
      replaced(valid, R"("inputs":4,)", ""),
      replaced(valid, R"("tied":true)", R"("tied":"true")"),
      replaced(valid, R"("tied":true)", R"("tied":true,"min_units":1)"),
      replaced(valid, R"("tied":true)", R"("tied":true,"prunable":true)"),
      replaced(valid, R"({"fraction":0.5})", R"({"fraction":0.5,"max":1})"),
      replaced(valid, R"({"fraction":0.5})", "{}"),
      replaced(valid, R"({"fraction":0.5})", "[0.5]"),
      replaced(valid, R"("inputs":4)", R"("resources":{"macs":"mean"},"inputs":4)"),
      replaced(valid, R"("inputs":4)", R"("resources":{"macs":1},"inputs":4)"),
      replaced(valid, R"({"network")", R"({"strategy":"greedy","network")"),
      replaced(valid, R"({"network")", R"({"objective":"max","network")"),
      replaced(valid, R"({"network")", R"({"weights":[1,"2"],"network")"),
      replaced(valid, R"("name":"fc1")", R"("name":null)"),
      replaced(valid, R"("name":"fc1")", R"("na\u0000me":"fc1")"),
      "[]",
      "null",
      // text that is not JSON, or not only JSON
      "",
      valid + " x",
      valid + "{}",
      valid.substr(0, valid.size() - 1),
      replaced(valid, R"("fc1")", "\"fc\x01\""),
      replaced(valid, R"("fc1")", "\"fc\xff\""),
      replaced(valid, R"("fc1")", "\"fc\xc0\x80\""),
      replaced(valid, R"("fc1")", R"("fc\ud800")"),
      replaced(valid, R"("fc1")", R"("fc\x")"),
      replaced(valid, "[0.5,2,1]", "[0.5,2,1,]"),
  };
  for (const std::string& text : broken) {
    EXPECT_FALSE(readers_agree_on(text)) << "the fast reader answered for " << text;
    EXPECT_FALSE(parse_plan_request(text).ok()) << text;
  }
}

TEST(FastReader, AgreesOnTrickyButValidText) {
  const std::string valid = small_request().dump();
  // Text both readers accept (the fast one answering) or that only the checked reader reads.
  const std::vector<std::pair<std::string, bool>> texts = {
      {replaced(valid, "[0.5,2,1]", "[-0,2,1]"), true},
      {replaced(valid, "[0.5,2,1]", "[-0.0,2,1]"), true},
      {replaced(valid, "[0.5,2,1]", "[-1e-400,1e-400,4.9e-324]"), true},
      {replaced(valid, "[0.5,2,1]", "[9007199254740993,9223372036854775807,18446744073709551615]"), true},
      {replaced(valid, "[0.5,2,1]", "[1E2,1e+2,0.1e1]"), true},
      {replaced(valid, "[0.5,2,1]", "[2.2250738585072011e-308,1.7976931348623157e308,0.30000000000000004]"),
       true},
      {replaced(valid, "[0.5,2,1]", "[0.1000000000000000055511151231257827021181583404541015625,2,1]"), true},
      {replaced(valid, R"("unit_input":1)", R"("unit_input":-0)"), true},
      {replaced(valid, R"("unit_input":1)", R"("unit_input":9007199254740993)"), true},  // a validate() error
      {replaced(valid, R"("name":"fc1")", R"("name":"f\u00e9\ud83d\ude00\/\"\\\t")"), true},
      {replaced(valid, R"("name":"fc1")", "\"name\":\"f\xc3\xa9\xf0\x9f\x98\x80\""), true},
      {replaced(valid, R"("name":"fc1")", R"("n\u0061me":"fc1")"), true},
      {replaced(valid, R"("macs":{"unit_input":1})", R"("energy/uJ~":{"unit_input":1},"":{})"), true},
      {replaced(valid, R"({"network")", R"({"weights":[],"network")"), true},
      {replaced(valid, R"({"network")",
                R"({"strategy":"joint","weights":[1,2.5],"objective":"product","network")"),
       true},
      {replaced(valid, R"("cost":{"macs":{"unit_input":1}})", R"("cost":{})"), true},
      {replaced(valid, R"("unit_input":1)", R"("unit_input":1,"table":[])"), true},
      {" \t\r\n" + valid + " \t\r\n", true},
      // nlohmann skips a byte order mark, reads integers beyond 64 bits as doubles and stops at a NUL byte;
      // simdjson does not.
      {"\xef\xbb\xbf" + valid, false},
      {replaced(valid, "[0.5,2,1]", "[0.5,123456789012345678901234567890,1]"), false},
      {valid + std::string(1, '\0') + "ignored", false},
  };
  for (const auto& [text, fast_answers] : texts) {
    EXPECT_EQ(readers_agree_on(text), fast_answers) << text;
  }
}

TEST(FastReader, NestingDepth) {
  // The root object and `network` are two containers; 62 arrays more make 64 in all, 63 one too many.
  for (int arrays : {62, 63, 2000}) {
    const std::string name = repeated("[", arrays) + repeated("]", arrays);
    EXPECT_FALSE(readers_agree_on(
        replaced(small_request().dump(), R"("inputs":4)", R"("name":)" + name + R"(,"inputs":4)")));
  }
  EXPECT_FALSE(readers_agree_on(repeated("[", 100000)));
}

// ---- the response writer writes what nlohmann's dump() wrote ----

// The response as it was written through nlohmann's ordered_json, kept to check the direct writer.
Json costs_document(const std::map<std::string, std::int64_t>& costs) {
  Json json = Json::object();
  for (const auto& [resource, cost] : costs) json[resource] = cost;
  return json;
}

Json level_plan_document(const LevelPlan& level, const std::vector<std::string>& layer_names) {
  Json json = Json::object();
  json["status"] = to_string(level.status);
  json["limits"] = costs_document(level.limits);
  if (level.status != PlanStatus::infeasible) {
    Json widths = Json::object();
    for (std::size_t index = 0; index < layer_names.size() && index < level.widths.size(); ++index) {
      widths[layer_names[index]] = level.widths[index];
    }
    json["widths"] = std::move(widths);
    json["cost"] = costs_document(level.cost);
    json["importance"] = level.importance;
    json["upper_bound"] = level.upper_bound;
    json["gap"] = level.gap;
  }
  if (level.independent_importance) json["independent_importance"] = *level.independent_importance;
  return json;
}

std::string nlohmann_response(const PlanResult& result, int indent) {
  Json json = Json::object();
  json["status"] = to_string(result.status);
  json["strategy"] = to_string(result.strategy);
  json["full"] = Json{{"cost", costs_document(result.full_cost)}, {"importance", result.full_importance}};
  Json order = Json::object();
  for (std::size_t index = 0; index < result.layer_names.size() && index < result.order.size(); ++index) {
    order[result.layer_names[index]] = result.order[index];
  }
  json["order"] = std::move(order);
  Json levels = Json::array();
  for (const LevelPlan& level : result.levels)
    levels.push_back(level_plan_document(level, result.layer_names));
  json["levels"] = std::move(levels);
  if (result.objective) {
    json["objective"] = *result.objective;
    json["objective_upper_bound"] = result.objective_upper_bound.value_or(*result.objective);
    json["objective_gap"] = result.objective_gap.value_or(0.0);
  }
  json["solve_seconds"] = result.solve_seconds;
  return json.dump(indent < 0 ? -1 : indent, ' ', false, Json::error_handler_t::replace);
}

class RandomResults {
 public:
  explicit RandomResults(std::uint64_t seed) : random_(seed) {}

  PlanResult next() {
    PlanResult result;
    result.status = status();
    result.strategy = static_cast<Strategy>(below(4));
    const std::size_t layers = below(6);
    for (std::size_t layer = 0; layer < layers; ++layer) result.layer_names.push_back(name());
    result.full_cost = costs();
    result.full_importance = number();
    // Sometimes fewer or more orders and widths than names: only the pairs are written.
    const std::size_t orders = chance(8) ? below(8) : layers;
    for (std::size_t layer = 0; layer < orders; ++layer) result.order.push_back(integers());
    for (std::size_t level = below(4); level > 0; --level) {
      LevelPlan plan;
      plan.status = status();
      plan.limits = costs();
      plan.widths = chance(8) ? integers() : std::vector<std::int64_t>(layers, integer());
      plan.cost = costs();
      plan.importance = number();
      plan.upper_bound = number();
      plan.gap = number();
      if (chance(2)) plan.independent_importance = number();
      result.levels.push_back(std::move(plan));
    }
    if (chance(3)) {
      result.objective = number();
      if (chance(2)) result.objective_upper_bound = number();
      if (chance(2)) result.objective_gap = number();
    }
    result.solve_seconds = number();
    return result;
  }

 private:
  std::size_t below(std::size_t bound) {
    return std::uniform_int_distribution<std::size_t>(0, bound - 1)(random_);
  }
  bool chance(std::size_t one_in) { return below(one_in) == 0; }

  PlanStatus status() { return static_cast<PlanStatus>(below(3)); }

  std::string name() {
    // Plain names, names to escape, non-ASCII and invalid UTF-8, and a few repeated names.
    static const std::vector<std::string> names = {
        "fc1",          "conv_dw",     "",
        "a\"b",         "back\\slash", "tab\tand\nnewline",
        "\x01\x1f\x7f", "caf\xc3\xa9", "\xf0\x9f\x98\x80",
        "bad\xff",      "cut\xc3",     "~/",
        "fc1",
    };
    return chance(2) ? names[below(names.size())] : "layer" + std::to_string(below(1000));
  }

  std::int64_t integer() {
    switch (below(4)) {
      case 0:
        return static_cast<std::int64_t>(below(100));
      case 1:
        return std::numeric_limits<std::int64_t>::min() + static_cast<std::int64_t>(below(3));
      case 2:
        return std::numeric_limits<std::int64_t>::max() - static_cast<std::int64_t>(below(3));
      default:
        return static_cast<std::int64_t>(random_());
    }
  }

  std::vector<std::int64_t> integers() {
    std::vector<std::int64_t> values(below(6));
    for (std::int64_t& value : values) value = integer();
    return values;
  }

  std::map<std::string, std::int64_t> costs() {
    std::map<std::string, std::int64_t> costs;
    for (std::size_t count = below(4); count > 0; --count) costs[chance(3) ? name() : "macs"] = integer();
    return costs;
  }

  double number() {
    static const std::vector<double> special = {0.0,
                                                -0.0,
                                                1.0,
                                                0.1,
                                                1e-5,
                                                1e-4,
                                                123456.789,
                                                1e15,
                                                1e16,
                                                1e17,
                                                1e21,
                                                1e22,
                                                5e-324,
                                                2.2250738585072014e-308,
                                                std::numeric_limits<double>::max(),
                                                std::numeric_limits<double>::infinity(),
                                                -std::numeric_limits<double>::infinity(),
                                                std::numeric_limits<double>::quiet_NaN(),
                                                1.0 / 3.0,
                                                9007199254740993.0};
    switch (below(4)) {
      case 0:
        return special[below(special.size())];
      case 1:
        return std::bit_cast<double>(random_());  // any bit pattern, NaNs included
      case 2:
        return std::uniform_real_distribution<double>(0.0, 1000.0)(random_);
      default:
        return static_cast<double>(below(1000)) / static_cast<double>(1 + below(1000));
    }
  }

  std::mt19937_64 random_;
};

TEST(ResultToJson, WritesTheBytesNlohmannWrote) {
  RandomResults results(20261125);
  for (int round = 0; round < 2000; ++round) {
    const PlanResult result = results.next();
    for (int indent : {-1, 0, 1, 2, 4}) {
      ASSERT_EQ(to_json(result, indent), nlohmann_response(result, indent))
          << "round " << round << ", indent " << indent;
    }
  }
  const PlanResult example = two_level_result();
  EXPECT_EQ(to_json(example), nlohmann_response(example, -1));
  EXPECT_EQ(to_json(example, 2), nlohmann_response(example, 2));
  EXPECT_EQ(to_json(example, -7), nlohmann_response(example, -7));
}

// ---- errors ----

TEST(ErrorToJson, ContractShape) {
  const Error error =
      invalid_argument("layers[2].importance has 63 numbers, expected 64", "/network/layers/2/importance");
  const Json json = Json::parse(to_json(error));
  EXPECT_EQ(json, Json::parse(R"({"error": {"code": "invalid_argument",
      "message": "layers[2].importance has 63 numbers, expected 64", "path": "/network/layers/2/importance"}})"));
  EXPECT_EQ(keys_of(json["error"]), (std::vector<std::string>{"code", "message", "path"}));
}

TEST(ErrorToJson, PathOmittedWhenEmpty) {
  const Error error{ErrorCode::resource_exhausted, "request body over 1 MiB", ""};
  const Json json = Json::parse(to_json(error, 2));
  EXPECT_EQ(json["error"]["code"], "resource_exhausted");
  EXPECT_FALSE(json["error"].contains("path"));
}

TEST(ErrorToJson, ParserErrorsSerialize) {
  const Error error = parse_error_of(R"({"network": {"bad": "\u00e9"}, "levels": []})");
  const Json json = Json::parse(to_json(error));
  EXPECT_EQ(json["error"]["path"], "/network/bad");
  EXPECT_EQ(json["error"]["message"].get<std::string>().find("unknown field 'bad'"), 0u);
}

}  // namespace
}  // namespace reds
