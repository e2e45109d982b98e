// The JSON Schema subset validator the OpenAPI tests rely on (tests/support/json_schema.h): each keyword
// accepts what it should and rejects what it should, so that a passing OpenAPI test means something.
#include "support/json_schema.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace reds::test {
namespace {

using nlohmann::json;

bool valid(const json& value, const json& schema, const json& root = json::object()) {
  return schema_violations(value, schema, root).empty();
}

TEST(JsonSchemaTest, Type) {
  EXPECT_TRUE(valid(3, {{"type", "integer"}}));
  EXPECT_TRUE(valid(3.0, {{"type", "integer"}}));  // the specification: no fractional part
  EXPECT_FALSE(valid(3.5, {{"type", "integer"}}));
  EXPECT_FALSE(valid("3", {{"type", "integer"}}));
  EXPECT_TRUE(valid(3.5, {{"type", "number"}}));
  EXPECT_FALSE(valid(true, {{"type", "number"}}));
  EXPECT_TRUE(valid(nullptr, {{"type", json{"string", "null"}}}));
  EXPECT_FALSE(valid(json::array(), {{"type", "object"}}));
  EXPECT_FALSE(valid(json::object(), {{"type", "array"}}));
}

TEST(JsonSchemaTest, EnumAndBounds) {
  EXPECT_TRUE(valid("ok", {{"enum", {"ok", "failing"}}}));
  EXPECT_FALSE(valid("OK", {{"enum", {"ok", "failing"}}}));
  EXPECT_TRUE(valid(0, {{"minimum", 0}}));
  EXPECT_FALSE(valid(-1, {{"minimum", 0}}));
  EXPECT_FALSE(valid(0, {{"exclusiveMinimum", 0}}));
  EXPECT_TRUE(valid(1, {{"maximum", 1}}));
  EXPECT_FALSE(valid(1.0000001, {{"maximum", 1}}));
  EXPECT_FALSE(valid(1, {{"exclusiveMaximum", 1}}));
  EXPECT_FALSE(valid(9007199254740992, {{"maximum", 9007199254740991}}));
  EXPECT_TRUE(valid("ignored by bounds", {{"minimum", 0}}));
}

TEST(JsonSchemaTest, Strings) {
  EXPECT_FALSE(valid("", {{"minLength", 1}}));
  EXPECT_TRUE(valid("\xc3\xa9", {{"minLength", 1}}));
  EXPECT_FALSE(valid("\xc3\xa9", {{"minLength", 2}}));  // one code point, two bytes
}

TEST(JsonSchemaTest, Objects) {
  const json schema = {{"type", "object"},
                       {"required", {"a"}},
                       {"properties", {{"a", {{"type", "integer"}}}, {"b", {{"type", "string"}}}}},
                       {"additionalProperties", false}};
  EXPECT_TRUE(valid({{"a", 1}}, schema));
  EXPECT_TRUE(valid({{"a", 1}, {"b", "x"}}, schema));
  EXPECT_FALSE(valid({{"b", "x"}}, schema));          // a is required
  EXPECT_FALSE(valid({{"a", 1}, {"b", 2}}, schema));  // b must be a string
  EXPECT_FALSE(valid({{"a", 1}, {"c", 2}}, schema));  // c is not declared

  const json map = {
      {"additionalProperties", {{"type", "integer"}}}, {"minProperties", 1}, {"maxProperties", 2}};
  EXPECT_TRUE(valid({{"x", 1}}, map));
  EXPECT_FALSE(valid({{"x", 1.5}}, map));
  EXPECT_FALSE(valid(json::object(), map));
  EXPECT_FALSE(valid({{"x", 1}, {"y", 2}, {"z", 3}}, map));
}

TEST(JsonSchemaTest, ArraysAndViolationPaths) {
  const json schema = {{"type", "array"}, {"minItems", 1}, {"maxItems", 3}, {"items", {{"type", "integer"}}}};
  EXPECT_TRUE(valid({1, 2}, schema));
  EXPECT_FALSE(valid(json::array(), schema));
  EXPECT_FALSE(valid({1, 2, 3, 4}, schema));
  const std::vector<std::string> violations = schema_violations({1, "two", 3}, schema, json::object());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].substr(0, 3), "/1:");
}

TEST(JsonSchemaTest, OneOfNeedsExactlyOneMatch) {
  const json schema = {{"oneOf", {{{"type", "integer"}}, {{"type", "number"}, {"minimum", 10}}}}};
  EXPECT_TRUE(valid(3, schema));     // integer only
  EXPECT_TRUE(valid(10.5, schema));  // number >= 10 only
  EXPECT_FALSE(valid(12, schema));   // both
  EXPECT_FALSE(valid(3.5, schema));  // neither
}

TEST(JsonSchemaTest, LocalReferences) {
  const json root = {{"components", {{"schemas", {{"Count", {{"type", "integer"}, {"minimum", 0}}}}}}}};
  const json schema = {{"items", {{"$ref", "#/components/schemas/Count"}}}};
  EXPECT_TRUE(valid({0, 5}, schema, root));
  EXPECT_FALSE(valid({0, -5}, schema, root));
  EXPECT_THROW(valid({0}, {{"items", {{"$ref", "#/components/schemas/Missing"}}}}, root),
               std::invalid_argument);
}

TEST(JsonSchemaTest, UnknownKeywordsThrowInsteadOfPassing) {
  EXPECT_THROW(valid("abc", {{"pattern", "^x"}}), std::invalid_argument);
  EXPECT_THROW(valid(1, {{"anyOf", json::array()}}), std::invalid_argument);
  EXPECT_THROW(valid(1, {{"type", "decimal"}}), std::invalid_argument);
  EXPECT_TRUE(valid(1, {{"description", "annotations are fine"}, {"type", "integer"}}));
}

}  // namespace
}  // namespace reds::test
