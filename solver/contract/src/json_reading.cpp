// The reading shared by the plan contract's readers: the syntax pass and the typed field readers.
#include "json_reading.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reds/json.h"

namespace reds::detail {
namespace {

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
  TextCheck(Json& document, RequestField root)
      : builder_(document, /*allow_exceptions=*/false), root_(std::move(root)) {}

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
    RequestField field = root_;
    for (std::size_t depth = 0; depth + 1 < frames_.size(); ++depth) field = step(field, frames_[depth]);
    return field;
  }

  // The value being read inside the innermost container.
  RequestField value_field() const {
    RequestField field = root_;
    for (const Frame& frame : frames_) field = step(field, frame);
    return field;
  }

  static RequestField step(const RequestField& field, const Frame& frame) {
    return frame.is_array ? field.index(frame.index) : field.key(frame.key);
  }

  nlohmann::detail::json_sax_dom_parser<Json> builder_;
  RequestField root_;
  std::vector<Frame> frames_;
};

}  // namespace

[[noreturn]] void fail(const RequestField& field, const std::string& message) {
  throw FieldError{invalid_argument(message, field.path())};
}

std::optional<Error> build_document(std::string_view json_text, const RequestField& root, Json& document) {
  TextCheck check(document, root);
  if (Json::sax_parse(json_text.begin(), json_text.end(), &check)) return std::nullopt;
  return check.error.value_or(invalid_argument("malformed JSON"));
}

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

}  // namespace reds::detail
