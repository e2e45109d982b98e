// The plan response (plan contract v1, "Response"), written straight into a string.
//
// The service writes one per request, and building a nlohmann/json document first cost more than planning a
// small network. The bytes are the ones nlohmann's dump() wrote before (tests/solver/contract/json_test.cpp
// compares them on random results): its key order, separators and indentation, and its number formats.
// Doubles go through nlohmann's own shortest round-trip formatting (Grisu2), which std::to_chars does not
// match digit for digit, and strings that need escaping through nlohmann's escaper; plain ASCII strings,
// integers and the layout are written here.
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "reds/contract.h"
#include "reds/json.h"

namespace reds {
namespace {

// Writes one JSON value as nlohmann's dump(indent) does: compact ("{"a":1,"b":[2,3]}") for indent < 0,
// otherwise one member or element per line, `indent` spaces deeper per level, "key": value.
class JsonWriter {
 public:
  explicit JsonWriter(int indent, std::size_t expected_size) : indent_(indent) {
    out_.reserve(expected_size);
  }

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }

  void key(std::string_view name) {
    next_entry();
    write_string(name);
    out_ += indent_ < 0 ? ":" : ": ";
    after_key_ = true;
  }

  void value(std::int64_t number) {
    next_entry();
    std::array<char, 24> digits;
    const char* end = std::to_chars(digits.data(), digits.data() + digits.size(), number).ptr;
    out_.append(digits.data(), static_cast<std::size_t>(end - digits.data()));
  }

  void value(double number) {
    next_entry();
    if (!std::isfinite(number)) {
      out_ += "null";
      return;
    }
    std::array<char, 64> digits;
    const char* end = nlohmann::detail::to_chars(digits.data(), digits.data() + digits.size(), number);
    out_.append(digits.data(), static_cast<std::size_t>(end - digits.data()));
  }

  void value(std::string_view text) {
    next_entry();
    write_string(text);
  }

  std::string take() && { return std::move(out_); }

 private:
  // Open containers at most, with room to spare: the response nests four deep (root, levels, a level, its
  // widths).
  static constexpr std::size_t kMaxDepth = 8;

  void open(char bracket) {
    next_entry();
    out_ += bracket;
    ++depth_;
    has_entries_[depth_] = false;
  }

  void close(char bracket) {
    if (has_entries_[depth_]) new_line(depth_ - 1);
    --depth_;
    out_ += bracket;
  }

  // Before a member's key, an array's element or the root: the separator from the entry before, if any.
  // The value after a key needs none.
  void next_entry() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (depth_ == 0) return;
    if (has_entries_[depth_]) out_ += ',';
    has_entries_[depth_] = true;
    new_line(depth_);
  }

  void new_line(std::size_t depth) {
    if (indent_ < 0) return;
    out_ += '\n';
    out_.append(depth * static_cast<std::size_t>(indent_), ' ');
  }

  void write_string(std::string_view text) {
    const bool plain = std::all_of(text.begin(), text.end(),
                                   [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
    if (plain) {
      out_ += '"';
      out_ += text;
      out_ += '"';
      return;
    }
    // Escapes, and invalid UTF-8 replaced rather than rejected, as the rest of reds/json.h does.
    out_ += nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  int indent_;
  std::string out_;
  std::size_t depth_ = 0;
  std::array<bool, kMaxDepth> has_entries_{};
  bool after_key_ = false;
};

// The members of an object keyed by layer name (the response's `order` and `widths`), as nlohmann's
// ordered_json built them: a name given twice keeps its first place and takes its last value. The layers
// of a valid request have unique names, and then the members are simply the layers in order.
class LayerKeys {
 public:
  explicit LayerKeys(const std::vector<std::string>& names) : names_(names) {
    std::vector<std::string_view> sorted(names.begin(), names.end());
    std::sort(sorted.begin(), sorted.end());
    unique_ = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
  }

  // Calls write(name, index of its value) for the members built from the first `count` layers.
  template <class Write>
  void for_each(std::size_t count, const Write& write) const {
    count = std::min(count, names_.size());
    if (unique_) {
      for (std::size_t index = 0; index < count; ++index) write(names_[index], index);
      return;
    }
    std::map<std::string_view, std::size_t> first_index;
    std::vector<std::size_t> firsts;
    std::vector<std::size_t> last_index(count);
    for (std::size_t index = 0; index < count; ++index) {
      const auto [entry, inserted] = first_index.try_emplace(names_[index], index);
      if (inserted) firsts.push_back(index);
      last_index[entry->second] = index;
    }
    for (std::size_t first : firsts) write(names_[first], last_index[first]);
  }

 private:
  const std::vector<std::string>& names_;
  bool unique_ = true;
};

void write_costs(JsonWriter& json, const std::map<std::string, std::int64_t>& costs) {
  json.begin_object();
  for (const auto& [resource, cost] : costs) {
    json.key(resource);
    json.value(cost);
  }
  json.end_object();
}

void write_level(JsonWriter& json, const LevelPlan& level, const LayerKeys& layers) {
  json.begin_object();
  json.key("status");
  json.value(to_string(level.status));
  json.key("limits");
  write_costs(json, level.limits);
  // Precise rule 5: an infeasible level has no widths, cost, importance, upper_bound or gap.
  if (level.status != PlanStatus::infeasible) {
    json.key("widths");
    json.begin_object();
    layers.for_each(level.widths.size(), [&](const std::string& name, std::size_t index) {
      json.key(name);
      json.value(level.widths[index]);
    });
    json.end_object();
    json.key("cost");
    write_costs(json, level.cost);
    json.key("importance");
    json.value(level.importance);
    json.key("upper_bound");
    json.value(level.upper_bound);
    json.key("gap");
    json.value(level.gap);
  }
  if (level.independent_importance) {
    json.key("independent_importance");
    json.value(*level.independent_importance);
  }
  json.end_object();
}

// Enough for the whole response in most cases, so that the string grows at most once or twice.
std::size_t expected_size(const PlanResult& result, int indent) {
  std::size_t entries = 16 + result.layer_names.size();
  for (const std::vector<std::int64_t>& order : result.order) entries += order.size();
  for (const LevelPlan& level : result.levels) entries += 16 + level.widths.size();
  const std::size_t per_entry = 8 + (indent > 0 ? 2 + 4 * static_cast<std::size_t>(indent) : 0);
  return entries * per_entry;
}

}  // namespace

std::string to_json(const PlanResult& result, int indent) {
  JsonWriter json(indent < 0 ? -1 : indent, expected_size(result, indent));
  const LayerKeys layers(result.layer_names);
  json.begin_object();
  json.key("status");
  json.value(to_string(result.status));
  json.key("strategy");
  json.value(to_string(result.strategy));
  json.key("full");
  json.begin_object();
  json.key("cost");
  write_costs(json, result.full_cost);
  json.key("importance");
  json.value(result.full_importance);
  json.end_object();
  json.key("order");
  json.begin_object();
  layers.for_each(result.order.size(), [&](const std::string& name, std::size_t index) {
    json.key(name);
    json.begin_array();
    for (std::int64_t unit : result.order[index]) json.value(unit);
    json.end_array();
  });
  json.end_object();
  json.key("levels");
  json.begin_array();
  for (const LevelPlan& level : result.levels) write_level(json, level, layers);
  json.end_array();
  if (result.objective) {
    json.key("objective");
    json.value(*result.objective);
    json.key("objective_upper_bound");
    json.value(result.objective_upper_bound.value_or(*result.objective));
    json.key("objective_gap");
    json.value(result.objective_gap.value_or(0.0));
  }
  json.key("solve_seconds");
  json.value(result.solve_seconds);
  json.end_object();
  return std::move(json).take();
}

}  // namespace reds
