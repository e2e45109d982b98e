// The fast plan request reader: simdjson's DOM parser checks the text (syntax, UTF-8, numbers), then the
// document is read straight into a PlanRequest. It gives up, without saying why, at anything the contract
// does not accept, and parse_plan_request() then asks the checked reader in json.cpp for the error.
//
// What it must never do is accept a document the checked reader rejects, or read one differently:
//   * every field is read (an unknown field gives up), so nothing the checked reader looks at is skipped;
//   * simdjson keeps duplicate keys, so every object checks its own (a bit per known field, the map's
//     insertion for resource names);
//   * integer fields take only what simdjson stores as a signed 64-bit integer: a fraction, an exponent or
//     a larger integer gives up (the checked reader rejects them, or reads 2^64 and beyond as doubles);
//   * numbers convert to double as nlohmann's get<double>() does (a cast from the integer it stored);
//   * what simdjson rejects and nlohmann accepts (a byte order mark, integers beyond 64 bits, text after a
//     NUL byte, which nlohmann takes for the end) gives up too.
// tests/solver/contract/json_test.cpp and the fuzzer compare the two readers on the same texts.
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "reds/contract.h"
#include "reds/json.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Parsers keep their buffers between documents: one per thread, for documents up to this size (its buffers
// take about 15 bytes per byte of text). A larger document gets a parser of its own, freed after it.
constexpr std::size_t kReusedParserCapacity = std::size_t{128} << 10;

// The fields of an object with known field names, in the order of `names`: which were seen (duplicates
// and unknown names give up).
template <std::size_t N>
class KnownFields {
 public:
  explicit KnownFields(const std::string_view (&names)[N]) : names_(names) {}

  // The index of `key` in the names, or -1 when it is unknown or was seen already.
  int see(std::string_view key) {
    for (std::size_t field = 0; field < N; ++field) {
      if (key != names_[field]) continue;
      const unsigned bit = 1u << field;
      if (seen_ & bit) return -1;
      seen_ |= bit;
      return static_cast<int>(field);
    }
    return -1;
  }
  bool has(std::size_t field) const { return (seen_ & (1u << field)) != 0; }

 private:
  const std::string_view (&names_)[N];
  unsigned seen_ = 0;
};

bool read_integer(element value, std::int64_t& integer) {
  if (value.type() != element_type::INT64) return false;
  integer = value.get_int64().value_unsafe();
  return true;
}

bool read_number(element value, double& number) {
  const element_type type = value.type();
  if (type != element_type::DOUBLE && type != element_type::INT64 && type != element_type::UINT64)
    return false;
  number = value.get_double().value_unsafe();
  return true;
}

bool read_bool(element value, bool& flag) {
  if (value.type() != element_type::BOOL) return false;
  flag = value.get_bool().value_unsafe();
  return true;
}

bool read_string(element value, std::string_view& text) {
  if (value.type() != element_type::STRING) return false;
  text = value.get_string().value_unsafe();
  return true;
}

bool read_string(element value, std::string& text) {
  std::string_view view;
  if (!read_string(value, view)) return false;
  text.assign(view);
  return true;
}

bool read_object(element value, object& members) {
  return value.get_object().get(members) == simdjson::SUCCESS;
}

bool read_array(element value, array& elements) {
  return value.get_array().get(elements) == simdjson::SUCCESS;
}

// An object whose members must all be among `names`, each at most once; `read_member(field, member)` reads
// one (field: its index in `names`). The fields seen, or nothing when a member is unknown, repeated or
// unreadable.
template <std::size_t N, typename ReadMember>
std::optional<KnownFields<N>> read_fields(element value, const std::string_view (&names)[N],
                                          ReadMember read_member) {
  object members;
  if (!read_object(value, members)) return std::nullopt;
  KnownFields<N> fields(names);
  for (const auto [key, member] : members) {
    const int field = fields.see(key);
    if (field < 0 || !read_member(field, member)) return std::nullopt;
  }
  return fields;
}

bool read_numbers(element value, std::vector<double>& numbers) {
  array elements;
  if (!read_array(value, elements)) return false;
  numbers.reserve(elements.size());
  for (element number : elements) {
    double parsed = 0.0;
    if (!read_number(number, parsed)) return false;
    numbers.push_back(parsed);
  }
  return true;
}

bool read_integers(element value, std::vector<std::int64_t>& integers) {
  array elements;
  if (!read_array(value, elements)) return false;
  integers.reserve(elements.size());
  for (element integer : elements) {
    std::int64_t parsed = 0;
    if (!read_integer(integer, parsed)) return false;
    integers.push_back(parsed);
  }
  return true;
}

// {"name": integer, ...}, every name once.
bool read_held(element value, std::map<std::string, std::int64_t>& held) {
  object members;
  if (!read_object(value, members)) return false;
  for (const auto [name, coefficient] : members) {
    const auto [entry, inserted] = held.try_emplace(std::string(name));
    if (!inserted || !read_integer(coefficient, entry->second)) return false;
  }
  return true;
}

bool read_cost_terms(element value, CostTerms& terms) {
  static constexpr std::string_view kNames[] = {"fixed", "unit", "input", "unit_input", "table", "held"};
  return read_fields(value, kNames,
                     [&](int field, element member) {
                       switch (field) {
                         case 0:
                           return read_integer(member, terms.fixed);
                         case 1:
                           return read_integer(member, terms.unit);
                         case 2:
                           return read_integer(member, terms.input);
                         case 3:
                           return read_integer(member, terms.unit_input);
                         case 4:
                           return read_integers(member, terms.table);
                         case 5:
                           return read_held(member, terms.held);
                       }
                       return false;
                     })
      .has_value();
}

bool read_layer_cost(element value, std::map<std::string, CostTerms>& cost) {
  object members;
  if (!read_object(value, members)) return false;
  for (const auto [resource, terms] : members) {
    const auto [entry, inserted] = cost.try_emplace(std::string(resource));
    if (!inserted || !read_cost_terms(terms, entry->second)) return false;
  }
  return true;
}

// `streams`: the streams of the layers before this one.
bool read_layer(element value, Layer& layer, std::set<std::string>& streams) {
  enum Field { name, units, importance, min_units, block, prunable, tied, stream, input, cost };
  static constexpr std::string_view kNames[] = {"name",     "units", "importance", "min_units", "block",
                                                "prunable", "tied",  "stream",     "input",     "cost"};
  const auto fields = read_fields(value, kNames, [&](int field, element member) {
    switch (field) {
      case name:
        return read_string(member, layer.name);
      case units:
        return read_integer(member, layer.units);
      case importance:
        return read_numbers(member, layer.importance);
      case min_units:
        return read_integer(member, layer.min_units);
      case block:
        return read_integer(member, layer.block);
      case prunable:
        return read_bool(member, layer.prunable);
      case tied:
        return read_bool(member, layer.tied);
      case stream:
        return read_string(member, layer.stream.emplace());
      case input:
        return read_string(member, layer.input.emplace());
      case cost:
        return read_layer_cost(member, layer.cost);
    }
    return false;
  });
  if (!fields) return false;
  // A tied layer's width comes from the layer it follows: giving min_units, block or prunable is an error.
  // So is giving them for a stream member other than the first.
  const bool gives_width = fields->has(min_units) || fields->has(block) || fields->has(prunable);
  const bool later_member = layer.stream && !streams.insert(*layer.stream).second;
  return fields->has(name) && fields->has(units) && fields->has(importance) &&
         !((layer.tied || later_member) && gives_width);
}

bool read_resources(element value, std::map<std::string, Aggregation>& resources) {
  object members;
  if (!read_object(value, members)) return false;
  for (const auto [resource, member] : members) {
    std::string_view name;
    if (!read_string(member, name)) return false;
    Aggregation aggregation = Aggregation::sum;
    if (name == "max") {
      aggregation = Aggregation::max;
    } else if (name != "sum") {
      return false;
    }
    if (!resources.try_emplace(std::string(resource), aggregation).second) return false;
  }
  return true;
}

bool read_layers(element value, std::vector<Layer>& layers) {
  array elements;
  if (!read_array(value, elements)) return false;
  layers.reserve(elements.size());
  std::set<std::string> streams;
  for (element layer : elements) {
    if (!read_layer(layer, layers.emplace_back(), streams)) return false;
  }
  return true;
}

bool read_network(element value, Network& network) {
  enum Field { name, inputs, resources, layers };
  static constexpr std::string_view kNames[] = {"name", "inputs", "resources", "layers"};
  const auto fields = read_fields(value, kNames, [&](int field, element member) {
    switch (field) {
      case name:
        return read_string(member, network.name);
      case inputs:
        return read_integer(member, network.inputs);
      case resources:
        return read_resources(member, network.resources);
      case layers:
        return read_layers(member, network.layers);
    }
    return false;
  });
  return fields && fields->has(inputs) && fields->has(layers);
}

// {"fraction": f} or {"max": m}, exactly one of them.
bool read_limit(element value, Limit& limit) {
  object members;
  if (!read_object(value, members)) return false;
  auto member = members.begin();
  if (member == members.end()) return false;
  const auto [key, number] = *member;
  bool read = false;
  if (key == "fraction") {
    limit.kind = Limit::Kind::fraction;
    read = read_number(number, limit.fraction);
  } else if (key == "max") {
    limit = Limit::of_max(0);
    read = read_integer(number, limit.maximum);
  }
  return read && ++member == members.end();
}

bool read_levels(element value, std::vector<Level>& levels) {
  array elements;
  if (!read_array(value, elements)) return false;
  levels.reserve(elements.size());
  for (element level : elements) {
    object members;
    if (!read_object(level, members)) return false;
    std::map<std::string, Limit>& limits = levels.emplace_back().limits;
    for (const auto [resource, limit] : members) {
      const auto [entry, inserted] = limits.try_emplace(std::string(resource));
      if (!inserted || !read_limit(limit, entry->second)) return false;
    }
  }
  return true;
}

bool read_request(element value, PlanRequest& request) {
  enum Field { network, levels, strategy, weights, time_limit_ms, objective };
  static constexpr std::string_view kNames[] = {"network", "levels",        "strategy",
                                                "weights", "time_limit_ms", "objective"};
  const auto fields = read_fields(value, kNames, [&](int field, element member) {
    std::string_view name;
    switch (field) {
      case network:
        return read_network(member, request.network);
      case levels:
        return read_levels(member, request.levels);
      case strategy: {
        if (!read_string(member, name)) return false;
        const std::optional<Strategy> parsed = strategy_from_string(std::string(name));
        if (parsed) request.strategy = *parsed;
        return parsed.has_value();
      }
      case weights:
        return read_numbers(member, request.weights);
      case time_limit_ms:
        return read_integer(member, request.time_limit_ms.emplace());
      case objective: {
        if (!read_string(member, name)) return false;
        const std::optional<Objective> parsed = objective_from_string(std::string(name));
        if (parsed) request.objective = *parsed;
        return parsed.has_value();
      }
    }
    return false;
  });
  return fields && fields->has(network) && fields->has(levels);
}

// The document's root, or nothing when simdjson rejects the text (nesting deeper than kMaxJsonDepth too).
std::optional<element> parse(simdjson::dom::parser& parser, std::string_view json_text) {
  // A new parser is set up once; later documents grow its buffers as needed, keeping its depth limit.
  if (parser.capacity() == 0 &&
      parser.allocate(std::max(json_text.size(), std::size_t{4096}), kMaxJsonDepth) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  element root;
  if (parser.parse(json_text.data(), json_text.size()).get(root) != simdjson::SUCCESS) return std::nullopt;
  return root;
}

std::optional<Result<PlanRequest>> read_and_validate(simdjson::dom::parser& parser,
                                                     std::string_view json_text) {
  const std::optional<element> root = parse(parser, json_text);
  if (!root) return std::nullopt;
  PlanRequest request;
  if (!read_request(*root, request)) return std::nullopt;
  if (std::optional<Error> error = validate(request)) return Result<PlanRequest>(*std::move(error));
  return Result<PlanRequest>(std::move(request));
}

}  // namespace

std::optional<Result<PlanRequest>> detail::parse_plan_request_fast(std::string_view json_text) {
  if (json_text.size() > kReusedParserCapacity) {
    simdjson::dom::parser parser;
    return read_and_validate(parser, json_text);
  }
  thread_local simdjson::dom::parser parser;
  return read_and_validate(parser, json_text);
}

}  // namespace reds
