// Reading the plan response back: parse_plan_result() gives the PlanResult that to_json() wrote, for every
// strategy on random networks, and names the JSON Pointer of whatever is wrong in a malformed response.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reds/json.h"
#include "reds/network.h"
#include "reds/plan.h"
#include "reds/status.h"
#include "support/random_network.h"

namespace reds {
namespace {

using Json = nlohmann::ordered_json;

void expect_round_trip(const PlanResult& result) {
  for (int indent : {-1, 2}) {
    const std::string text = to_json(result, indent);
    const Result<PlanResult> parsed = parse_plan_result(text);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message << " at " << parsed.error().path << "\n" << text;
    EXPECT_EQ(to_json(*parsed, indent), text);
  }
}

TEST(ParsePlanResult, RoundTripsPlansOfRandomNetworks) {
  int infeasible_levels = 0;
  int joint_objectives = 0;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    PlanRequest request = test::random_plan_request(seed, 300);
    for (Strategy strategy :
         {Strategy::independent, Strategy::bottom_up, Strategy::top_down, Strategy::joint}) {
      SCOPED_TRACE("random_plan_request(" + std::to_string(seed) + ", 300), " + to_string(strategy));
      request.strategy = strategy;
      const Result<PlanResult> result = plan(request);
      ASSERT_TRUE(result.ok()) << result.error().message;
      expect_round_trip(*result);
      const Result<PlanResult> parsed = parse_plan_result(to_json(*result));
      ASSERT_TRUE(parsed.ok());
      EXPECT_EQ(parsed->layer_names, result->layer_names);
      EXPECT_EQ(parsed->order, result->order);
      ASSERT_EQ(parsed->levels.size(), result->levels.size());
      for (std::size_t level = 0; level < result->levels.size(); ++level) {
        EXPECT_EQ(parsed->levels[level].status, result->levels[level].status);
        EXPECT_EQ(parsed->levels[level].widths, result->levels[level].widths);
        EXPECT_EQ(parsed->levels[level].importance, result->levels[level].importance);
        infeasible_levels += result->levels[level].status == PlanStatus::infeasible ? 1 : 0;
      }
      EXPECT_EQ(parsed->objective, result->objective);
      joint_objectives += result->objective ? 1 : 0;
    }
  }
  // The random networks reach both optional parts of the response.
  EXPECT_GT(infeasible_levels, 0);
  EXPECT_GT(joint_objectives, 0);
}

// A hand-built result with what plans rarely have: names to escape, non-finite numbers (written as null,
// read as NaN), extreme integers, a feasible status under a time limit.
TEST(ParsePlanResult, RoundTripsUnusualValues) {
  PlanResult result;
  result.status = PlanStatus::feasible;
  result.strategy = Strategy::joint;
  result.layer_names = {"zeta \"quoted\"", "~/slash", "caf\xc3\xa9"};
  result.full_cost = {{"macs", std::numeric_limits<std::int64_t>::max()}, {"peak", 0}};
  result.full_importance = std::numeric_limits<double>::infinity();
  result.order = {{2, 0, 1}, {0}, {1, 0}};
  LevelPlan level;
  level.status = PlanStatus::feasible;
  level.limits = {{"macs", 100}};
  level.widths = {2, 1, 2};
  level.cost = {{"macs", -1}, {"peak", 7}};
  level.importance = 0.1;
  level.upper_bound = std::numeric_limits<double>::quiet_NaN();
  level.gap = 5e-324;
  level.independent_importance = 1e22;
  result.levels = {level};
  result.objective = 0.3;
  result.objective_upper_bound = 0.30000000000000004;
  result.objective_gap = 1e-9;
  result.solve_seconds = 0.0007;
  expect_round_trip(result);
  const Result<PlanResult> parsed = parse_plan_result(to_json(result));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->layer_names, result.layer_names);
  EXPECT_EQ(parsed->levels[0].widths, level.widths);
  EXPECT_TRUE(std::isnan(parsed->full_importance));
  EXPECT_EQ(parsed->full_cost.at("macs"), std::numeric_limits<std::int64_t>::max());
}

TEST(ParsePlanResult, WidthsMayComeInAnyOrderAndUnknownFieldsAreSkipped) {
  const Result<PlanResult> parsed = parse_plan_result(R"({
    "status": "optimal", "strategy": "bottom_up", "added_later": {"x": [1, 2]},
    "full": {"cost": {"macs": 10}, "importance": 3.5},
    "order": {"b": [1, 0], "a": [0]},
    "levels": [{"status": "optimal", "limits": {"macs": 6}, "widths": {"a": 1, "b": 2},
                "cost": {"macs": 6}, "importance": 3.5, "upper_bound": 3.5, "gap": 0, "note": "new"}],
    "solve_seconds": 0.25
  })");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->layer_names, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(parsed->levels[0].widths, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(parsed->levels[0].upper_bound, 3.5);
  EXPECT_EQ(parsed->solve_seconds, 0.25);
  EXPECT_FALSE(parsed->objective.has_value());
}

// A small valid response as a JSON document, to be broken one field at a time.
Json small_response() {
  PlanResult result;
  result.strategy = Strategy::joint;
  result.layer_names = {"fc1", "a/b"};
  result.full_cost = {{"macs", 20}};
  result.full_importance = 4;
  result.order = {{1, 0}, {0, 1, 2}};
  LevelPlan feasible;
  feasible.status = PlanStatus::optimal;
  feasible.limits = {{"macs", 10}};
  feasible.widths = {1, 2};
  feasible.cost = {{"macs", 9}};
  feasible.importance = 3;
  feasible.upper_bound = 3;
  LevelPlan infeasible;
  infeasible.limits = {{"macs", 1}};
  result.levels = {feasible, infeasible};
  result.objective = 3;
  result.solve_seconds = 0.001;
  return Json::parse(to_json(result));
}

void expect_text_error(const std::string& text, const std::string& message_part, const std::string& path) {
  const Result<PlanResult> parsed = parse_plan_result(text);
  ASSERT_FALSE(parsed.ok()) << "expected an error for: " << text.substr(0, 300);
  EXPECT_EQ(parsed.error().code, ErrorCode::invalid_argument) << parsed.error().message;
  EXPECT_NE(parsed.error().message.find(message_part), std::string::npos)
      << "message: " << parsed.error().message << "\nexpected to contain: " << message_part;
  EXPECT_EQ(parsed.error().path, path) << "message: " << parsed.error().message;
}

void expect_error(const Json& document, const std::string& message_part, const std::string& path) {
  expect_text_error(document.dump(), message_part, path);
}

TEST(ParsePlanResult, SmallResponseIsValid) {
  const Result<PlanResult> parsed = parse_plan_result(small_response().dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->levels[1].status, PlanStatus::infeasible);
  EXPECT_TRUE(parsed->levels[1].widths.empty());
}

TEST(ParsePlanResult, MalformedText) {
  expect_text_error("", "malformed JSON at byte 0", "");
  expect_text_error(R"({"status": "optimal",})", "malformed JSON", "");
  std::string deepest;
  for (int depth = 0; depth < kMaxJsonDepth; ++depth) deepest += "/0";
  expect_text_error(std::string(100000, '['), "deeper than 64 levels", deepest);
  expect_text_error(R"({"status": "optimal", "status": "optimal"})", "duplicate field 'status' in response",
                    "/status");
  expect_text_error("[1, 2]", "response must be an object, got an array", "");
}

TEST(ParsePlanResult, MissingFields) {
  for (const char* name : {"status", "strategy", "full", "order", "levels", "solve_seconds"}) {
    Json document = small_response();
    document.erase(name);
    expect_error(document, std::string("missing field '") + name + "' in response", "");
  }
  Json document = small_response();
  document["full"].erase("importance");
  expect_error(document, "missing field 'importance' in full", "/full");
  for (const char* name : {"widths", "cost", "importance", "upper_bound", "gap", "limits", "status"}) {
    document = small_response();
    document["levels"][0].erase(name);
    expect_error(document, std::string("missing field '") + name + "' in levels[0]", "/levels/0");
  }
}

TEST(ParsePlanResult, WrongTypesAndValues) {
  Json document = small_response();
  document["status"] = "great";
  expect_error(document, "status must be \"optimal\", \"feasible\" or \"infeasible\", got \"great\"",
               "/status");
  document = small_response();
  document["strategy"] = "sideways";
  expect_error(document, "unknown strategy 'sideways'", "/strategy");
  document = small_response();
  document["full"]["cost"]["macs"] = 2.5;
  expect_error(document, "full.cost.macs must be a JSON integer", "/full/cost/macs");
  document = small_response();
  document["order"] = Json::array();
  expect_error(document, "order must be an object, got an array", "/order");
  document = small_response();
  document["order"]["a/b"][1] = "one";
  expect_error(document, "order.a/b[1] must be an integer, got a string", "/order/a~1b/1");
  document = small_response();
  document["levels"][0]["importance"] = "high";
  expect_error(document, "levels[0].importance must be a number, got a string", "/levels/0/importance");
  document = small_response();
  document["levels"] = Json::object();
  expect_error(document, "levels must be an array", "/levels");
  document = small_response();
  document["solve_seconds"] = true;
  expect_error(document, "solve_seconds must be a number, got a boolean", "/solve_seconds");
  document = small_response();
  document["levels"][0]["limits"]["macs"] = 18446744073709551615ULL;
  expect_error(document, "too large for a 64-bit integer", "/levels/0/limits/macs");
}

TEST(ParsePlanResult, WidthsListTheLayersOfOrder) {
  Json document = small_response();
  document["levels"][0]["widths"].erase("a/b");
  expect_error(document, "missing field 'a/b' in levels[0].widths", "/levels/0/widths");
  document = small_response();
  document["levels"][0]["widths"]["fc2"] = 1;
  expect_error(document, "levels[0].widths names layer 'fc2', which `order` does not",
               "/levels/0/widths/fc2");
}

TEST(ParsePlanResult, InfeasibleLevelsHaveNoPlan) {
  Json document = small_response();
  document["levels"][1]["widths"] = Json{{"fc1", 1}, {"a/b", 1}};
  expect_error(document, "levels[1] is infeasible and cannot have 'widths'", "/levels/1/widths");
}

TEST(ParsePlanResult, ObjectiveFieldsComeTogether) {
  Json document = small_response();
  document.erase("objective_gap");
  expect_error(document, "come together", "/objective");
  document = small_response();
  document.erase("objective");
  expect_error(document, "come together", "/objective_upper_bound");
}

}  // namespace
}  // namespace reds
