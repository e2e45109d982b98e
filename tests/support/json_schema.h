// tests/support/json_schema.h: a JSON Schema (2020-12, as OpenAPI 3.1 uses it) validator for the subset
// of keywords our OpenAPI document uses, so that tests can check real responses against it.
//
// Implemented: $ref (local, "#/..."), type (one name or a list; "integer" is any number without a
// fractional part, as the specification says), enum, required, properties, additionalProperties (false or
// a schema), minProperties, maxProperties, items, minItems, maxItems, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum (numbers), minLength (in code points), oneOf. Annotations (description, title, summary,
// default, examples) are ignored. Any other keyword throws std::invalid_argument: a schema must never pass
// because the validator did not understand it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace reds::test {

// Every violation of `schema` by `value`, each as "<JSON Pointer into value>: <reason>"; empty when the
// value is valid. "$ref"s are resolved in `root` (the whole document the schema comes from).
std::vector<std::string> schema_violations(const nlohmann::json& value, const nlohmann::json& schema,
                                           const nlohmann::json& root);

}  // namespace reds::test
