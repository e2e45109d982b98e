// `reds knapsack`, run as a separate process: one JSON line per instance of a file in the literature's
// text format, generated instances, and input errors (status 2, one line on standard error, nothing on
// standard output).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reds/knapsack_format.h"
#include "support/command_runner.h"
#include "support/knapsack_oracle.h"

namespace {

using nlohmann::json;
using reds::test::count_lines;
using reds::test::json_lines;
using reds::test::Outcome;
using KnapsackCliTest = reds::test::CommandTest;

// Two instances: the first file's z is right (90), the second's wrong (the optimum is 5), the third has
// no z at all.
constexpr const char* kInstances =
    "right\nn 4\nc 10\nz 90\ntime 0.00\n1,10,5,0\n2,40,4,1\n3,30,6,0\n4,50,3,1\n-----\n\n"
    "wrong\nn 2\nc 1\nz 6\ntime 0.00\n1,5,1,1\n2,4,2,0\n-----\n\n"
    "unknown\nn 1\nc 3\n1,2,3,1\n-----\n";

void expect_lines(const Outcome& result) {
  EXPECT_EQ(result.exit_status, 0);
  EXPECT_EQ(result.err, "");
  const std::vector<json> lines = json_lines(result.out);
  ASSERT_EQ(lines.size(), 3u) << result.out;
  const char* names[] = {"right", "wrong", "unknown"};
  const std::int64_t optima[] = {90, 5, 2};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ASSERT_FALSE(lines[i].is_discarded()) << result.out;
    EXPECT_EQ(lines[i].at("name"), names[i]);
    EXPECT_EQ(lines[i].at("optimum"), optima[i]);
    EXPECT_TRUE(lines[i].at("seconds").is_number());
    EXPECT_GE(lines[i].at("seconds").get<double>(), 0.0);
  }
  EXPECT_EQ(lines[0].at("matches"), true);
  EXPECT_EQ(lines[1].at("matches"), false);
  EXPECT_TRUE(lines[2].at("matches").is_null());
  // The keys in the documented order.
  EXPECT_EQ(result.out.rfind("{\"name\":\"right\",\"optimum\":90,\"matches\":true,\"seconds\":", 0), 0u);
}

TEST_F(KnapsackCliTest, SolvesEveryInstanceOfAFile) {
  expect_lines(run({"knapsack", scratch_file("instances.txt", kInstances).string()}));
}

TEST_F(KnapsackCliTest, SolvesStandardInput) { expect_lines(run({"knapsack", "-"}, kInstances)); }

// A generated instance in the text format, solved: its z is the optimum and its x column a solution.
TEST_F(KnapsackCliTest, GeneratesSolvedInstances) {
  const Outcome generated = run({"knapsack", "--generate", "almost_strongly_correlated", "--n", "18",
                                 "--range", "1000", "--seed", "4"});
  EXPECT_EQ(generated.exit_status, 0);
  EXPECT_EQ(generated.err, "");
  const auto instances = reds::knapsack::parse_instances(generated.out);
  ASSERT_TRUE(instances.ok()) << instances.error().message;
  ASSERT_EQ(instances->size(), 1u);
  const reds::knapsack::TextInstance& instance = instances->front();
  EXPECT_EQ(instance.name, "almost_strongly_correlated_n18_r1000_h50_s4");
  ASSERT_EQ(instance.problem.items.size(), 18u);
  ASSERT_TRUE(instance.optimum.has_value());
  EXPECT_EQ(static_cast<long double>(*instance.optimum), reds::test::brute_force(instance.problem).profit);
  std::vector<std::size_t> chosen;
  for (std::size_t j = 0; j < instance.solution.size(); ++j)
    if (instance.solution[j]) chosen.push_back(j);
  const reds::test::Recomputed recomputed = reds::test::recompute(instance.problem, chosen);
  EXPECT_TRUE(recomputed.valid);
  EXPECT_EQ(recomputed.profit, static_cast<long double>(*instance.optimum));

  // Fed back, it matches its own z.
  const Outcome solved = run({"knapsack", "-"}, generated.out);
  EXPECT_EQ(solved.exit_status, 0);
  const std::vector<json> lines = json_lines(solved.out);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("matches"), true);

  // The same options give the same items.
  const Outcome again = run({"knapsack", "--generate", "almost_strongly_correlated", "--n", "18", "--range",
                             "1000", "--seed", "4"});
  const auto repeated = reds::knapsack::parse_instances(again.out);
  ASSERT_TRUE(repeated.ok());
  for (std::size_t j = 0; j < 18; ++j) {
    EXPECT_EQ(repeated->front().problem.items[j].weight, instance.problem.items[j].weight);
    EXPECT_EQ(repeated->front().problem.items[j].profit, instance.problem.items[j].profit);
  }
}

void expect_input_error(const Outcome& result, const std::string& mention) {
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find(mention), std::string::npos) << result.err;
  EXPECT_EQ(result.err.rfind("reds knapsack: ", 0), 0u) << result.err;
}

TEST_F(KnapsackCliTest, RejectsMalformedInput) {
  const Outcome truncated = run({"knapsack", "-"}, "a\nn 2\nc 5\n1,1,1,0\n");
  expect_input_error(truncated, "line 4");
  EXPECT_EQ(count_lines(truncated.err), 1u);
  // Nothing is printed for the good instance before the broken one.
  expect_input_error(run({"knapsack", "-"}, std::string(kInstances) + "broken\nn 1\nc 1\n1,x,1,0\n-----\n"),
                     "expected four integers");
  expect_input_error(run({"knapsack", "-"}, "neg\nn 1\nc 5\n1,3,-2,0\n-----\n"), "instance 'neg': item 0");
  const std::string missing = (scratch_ / "missing.txt").string();
  expect_input_error(run({"knapsack", missing}), missing);
  expect_input_error(run({"knapsack", "--generate", "roundish"}), "unknown instance class 'roundish'");
  expect_input_error(run({"knapsack", "--generate", "circle", "--n", "0"}), "--n 0: must be at least 1");
}

TEST_F(KnapsackCliTest, ExplainsItsUsage) {
  const Outcome help = run({"help", "knapsack"});
  EXPECT_EQ(help.exit_status, 0);
  EXPECT_NE(help.out.find("index,profit,weight,x"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--generate"), std::string::npos);
  const Outcome listed = run({"--help"});
  EXPECT_NE(listed.out.find("knapsack"), std::string::npos);
  EXPECT_EQ(run({"knapsack"}).exit_status, 2);
  EXPECT_EQ(run({"knapsack", "file.txt", "--generate", "circle"}).exit_status, 2);
}

}  // namespace
