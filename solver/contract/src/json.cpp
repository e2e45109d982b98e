// The plan contract's JSON form: strict request parsing, and the request and error documents (the
// response is written by json_response.cpp).
//
// A request is read by one of two readers. The fast one (json_fast_reader.cpp, simdjson) reads a
// well-formed request straight into a PlanRequest and gives up at the first thing it does not like, without
// saying why: building messages and JSON Pointers for every value read is most of what a careful reader
// costs. The checked one below (nlohmann/json) is the reference: it explains every error with its message
// and path, and runs whenever the fast reader gives up. The fast reader accepts only what the checked one
// accepts, into the same PlanRequest (checked by tests/solver/contract/json_test.cpp and by the fuzzer), so
// which reader answered is never visible.
//
// The checked reader builds the document in one checking pass (json_reading.h), reads it field by field
// against the contract and hands the result to validate().
#include "reds/json.h"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json_reading.h"
#include "reds/contract.h"
#include "reds/network.h"
#include "reds/status.h"
#include "request_field.h"

namespace reds {
namespace {

using detail::describe;
using detail::expect_array;
using detail::expect_object;
using detail::fail;
using detail::Json;
using detail::read_bool;
using detail::read_integer;
using detail::read_integers;
using detail::read_number;
using detail::read_numbers;
using detail::read_string;
using detail::RequestField;

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
  expect_object(value, field, {"fixed", "unit", "input", "unit_input", "table", "held"}, {});
  CostTerms terms;
  if (value.contains("fixed")) terms.fixed = read_integer(value["fixed"], field.key("fixed"));
  if (value.contains("unit")) terms.unit = read_integer(value["unit"], field.key("unit"));
  if (value.contains("input")) terms.input = read_integer(value["input"], field.key("input"));
  if (value.contains("unit_input"))
    terms.unit_input = read_integer(value["unit_input"], field.key("unit_input"));
  if (value.contains("table")) terms.table = read_integers(value["table"], field.key("table"));
  if (value.contains("held")) {
    const RequestField held_field = field.key("held");
    const Json& held = value["held"];
    if (!held.is_object()) fail(held_field, held_field.name() + " must be an object, got " + describe(held));
    for (const auto& [name, coefficient] : held.items()) {
      terms.held[name] = read_integer(coefficient, held_field.key(name));
    }
  }
  return terms;
}

// `streams`: the streams of the layers before this one.
Layer read_layer(const Json& value, const RequestField& field, std::set<std::string>& streams) {
  expect_object(
      value, field,
      {"name", "units", "importance", "min_units", "block", "prunable", "tied", "stream", "input", "cost"},
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
  if (value.contains("stream")) layer.stream = read_string(value["stream"], field.key("stream"));
  if (value.contains("input")) layer.input = read_string(value["input"], field.key("input"));
  // Contract 1.1: the first member of a stream sets its width rules for every member.
  if (layer.stream && !layer.stream->empty() && !streams.insert(*layer.stream).second) {
    for (const char* name : {"min_units", "block", "prunable"}) {
      if (value.contains(name)) {
        fail(field.key(name), field.name() + "." + name + " cannot be given for a member of stream '" +
                                  *layer.stream +
                                  "' other than its first, whose settings apply to the whole stream");
      }
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
  std::set<std::string> streams;
  for (std::size_t index = 0; index < layers.size(); ++index) {
    network.layers.push_back(read_layer(layers[index], layers_field.index(index), streams));
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
  if (!terms.held.empty()) {
    Json held = Json::object();
    for (const auto& [name, coefficient] : terms.held) held[name] = coefficient;
    json["held"] = std::move(held);
  }
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
  if (layer.stream) json["stream"] = *layer.stream;
  if (layer.input) json["input"] = *layer.input;
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
  return read_document<PlanRequest>(json_text, RequestField::root(),
                                    [](const Json& document) -> Result<PlanRequest> {
                                      PlanRequest request = read_request(document);
                                      if (std::optional<Error> error = validate(request))
                                        return *std::move(error);
                                      return request;
                                    });
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
