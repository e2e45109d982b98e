// `reds profile` and latency budgets in `reds request`: a profile that prices the model's request, levels
// per time budget, and the command-line errors (a budget without a profile, a profile of another model).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_data.h"
#include "support/command_runner.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using reds::test::Outcome;

class ProfileCliTest : public reds::test::CommandTest {
 protected:
  // A quick profile (few rounds: the tests check what is written, not how precise it is).
  fs::path profile_of(const std::string& model) {
    const fs::path out = scratch_ / "profile.json";
    const Outcome profiled =
        run({"profile", model, "--grid", "3", "--rounds", "5", "--warmup", "1", "-o", out.string()});
    EXPECT_EQ(profiled.exit_status, 0) << profiled.err;
    EXPECT_EQ(profiled.out, "");
    return out;
  }

  const std::string fashion_ = reds::test::pretrained_model("fashion_mnist");
  const std::string cifar_ = reds::test::pretrained_model("cifar10");
};

TEST_F(ProfileCliTest, ProfilesEveryLayerAndSummarisesTheFit) {
  const fs::path out = scratch_ / "profile.json";
  const Outcome profiled =
      run({"profile", fashion_, "--grid", "3", "--rounds", "5", "--warmup", "1", "-o", out.string()});
  ASSERT_EQ(profiled.exit_status, 0) << profiled.err;
  const json profile = json::parse(reds::test::read_file(out));
  EXPECT_EQ(profile["format"], "reds latency profile");
  EXPECT_EQ(profile["unit"], "picoseconds");
  EXPECT_EQ(profile["measurement"]["configurations"], 15);
  ASSERT_EQ(profile["layers"].size(), 10u);  // 5 convolutions, 4 depthwise, the classifier
  for (const json& layer : profile["layers"]) {
    EXPECT_EQ(layer["samples"].size(), 15u) << layer["name"];
    EXPECT_NE(profiled.err.find(layer["name"].get<std::string>()), std::string::npos);
  }
  EXPECT_NE(profiled.err.find("whole network predicted within"), std::string::npos) << profiled.err;
}

TEST_F(ProfileCliTest, RequestPlansUnderLatencyBudgets) {
  const fs::path profile = profile_of(fashion_);
  const Outcome request =
      run({"request", fashion_, "--profile", profile.string(), "--latency-us", "40,1e6", "--compact"});
  ASSERT_EQ(request.exit_status, 0) << request.err;
  const json parsed = json::parse(request.out);
  EXPECT_EQ(parsed["network"]["resources"]["latency"], "sum");
  ASSERT_EQ(parsed["levels"].size(), 2u);
  EXPECT_EQ(parsed["levels"][0], json::parse(R"({"latency": {"max": 40000000}})"));
  EXPECT_EQ(parsed["levels"][1], json::parse(R"({"latency": {"max": 1000000000000}})"));
  // The profile's block (8) unless --block says otherwise.
  EXPECT_EQ(parsed["network"]["layers"][0]["block"], 8);

  EXPECT_EQ(request.err, "");

  const Outcome plan = run({"plan", "-", "--compact"}, request.out);
  ASSERT_EQ(plan.exit_status, 0) << plan.err;
  const json answer = json::parse(plan.out);
  // A budget above the full network's time keeps every unit.
  EXPECT_EQ(answer["levels"][1]["cost"]["latency"], answer["full"]["cost"]["latency"]);
  for (const json& level : answer["levels"])
    if (level["status"] != "infeasible") {
      EXPECT_LE(level["cost"]["latency"], level["limits"]["latency"]);
    }

  const Outcome fractions = run({"request", fashion_, "--profile", profile.string(), "--resource", "latency",
                                 "--levels", "0.5", "--block", "4", "--compact"});
  ASSERT_EQ(fractions.exit_status, 0) << fractions.err;
  const json by_fraction = json::parse(fractions.out);
  EXPECT_EQ(by_fraction["levels"][0], json::parse(R"({"latency": {"fraction": 0.5}})"));
  EXPECT_EQ(by_fraction["network"]["layers"][0]["block"], 4);
  EXPECT_EQ(
      fractions.err,
      "reds request: note: the profile timed widths in multiples of 8; with --block 4 levels may run over "
      "their predicted latency\n");
}

TEST_F(ProfileCliTest, LatencyOptionsNeedAProfileOfTheModel) {
  const Outcome no_profile = run({"request", fashion_, "--latency-us", "40"});
  EXPECT_EQ(no_profile.exit_status, 2);
  EXPECT_NE(no_profile.err.find("--latency-us needs --profile FILE"), std::string::npos) << no_profile.err;
  const Outcome no_resource = run({"request", fashion_, "--resource", "latency"});
  EXPECT_EQ(no_resource.exit_status, 2);
  EXPECT_NE(no_resource.err.find("latency needs --profile FILE"), std::string::npos) << no_resource.err;

  const fs::path profile = profile_of(fashion_);
  const Outcome both =
      run({"request", fashion_, "--profile", profile.string(), "--latency-us", "40", "--levels", "0.5"});
  EXPECT_EQ(both.exit_status, 2);
  EXPECT_NE(both.err.find("give --levels or --latency-us, not both"), std::string::npos) << both.err;
  const Outcome decreasing =
      run({"request", fashion_, "--profile", profile.string(), "--latency-us", "80,40"});
  EXPECT_EQ(decreasing.exit_status, 2);
  EXPECT_EQ(decreasing.err, "reds request: --latency-us 80,40: budgets must not decrease\n");
  // The CIFAR-10 DS-CNN S has the same layers, but reads three channels.
  const Outcome other = run({"request", cifar_, "--profile", profile.string(), "--latency-us", "40"});
  EXPECT_EQ(other.exit_status, 2);
  EXPECT_EQ(other.out, "");
  EXPECT_NE(other.err.find("it was measured on another model"), std::string::npos) << other.err;
  const Outcome not_a_profile =
      run({"request", fashion_, "--profile", scratch_file("p.json", "{}").string(), "--latency-us", "40"});
  EXPECT_EQ(not_a_profile.exit_status, 2);
  EXPECT_NE(not_a_profile.err.find("not a latency profile"), std::string::npos) << not_a_profile.err;
}

TEST_F(ProfileCliTest, BadOptionsAreRefused) {
  const Outcome grid = run({"profile", fashion_, "--grid", "0"});
  EXPECT_EQ(grid.exit_status, 2);
  EXPECT_EQ(grid.err, "reds profile: --grid 0: must be at least 1\n");
  const Outcome missing = run({"profile"});
  EXPECT_EQ(missing.exit_status, 2);
  EXPECT_NE(missing.err.find("missing the MODEL file"), std::string::npos) << missing.err;
}

}  // namespace
