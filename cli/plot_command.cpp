#include "plot_command.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>

namespace reds::cli {

namespace po = boost::program_options;

namespace {

// A RUN file's lines.
using Json = nlohmann::ordered_json;

// Series colours: the colour-blind safe Okabe-Ito palette first, then hues spaced by the golden angle at
// three lightnesses, so that no two of a figure's levels or runs (up to the contract's 64 levels, and far
// beyond) share a colour.
constexpr const char* kColours[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                    "#56B4E9", "#D55E00", "#F0E442", "#000000"};
std::string colour(std::size_t index) {
  if (index < std::size(kColours)) return kColours[index];
  const std::size_t generated = index - std::size(kColours);
  const double hue = std::fmod(static_cast<double>(generated) * 137.50776405, 360.0);
  const double lightness = 0.35 + 0.15 * static_cast<double>(generated % 3);
  const double saturation = 0.7;
  // HSL to RGB.
  const double chroma = (1 - std::abs(2 * lightness - 1)) * saturation;
  const double sector = hue / 60.0;
  const double x = chroma * (1 - std::abs(std::fmod(sector, 2.0) - 1));
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(sector)) {
    case 0:
      r = chroma, g = x;
      break;
    case 1:
      r = x, g = chroma;
      break;
    case 2:
      g = chroma, b = x;
      break;
    case 3:
      g = x, b = chroma;
      break;
    case 4:
      r = x, b = chroma;
      break;
    default:
      r = chroma, b = x;
      break;
  }
  const double m = lightness - chroma / 2;
  char hex[8];
  std::snprintf(hex, sizeof hex, "#%02X%02X%02X", static_cast<int>(std::lround(255 * (r + m))),
                static_cast<int>(std::lround(255 * (g + m))), static_cast<int>(std::lround(255 * (b + m))));
  return hex;
}

std::string escape(std::string_view text) {
  std::string escaped;
  for (const char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      case '\'':
        escaped += "&apos;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

// A coordinate or a tick label: at most `decimals` decimals, trailing zeros dropped ("0.5", "12", "-3.25").
std::string number(double value, int decimals = 2) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  std::string text = buffer;
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text == "-0" ? "0" : text;
}

// Round tick values (1, 2 or 5 times a power of ten) covering [low, high] with about `target` steps.
struct Axis {
  double low = 0.0;
  double high = 1.0;
  double step = 0.2;
  std::vector<double> ticks() const {
    std::vector<double> values;
    for (double value = low; value <= high + step * 1e-6; value += step) values.push_back(value);
    return values;
  }
  // Decimals enough to tell the ticks apart.
  int decimals() const { return std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9))); }
};

Axis nice_axis(double low, double high, int target = 5) {
  if (!(high > low)) {
    const double pad = std::max(1.0, std::abs(low) * 0.05);
    low -= pad;
    high += pad;
  }
  const double raw = (high - low) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10.0 * magnitude;
  for (const double factor : {1.0, 2.0, 5.0}) {
    if (factor * magnitude >= raw) {
      step = factor * magnitude;
      break;
    }
  }
  return Axis{std::floor(low / step + 1e-9) * step, std::ceil(high / step - 1e-9) * step, step};
}

// Characters, not bytes, of UTF-8 text ("≤" is one).
std::size_t utf8_length(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The pieces both figures share: the document, the plot area, its axes and its legend.
class Figure {
 public:
  Figure(double width, double height, double left, double right, double top, double bottom)
      : width_(width),
        height_(height),
        left_(left),
        right_(width - right),
        top_(top),
        bottom_(height - bottom) {}

  double left() const { return left_; }
  double right() const { return right_; }
  double top() const { return top_; }
  double bottom() const { return bottom_; }
  std::ostringstream& body() { return body_; }

  double y_of(const Axis& axis, double value) const {
    return bottom_ - (value - axis.low) / (axis.high - axis.low) * (bottom_ - top_);
  }
  double x_of(const Axis& axis, double value) const {
    return left_ + (value - axis.low) / (axis.high - axis.low) * (right_ - left_);
  }

  void text(double x, double y, const std::string& content, const std::string& attributes = {}) {
    body_ << "<text x=\"" << number(x) << "\" y=\"" << number(y) << '"' << (attributes.empty() ? "" : " ")
          << attributes << '>' << escape(content) << "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string& attributes) {
    body_ << "<line x1=\"" << number(x1) << "\" y1=\"" << number(y1) << "\" x2=\"" << number(x2) << "\" y2=\""
          << number(y2) << "\" " << attributes << "/>\n";
  }

  void title(const std::string& title) {
    text(width_ / 2, 24, title,
         "class=\"title\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"");
  }

  // A vertical axis on the left (or right) edge of the plot area: ticks, labels, grid lines on the left
  // axis only, and the axis label written upwards.
  void vertical_axis(const Axis& axis, const std::string& label, bool on_right,
                     const std::string& suffix = {}) {
    const double x = on_right ? right_ : left_;
    line(x, top_, x, bottom_, "stroke=\"#333\"");
    for (const double tick : axis.ticks()) {
      const double y = y_of(axis, tick);
      if (!on_right) line(left_, y, right_, y, "stroke=\"#ddd\"");
      line(x, y, x + (on_right ? 5 : -5), y, "stroke=\"#333\"");
      text(
          x + (on_right ? 8 : -8), y + 4, number(tick, axis.decimals()) + suffix,
          std::string("class=\"tick\" font-size=\"11\" text-anchor=\"") + (on_right ? "start" : "end") + '"');
    }
    const double label_x = on_right ? right_ + 55 : left_ - 50;
    const double label_y = (top_ + bottom_) / 2;
    text(label_x, label_y, label,
         "class=\"axis-label\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 " +
             number(label_x) + ' ' + number(label_y) + ")\"");
  }

  void horizontal_axis(const Axis& axis, const std::string& label, const std::string& suffix = {}) {
    line(left_, bottom_, right_, bottom_, "stroke=\"#333\"");
    for (const double tick : axis.ticks()) {
      const double x = x_of(axis, tick);
      line(x, bottom_, x, bottom_ + 5, "stroke=\"#333\"");
      text(x, bottom_ + 18, number(tick, axis.decimals()) + suffix,
           "class=\"tick\" font-size=\"11\" text-anchor=\"middle\"");
    }
    text((left_ + right_) / 2, bottom_ + 40, label,
         "class=\"axis-label\" font-size=\"12\" text-anchor=\"middle\"");
  }

  // Legend entries under the title, left to right, wrapped into further rows where the next entry would
  // run past the canvas; `swatches[i]` is the SVG of entry i's marker at (0, 0). The figure leaves room
  // for legend_rows() rows.
  void legend(const std::vector<std::string>& labels, const std::vector<std::string>& swatches) {
    body_ << "<g class=\"legend\" font-size=\"12\">\n";
    double x = left_;
    double y = kLegendTop;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const double entry = legend_entry_width(labels[i]);
      if (x > left_ && x + entry > width_ - kLegendMargin) {
        x = left_;
        y += kLegendRowHeight;
      }
      body_ << "<g transform=\"translate(" << number(x) << ' ' << number(y) << ")\">" << swatches[i]
            << "</g>\n";
      text(x + 18, y + 4, labels[i], "class=\"legend-label\"");
      x += entry;
    }
    body_ << "</g>\n";
  }

  // How many rows legend() takes for `labels` on a canvas `width` wide whose plot area starts at `left`.
  static std::size_t legend_rows(const std::vector<std::string>& labels, double width, double left) {
    std::size_t rows = 1;
    double x = left;
    for (const std::string& label : labels) {
      const double entry = legend_entry_width(label);
      if (x > left && x + entry > width - kLegendMargin) {
        x = left;
        ++rows;
      }
      x += entry;
    }
    return rows;
  }
  // The extra height the rows after the first take.
  static double legend_extra_height(std::size_t rows) {
    return kLegendRowHeight * static_cast<double>(rows - 1);
  }

  // The width of an entry: its swatch, its label (about 7 px per character at 12 px) and a gap.
  static double legend_entry_width(const std::string& label) {
    return 30 + kLegendCharacterWidth * static_cast<double>(utf8_length(label));
  }

  static constexpr double kLegendTop = 44;
  static constexpr double kLegendRowHeight = 18;
  static constexpr double kLegendMargin = 10;
  static constexpr double kLegendCharacterWidth = 7;

  std::string svg() const {
    std::ostringstream document;
    document << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width_) << "\" height=\""
             << number(height_) << "\" viewBox=\"0 0 " << number(width_) << ' ' << number(height_)
             << "\" font-family=\"Helvetica, Arial, sans-serif\">\n"
             << "<rect class=\"background\" x=\"0\" y=\"0\" width=\"" << number(width_) << "\" height=\""
             << number(height_) << "\" fill=\"white\"/>\n"
             << body_.str() << "</svg>";
    return document.str();
  }

 private:
  double width_, height_, left_, right_, top_, bottom_;
  std::ostringstream body_;
};

// ---- reading the inputs ----

// An error naming the file (and the JSON Pointer of the offending value, when there is one).
Error input_error(const std::string& file, const std::string& message, const std::string& path = {}) {
  return invalid_argument("'" + file + "': " + message, path);
}

Result<Json> parse_json(const std::string& file, const std::string& text, const std::string& where = {}) {
  Json document = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return input_error(file, where + "malformed JSON");
  if (!document.is_object()) return input_error(file, where + "expected a JSON object");
  return document;
}

struct PlanLevel {
  std::size_t number = 0;              // from 1, as in the file
  std::string name;                    // its limits ("macs ≤ 7.08 M"), or "level N" without them
  std::vector<std::int64_t> widths;    // one per layer
  std::optional<double> mac_fraction;  // of the full network, when the plan states both costs
};

struct PlanFigureData {
  std::vector<std::string> layers;
  std::vector<std::int64_t> units;  // per layer, counted from its `order`
  std::vector<PlanLevel> levels;    // feasible levels only
};

// 7081953 -> "7.08 M", 105965 -> "106 k", 336 -> "336": three significant digits.
std::string short_number(double value) {
  const char* suffixes[] = {"", " k", " M", " G", " T"};
  std::size_t power = 0;
  while (std::abs(value) >= 999.5 && power + 1 < std::size(suffixes)) {
    value /= 1000;
    ++power;
  }
  char buffer[32];
  const int decimals = std::abs(value) >= 99.95 ? 0 : std::abs(value) >= 9.995 ? 1 : 2;
  std::snprintf(buffer, sizeof buffer, "%.*f", power == 0 && value == std::floor(value) ? 0 : decimals,
                value);
  return buffer + std::string(suffixes[power]);
}

// A level by the limits it was planned for: "macs ≤ 7.08 M", "macs ≤ 7.08 M, params ≤ 106 k".
std::string level_name(const LevelPlan& level, std::size_t number) {
  std::string name;
  for (const auto& [resource, limit] : level.limits)
    name += (name.empty() ? "" : ", ") + resource + " ≤ " + short_number(static_cast<double>(limit));
  return name.empty() ? "level " + std::to_string(number) : name;
}

// What the plan figure draws of a plan response: its layers with their units, and its feasible levels.
Result<PlanFigureData> plan_figure_data(const std::string& file, const PlanResult& plan) {
  PlanFigureData data;
  if (plan.layer_names.empty()) return input_error(file, "the plan has no layers", "/order");
  for (std::size_t l = 0; l < plan.layer_names.size(); ++l) {
    const std::string& layer = plan.layer_names[l];
    const auto units = static_cast<std::int64_t>(plan.order[l].size());
    if (units == 0) return input_error(file, "order." + layer + " lists no units", "/order/" + layer);
    data.layers.push_back(layer);
    data.units.push_back(units);
  }
  const auto full_macs = plan.full_cost.find("macs");
  for (std::size_t j = 0; j < plan.levels.size(); ++j) {
    const LevelPlan& level = plan.levels[j];
    if (level.status == PlanStatus::infeasible) continue;  // no widths to draw
    PlanLevel drawn;
    drawn.number = j + 1;
    drawn.name = level_name(level, j + 1);
    for (std::size_t l = 0; l < data.layers.size(); ++l) {
      const std::int64_t kept = level.widths[l];
      if (kept < 0 || kept > data.units[l])
        return input_error(file,
                           "levels[" + std::to_string(j) + "].widths." + data.layers[l] + " is " +
                               std::to_string(kept) + ", outside 0.." + std::to_string(data.units[l]),
                           "/levels/" + std::to_string(j) + "/widths/" + data.layers[l]);
      drawn.widths.push_back(kept);
    }
    const auto macs = level.cost.find("macs");
    if (full_macs != plan.full_cost.end() && full_macs->second > 0 && macs != level.cost.end())
      drawn.mac_fraction = static_cast<double>(macs->second) / static_cast<double>(full_macs->second);
    data.levels.push_back(std::move(drawn));
  }
  if (data.levels.empty())
    return input_error(file, "no level has widths (every level is infeasible)", "/levels");
  return data;
}

// The largest magnitude of a number in a RUN file.
constexpr double kLargestRunValue = 1e300;

struct RunLevel {
  std::int64_t level = 0;
  double macs = 0.0;
  double accuracy = 0.0;  // a fraction, as `reds run --json` writes it
  double latency_us = 0.0;
};

Result<std::vector<RunLevel>> read_run(const std::string& file, const std::string& text) {
  std::vector<RunLevel> levels;
  std::istringstream lines(text);
  std::string line;
  for (std::size_t number = 1; std::getline(lines, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "line " + std::to_string(number) + ": ";
    Result<Json> parsed = parse_json(file, line, where);
    if (!parsed) return parsed.error();
    const Json& object = parsed.value();
    RunLevel level;
    for (const char* field : {"level", "macs", "accuracy", "latency_us"}) {
      if (!object.contains(field))
        return input_error(file,
                           where + "missing '" + field + "' (expected the output of 'reds run --json')");
      if (!object[field].is_number()) return input_error(file, where + "'" + field + "' is not a number");
      // Larger values would overflow the figure's arithmetic (a percentage of them, an axis rounded up).
      if (std::abs(object[field].get<double>()) > kLargestRunValue)
        return input_error(file, where + "'" + field + "' is out of range");
    }
    if (!object["level"].is_number_integer()) return input_error(file, where + "'level' is not an integer");
    level.level = object["level"].get<std::int64_t>();
    level.macs = object["macs"].get<double>();
    level.accuracy = object["accuracy"].get<double>();
    level.latency_us = object["latency_us"].get<double>();
    if (!(level.macs > 0)) return input_error(file, where + "'macs' must be positive");
    if (!(level.accuracy >= 0 && level.accuracy <= 1))
      return input_error(file, where + "'accuracy' must be a fraction between 0 and 1");
    if (!(level.latency_us >= 0)) return input_error(file, where + "'latency_us' must not be negative");
    levels.push_back(level);
  }
  if (levels.empty())
    return input_error(file, "no levels (expected one JSON object per line from 'reds run --json')");
  return levels;
}

// ---- the figures ----

std::string plan_figure(const PlanFigureData& data, const std::string& title) {
  const double group_width = std::max(56.0, 12.0 * static_cast<double>(data.levels.size()) + 20.0);
  const double width = std::max(640.0, 90.0 + 30.0 + group_width * static_cast<double>(data.layers.size()));
  // Layer names too long for their slot are written slanted, with the layer's units in parentheses.
  const auto layer_label = [&](std::size_t l, bool slanted) {
    return slanted ? data.layers[l] + " (" + std::to_string(data.units[l]) + ")" : data.layers[l];
  };
  std::size_t longest = 0;
  for (std::size_t l = 0; l < data.layers.size(); ++l)
    longest = std::max(longest, layer_label(l, false).size());
  const double slot_width = (width - 120.0) / static_cast<double>(data.layers.size());
  const bool slanted = 6.5 * static_cast<double>(longest) > slot_width - 6;
  std::size_t longest_slanted = 0;
  for (std::size_t l = 0; l < data.layers.size(); ++l)
    longest_slanted = std::max(longest_slanted, layer_label(l, true).size());
  const double bottom_margin = slanted ? 0.5 * 6.5 * static_cast<double>(longest_slanted) + 56 : 80;
  std::vector<std::string> labels, swatches;
  for (std::size_t j = 0; j < data.levels.size(); ++j) {
    std::string label = data.levels[j].name;
    if (data.levels[j].mac_fraction)
      label += " (" + number(100.0 * *data.levels[j].mac_fraction, 1) + " % MACs)";
    labels.push_back(label);
    swatches.push_back("<rect x=\"0\" y=\"-6\" width=\"12\" height=\"12\" fill=\"" + colour(j) + "\"/>");
  }
  const double legend_extra = Figure::legend_extra_height(Figure::legend_rows(labels, width, 90));
  Figure figure(width, 360 + bottom_margin + legend_extra, 90, 30, 70 + legend_extra, bottom_margin);

  const Axis y_axis{0, 100, 20};

  figure.title(title);
  figure.vertical_axis(y_axis, "kept units (% of the layer)", false, " %");
  figure.line(figure.left(), figure.bottom(), figure.right(), figure.bottom(), "stroke=\"#333\"");

  const double slot = (figure.right() - figure.left()) / static_cast<double>(data.layers.size());
  const double bar = std::min(18.0, (slot - 12.0) / static_cast<double>(data.levels.size()));
  for (std::size_t l = 0; l < data.layers.size(); ++l) {
    const double group_left = figure.left() + slot * static_cast<double>(l) +
                              (slot - bar * static_cast<double>(data.levels.size())) / 2;
    for (std::size_t j = 0; j < data.levels.size(); ++j) {
      const std::int64_t kept = data.levels[j].widths[l];
      const double value = 100.0 * static_cast<double>(kept) / static_cast<double>(data.units[l]);
      const double y = figure.y_of(y_axis, value);
      figure.body() << "<rect class=\"bar\" data-layer=\"" << escape(data.layers[l]) << "\" data-level=\""
                    << data.levels[j].number << "\" data-width=\"" << kept << "\" x=\""
                    << number(group_left + bar * static_cast<double>(j)) << "\" y=\"" << number(y)
                    << "\" width=\"" << number(bar) << "\" height=\"" << number(figure.bottom() - y)
                    << "\" fill=\"" << colour(j) << "\"><title>"
                    << escape(data.layers[l] + ", " + data.levels[j].name + ": " + std::to_string(kept) +
                              " of " + std::to_string(data.units[l]) + " units")
                    << "</title></rect>\n";
    }
    const double centre = figure.left() + slot * (static_cast<double>(l) + 0.5);
    if (slanted) {
      const double y = figure.bottom() + 14;
      figure.text(centre, y, layer_label(l, true),
                  "class=\"layer-label\" font-size=\"11\" text-anchor=\"end\" transform=\"rotate(-30 " +
                      number(centre) + ' ' + number(y) + ")\"");
    } else {
      figure.text(centre, figure.bottom() + 18, data.layers[l],
                  "class=\"layer-label\" font-size=\"11\" text-anchor=\"middle\"");
    }
    if (!slanted)
      figure.text(centre, figure.bottom() + 32, std::to_string(data.units[l]),
                  "class=\"units-label\" font-size=\"10\" fill=\"#666\" text-anchor=\"middle\"");
  }
  figure.text((figure.left() + figure.right()) / 2, figure.bottom() + bottom_margin - 26,
              "layer (and its units)", "class=\"axis-label\" font-size=\"12\" text-anchor=\"middle\"");

  figure.legend(labels, swatches);
  return figure.svg();
}

// One curve pair of a levels figure: a RUN file's levels and the name the legend gives them.
struct RunSeries {
  std::string label;
  std::vector<RunLevel> levels;
};

// Accuracy (solid, circles, left axis) and latency (dashed, squares, right axis) of every series against
// MACs as a share of the largest level's MACs over all series. One series keeps the plain legend
// "accuracy (left axis)", "latency (right axis)"; several get a colour each and a legend of their labels.
std::string levels_figure(std::vector<RunSeries> all_series, const std::string& title) {
  double largest = 0, lowest_accuracy = 100, highest_accuracy = 0, slowest = 0;
  for (RunSeries& run : all_series) {
    std::stable_sort(run.levels.begin(), run.levels.end(),
                     [](const RunLevel& a, const RunLevel& b) { return a.macs < b.macs; });
    for (const RunLevel& level : run.levels) {
      largest = std::max(largest, level.macs);
      lowest_accuracy = std::min(lowest_accuracy, 100 * level.accuracy);
      highest_accuracy = std::max(highest_accuracy, 100 * level.accuracy);
      slowest = std::max(slowest, level.latency_us);
    }
  }
  const bool single = all_series.size() == 1;
  const auto solid = [](const std::string& stroke) {
    return "<line x1=\"0\" y1=\"0\" x2=\"14\" y2=\"0\" stroke=\"" + stroke +
           "\" stroke-width=\"2\"/><circle cx=\"7\" cy=\"0\" r=\"4\" fill=\"" + stroke + "\"/>";
  };
  const auto dashed = [](const std::string& stroke) {
    return "<line x1=\"0\" y1=\"0\" x2=\"14\" y2=\"0\" stroke=\"" + stroke +
           "\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/><rect x=\"3\" y=\"-4\" width=\"8\" height=\"8\" "
           "fill=\"" +
           stroke + "\"/>";
  };
  std::vector<std::string> labels, swatches;
  if (single) {
    labels = {"accuracy (left axis)", "latency (right axis)"};
    swatches = {solid(colour(0)), dashed(colour(5))};
  } else {
    for (std::size_t index = 0; index < all_series.size(); ++index) {
      labels.push_back(all_series[index].label);
      swatches.push_back(solid(colour(index)));
    }
    labels.push_back("accuracy (left axis)");
    swatches.push_back(solid("#333"));
    labels.push_back("latency (right axis)");
    swatches.push_back(dashed("#333"));
  }
  constexpr double kWidth = 720, kLeft = 80;
  const double legend_extra = Figure::legend_extra_height(Figure::legend_rows(labels, kWidth, kLeft));
  Figure figure(kWidth, 440 + legend_extra, kLeft, 90, 70 + legend_extra, 70);
  const Axis x_axis{0, 100, 20};
  Axis accuracy_axis = nice_axis(lowest_accuracy, highest_accuracy);
  accuracy_axis.low = std::max(0.0, accuracy_axis.low);
  accuracy_axis.high = std::min(100.0, accuracy_axis.high);
  const Axis latency_axis = nice_axis(0, std::max(slowest, 1e-9));

  figure.title(title);
  figure.vertical_axis(accuracy_axis, "accuracy (%)", false);
  figure.vertical_axis(latency_axis, "latency (µs, median, batch 1)", true);
  figure.horizontal_axis(x_axis, "MACs (% of the largest level)", " %");

  const auto curve = [&](const RunSeries& run, std::size_t index, const char* name, const Axis& axis,
                         const std::string& stroke, const char* dash, auto value_of, bool square) {
    std::ostringstream points;
    for (const RunLevel& level : run.levels)
      points << (points.tellp() > 0 ? " " : "") << number(figure.x_of(x_axis, 100 * level.macs / largest))
             << ',' << number(figure.y_of(axis, value_of(level)));
    figure.body() << "<polyline class=\"" << name << "-line\" data-series=\"" << index << "\" points=\""
                  << points.str() << "\" fill=\"none\" stroke=\"" << stroke << "\" stroke-width=\"2\"" << dash
                  << "/>\n";
    for (const RunLevel& level : run.levels) {
      const double x = figure.x_of(x_axis, 100 * level.macs / largest);
      const double y = figure.y_of(axis, value_of(level));
      const std::string tooltip = (single ? "" : run.label + ", ") + "level " + std::to_string(level.level) +
                                  ": " + number(value_of(level), 2) + (square ? " µs" : " %") + " at " +
                                  number(100 * level.macs / largest, 1) + " % MACs";
      figure.body() << (square ? "<rect" : "<circle") << " class=\"" << name << "\" data-series=\"" << index
                    << "\" data-level=\"" << level.level << "\" data-value=\"" << number(value_of(level), 4)
                    << "\" ";
      if (square)
        figure.body() << "x=\"" << number(x - 4) << "\" y=\"" << number(y - 4)
                      << "\" width=\"8\" height=\"8\"";
      else
        figure.body() << "cx=\"" << number(x) << "\" cy=\"" << number(y) << "\" r=\"4\"";
      figure.body() << " fill=\"" << stroke << "\"><title>" << escape(tooltip) << "</title>"
                    << (square ? "</rect>" : "</circle>") << '\n';
    }
  };
  for (std::size_t index = 0; index < all_series.size(); ++index) {
    const std::string accuracy_colour = single ? colour(0) : colour(index);
    const std::string latency_colour = single ? colour(5) : colour(index);
    curve(
        all_series[index], index, "accuracy", accuracy_axis, accuracy_colour, "",
        [](const RunLevel& l) { return 100 * l.accuracy; }, false);
    curve(
        all_series[index], index, "latency", latency_axis, latency_colour, " stroke-dasharray=\"6 4\"",
        [](const RunLevel& l) { return l.latency_us; }, true);
  }

  figure.legend(labels, swatches);
  return figure.svg();
}

}  // namespace

int run_plot(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds plot",
      "reds plot plan PLAN|- [-o OUT.svg] | reds plot levels RUN|- [RUN...] [--labels A,B,...] [-o OUT.svg]",
      "Draws a standalone SVG figure, to OUT or standard output:\n"
      "  plan    the kept width of every layer at every level of PLAN (the response of\n"
      "          'reds plan'), as a share of the layer's units (counted from 'order');\n"
      "  levels  accuracy (left axis) and latency (right axis) of every level against its\n"
      "          MACs as a share of the largest level's, from RUN: the output of\n"
      "          'reds run MODEL --data DIR --json' (one JSON object per line). Several RUN\n"
      "          files draw one coloured pair of curves each, named by --labels (default:\n"
      "          the file names), e.g. a model's levels before and after fine-tuning.\n"
      "Unreadable or invalid input: one line on standard error naming the file, exit 2.");
  command_line.add_options()                                                              //
      ("output,o", po::value<std::string>()->value_name("OUT"), "the SVG file to write")  //
      ("title", po::value<std::string>()->value_name("TEXT"), "the figure's title")       //
      ("labels", po::value<std::string>()->value_name("LIST"),
       "levels: comma-separated names of the RUN files' curves, one per file");
  command_line.add_positional("kind", 1, po::value<std::string>(), "missing what to plot: plan or levels");
  command_line.add_positional("file", -1, po::value<std::vector<std::string>>());
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map* options = &*parsed.options;
  const std::string kind = (*options)["kind"].as<std::string>();
  if (kind != "plan" && kind != "levels")
    return command_line.usage_error(streams.err, "unknown figure '" + kind + "' (plan or levels)");
  if (!options->count("file"))
    return command_line.usage_error(
        streams.err,
        "missing the " + std::string(kind == "plan" ? "PLAN" : "RUN") + " file (or '-' for standard input)");

  const std::vector<std::string> paths = (*options)["file"].as<std::vector<std::string>>();
  if (kind == "plan" && paths.size() > 1)
    return command_line.usage_error(streams.err,
                                    "a plan figure draws one PLAN file, got " + std::to_string(paths.size()));
  if (std::count(paths.begin(), paths.end(), "-") > 1)
    return command_line.usage_error(streams.err, "standard input ('-') can be read once only");
  std::vector<std::string> labels;
  if (options->count("labels")) {
    if (kind == "plan")
      return command_line.usage_error(streams.err, "--labels names the curves of a levels figure");
    std::istringstream list((*options)["labels"].as<std::string>());
    for (std::string label; std::getline(list, label, ',');) labels.push_back(label);
    if (labels.size() != paths.size())
      return command_line.report(streams.err, value_error("labels", (*options)["labels"].as<std::string>(),
                                                          std::to_string(labels.size()) + " names for " +
                                                              std::to_string(paths.size()) + " RUN file(s)"));
  }
  // A file's name without its directories, so that a figure made in a scratch directory reads the same.
  const auto base_name = [](const std::string& path) {
    return path == "-" ? std::string("standard input") : std::filesystem::path(path).filename().string();
  };
  std::string svg;
  if (kind == "plan") {
    const std::string& path = paths.front();
    const Result<PlanResult> plan = read_plan(path, streams.in);
    if (!plan) return command_line.report(streams.err, plan.error());
    const Result<PlanFigureData> data = plan_figure_data(path == "-" ? "standard input" : path, plan.value());
    if (!data) return command_line.report(streams.err, data.error());
    const std::string name = path == "-" ? std::string() : " (" + base_name(path) + ")";
    svg = plan_figure(data.value(), options->count("title") ? (*options)["title"].as<std::string>()
                                                            : "Kept units per layer and level" + name);
  } else {
    std::vector<RunSeries> all_series;
    for (std::size_t index = 0; index < paths.size(); ++index) {
      const std::string& path = paths[index];
      const std::string file = path == "-" ? "standard input" : path;
      const Result<std::string> text = read_input(path, streams.in);
      if (!text) return command_line.report(streams.err, text.error());
      Result<std::vector<RunLevel>> levels = read_run(file, text.value());
      if (!levels) return command_line.report(streams.err, levels.error());
      all_series.push_back({labels.empty() ? base_name(path) : labels[index], std::move(levels).value()});
    }
    std::string default_title = "Accuracy and latency per level";
    if (paths.size() == 1 && paths.front() != "-") default_title += " (" + base_name(paths.front()) + ")";
    svg = levels_figure(std::move(all_series),
                        options->count("title") ? (*options)["title"].as<std::string>() : default_title);
  }

  return write_output(command_line, streams, *options, svg);
}

}  // namespace reds::cli
