#include "support/json_schema.h"

#include <cmath>
#include <set>
#include <stdexcept>
#include <string_view>

namespace reds::test {
namespace {

using nlohmann::json;

const std::set<std::string_view> kAnnotations = {"description", "title", "summary", "default", "examples"};

bool has_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  if (type == "number") return value.is_number();
  if (type == "integer") {
    if (value.is_number_integer()) return true;
    return value.is_number_float() && std::floor(value.get<double>()) == value.get<double>();
  }
  throw std::invalid_argument("json_schema: unknown type '" + type + "'");
}

std::size_t code_points(const std::string& text) {
  std::size_t count = 0;
  for (const char byte : text) count += (static_cast<unsigned char>(byte) & 0xC0) != 0x80;
  return count;
}

class Validator {
 public:
  explicit Validator(const json& root) : root_(root) {}

  void check(const json& value, const json& schema, const json::json_pointer& at) {
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(at, "no value is allowed here");
      return;
    }
    if (!schema.is_object())
      throw std::invalid_argument("json_schema: a schema must be an object or a boolean");
    for (const auto& [keyword, argument] : schema.items())
      check_keyword(value, schema, keyword, argument, at);
  }

  std::vector<std::string> violations;

 private:
  void fail(const json::json_pointer& at, const std::string& reason) {
    violations.push_back(at.to_string() + ": " + reason);
  }

  const json& resolve(const std::string& reference) const {
    if (!reference.starts_with("#"))
      throw std::invalid_argument("json_schema: only local $ref: " + reference);
    const json::json_pointer pointer(reference.substr(1));
    if (!root_.contains(pointer)) throw std::invalid_argument("json_schema: unresolved $ref " + reference);
    return root_.at(pointer);
  }

  bool valid(const json& value, const json& schema, const json::json_pointer& at) {
    Validator nested(root_);
    nested.check(value, schema, at);
    return nested.violations.empty();
  }

  void check_keyword(const json& value, const json& schema, const std::string& keyword, const json& argument,
                     const json::json_pointer& at) {
    if (kAnnotations.contains(keyword)) return;
    if (keyword == "$ref") return check(value, resolve(argument.get<std::string>()), at);
    if (keyword == "type") return check_type(value, argument, at);
    if (keyword == "enum") {
      for (const json& allowed : argument) {
        if (allowed == value) return;
      }
      return fail(at, value.dump() + " is not one of " + argument.dump());
    }
    if (keyword == "oneOf") {
      int matches = 0;
      for (const json& alternative : argument) matches += valid(value, alternative, at);
      if (matches != 1)
        fail(at, "matches " + std::to_string(matches) + " of the oneOf schemas, not exactly 1");
      return;
    }
    if (keyword == "minimum" || keyword == "maximum" || keyword == "exclusiveMinimum" ||
        keyword == "exclusiveMaximum") {
      return check_bound(value, keyword, argument, at);
    }
    if (keyword == "minLength") {
      if (value.is_string() && code_points(value.get<std::string>()) < argument.get<std::size_t>())
        fail(at, "is shorter than " + argument.dump() + " characters");
      return;
    }
    if (keyword == "minItems" || keyword == "maxItems") {
      if (!value.is_array()) return;
      const bool too_few = keyword == "minItems" && value.size() < argument.get<std::size_t>();
      const bool too_many = keyword == "maxItems" && value.size() > argument.get<std::size_t>();
      if (too_few || too_many)
        fail(at, "has " + std::to_string(value.size()) + " items, " + keyword + " " + argument.dump());
      return;
    }
    if (keyword == "items") {
      if (!value.is_array()) return;
      for (std::size_t index = 0; index < value.size(); ++index) check(value[index], argument, at / index);
      return;
    }
    if (keyword == "required") {
      if (!value.is_object()) return;
      for (const json& name : argument) {
        if (!value.contains(name.get<std::string>()))
          fail(at, "lacks the required field '" + name.get<std::string>() + "'");
      }
      return;
    }
    if (keyword == "minProperties" || keyword == "maxProperties") {
      if (!value.is_object()) return;
      const bool too_few = keyword == "minProperties" && value.size() < argument.get<std::size_t>();
      const bool too_many = keyword == "maxProperties" && value.size() > argument.get<std::size_t>();
      if (too_few || too_many)
        fail(at, "has " + std::to_string(value.size()) + " fields, " + keyword + " " + argument.dump());
      return;
    }
    if (keyword == "properties") {
      if (!value.is_object()) return;
      for (const auto& [name, property_schema] : argument.items()) {
        if (value.contains(name)) check(value[name], property_schema, at / name);
      }
      return;
    }
    if (keyword == "additionalProperties") {
      if (!value.is_object()) return;
      const json declared = schema.value("properties", json::object());
      for (const auto& [name, member] : value.items()) {
        if (declared.contains(name)) continue;
        if (argument.is_boolean() && !argument.get<bool>()) {
          fail(at, "has the undeclared field '" + name + "'");
        } else {
          check(member, argument, at / name);
        }
      }
      return;
    }
    throw std::invalid_argument("json_schema: keyword '" + keyword + "' is not implemented");
  }

  void check_type(const json& value, const json& argument, const json::json_pointer& at) {
    const std::vector<std::string> types =
        argument.is_array() ? argument.get<std::vector<std::string>>() : std::vector<std::string>{argument};
    for (const std::string& type : types) {
      if (has_type(value, type)) return;
    }
    fail(at, value.dump() + " is not of type " + argument.dump());
  }

  void check_bound(const json& value, const std::string& keyword, const json& argument,
                   const json::json_pointer& at) {
    if (!value.is_number()) return;
    const double number = value.get<double>();
    const double bound = argument.get<double>();
    const bool ok = keyword == "minimum"            ? number >= bound
                    : keyword == "maximum"          ? number <= bound
                    : keyword == "exclusiveMinimum" ? number > bound
                                                    : number < bound;
    if (!ok) fail(at, value.dump() + " breaks " + keyword + " " + argument.dump());
  }

  const json& root_;
};

}  // namespace

std::vector<std::string> schema_violations(const json& value, const json& schema, const json& root) {
  Validator validator(root);
  validator.check(value, schema, json::json_pointer());
  return validator.violations;
}

}  // namespace reds::test
