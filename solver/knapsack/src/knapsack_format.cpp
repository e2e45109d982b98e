// The knapsack literature's text format; see reds/knapsack_format.h.
#include "reds/knapsack_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace reds::knapsack {

namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

bool is_dashes(std::string_view line) {
  return !line.empty() && line.find_first_not_of('-') == std::string_view::npos;
}

template <class Number>
std::optional<Number> parse_number(std::string_view word) {
  Number value{};
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (word.empty() || error != std::errc() || end != word.data() + word.size()) return std::nullopt;
  return value;
}

// The text's lines, numbered from 1.
class Lines {
 public:
  explicit Lines(std::string_view text) : text_(text) {}

  bool done() const { return position_ >= text_.size(); }
  std::size_t remaining() const { return done() ? 0 : text_.size() - position_; }
  std::size_t number() const { return number_; }
  // The next line, trimmed.
  std::string_view next() {
    const std::size_t end = std::min(text_.find('\n', position_), text_.size());
    const std::string_view line = text_.substr(position_, end - position_);
    position_ = end + 1;
    ++number_;
    return trim(line);
  }

 private:
  std::string_view text_;
  std::size_t position_ = 0;
  std::size_t number_ = 0;
};

Error at(const Lines& lines, const std::string& message) {
  return invalid_argument("line " + std::to_string(lines.number()) + ": " + message);
}

std::string quoted(std::string_view line) {
  constexpr std::size_t kShown = 60;
  std::string text(1, '\'');
  text.append(line.substr(0, kShown));
  text.append(line.size() > kShown ? "...'" : "'");
  return text;
}

// An instance's header: its name, then the n, c, z and time lines up to the first item row (or the
// dashes of an empty instance), which is left in `row`.
struct Header {
  TextInstance instance;
  std::int64_t items = 0;
};

Result<Header> parse_header(Lines& lines, std::string_view name, std::string_view& row) {
  Header header;
  TextInstance& instance = header.instance;
  instance.name = std::string(name);
  std::optional<std::int64_t> items;
  std::optional<std::int64_t> capacity;
  while (true) {
    if (lines.done()) return at(lines, "instance '" + instance.name + "' ends before its items");
    const std::string_view line = lines.next();
    const auto space = line.find_first_of(" \t");
    const std::string key(line.substr(0, space));
    const std::string_view value =
        space == std::string_view::npos ? std::string_view() : trim(line.substr(space));
    if (key == "n" || key == "c" || key == "z") {
      const std::optional<std::int64_t> number = parse_number<std::int64_t>(value);
      if (!number) return at(lines, "'" + key + "' needs an integer, got " + quoted(value));
      std::optional<std::int64_t>& field = key == "n" ? items : key == "c" ? capacity : instance.optimum;
      if (field) return at(lines, "'" + key + "' given twice");
      field = number;
    } else if (key == "time") {
      const std::optional<double> number = parse_number<double>(value);
      if (!number || !std::isfinite(*number)) return at(lines, "'time' needs a number, got " + quoted(value));
      if (instance.seconds) return at(lines, "'time' given twice");
      instance.seconds = number;
    } else if (!line.empty()) {
      row = line;
      break;
    }
  }
  if (!items || *items < 0)
    return at(lines, "instance '" + instance.name + "' needs a line 'n N' with N >= 0");
  if (!capacity) return at(lines, "instance '" + instance.name + "' needs a line 'c C'");
  instance.problem.capacity = *capacity;
  header.items = *items;
  return header;
}

// One row of four integers of at most 18 digits each, separated by commas, blanks around them allowed:
// the rows of every file in practice, read in one pass. False for anything else (then parse_row decides,
// with its messages).
bool parse_plain_row(std::string_view row, std::int64_t (&fields)[4]) {
  constexpr int kSafeDigits = 18;  // 10^18 - 1 < 2^63
  const char* at = row.data();
  const char* const end = at + row.size();
  const auto skip_blanks = [&] {
    while (at != end && (*at == ' ' || *at == '\t')) ++at;
  };
  for (int f = 0; f < 4; ++f) {
    skip_blanks();
    const bool negative = at != end && *at == '-';
    if (negative) ++at;
    std::int64_t value = 0;
    int digits = 0;
    while (at != end && *at >= '0' && *at <= '9' && digits < kSafeDigits) {
      value = 10 * value + (*at++ - '0');
      ++digits;
    }
    if (digits == 0 || (at != end && *at >= '0' && *at <= '9')) return false;  // longer: parse_row decides
    fields[f] = negative ? -value : value;
    skip_blanks();
    if (f < 3) {
      if (at == end || *at != ',') return false;
      ++at;
    }
  }
  return at == end;
}

// One row "index,profit,weight,x" into `fields`.
std::optional<std::string> parse_row(std::string_view row, std::int64_t (&fields)[4]) {
  if (parse_plain_row(row, fields)) return std::nullopt;
  std::string_view rest = row;
  for (int f = 0; f < 4; ++f) {
    const auto comma = rest.find(',');
    if ((f < 3) == (comma == std::string_view::npos))
      return "expected 'index,profit,weight,x', got " + quoted(row);
    const std::optional<std::int64_t> number = parse_number<std::int64_t>(trim(rest.substr(0, comma)));
    if (!number) return "expected four integers 'index,profit,weight,x', got " + quoted(row);
    fields[f] = *number;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<TextInstance>> parse_instances(std::string_view text) {
  std::vector<TextInstance> instances;
  Lines lines(text);
  while (!lines.done()) {
    const std::string_view name = lines.next();
    if (name.empty()) continue;
    if (is_dashes(name)) return at(lines, "a line of dashes without an instance before it");
    std::string_view row;
    Result<Header> header = parse_header(lines, name, row);
    if (!header) return header.error();
    TextInstance& instance = header.value().instance;
    // One allocation for the rows: as many as the n line says, but no more than the text can hold (a row
    // takes at least "i,p,w,x" and a line break).
    constexpr std::size_t kShortestRow = 8;
    const std::size_t rows = std::min(static_cast<std::size_t>(header->items),
                                      (row.size() + lines.remaining()) / kShortestRow + 1);
    instance.problem.items.reserve(rows);
    instance.solution.reserve(rows);
    for (std::int64_t index = 1; !is_dashes(row); ++index) {
      if (index > header->items)
        return at(lines, "instance '" + instance.name + "' has more than its n = " +
                             std::to_string(header.value().items) + " items (or lacks the line of dashes)");
      std::int64_t fields[4] = {};
      if (const std::optional<std::string> problem = parse_row(row, fields)) return at(lines, *problem);
      if (fields[0] != index)
        return at(lines, "item index " + std::to_string(fields[0]) + ", expected " + std::to_string(index));
      if (fields[3] != 0 && fields[3] != 1)
        return at(lines, "x must be 0 or 1, got " + std::to_string(fields[3]));
      instance.problem.items.push_back({fields[2], fields[1]});
      instance.solution.push_back(fields[3] == 1);
      if (lines.done()) return at(lines, "instance '" + instance.name + "' ends without a line of dashes");
      row = lines.next();
    }
    if (static_cast<std::int64_t>(instance.problem.items.size()) != header->items)
      return at(lines, "instance '" + instance.name + "' has " +
                           std::to_string(instance.problem.items.size()) + " items, its n line says " +
                           std::to_string(header->items));
    instances.push_back(std::move(instance));
  }
  return instances;
}

std::string format_instance(const TextInstance& instance) {
  std::string text = instance.name + "\nn " + std::to_string(instance.problem.items.size()) + "\nc " +
                     std::to_string(instance.problem.capacity) + "\n";
  if (instance.optimum) text += "z " + std::to_string(*instance.optimum) + "\n";
  if (instance.seconds) {
    char seconds[400];  // "%.2f" of the largest finite double: 309 integer digits, the point and two more
    std::snprintf(seconds, sizeof seconds, "%.2f", *instance.seconds);
    text += "time " + std::string(seconds) + "\n";
  }
  for (std::size_t j = 0; j < instance.problem.items.size(); ++j) {
    const Item<std::int64_t>& item = instance.problem.items[j];
    const bool chosen = j < instance.solution.size() && instance.solution[j];
    text += std::to_string(j + 1) + "," + std::to_string(item.profit) + "," + std::to_string(item.weight) +
            "," + (chosen ? "1" : "0") + "\n";
  }
  return text + "-----\n";
}

}  // namespace reds::knapsack
