// The plan contract's JSON form: strict request parsing, and the request and error documents (the
// response is written by json_response.cpp).
//
// A request is read by one of two readers. The fast one (json_fast_reader.cpp, simdjson) reads a
// well-formed request straight into a PlanRequest and gives up at the first thing it does not like, without
// saying why: building messages and JSON Pointers for every value read is most of what a careful reader
// costs. The checked one below (nlohmann/json) is the reference: it explains every error with its message
// and path, and runs whenever the fast reader gives up. The fast reader accepts only what the checked one
// accepts, into the same PlanRequest (checked by tests/solver/json_test.cpp and by the fuzzer), so which
// reader answered is never visible.
//
// The checked reader runs in two passes. A SAX pass checks the text alone (syntax, nesting depth, duplicate
// keys, numbers too large for a double) without building anything, so hostile input such as 100000 '[' is
// rejected in constant stack and memory. Only then is the document built and read field by field against
// the contract, and the result handed to validate().
#include "reds/json.h"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "reds/network.h"
#include "reds/plan.h"
#include "reds/status.h"
#include "request_field.h"

namespace reds {
namespace {

// Ordered, so that requests are read and responses written in document order.
using Json = nlohmann::ordered_json;
using detail::RequestField;

// A request error found while reading the document. It unwinds the reader to parse_plan_request(),
// which returns it as a Result; it never leaves this file.
struct RequestError {
  Error error;
};

[[noreturn]] void fail(const RequestField& field, const std::string& message) {
  throw RequestError{invalid_argument(message, field.path())};
}

// nlohmann's syntax messages read "[json.exception.parse_error.101] parse error at line 1, column 13: ...";
// the user needs the line, the column and the reason.
std::string syntax_reason(const std::string& what) {
  const std::string_view lead = "parse error at ";
  const std::size_t start = what.find(lead);
  return start == std::string::npos ? what : what.substr(start + lead.size());
}

// The one pass over the text: syntax, depth, duplicate keys and overflowing numbers, each reported at the
// path of the value being read, while nlohmann's own SAX builder assembles the document (one lexing pass
// instead of a check and a parse: the lexer is most of the cost of reading a request).
class TextCheck final : public nlohmann::json_sax<Json> {
 public:
  explicit TextCheck(Json& document) : builder_(document, /*allow_exceptions=*/false) {}

  std::optional<Error> error;

  bool null() override { return builder_.null() && value_done(); }
  bool boolean(bool value) override { return builder_.boolean(value) && value_done(); }
  bool number_integer(number_integer_t value) override {
    return builder_.number_integer(value) && value_done();
  }
  bool number_unsigned(number_unsigned_t value) override {
    return builder_.number_unsigned(value) && value_done();
  }
  bool number_float(number_float_t value, const string_t& text) override {
    return builder_.number_float(value, text) && value_done();
  }
  bool string(string_t& value) override { return builder_.string(value) && value_done(); }
  bool binary(binary_t& value) override { return builder_.binary(value) && value_done(); }

  bool start_object(std::size_t size) override { return open(false) && builder_.start_object(size); }
  bool start_array(std::size_t size) override { return open(true) && builder_.start_array(size); }
  bool end_object() override { return builder_.end_object() && close(); }
  bool end_array() override { return builder_.end_array() && close(); }

  bool key(string_t& key) override {
    Frame& object = frames_.back();
    if (!object.keys.insert(key).second) {
      const RequestField field = container_field();
      error = invalid_argument("duplicate field '" + key + "' in " + field.name(), field.key(key).path());
      return false;
    }
    object.key = key;
    return builder_.key(key);
  }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& exception) override {
    // 406: a number too large for a double (1e999); JSON has no infinity, so it is a value error.
    if (exception.id == 406) {
      const RequestField field = value_field();
      error = invalid_argument(field.name() + " is " + last_token + ", too large for a finite number",
                               field.path());
      return false;
    }
    // nlohmann counts the offending byte itself as read; users want its 0-based offset.
    const std::size_t offset = position > 0 ? position - 1 : 0;
    error = invalid_argument("malformed JSON at byte " + std::to_string(offset) + ", " +
                             syntax_reason(exception.what()));
    return false;
  }

 private:
  struct Frame {
    bool is_array = false;
    std::size_t index = 0;       // array: index of the element being read
    std::string key;             // object: key of the member being read
    std::set<std::string> keys;  // object: keys seen so far
  };

  bool open(bool is_array) {
    if (frames_.size() >= static_cast<std::size_t>(kMaxJsonDepth)) {
      const RequestField field = value_field();
      error = invalid_argument("JSON nesting is deeper than " + std::to_string(kMaxJsonDepth) + " levels",
                               field.path());
      return false;
    }
    frames_.push_back(Frame{is_array, 0, {}, {}});
    return true;
  }

  bool close() {
    frames_.pop_back();
    return value_done();
  }

  bool value_done() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
    return true;
  }

  // The innermost open container.
  RequestField container_field() const {
    RequestField field = RequestField::root();
    for (std::size_t depth = 0; depth + 1 < frames_.size(); ++depth) field = step(field, frames_[depth]);
    return field;
  }

  // The value being read inside the innermost container.
  RequestField value_field() const {
    RequestField field = RequestField::root();
    for (const Frame& frame : frames_) field = step(field, frame);
    return field;
  }

  static RequestField step(const RequestField& field, const Frame& frame) {
    return frame.is_array ? field.index(frame.index) : field.key(frame.key);
  }

  nlohmann::detail::json_sax_dom_parser<Json> builder_;
  std::vector<Frame> frames_;
};

std::string describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::null:
      return "null";
    default:
      return value.dump();
  }
}

// Checks that `value` is an object with only `known` fields and every one of `required`.
void expect_object(const Json& value, const RequestField& field, std::initializer_list<const char*> known,
                   std::initializer_list<const char*> required) {
  if (!value.is_object()) fail(field, field.name() + " must be an object, got " + describe(value));
  for (const auto& [key, member] : value.items()) {
    bool is_known = false;
    for (const char* name : known) is_known = is_known || key == name;
    if (is_known) continue;
    std::string expected;
    for (const char* name : known) expected += (expected.empty() ? "" : ", ") + std::string(name);
    fail(field.key(key), "unknown field '" + key + "' in " + field.name() + " (expected " + expected + ")");
  }
  for (const char* name : required) {
    if (!value.contains(name)) fail(field, "missing field '" + std::string(name) + "' in " + field.name());
  }
}

std::int64_t read_integer(const Json& value, const RequestField& field) {
  if (value.is_number_unsigned()) {
    const auto number = value.get<std::uint64_t>();
    if (number > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      fail(field, field.name() + " is " + value.dump() + ", too large for a 64-bit integer");
    }
    return static_cast<std::int64_t>(number);
  }
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (value.is_number_float()) {
    // Integer literals beyond 64 bits reach us as doubles; they are too large rather than fractional.
    const double number = value.get<double>();
    if (std::floor(number) == number && std::fabs(number) >= 0x1p63) {
      fail(field, field.name() + " is " + value.dump() + ", too large for a 64-bit integer");
    }
    fail(field, field.name() + " must be a JSON integer (like 5, not 5.0), got " + value.dump());
  }
  fail(field, field.name() + " must be an integer, got " + describe(value));
}

double read_number(const Json& value, const RequestField& field) {
  if (!value.is_number()) fail(field, field.name() + " must be a number, got " + describe(value));
  return value.get<double>();
}

bool read_bool(const Json& value, const RequestField& field) {
  if (!value.is_boolean()) fail(field, field.name() + " must be true or false, got " + describe(value));
  return value.get<bool>();
}

std::string read_string(const Json& value, const RequestField& field) {
  if (!value.is_string()) fail(field, field.name() + " must be a string, got " + describe(value));
  return value.get<std::string>();
}

const Json& expect_array(const Json& value, const RequestField& field) {
  if (!value.is_array()) fail(field, field.name() + " must be an array, got " + describe(value));
  return value;
}

std::vector<double> read_numbers(const Json& value, const RequestField& field) {
  std::vector<double> numbers;
  numbers.reserve(expect_array(value, field).size());
  for (std::size_t index = 0; index < value.size(); ++index) {
    numbers.push_back(read_number(value[index], field.index(index)));
  }
  return numbers;
}

std::vector<std::int64_t> read_integers(const Json& value, const RequestField& field) {
  std::vector<std::int64_t> integers;
  integers.reserve(expect_array(value, field).size());
  for (std::size_t index = 0; index < value.size(); ++index) {
    integers.push_back(read_integer(value[index], field.index(index)));
  }
  return integers;
}

const char* aggregation_name(Aggregation aggregation) {
  return aggregation == Aggregation::sum ? "sum" : "max";
}

Aggregation read_aggregation(const Json& value, const RequestField& field) {
  const std::string name = read_string(value, field);
  for (Aggregation aggregation : {Aggregation::sum, Aggregation::max}) {
    if (name == aggregation_name(aggregation)) return aggregation;
  }
  fail(field, field.name() + " must be \"sum\" or \"max\", got \"" + name + "\"");
}

CostTerms read_cost_terms(const Json& value, const RequestField& field) {
  expect_object(value, field, {"fixed", "unit", "input", "unit_input", "table"}, {});
  CostTerms terms;
  if (value.contains("fixed")) terms.fixed = read_integer(value["fixed"], field.key("fixed"));
  if (value.contains("unit")) terms.unit = read_integer(value["unit"], field.key("unit"));
  if (value.contains("input")) terms.input = read_integer(value["input"], field.key("input"));
  if (value.contains("unit_input"))
    terms.unit_input = read_integer(value["unit_input"], field.key("unit_input"));
  if (value.contains("table")) terms.table = read_integers(value["table"], field.key("table"));
  return terms;
}

Layer read_layer(const Json& value, const RequestField& field) {
  expect_object(value, field,
                {"name", "units", "importance", "min_units", "block", "prunable", "tied", "cost"},
                {"name", "units", "importance"});
  Layer layer;
  layer.name = read_string(value["name"], field.key("name"));
  layer.units = read_integer(value["units"], field.key("units"));
  layer.importance = read_numbers(value["importance"], field.key("importance"));
  if (value.contains("tied")) layer.tied = read_bool(value["tied"], field.key("tied"));
  // Precise rule 3: a tied layer's width comes from the layer it follows, so these cannot be given.
  for (const char* name : {"min_units", "block", "prunable"}) {
    if (layer.tied && value.contains(name)) {
      fail(field.key(name),
           field.name() + "." + name +
               " cannot be given for a tied layer: its width comes from the layer it follows");
    }
  }
  if (value.contains("min_units")) layer.min_units = read_integer(value["min_units"], field.key("min_units"));
  if (value.contains("block")) layer.block = read_integer(value["block"], field.key("block"));
  if (value.contains("prunable")) layer.prunable = read_bool(value["prunable"], field.key("prunable"));
  if (value.contains("cost")) {
    const RequestField cost_field = field.key("cost");
    const Json& cost = value["cost"];
    if (!cost.is_object()) fail(cost_field, cost_field.name() + " must be an object, got " + describe(cost));
    for (const auto& [resource, terms] : cost.items()) {
      layer.cost[resource] = read_cost_terms(terms, cost_field.key(resource));
    }
  }
  return layer;
}

Network read_network(const Json& value, const RequestField& field) {
  expect_object(value, field, {"name", "inputs", "resources", "layers"}, {"inputs", "layers"});
  Network network;
  if (value.contains("name")) network.name = read_string(value["name"], field.key("name"));
  network.inputs = read_integer(value["inputs"], field.key("inputs"));
  if (value.contains("resources")) {
    const RequestField resources_field = field.key("resources");
    const Json& resources = value["resources"];
    if (!resources.is_object()) {
      fail(resources_field, resources_field.name() + " must be an object, got " + describe(resources));
    }
    for (const auto& [resource, aggregation] : resources.items()) {
      network.resources[resource] = read_aggregation(aggregation, resources_field.key(resource));
    }
  }
  const RequestField layers_field = field.key("layers");
  const Json& layers = expect_array(value["layers"], layers_field);
  for (std::size_t index = 0; index < layers.size(); ++index) {
    network.layers.push_back(read_layer(layers[index], layers_field.index(index)));
  }
  return network;
}

Limit read_limit(const Json& value, const RequestField& field) {
  expect_object(value, field, {"fraction", "max"}, {});
  if (value.contains("fraction") == value.contains("max")) {
    fail(field, field.name() + " must have exactly one of \"fraction\" or \"max\"");
  }
  if (value.contains("fraction"))
    return Limit::of_fraction(read_number(value["fraction"], field.key("fraction")));
  return Limit::of_max(read_integer(value["max"], field.key("max")));
}

std::vector<Level> read_levels(const Json& value, const RequestField& field) {
  std::vector<Level> levels;
  levels.reserve(expect_array(value, field).size());
  for (std::size_t index = 0; index < value.size(); ++index) {
    const RequestField level_field = field.index(index);
    const Json& level = value[index];
    if (!level.is_object())
      fail(level_field, level_field.name() + " must be an object, got " + describe(level));
    Level parsed;
    for (const auto& [resource, limit] : level.items()) {
      parsed.limits[resource] = read_limit(limit, level_field.key(resource));
    }
    levels.push_back(std::move(parsed));
  }
  return levels;
}

Strategy read_strategy(const Json& value, const RequestField& field) {
  const std::string name = read_string(value, field);
  if (const std::optional<Strategy> strategy = strategy_from_string(name)) return *strategy;
  fail(field, "unknown strategy '" + name + "' (expected independent, bottom_up, top_down or joint)");
}

Objective read_objective(const Json& value, const RequestField& field) {
  const std::string name = read_string(value, field);
  if (const std::optional<Objective> objective = objective_from_string(name)) return *objective;
  fail(field, "unknown objective '" + name + "' (expected sum, normalized or product)");
}

PlanRequest read_request(const Json& value) {
  const RequestField root = RequestField::root();
  expect_object(value, root, {"network", "levels", "strategy", "weights", "time_limit_ms", "objective"},
                {"network", "levels"});
  PlanRequest request;
  request.network = read_network(value["network"], root.key("network"));
  request.levels = read_levels(value["levels"], root.key("levels"));
  if (value.contains("strategy")) request.strategy = read_strategy(value["strategy"], root.key("strategy"));
  if (value.contains("weights")) request.weights = read_numbers(value["weights"], root.key("weights"));
  if (value.contains("time_limit_ms")) {
    request.time_limit_ms = read_integer(value["time_limit_ms"], root.key("time_limit_ms"));
  }
  if (value.contains("objective"))
    request.objective = read_objective(value["objective"], root.key("objective"));
  return request;
}

// Never throws: text that is not valid UTF-8 (possible in names built in C++) is replaced, not rejected.
std::string dump(const Json& document, int indent) {
  return document.dump(indent < 0 ? -1 : indent, ' ', false, Json::error_handler_t::replace);
}

Json cost_terms_json(const CostTerms& terms) {
  Json json = Json::object();
  if (terms.fixed != 0) json["fixed"] = terms.fixed;
  if (terms.unit != 0) json["unit"] = terms.unit;
  if (terms.input != 0) json["input"] = terms.input;
  if (terms.unit_input != 0) json["unit_input"] = terms.unit_input;
  if (!terms.table.empty()) json["table"] = terms.table;
  return json;
}

Json layer_json(const Layer& layer) {
  Json json = Json::object();
  json["name"] = layer.name;
  json["units"] = layer.units;
  json["importance"] = layer.importance;
  if (layer.min_units != 1) json["min_units"] = layer.min_units;
  if (layer.block != 1) json["block"] = layer.block;
  if (!layer.prunable) json["prunable"] = false;
  if (layer.tied) json["tied"] = true;
  if (!layer.cost.empty()) {
    Json cost = Json::object();
    for (const auto& [resource, terms] : layer.cost) cost[resource] = cost_terms_json(terms);
    json["cost"] = std::move(cost);
  }
  return json;
}

Json network_json(const Network& network) {
  Json json = Json::object();
  if (!network.name.empty()) json["name"] = network.name;
  json["inputs"] = network.inputs;
  if (!network.resources.empty()) {
    Json resources = Json::object();
    for (const auto& [resource, aggregation] : network.resources) {
      resources[resource] = aggregation_name(aggregation);
    }
    json["resources"] = std::move(resources);
  }
  Json layers = Json::array();
  for (const Layer& layer : network.layers) layers.push_back(layer_json(layer));
  json["layers"] = std::move(layers);
  return json;
}

Json level_json(const Level& level) {
  Json json = Json::object();
  for (const auto& [resource, limit] : level.limits) {
    json[resource] = limit.kind == Limit::Kind::fraction ? Json{{"fraction", limit.fraction}}
                                                         : Json{{"max", limit.maximum}};
  }
  return json;
}

}  // namespace

Result<PlanRequest> parse_plan_request(std::string_view json_text) {
  try {
    if (std::optional<Result<PlanRequest>> fast = detail::parse_plan_request_fast(json_text)) {
      return *std::move(fast);
    }
  } catch (const std::exception&) {
    // Out of memory most likely: the checked reader tries again and names the failure.
  }
  return detail::parse_plan_request_checked(json_text);
}

Result<PlanRequest> detail::parse_plan_request_checked(std::string_view json_text) {
  try {
    Json document;
    TextCheck check(document);
    if (!Json::sax_parse(json_text.begin(), json_text.end(), &check)) {
      return check.error.value_or(invalid_argument("malformed JSON"));
    }
    PlanRequest request = read_request(document);
    if (std::optional<Error> error = validate(request)) return *std::move(error);
    return request;
  } catch (const RequestError& request_error) {
    return request_error.error;
  } catch (const std::bad_alloc&) {
    return Error{ErrorCode::resource_exhausted, "not enough memory to read the request", {}};
  } catch (const std::exception& exception) {
    return Error{ErrorCode::internal, std::string("reading the request failed: ") + exception.what(), {}};
  }
}

std::string to_json(const PlanRequest& request, int indent) {
  Json json = Json::object();
  json["network"] = network_json(request.network);
  Json levels = Json::array();
  for (const Level& level : request.levels) levels.push_back(level_json(level));
  json["levels"] = std::move(levels);
  json["strategy"] = to_string(request.strategy);
  if (!request.weights.empty()) json["weights"] = request.weights;
  if (request.time_limit_ms) json["time_limit_ms"] = *request.time_limit_ms;
  if (request.objective != Objective::sum) json["objective"] = to_string(request.objective);
  return dump(json, indent);
}

std::string to_json(const Error& error, int indent) {
  Json body = Json::object();
  body["code"] = to_string(error.code);
  body["message"] = error.message;
  if (!error.path.empty()) body["path"] = error.path;
  return dump(Json{{"error", std::move(body)}}, indent);
}

}  // namespace reds
