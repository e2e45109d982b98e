// What the commands write: `reds plan --summary` (one aligned line per level that agrees with the JSON
// response) and -o FILE on every command that prints an answer (the same bytes as standard output,
// written only on success).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cli_data.h"
#include "support/command_runner.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using reds::test::count_lines;
using reds::test::Outcome;
using OutputCliTest = reds::test::CommandTest;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

std::string with_thousands(std::int64_t value) {
  std::string digits = std::to_string(value), grouped;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

std::string six_digits(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

// The summary of `request` against its JSON response: a plan line, then per level its status, cost/limit
// of every limited resource, importance and widths, with every layer's width in one column.
void expect_summary_agrees(const Outcome& summary, const Outcome& plan) {
  ASSERT_EQ(summary.exit_status, 0) << summary.err;
  ASSERT_EQ(plan.exit_status, 0) << plan.err;
  EXPECT_EQ(summary.err, "");
  const json response = json::parse(plan.out);
  const json& levels = response.at("levels");
  const std::vector<std::string> lines = lines_of(summary.out);
  ASSERT_EQ(lines.size(), levels.size() + 1) << summary.out;
  EXPECT_EQ(lines[0].rfind("plan ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(response.at("status").get<std::string>()), std::string::npos) << lines[0];
  std::vector<std::string> layers;
  for (const auto& [name, order] : response.at("order").items()) layers.push_back(name);

  std::size_t importance_column = std::string::npos;
  std::vector<std::size_t> layer_columns(layers.size(), std::string::npos);
  for (std::size_t j = 0; j < levels.size(); ++j) {
    const std::string& line = lines[j + 1];
    const json& level = levels[j];
    SCOPED_TRACE(line);
    EXPECT_EQ(line.rfind("level " + std::to_string(j + 1) + " ", 0), 0u);
    EXPECT_NE(line.find("  " + level.at("status").get<std::string>() + "  "), std::string::npos);
    for (const auto& [resource, limit] : level.at("limits").items()) {
      const std::string cost = with_thousands(level.at("cost").at(resource).get<std::int64_t>());
      EXPECT_NE(line.find(cost + "/" + with_thousands(limit.get<std::int64_t>())), std::string::npos);
    }
    const std::size_t importance = line.find("importance ");
    ASSERT_NE(importance, std::string::npos);
    EXPECT_NE(line.find(six_digits(level.at("importance").get<double>()), importance), std::string::npos);
    if (j == 0) importance_column = importance;
    EXPECT_EQ(importance, importance_column) << "columns are aligned";
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const std::string cell =
          " " + layers[l] + "=" + std::to_string(level.at("widths").at(layers[l]).get<std::int64_t>());
      const std::size_t at = line.find(cell, line.find(" widths"));
      ASSERT_NE(at, std::string::npos) << cell;
      if (j == 0) layer_columns[l] = at;
      EXPECT_EQ(at, layer_columns[l]) << layers[l] << "'s widths are not in one column";
    }
  }
}

TEST_F(OutputCliTest, SummaryAgreesWithTheJsonForSmallAndLargeNetworks) {
  for (const std::vector<std::string>& example :
       {std::vector<std::string>{"example", "ds_cnn_l"},
        {"example", "mobilenet_v1_224", "--levels", "0.1,0.2,0.4,0.6,0.8,0.9,0.95,0.97,0.99,1"}}) {
    SCOPED_TRACE(example[1]);
    const Outcome request = run(example);
    ASSERT_EQ(request.exit_status, 0) << request.err;
    expect_summary_agrees(run({"plan", "--summary", "-"}, request.out), run({"plan", "-"}, request.out));
  }
}

TEST_F(OutputCliTest, SummaryMarksInfeasibleLevels) {
  const std::string request = R"({"network": {"inputs": 2, "layers": [
      {"name": "a", "units": 3, "importance": [1, 2, 3], "min_units": 2, "cost": {"macs": {"unit_input": 1}}},
      {"name": "head", "units": 2, "importance": [1, 1], "prunable": false, "cost": {"macs": {"unit_input": 1}}}]},
    "levels": [{"macs": {"max": 3}}, {"macs": {"max": 12}}]})";
  const Outcome summary = run({"plan", "--summary", "-"}, request);
  ASSERT_EQ(summary.exit_status, 0) << summary.err;
  const std::vector<std::string> lines = lines_of(summary.out);
  ASSERT_EQ(lines.size(), 3u) << summary.out;
  EXPECT_EQ(lines[0].rfind("plan     infeasible  bottom_up  full macs 12", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("level 1  infeasible  macs  -/3 ", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find("widths -"), std::string::npos) << lines[1];
  EXPECT_EQ(
      lines[2].rfind("level 2  optimal     macs 12/12 (100.0%)  importance 8  gap 0  widths a=3 head=2", 0),
      0u)
      << lines[2];
}

TEST_F(OutputCliTest, SummaryAndCompactExcludeEachOther) {
  const Outcome both = run({"plan", "--summary", "--compact", "-"}, "{}");
  EXPECT_EQ(both.exit_status, 2);
  EXPECT_NE(both.err.find("give --compact or --summary, not both"), std::string::npos) << both.err;
}

// -o FILE holds exactly what standard output would, and standard output stays empty.
TEST_F(OutputCliTest, EveryPrintingCommandWritesTheSameAnswerToOutputFile) {
  const Outcome example = run({"example", "dnn_s"});
  ASSERT_EQ(example.exit_status, 0);
  const std::string request = scratch_file("request.json", example.out).string();
  const Outcome plan = run({"plan", request});
  ASSERT_EQ(plan.exit_status, 0);
  const std::string plan_file = scratch_file("plan.json", plan.out).string();
  const std::string run_file =
      scratch_file(
          "run.jsonl",
          R"({"level":1,"widths":{"a":1},"macs":1000,"correct":89,"total":100,"accuracy":0.89,"latency_us":120})"
          "\n")
          .string();
  const std::vector<std::vector<std::string>> commands = {
      {"plan", request},
      {"plan", "--summary", request},
      {"example", "dnn_s"},
      {"example", "--list"},
      {"knapsack", "--generate", "uncorrelated", "--n", "20"},
      {"request", reds::test::pretrained_model("fashion_mnist"), "--compact"},
      {"plot", "plan", plan_file},
      {"plot", "levels", run_file},
  };
  for (const std::vector<std::string>& args : commands) {
    SCOPED_TRACE(args[0] + " " + args[1]);
    const Outcome printed = run(args);
    ASSERT_EQ(printed.exit_status, 0) << printed.err;
    ASSERT_FALSE(printed.out.empty());
    const fs::path file = scratch_ / "answer.out";
    std::vector<std::string> with_output = args;
    with_output.insert(with_output.end(), {"-o", file.string()});
    const Outcome written = run(with_output);
    EXPECT_EQ(written.exit_status, 0) << written.err;
    EXPECT_EQ(written.out, "");
    // Standard error holds diagnostics alone (request's note on its widths), wherever the answer goes.
    EXPECT_EQ(written.err, printed.err);
    if (args[0] != "request") {
      EXPECT_EQ(written.err, "");
    }
    // The same answer but for the time the plan took.
    const auto timeless = [](const std::string& text) {
      static const std::regex kTime(R"re(("solve_seconds": |solved in )[-+.e0-9]+)re");
      return std::regex_replace(text, kTime, "$1T");
    };
    EXPECT_EQ(timeless(reds::test::read_file(file)), timeless(printed.out));
    fs::remove(file);
  }
}

// A failed command leaves an existing -o file as it was and no temporary file beside it.
TEST_F(OutputCliTest, FailureLeavesTheOutputFileAlone) {
  const fs::path file = scratch_file("answer.json", "the previous answer\n");
  for (const std::vector<std::string>& args : {std::vector<std::string>{"plan", "-", "-o", file.string()},
                                               {"example", "no_such_network", "-o", file.string()},
                                               {"knapsack", "-", "-o", file.string()},
                                               {"plot", "plan", "-", "-o", file.string()}}) {
    SCOPED_TRACE(args[0]);
    const Outcome failed = run(args, "not what the command reads");
    EXPECT_EQ(failed.exit_status, 2) << failed.err;
    EXPECT_EQ(reds::test::read_file(file), "the previous answer\n");
  }
  std::size_t entries = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(scratch_)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
    ++entries;
  }
  EXPECT_EQ(entries, 4u) << "answer.json and the runner's stdin, stdout, stderr";
}

TEST_F(OutputCliTest, UnwritableOutputFileIsOneLine) {
  const std::string unwritable = (scratch_ / "no-such-dir" / "plan.json").string();
  const Outcome result = run({"example", "dnn_s", "-o", unwritable});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(count_lines(result.err), 1u) << result.err;
  EXPECT_EQ(result.err.rfind("reds example: cannot write '" + unwritable + "': ", 0), 0u) << result.err;
}

}  // namespace
