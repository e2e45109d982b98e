// `reds plot`, run as a separate process: the SVG it writes (well-formed, one mark per layer and level at
// coordinates that follow the data, title and legend) and every input error.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/command_runner.h"

namespace {

using reds::test::Outcome;

// Three layers counted by `order` (4, 2 and 3 units); level 2 infeasible, so levels 1 and 3 are drawn.
constexpr const char* kPlan = R"({
  "status": "infeasible", "strategy": "bottom_up",
  "full": {"cost": {"macs": 40}, "importance": 9.0},
  "order": {"conv": [3, 1, 0, 2], "dw": [1, 0], "head": [0, 1, 2]},
  "levels": [
    {"status": "optimal", "limits": {"macs": 10}, "widths": {"conv": 1, "dw": 2, "head": 3},
     "cost": {"macs": 10}, "importance": 3.0, "upper_bound": 3.0, "gap": 0.0},
    {"status": "infeasible", "limits": {"macs": 5}},
    {"status": "optimal", "limits": {"macs": 40}, "widths": {"head": 3, "conv": 3, "dw": 1},
     "cost": {"macs": 30}, "importance": 8.0, "upper_bound": 8.0, "gap": 0.0}
  ],
  "solve_seconds": 0.001
})";

// `reds run --json` lines, deliberately not in MAC order.
constexpr const char* kRun =
    R"({"level":2,"widths":{"a":2},"macs":2000,"correct":90,"total":100,"accuracy":0.9075,"latency_us":200.5})"
    "\n"
    R"({"level":1,"widths":{"a":1},"macs":1000,"correct":89,"total":100,"accuracy":0.8922,"latency_us":120})"
    "\n\n"
    R"({"level":3,"widths":{"a":4},"macs":4000,"correct":91,"total":100,"accuracy":0.916,"latency_us":380})"
    "\n";

// A complete plan response: per layer its name and units (its order the identity), one optimal level per
// list of widths (in layer order), each limited to `limits[j]` MACs when given.
std::string response(const std::vector<std::pair<std::string, int>>& layers,
                     const std::vector<std::vector<int>>& levels, const std::vector<int>& limits = {}) {
  using Json = nlohmann::ordered_json;
  Json order = Json::object();
  for (const auto& [name, units] : layers) {
    order[name] = Json::array();
    for (int unit = 0; unit < units; ++unit) order[name].push_back(unit);
  }
  Json plan = {{"status", "optimal"},
               {"strategy", "bottom_up"},
               {"full", {{"cost", Json::object()}, {"importance", 1.0}}},
               {"order", order},
               {"levels", Json::array()},
               {"solve_seconds", 0.0}};
  for (std::size_t j = 0; j < levels.size(); ++j) {
    Json widths = Json::object();
    for (std::size_t l = 0; l < layers.size(); ++l) widths[layers[l].first] = levels[j][l];
    Json limit = Json::object();
    if (j < limits.size()) limit["macs"] = limits[j];
    plan["levels"].push_back({{"status", "optimal"},
                              {"limits", limit},
                              {"widths", widths},
                              {"cost", Json::object()},
                              {"importance", 1.0},
                              {"upper_bound", 1.0},
                              {"gap", 0.0}});
  }
  return plan.dump();
}

// Tags balance and nest, every '&' starts an entity, and the root is an <svg> in the SVG namespace.
::testing::AssertionResult well_formed_svg(const std::string& text) {
  std::vector<std::string> open;
  std::size_t roots = 0;
  for (std::size_t at = 0; at < text.size();) {
    if (text[at] == '&') {
      const std::size_t end = text.find(';', at);
      const std::string entity = end == std::string::npos ? text.substr(at) : text.substr(at, end - at + 1);
      static const std::regex kEntity("&(amp|lt|gt|quot|apos|#[0-9]+);");
      if (!std::regex_match(entity, kEntity)) return ::testing::AssertionFailure() << "bad entity at " << at;
      at += entity.size();
      continue;
    }
    if (text[at] == '>') return ::testing::AssertionFailure() << "stray '>' at " << at;
    if (text[at] != '<') {
      ++at;
      continue;
    }
    const std::size_t end = text.find('>', at);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unclosed tag at " << at;
    const std::string tag = text.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.starts_with('?')) {
      if (!open.empty() || roots > 0 || !tag.ends_with('?'))
        return ::testing::AssertionFailure() << "misplaced declaration <" << tag << '>';
      continue;
    }
    if (tag.find('<') != std::string::npos)
      return ::testing::AssertionFailure() << "'<' inside <" << tag << '>';
    if (tag.starts_with('/')) {
      if (open.empty() || open.back() != tag.substr(1))
        return ::testing::AssertionFailure() << "</" << tag.substr(1) << "> closes "
                                             << (open.empty() ? "nothing" : "<" + open.back() + ">");
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
    if (open.empty()) {
      if (++roots > 1 || name != "svg")
        return ::testing::AssertionFailure() << "root element <" << name << '>';
      if (tag.find("xmlns=\"http://www.w3.org/2000/svg\"") == std::string::npos)
        return ::testing::AssertionFailure() << "the root has no SVG namespace";
    }
    if (std::count(tag.begin(), tag.end(), '"') % 2 != 0)
      return ::testing::AssertionFailure() << "unbalanced quotes in <" << tag << '>';
    if (!tag.ends_with('/')) open.push_back(name);
  }
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  if (!open.empty()) return ::testing::AssertionFailure() << '<' << open.back() << "> is never closed";
  return ::testing::AssertionSuccess();
}

TEST(WellFormedSvg, CatchesBrokenDocuments) {
  const std::string good =
      R"(<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><g><text>a &amp; b</text></g></svg>)";
  EXPECT_TRUE(well_formed_svg(good));
  EXPECT_FALSE(well_formed_svg(R"(<svg xmlns="http://www.w3.org/2000/svg"><g></svg>)"));
  EXPECT_FALSE(well_formed_svg(R"(<svg xmlns="http://www.w3.org/2000/svg"><g></text></g></svg>)"));
  EXPECT_FALSE(well_formed_svg(R"(<svg><g/></svg>)"));
  EXPECT_FALSE(well_formed_svg(R"(<svg xmlns="http://www.w3.org/2000/svg"><text>a & b</text></svg>)"));
  EXPECT_FALSE(well_formed_svg(R"(<svg xmlns="http://www.w3.org/2000/svg"><text>a < b</text></svg>)"));
  EXPECT_FALSE(well_formed_svg(R"(<svg xmlns="http://www.w3.org/2000/svg"></svg><svg xmlns="x"></svg>)"));
}

struct Mark {
  std::string layer;  // bars only
  int level = 0;
  double value = 0;  // data-width of a bar, data-value of a point
  double x = 0, y = 0, height = 0;
};

std::vector<Mark> bars(const std::string& svg) {
  static const std::regex kBar(
      R"re(<rect class="bar" data-layer="([^"]*)" data-level="(\d+)" data-width="(\d+)" x="([-\d.]+)" y="([-\d.]+)" width="[\d.]+" height="([-\d.]+)")re");
  std::vector<Mark> found;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), kBar); it != std::sregex_iterator(); ++it)
    found.push_back({(*it)[1], std::stoi((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4]),
                     std::stod((*it)[5]), std::stod((*it)[6])});
  return found;
}

// Points of one series of the levels figure: circles (accuracy) or squares (latency, x/y of the corner), of
// the RUN file numbered `run` (0 for the first).
std::vector<Mark> points(const std::string& svg, const std::string& series, int run = 0) {
  const std::regex point(
      "<(?:circle|rect) class=\"" + series + "\" data-series=\"" + std::to_string(run) +
      R"re(" data-level="(\d+)" data-value="([-\d.]+)" (?:cx|x)="([-\d.]+)" (?:cy|y)="([-\d.]+)")re");
  std::vector<Mark> found;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), point); it != std::sregex_iterator(); ++it)
    found.push_back(
        {"", std::stoi((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4]), 0});
  return found;
}

const Mark& bar_of(const std::vector<Mark>& all, const std::string& layer, int level) {
  const auto found = std::find_if(all.begin(), all.end(),
                                  [&](const Mark& m) { return m.layer == layer && m.level == level; });
  EXPECT_NE(found, all.end()) << layer << " level " << level;
  return found == all.end() ? all.front() : *found;
}

void expect_input_error(const Outcome& result, const std::string& needle) {
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_TRUE(result.out.empty()) << result.out;
  EXPECT_NE(result.err.find(needle), std::string::npos) << result.err;
}

// `reds example ARGS... | reds plan - | reds plot plan -`: the request, the plan and the figure.
struct PlottedExample {
  Outcome request, plan, result;
};

class PlotCliTest : public reds::test::CommandTest {
 protected:
  PlottedExample plot_example(std::vector<std::string> example) {
    example.insert(example.begin(), "example");
    PlottedExample plotted;
    plotted.request = run(example);
    EXPECT_EQ(plotted.request.exit_status, 0) << plotted.request.err;
    plotted.plan = run({"plan", "-"}, plotted.request.out);
    EXPECT_EQ(plotted.plan.exit_status, 0) << plotted.plan.err;
    plotted.result = run({"plot", "plan", "-"}, plotted.plan.out);
    EXPECT_EQ(plotted.result.exit_status, 0) << plotted.result.err;
    EXPECT_TRUE(well_formed_svg(plotted.result.out));
    return plotted;
  }
};

TEST_F(PlotCliTest, PlanFigureHasOneBarPerLayerAndDrawnLevel) {
  const std::string plan = scratch_file("plan.json", kPlan).string();
  const Outcome result = run({"plot", "plan", plan});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(result.err.empty()) << result.err;
  EXPECT_TRUE(well_formed_svg(result.out)) << result.out;

  const std::vector<Mark> all = bars(result.out);
  ASSERT_EQ(all.size(), 6u) << result.out;  // 3 layers x levels 1 and 3 (level 2 is infeasible)
  // Layers in the plan's order, each layer's levels side by side left to right.
  const std::vector<std::pair<std::string, int>> expected = {{"conv", 1}, {"conv", 3}, {"dw", 1},
                                                             {"dw", 3},   {"head", 1}, {"head", 3}};
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].layer, expected[i].first);
    EXPECT_EQ(all[i].level, expected[i].second);
    if (i > 0) {
      EXPECT_GT(all[i].x, all[i - 1].x);
    }
  }
  EXPECT_EQ(bar_of(all, "conv", 1).value, 1);
  EXPECT_EQ(bar_of(all, "dw", 3).value, 1);
  // Heights are the kept share of the layer: conv 1/4 and 3/4, dw 2/2 and 1/2, head full at both levels.
  const double full = bar_of(all, "head", 1).height;
  EXPECT_GT(full, 0);
  EXPECT_NEAR(bar_of(all, "head", 3).height, full, 0.02);
  EXPECT_NEAR(bar_of(all, "conv", 1).height, full / 4, 0.02);
  EXPECT_NEAR(bar_of(all, "conv", 3).height, 3 * full / 4, 0.02);
  EXPECT_NEAR(bar_of(all, "dw", 1).height, full, 0.02);
  EXPECT_NEAR(bar_of(all, "dw", 3).height, full / 2, 0.02);
  // Every bar stands on the same baseline.
  for (const Mark& bar : all) EXPECT_NEAR(bar.y + bar.height, full + bar_of(all, "head", 1).y, 0.02);

  EXPECT_NE(result.out.find("class=\"title\""), std::string::npos);
  EXPECT_NE(result.out.find("Kept units per layer and level"), std::string::npos);
  EXPECT_NE(result.out.find("class=\"legend\""), std::string::npos);
  // Levels are named by the limit they were planned for.
  EXPECT_NE(result.out.find("macs ≤ 10 (25 % MACs)"), std::string::npos);
  EXPECT_NE(result.out.find("macs ≤ 40 (75 % MACs)"), std::string::npos);
  EXPECT_EQ(result.out.find("level 2"), std::string::npos);
  EXPECT_NE(result.out.find("kept units (% of the layer)"), std::string::npos);
}

TEST_F(PlotCliTest, LongLayerNamesAreSlantedWithTheirUnits) {
  std::vector<std::pair<std::string, int>> layers;
  for (int l = 0; l < 10; ++l) layers.emplace_back("depthwise_conv2d_" + std::to_string(l), 3);
  const std::string plan = response(layers, {std::vector<int>(10, 2)});
  const Outcome result = run({"plot", "plan", "-"}, plan);
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(well_formed_svg(result.out));
  EXPECT_EQ(bars(result.out).size(), 10u);
  EXPECT_NE(result.out.find("transform=\"rotate(-30"), std::string::npos);
  EXPECT_NE(result.out.find(">depthwise_conv2d_9 (3)</text>"), std::string::npos);
}

TEST_F(PlotCliTest, PlanFigureOfARealPlan) {
  const auto [request, plan, result] = plot_example({"ds_cnn_s_fmnist"});
  const std::size_t layers = nlohmann::json::parse(request.out).at("network").at("layers").size();
  const std::size_t levels = nlohmann::json::parse(plan.out).at("levels").size();
  EXPECT_GT(layers, 3u);
  EXPECT_EQ(bars(result.out).size(), layers * levels);
}

TEST_F(PlotCliTest, LevelsFigureFollowsMacsAccuracyAndLatency) {
  const Outcome result = run({"plot", "levels", scratch_file("run.jsonl", kRun).string()});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(well_formed_svg(result.out)) << result.out;
  for (const std::string series : {"accuracy", "latency"}) {
    SCOPED_TRACE(series);
    const std::vector<Mark> found = points(result.out, series);
    ASSERT_EQ(found.size(), 3u) << result.out;
    // Sorted by MACs: levels 1, 2, 3, at 25, 50 and 100 % of the largest level's MACs.
    for (int i = 0; i < 3; ++i) EXPECT_EQ(found[static_cast<std::size_t>(i)].level, i + 1);
    const double quarter = found[1].x - found[0].x;
    EXPECT_GT(quarter, 0);
    EXPECT_NEAR(found[2].x - found[1].x, 2 * quarter, 0.02);
    // Higher values are drawn higher (smaller y), in proportion.
    EXPECT_GT(found[0].y, found[1].y);
    EXPECT_GT(found[1].y, found[2].y);
    EXPECT_NEAR((found[0].y - found[1].y) / (found[1].y - found[2].y),
                (found[1].value - found[0].value) / (found[2].value - found[1].value), 0.01);
    EXPECT_NE(result.out.find("class=\"" + series + "-line\""), std::string::npos);
  }
  EXPECT_NEAR(points(result.out, "accuracy")[0].value, 89.22, 1e-9);
  EXPECT_NEAR(points(result.out, "latency")[1].value, 200.5, 1e-9);
  EXPECT_NE(result.out.find("Accuracy and latency per level"), std::string::npos);
  EXPECT_NE(result.out.find("class=\"legend\""), std::string::npos);
  EXPECT_NE(result.out.find("accuracy (left axis)"), std::string::npos);
  EXPECT_NE(result.out.find("latency (right axis)"), std::string::npos);
  EXPECT_NE(result.out.find("MACs (% of the largest level)"), std::string::npos);
}

TEST_F(PlotCliTest, SeveralRunsDrawOneLabelledCurvePairEach) {
  // The second run: the same levels at half the MACs and lower accuracy (a smaller model, say).
  const std::string half = R"({"level":1,"macs":500,"accuracy":0.5,"latency_us":60})"
                           "\n"
                           R"({"level":2,"macs":2000,"accuracy":0.75,"latency_us":100})"
                           "\n";
  const std::string first = scratch_file("before.jsonl", kRun).string();
  const Outcome result = run({"plot", "levels", first, "-", "--labels", "pruned,fine-tuned"}, half);
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(well_formed_svg(result.out)) << result.out;
  const std::vector<Mark> before = points(result.out, "accuracy", 0);
  const std::vector<Mark> after = points(result.out, "accuracy", 1);
  ASSERT_EQ(before.size(), 3u) << result.out;
  ASSERT_EQ(after.size(), 2u) << result.out;
  EXPECT_EQ(points(result.out, "latency", 1).size(), 2u);
  EXPECT_TRUE(points(result.out, "accuracy", 2).empty());
  // One MAC axis for both (the largest level of all: 4000 MACs), one accuracy axis.
  EXPECT_NEAR(after[1].x, before[1].x, 0.02);                                       // 2000 MACs in both
  EXPECT_NEAR(after[0].x - before[0].x, (before[1].x - before[0].x) * -0.5, 0.02);  // 500 vs 1000 MACs
  EXPECT_GT(after[0].y, before[0].y);                                               // 50 % below 89.22 %
  EXPECT_NEAR(after[0].value, 50, 1e-9);
  // Each run its own colour; the legend names them.
  const auto fill_of = [&](const std::string& series, int run) {
    const std::regex fill("class=\"" + series + "\" data-series=\"" + std::to_string(run) +
                          "\"[^>]* fill=\"(#[0-9A-Fa-f]+)\"");
    std::smatch match;
    return std::regex_search(result.out, match, fill) ? match[1].str() : std::string();
  };
  EXPECT_NE(fill_of("accuracy", 0), fill_of("accuracy", 1));
  EXPECT_EQ(fill_of("accuracy", 1), fill_of("latency", 1));
  EXPECT_NE(result.out.find(">pruned</text>"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(">fine-tuned</text>"), std::string::npos);
  EXPECT_NE(result.out.find("fine-tuned, level 2: 75 % at 50 % MACs"), std::string::npos);  // tooltip
  // Without --labels the curves are named by their files.
  const Outcome unnamed = run({"plot", "levels", first, scratch_file("after.jsonl", half).string()});
  ASSERT_EQ(unnamed.exit_status, 0) << unnamed.err;
  EXPECT_NE(unnamed.out.find(">after.jsonl</text>"), std::string::npos);
}

TEST_F(PlotCliTest, WritesTheFileGivenWithOutputAndEscapesTheTitle) {
  const std::filesystem::path svg = scratch_ / "figure.svg";
  const Outcome result =
      run({"plot", "levels", "-", "-o", svg.string(), "--title", "<A & B's \"run\">"}, kRun);
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(result.out.empty());
  const std::string text = reds::test::read_file(svg);
  EXPECT_TRUE(well_formed_svg(text)) << text;
  EXPECT_NE(text.find("&lt;A &amp; B&apos;s &quot;run&quot;&gt;"), std::string::npos);
  EXPECT_EQ(points(text, "accuracy").size(), 3u);
}

TEST_F(PlotCliTest, PlanInputErrorsNameTheFileAndTheProblem) {
  const std::string missing = (scratch_ / "missing.json").string();
  expect_input_error(run({"plot", "plan", missing}), missing);
  expect_input_error(run({"plot", "plan", scratch_.string()}), scratch_.string());
  const std::string malformed = scratch_file("malformed.json", R"({"levels": [)").string();
  expect_input_error(run({"plot", "plan", malformed}), "'" + malformed + "': malformed JSON at byte ");
  expect_input_error(run({"plot", "plan", "-"}, "[1, 2]"),
                     "'standard input': response must be an object, got an array");
  // The plan response's reader names what is missing or mistyped, and where.
  expect_input_error(run({"plot", "plan", "-"}, R"({"status": "optimal"})"),
                     "'standard input': missing field 'strategy' in response");
  nlohmann::ordered_json plan = nlohmann::ordered_json::parse(kPlan);
  plan["levels"][0].erase("widths");
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()),
                     "at /levels/0: 'standard input': missing field 'widths' in levels[0]");
  plan = nlohmann::ordered_json::parse(kPlan);
  plan["levels"][0]["widths"].erase("dw");
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()), "missing field 'dw' in levels[0].widths");
  plan = nlohmann::ordered_json::parse(kPlan);
  plan["levels"][0]["widths"]["conv"] = "1";
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()), "at /levels/0/widths/conv: ");
  plan = nlohmann::ordered_json::parse(kPlan);
  plan["order"]["conv"] = 3;
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()), "at /order/conv: ");
  plan = nlohmann::ordered_json::parse(kPlan);
  plan.erase("order");
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()), "missing field 'order' in response");
  // What the reader accepts and the figure cannot draw.
  plan = nlohmann::ordered_json::parse(kPlan);
  plan["levels"][0]["widths"]["conv"] = -1;
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()),
                     "at /levels/0/widths/conv: 'standard input': levels[0].widths.conv is -1, outside 0..4");
  plan["levels"][0]["widths"]["conv"] = 5;
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()), "levels[0].widths.conv is 5, outside 0..4");
  plan = nlohmann::ordered_json::parse(kPlan);
  plan["order"]["dw"] = nlohmann::ordered_json::array();
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()),
                     "at /order/dw: 'standard input': order.dw lists no units");
  expect_input_error(run({"plot", "plan", "-"}, response({}, {{}})), "the plan has no layers");
  plan = nlohmann::ordered_json::parse(kPlan);
  plan["levels"] = nlohmann::ordered_json::array({plan["levels"][1]});
  expect_input_error(run({"plot", "plan", "-"}, plan.dump()), "no level has widths");
}

TEST_F(PlotCliTest, LevelsInputErrorsNameTheFileTheLineAndTheProblem) {
  const std::string run_file = scratch_file("run.jsonl", std::string(kRun) + "{\"level\": 4,\n").string();
  expect_input_error(run({"plot", "levels", run_file}), "'" + run_file + "': line 5: malformed JSON");
  expect_input_error(run({"plot", "levels", "-"}, R"({"level":1,"macs":5,"accuracy":0.5})"),
                     "line 1: missing 'latency_us'");
  expect_input_error(run({"plot", "levels", "-"}, R"({"level":1,"macs":"5","accuracy":0.5,"latency_us":1})"),
                     "line 1: 'macs' is not a number");
  expect_input_error(run({"plot", "levels", "-"}, R"({"level":1,"macs":0,"accuracy":0.5,"latency_us":1})"),
                     "'macs' must be positive");
  expect_input_error(run({"plot", "levels", "-"}, R"({"level":1,"macs":5,"accuracy":91.5,"latency_us":1})"),
                     "'accuracy' must be a fraction");
  expect_input_error(run({"plot", "levels", "-"}, R"({"level":1,"macs":5,"accuracy":0.5,"latency_us":-1})"),
                     "'latency_us' must not be negative");
  expect_input_error(run({"plot", "levels", "-"}, "\n\n"), "'standard input': no levels");
  const std::string missing = (scratch_ / "missing.jsonl").string();
  expect_input_error(run({"plot", "levels", missing}), missing);
}

// Inputs found by tests/fuzz/plot_inputs_fuzzer.cpp: a level that is not an integer (converting 1e300 to
// one is undefined behaviour), and numbers so large that the figure's arithmetic overflowed (a latency
// whose rounded-up axis is infinite grew the tick list without bound; MACs whose percentage is infinite
// drew at x="inf").
TEST_F(PlotCliTest, LevelsNumbersTheFigureCannotDrawAreInputErrors) {
  expect_input_error(
      run({"plot", "levels", "-"}, R"({"level":1e300,"macs":1,"accuracy":0.5,"latency_us":1})"),
      "line 1: 'level' is not an integer");
  expect_input_error(run({"plot", "levels", "-"},
                         R"({"level":1,"macs":1,"accuracy":0.5,"latency_us":1.7976931348623157e308})"),
                     "line 1: 'latency_us' is out of range");
  expect_input_error(run({"plot", "levels", "-"},
                         "{\"level\":1,\"macs\":5e-324,\"accuracy\":0.5,\"latency_us\":1}\n"
                         "{\"level\":2,\"macs\":1e308,\"accuracy\":0.5,\"latency_us\":1}\n"),
                     "line 2: 'macs' is out of range");
  const Outcome largest = run({"plot", "levels", "-"},
                              "{\"level\":1,\"macs\":5e-324,\"accuracy\":0.5,\"latency_us\":1e300}\n"
                              "{\"level\":2,\"macs\":1e300,\"accuracy\":0.5,\"latency_us\":1}\n");
  ASSERT_EQ(largest.exit_status, 0) << largest.err;
  EXPECT_EQ(largest.out.find("inf"), std::string::npos);
  EXPECT_EQ(largest.out.find("nan"), std::string::npos);
}

struct LegendEntry {
  double x = 0, y = 0;  // of the swatch; the label starts 18 px to its right
  std::string colour;   // the swatch's first fill or stroke
  std::string label;
};

std::vector<LegendEntry> legend_entries(const std::string& svg) {
  static const std::regex kEntry(
      R"re(<g transform="translate\(([-\d.]+) ([-\d.]+)\)">.*?(?:fill|stroke)="(#[0-9A-Fa-f]{6}|#333)".*?</g>\n<text [^>]*class="legend-label">([^<]*)</text>)re");
  std::vector<LegendEntry> found;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), kEntry); it != std::sregex_iterator(); ++it)
    found.push_back({std::stod((*it)[1]), std::stod((*it)[2]), (*it)[3], (*it)[4]});
  return found;
}

double svg_width(const std::string& svg) {
  std::smatch match;
  EXPECT_TRUE(std::regex_search(svg, match, std::regex(R"re(<svg [^>]*width="([\d.]+)")re")));
  return match.empty() ? 0 : std::stod(match[1]);
}

// Characters of UTF-8 text, each drawn about 7 px wide at the legend's 12 px.
double label_width(const std::string& label) {
  return 7.0 * static_cast<double>(std::count_if(label.begin(), label.end(), [](char c) {
           return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
         }));
}

// Every entry ends inside the canvas; entries that do not fit a row start the next one; the plot area
// starts below the last row.
void expect_legend_fits(const std::string& svg, std::size_t entries, double plot_top) {
  const std::vector<LegendEntry> legend = legend_entries(svg);
  ASSERT_EQ(legend.size(), entries) << svg;
  const double width = svg_width(svg);
  std::set<double> rows;
  for (const LegendEntry& entry : legend) {
    EXPECT_LE(entry.x + 18 + label_width(entry.label), width) << entry.label;
    rows.insert(entry.y);
  }
  EXPECT_GE(rows.size(), 2u) << "the legend wraps";
  EXPECT_LT(*rows.rbegin() + 10, plot_top) << "the plot starts below the legend";
}

TEST_F(PlotCliTest, TenLevelsWrapTheirLegendAndKeepTheirOwnColours) {
  const auto [request, plan, result] =
      plot_example({"ds_cnn_s_fmnist", "--levels", "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1"});
  const std::vector<Mark> all = bars(result.out);
  double top = 1e9;
  for (const Mark& bar : all) top = std::min(top, bar.y);
  expect_legend_fits(result.out, 10, top);

  std::set<std::string> colours;
  const nlohmann::json levels = nlohmann::json::parse(plan.out).at("levels");
  const std::vector<LegendEntry> legend = legend_entries(result.out);
  for (std::size_t j = 0; j < legend.size(); ++j) {
    colours.insert(legend[j].colour);
    // Named by the MAC limit, e.g. "macs ≤ 1.08 M (10 % MACs)".
    EXPECT_EQ(legend[j].label.rfind("macs ≤ ", 0), 0u) << legend[j].label;
    const double limit = levels[j].at("limits").at("macs").get<double>();
    std::istringstream words(legend[j].label.substr(std::string("macs ≤ ").size()));
    double mantissa = 0;
    std::string unit;
    words >> mantissa >> unit;
    ASSERT_TRUE(unit == "k" || unit == "M") << legend[j].label;
    EXPECT_NEAR(mantissa * (unit == "M" ? 1e6 : 1e3), limit, 0.005 * limit) << legend[j].label;
  }
  EXPECT_EQ(colours.size(), 10u) << "no colour repeats";
}

TEST_F(PlotCliTest, SixtyFourLevelsHaveSixtyFourColours) {
  std::vector<int> limits;
  for (int j = 0; j < 64; ++j) limits.push_back(1000 * (j + 1));
  const std::string plan = response({{"a", 1}, {"b", 2}}, std::vector<std::vector<int>>(64, {1, 2}), limits);
  const Outcome result = run({"plot", "plan", "-"}, plan);
  ASSERT_EQ(result.exit_status, 0) << result.err;
  std::set<std::string> fills;
  static const std::regex kFill(R"re(<rect class="bar" data-layer="a"[^>]* fill="(#[0-9A-F]{6})")re");
  for (auto it = std::sregex_iterator(result.out.begin(), result.out.end(), kFill);
       it != std::sregex_iterator(); ++it)
    fills.insert((*it)[1]);
  EXPECT_EQ(fills.size(), 64u);
  const std::vector<LegendEntry> legend = legend_entries(result.out);
  ASSERT_EQ(legend.size(), 64u);
  EXPECT_EQ(legend[0].label, "macs ≤ 1.00 k");
  EXPECT_EQ(legend[1].label, "macs ≤ 2.00 k");
  EXPECT_EQ(legend[63].label, "macs ≤ 64.0 k");
}

TEST_F(PlotCliTest, FourLabelledRunsWrapTheirLegend) {
  std::vector<std::string> args = {"plot", "levels"};
  for (int run = 0; run < 4; ++run)
    args.push_back(scratch_file("run" + std::to_string(run) + ".jsonl", kRun).string());
  args.insert(args.end(), {"--labels",
                           "pruned at 25 % of the MACs,fine-tuned for 40 epochs,fine-tuned for 250 epochs,"
                           "the reference's own training"});
  const Outcome result = run(args);
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_TRUE(well_formed_svg(result.out));
  double top = 1e9;
  for (int run = 0; run < 4; ++run)
    for (const char* series : {"accuracy", "latency"})
      for (const Mark& point : points(result.out, series, run)) top = std::min(top, point.y - 4);
  expect_legend_fits(result.out, 6, top);
  std::set<std::string> colours;
  for (const LegendEntry& entry : legend_entries(result.out)) colours.insert(entry.colour);
  EXPECT_EQ(colours.size(), 5u) << "four runs and the grey of the two axis entries";
}

TEST_F(PlotCliTest, UsageErrors) {
  expect_input_error(run({"plot"}), "missing what to plot");
  expect_input_error(run({"plot", "pie", "-"}), "unknown figure 'pie'");
  expect_input_error(run({"plot", "plan"}), "missing the PLAN file");
  expect_input_error(run({"plot", "levels"}), "missing the RUN file");
  expect_input_error(run({"plot", "plan", "-", "--bogus"}), "bogus");
  expect_input_error(run({"plot", "plan", "a.json", "b.json"}), "draws one PLAN file, got 2");
  expect_input_error(run({"plot", "plan", "-", "--labels", "a"}),
                     "--labels names the curves of a levels figure");
  expect_input_error(run({"plot", "levels", "-", "-"}), "standard input ('-') can be read once only");
  expect_input_error(run({"plot", "levels", "a.jsonl", "b.jsonl", "--labels", "one"}),
                     "--labels one: 1 names for 2 RUN file(s)");
  const std::string unwritable = (scratch_ / "no-such-dir" / "out.svg").string();
  expect_input_error(run({"plot", "plan", "-", "-o", unwritable}, kPlan),
                     "cannot write '" + unwritable + "'");
  const Outcome help = run({"plot", "--help"});
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_NE(help.out.find("reds plot plan"), std::string::npos);
}

}  // namespace
