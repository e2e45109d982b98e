// The `reds` command, run as a separate process: exit statuses, what goes to standard output and what to
// standard error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "reds/json.h"
#include "support/brute_force.h"
#include "support/command_runner.h"

namespace {

using nlohmann::json;

// DS-CNN L's full-network MACs as the REDS paper's reference reports them (section 9).
constexpr std::int64_t kDsCnnLMacs = 28'327'812;

// A chain of three dense layers, the head not prunable; two MAC levels, one relative and one absolute.
constexpr const char* kSmallRequest = R"({
  "network": {
    "name": "small",
    "inputs": 4,
    "layers": [
      {"name": "fc1", "units": 4, "importance": [0.1, 0.9, 0.4, 0.2], "cost": {"macs": {"unit_input": 1}}},
      {"name": "fc2", "units": 3, "importance": [0.3, 0.5, 0.1], "min_units": 2,
       "cost": {"macs": {"unit_input": 1}, "params": {"unit_input": 1, "unit": 1}}},
      {"name": "head", "units": 2, "importance": [1, 1], "prunable": false,
       "cost": {"macs": {"unit_input": 1}, "params": {"unit_input": 1, "unit": 1}}}
    ]
  },
  "levels": [{"macs": {"fraction": 0.5}}, {"macs": {"max": 30}}]
})";

using reds::test::count_lines;
using reds::test::Outcome;
using CliTest = reds::test::CommandTest;

// Everything the contract's response promises for kSmallRequest, checked against the brute-force oracle.
void expect_small_response(const std::string& out) {
  const json response = json::parse(out, nullptr, false);
  ASSERT_FALSE(response.is_discarded()) << out;
  const reds::Result<reds::PlanRequest> request = reds::parse_plan_request(kSmallRequest);
  ASSERT_TRUE(request.ok()) << request.error().message;
  const reds::test::BruteForce oracle(request.value());
  const std::vector<reds::test::LevelOptimum> optimum = oracle.solve(reds::Strategy::bottom_up);
  const std::vector<reds::Layer>& layers = request.value().network.layers;

  EXPECT_EQ(response.at("status"), "optimal");
  EXPECT_EQ(response.at("strategy"), "bottom_up");
  EXPECT_TRUE(response.at("solve_seconds").is_number());
  EXPECT_EQ(response.at("full").at("cost").get<reds::test::Costs>(), oracle.full_cost());
  EXPECT_NEAR(response.at("full").at("importance").get<double>(), oracle.full_importance(), 1e-9);
  const std::vector<reds::test::Widths> order = reds::test::expected_order(request.value().network);
  for (std::size_t l = 0; l < layers.size(); ++l)
    EXPECT_EQ(response.at("order").at(layers[l].name).get<reds::test::Widths>(), order[l]) << layers[l].name;

  const json& levels = response.at("levels");
  ASSERT_EQ(levels.size(), optimum.size());
  for (std::size_t j = 0; j < levels.size(); ++j) {
    SCOPED_TRACE("level " + std::to_string(j));
    const json& level = levels[j];
    ASSERT_TRUE(optimum[j].feasible);
    EXPECT_EQ(level.at("status"), "optimal");
    EXPECT_EQ(level.at("limits").get<reds::test::Costs>(), oracle.limits(j));
    reds::test::Widths widths;
    for (const reds::Layer& layer : layers)
      widths.push_back(level.at("widths").at(layer.name).get<std::int64_t>());
    EXPECT_TRUE(oracle.allowed(widths));
    EXPECT_EQ(level.at("cost").get<reds::test::Costs>(), oracle.cost(widths));
    EXPECT_TRUE(oracle.within_budget(j, oracle.cost(widths)));
    EXPECT_NEAR(level.at("importance").get<double>(), oracle.importance(widths), 1e-9);
    EXPECT_NEAR(level.at("importance").get<double>(), optimum[j].importance, 1e-9);
    EXPECT_GE(level.at("upper_bound").get<double>(), level.at("importance").get<double>() - 1e-9);
    EXPECT_TRUE(level.at("gap").is_number());
  }
}

TEST_F(CliTest, PlansARequestFromAFile) {
  const Outcome result = run({"plan", scratch_file("request.json", kSmallRequest).string()});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_GT(count_lines(result.out), 1u) << "the default output is indented";
  expect_small_response(result.out);
}

TEST_F(CliTest, PlansARequestFromStandardInput) {
  const Outcome result = run({"plan", "-"}, kSmallRequest);
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_EQ(result.err, "");
  expect_small_response(result.out);
}

TEST_F(CliTest, CompactPrintsOneLine) {
  const Outcome result = run({"plan", "--compact", "-"}, kSmallRequest);
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(count_lines(result.out), 1u);
  EXPECT_EQ(result.out.back(), '\n');
  expect_small_response(result.out);
}

// An input error: status 2, nothing on standard output, one line on standard error naming the problem.
void expect_input_error(const Outcome& result, const std::string& mention) {
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(count_lines(result.err), 1u) << result.err;
  EXPECT_EQ(result.err.rfind("reds plan: ", 0), 0u) << result.err;
  EXPECT_NE(result.err.find(mention), std::string::npos) << "'" << mention << "' not in: " << result.err;
}

TEST_F(CliTest, MalformedJsonIsAnInputError) {
  expect_input_error(run({"plan", "-"}, R"({"network": {"inputs": 4,)"), "invalid_argument");
}

TEST_F(CliTest, EmptyInputIsAnInputError) { expect_input_error(run({"plan", "-"}), "invalid_argument"); }

TEST_F(CliTest, FieldErrorNamesItsJsonPointer) {
  json request = json::parse(kSmallRequest);
  request["network"]["layers"][2]["importance"] = {1.0};  // head has 2 units
  const Outcome result = run({"plan", scratch_file("request.json", request.dump()).string()});
  expect_input_error(result, "invalid_argument at /network/layers/2/importance: ");
}

TEST_F(CliTest, UnknownFieldIsNamed) {
  json request = json::parse(kSmallRequest);
  request["network"]["layers"][0]["min_unit"] = 2;
  expect_input_error(run({"plan", "-"}, request.dump()), "min_unit");
}

TEST_F(CliTest, MissingFileIsAnInputError) {
  const std::string missing = (scratch_ / "does-not-exist.json").string();
  expect_input_error(run({"plan", missing}), missing);
}

TEST_F(CliTest, DirectoryIsAnInputError) {
  expect_input_error(run({"plan", scratch_.string()}), scratch_.string());
}

TEST_F(CliTest, PlanWithoutFileIsAUsageError) {
  const Outcome result = run({"plan"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err,
            "reds plan: missing the request FILE (or '-' for standard input)\nTry 'reds plan --help'.\n");
}

TEST_F(CliTest, ExampleListNamesEveryArchitecture) {
  const Outcome list = run({"example", "--list"});
  ASSERT_EQ(list.exit_status, 0);
  EXPECT_EQ(list.err, "");
  std::vector<std::string> names;
  std::istringstream lines(list.out);
  for (std::string line; std::getline(lines, line);) {
    std::string name;
    std::string description;
    std::istringstream(line) >> name >> description;
    EXPECT_FALSE(description.empty()) << "no description in: " << line;
    names.push_back(name);
  }
  EXPECT_NE(std::find(names.begin(), names.end(), "ds_cnn_l"), names.end()) << list.out;
  EXPECT_GE(names.size(), 2u) << list.out;

  for (const std::string& name : names) {
    const Outcome example = run({"example", name});
    EXPECT_EQ(example.exit_status, 0) << name << ": " << example.err;
    const reds::Result<reds::PlanRequest> request = reds::parse_plan_request(example.out);
    EXPECT_TRUE(request.ok()) << name << ": " << (request.ok() ? "" : request.error().message);
  }
}

TEST_F(CliTest, ExampleSummaryIsOneLineOfFullCosts) {
  const Outcome summary = run({"example", "resnet8", "--summary"});
  ASSERT_EQ(summary.exit_status, 0) << summary.err;
  EXPECT_EQ(summary.out,
            "resnet8  layers 10 (tied 0, streams 3)  activation 131,072  macs 12,501,632  "
            "output_activation 65,536  params 77,706\n");
  const Outcome chain = run({"example", "ds_cnn_l", "--summary"});
  ASSERT_EQ(chain.exit_status, 0) << chain.err;
  EXPECT_NE(chain.out.find("(tied 5, streams 0)  activation "), std::string::npos) << chain.out;
  EXPECT_NE(chain.out.find("macs 28,327,812"), std::string::npos) << chain.out;
}

TEST_F(CliTest, ExamplePipedIntoPlanMeetsEveryLevel) {
  const Outcome example = run({"example", "ds_cnn_l"});
  ASSERT_EQ(example.exit_status, 0) << example.err;
  EXPECT_EQ(example.err, "");
  const Outcome plan = run({"plan", "-"}, example.out);
  ASSERT_EQ(plan.exit_status, 0) << plan.err;
  EXPECT_EQ(plan.err, "");

  const json response = json::parse(plan.out);
  EXPECT_EQ(response.at("full").at("cost").at("macs"), kDsCnnLMacs);
  const std::vector<double> fractions = {0.25, 0.5, 0.75};
  const json& levels = response.at("levels");
  ASSERT_EQ(levels.size(), fractions.size());
  for (std::size_t j = 0; j < levels.size(); ++j) {
    SCOPED_TRACE("level " + std::to_string(j));
    const json& level = levels[j];
    EXPECT_TRUE(level.at("status") == "optimal" || level.at("status") == "feasible") << level.at("status");
    const auto limit = level.at("limits").at("macs").get<std::int64_t>();
    EXPECT_EQ(limit, static_cast<std::int64_t>(std::floor(fractions[j] * static_cast<double>(kDsCnnLMacs))));
    EXPECT_LE(level.at("cost").at("macs").get<std::int64_t>(), limit);
  }
}

TEST_F(CliTest, ExampleOptionsShapeTheRequest) {
  const Outcome example = run({"example", "ds_cnn_l", "--block", "8", "--levels", "0.3,0.6"});
  ASSERT_EQ(example.exit_status, 0) << example.err;
  const json request = json::parse(example.out);
  EXPECT_EQ(request.at("levels").size(), 2u);
  EXPECT_EQ(request.at("levels")[1].at("macs").at("fraction"), 0.6);
  for (const json& layer : request.at("network").at("layers")) {
    if (layer.value("prunable", true) && !layer.value("tied", false)) {
      EXPECT_EQ(layer.value("block", 1), 8) << layer.at("name");
    }
  }
}

TEST_F(CliTest, ExampleRejectsBadFractions) {
  const Outcome result = run({"example", "ds_cnn_l", "--levels", "0.25,half"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(result.err, "reds example: --levels 0.25,half: 'half' is not a number (e.g. 0.25,0.5,0.75)\n");
}

TEST_F(CliTest, UnknownArchitectureListsTheValidNames) {
  const Outcome result = run({"example", "resnet_9000"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("resnet_9000"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("ds_cnn_l"), std::string::npos) << result.err;
}

TEST_F(CliTest, UnknownCommandIsAUsageError) {
  const Outcome result = run({"frobnicate"});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("unknown command 'frobnicate'"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("Usage: reds"), std::string::npos) << result.err;
}

TEST_F(CliTest, UnknownOptionIsAUsageError) {
  // A line naming the option and a pointer to the help, not the whole help.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--frobnicate"},
                                               {"plan", "--frobnicate", "-"},
                                               {"example", "--frobnicate"}}) {
    const Outcome result = run(args);
    EXPECT_EQ(result.exit_status, 2) << args[0];
    EXPECT_EQ(result.out, "") << args[0];
    EXPECT_EQ(count_lines(result.err), 2u) << result.err;
    EXPECT_NE(result.err.find("frobnicate"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("Try 'reds"), std::string::npos) << result.err;
    EXPECT_EQ(result.err.find("Usage:"), std::string::npos) << result.err;
  }
}

TEST_F(CliTest, NoArgumentsIsAUsageError) {
  const Outcome result = run({});
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("Usage: reds"), std::string::npos) << result.err;
}

TEST_F(CliTest, HelpListsTheCommands) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--help"}, {"help"}, {"-h"}}) {
    const Outcome result = run(args);
    EXPECT_EQ(result.exit_status, 0) << args[0];
    EXPECT_EQ(result.err, "");
    EXPECT_NE(result.out.find("plan"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("example"), std::string::npos) << result.out;
  }
}

TEST_F(CliTest, CommandHelpShowsItsOptions) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"plan", "--help"}, {"help", "plan"}}) {
    const Outcome result = run(args);
    EXPECT_EQ(result.exit_status, 0) << args[0];
    EXPECT_EQ(result.err, "");
    EXPECT_NE(result.out.find("Usage: reds plan"), std::string::npos) << result.out;
    EXPECT_NE(result.out.find("--compact"), std::string::npos) << result.out;
  }
  const Outcome example = run({"example", "--help"});
  EXPECT_EQ(example.exit_status, 0);
  EXPECT_NE(example.out.find("--min-width-fraction"), std::string::npos) << example.out;
}

TEST_F(CliTest, VersionPrintsTheProjectVersion) {
  const Outcome result = run({"--version"});
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_EQ(result.err, "");
  EXPECT_TRUE(std::regex_match(result.out, std::regex("reds [0-9]+\\.[0-9]+\\.[0-9]+\n"))) << result.out;
}

}  // namespace
