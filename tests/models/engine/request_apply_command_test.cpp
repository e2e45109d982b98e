// `reds request` and `reds apply`, as separate processes ($REDS_BIN_DIR/reds): the round trip
// request -> plan -> apply -> run on the Fashion-MNIST model over its first 200 test images, and input
// errors (status 2, one line on standard error, nothing on standard output).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "reds/engine/dataset.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/model.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "support/command_runner.h"
#include "support/engine/commands.h"

namespace reds::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kImages = 200;

class RequestApplyCommand : public test::CommandTest {
 protected:
  void SetUp() override {
    test::CommandTest::SetUp();
    model_ = testing::pretrained_model("fashion_mnist");
  }

  // The first kImages test images and labels as IDX files under scratch_/data.
  fs::path write_test_images() {
    const Result<ImageSet> set = load_test_set(testing::kFashionMnistDir);
    EXPECT_TRUE(set) << set.error().message;
    fs::create_directories(scratch_ / "data");
    if (set) test::write_idx(set.value(), 0, kImages, scratch_ / "data" / "t10k");
    return scratch_ / "data";
  }

  // Status 2, nothing on standard output, the message on the first line of standard error.
  static void expect_input_error(const test::Outcome& outcome, const std::string& message) {
    EXPECT_EQ(outcome.exit_status, 2) << outcome.err;
    EXPECT_EQ(outcome.out, "");
    const std::string first_line = outcome.err.substr(0, outcome.err.find('\n'));
    EXPECT_NE(first_line.find(message), std::string::npos) << outcome.err;
  }

  std::string model_;
};

TEST_F(RequestApplyCommand, RoundTripRequestPlanApplyRun) {
  const fs::path request_file = scratch_ / "request.json";
  test::Outcome outcome =
      run({"request", model_, "--levels", "0.25,0.5,1", "--block", "4", "-o", request_file.string()});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(outcome.out, "");
  const std::string request_text = test::read_file(request_file);
  const Result<PlanRequest> request = parse_plan_request(request_text);
  ASSERT_TRUE(request) << request.error().message;
  ASSERT_EQ(request->levels.size(), 3u);
  EXPECT_EQ(request->network.layers.size(), 10u);
  EXPECT_EQ(request->network.layers[2].block, 4);
  // Without -o the same request goes to standard output.
  outcome = run({"request", model_, "--levels", "0.25,0.5,1", "--block", "4"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(outcome.out, request_text);

  outcome = run({"plan", request_file.string()});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const fs::path plan_file = scratch_file("plan.json", outcome.out);
  const json plan = json::parse(outcome.out);

  const fs::path planned = scratch_ / "planned.reds";
  outcome = run({"apply", model_, plan_file.string(), "-o", planned.string()});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(outcome.err, "");
  EXPECT_EQ(test::count_lines(outcome.out), 3u);
  EXPECT_EQ(outcome.out.rfind("level 1  macs " + plan["levels"][0]["cost"]["macs"].dump() + " (", 0), 0u)
      << outcome.out;
  EXPECT_NE(outcome.out.find("(100.0 %)"), std::string::npos) << outcome.out;
  // The plan read from standard input gives the same file.
  outcome =
      run({"apply", model_, "-", "-o", (scratch_ / "from_stdin.reds").string()}, test::read_file(plan_file));
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  EXPECT_EQ(test::read_file(scratch_ / "from_stdin.reds"), test::read_file(planned));

  const fs::path data = write_test_images();
  outcome = run({"run", planned.string(), "--data", data.string(), "--json"});
  ASSERT_EQ(outcome.exit_status, 0) << outcome.err;
  const std::vector<json> levels = test::json_lines(outcome.out);
  ASSERT_EQ(levels.size(), 3u);
  for (std::size_t level = 0; level < levels.size(); ++level) {
    EXPECT_EQ(levels[level]["macs"], plan["levels"][level]["cost"]["macs"]) << level;
    EXPECT_EQ(levels[level]["widths"], plan["levels"][level]["widths"]) << level;
  }
  // The full level classifies exactly as the original model does.
  Result<Model> original = load_model(model_);
  ASSERT_TRUE(original);
  Result<Session> session = Session::create(original.value());
  const Result<ImageSet> subset = load_test_set(data.string());
  ASSERT_TRUE(subset);
  const Result<LevelEvaluation> expected = evaluate(session.value(), 0, subset.value());
  ASSERT_TRUE(expected);
  EXPECT_EQ(levels[2]["correct"], expected->correct);
}

TEST_F(RequestApplyCommand, RequestErrors) {
  expect_input_error(run({"request"}), "reds request: missing the MODEL file");
  expect_input_error(run({"request", (scratch_ / "none.keras").string()}), "cannot read");
  expect_input_error(run({"request", model_, "--levels", "0.5,x"}), "--levels 0.5,x: 'x' is not a number");
  expect_input_error(run({"request", model_, "--levels", "0.5,1.5"}),
                     "--levels 0.5,1.5: 1.5 is not in (0, 1]");
  expect_input_error(run({"request", model_, "--resource", "joules"}), "--resource joules: use macs, params");
  expect_input_error(run({"request", model_, "--strategy", "greedy"}), "--strategy greedy: use independent");
  expect_input_error(run({"request", model_, "--objective", "max"}), "--objective max: use sum");
  expect_input_error(run({"request", model_, "--fixed", "conv2d,nope"}), "'nope' is not a Conv2D");
  expect_input_error(run({"request", model_, "-o", (scratch_ / "missing" / "r.json").string()}),
                     "cannot write");
}

TEST_F(RequestApplyCommand, ApplyErrors) {
  const fs::path plan = scratch_file("plan.json", R"({"levels": [{"widths": {"conv2d": 8}}]})");
  const std::string out = (scratch_ / "out.reds").string();
  expect_input_error(run({"apply", model_, plan.string()}), "reds apply: missing -o OUT");
  expect_input_error(run({"apply", model_, "-o", out}), "missing the PLAN file");
  // The plan response's reader names the file and the first field it misses.
  expect_input_error(run({"apply", model_, plan.string(), "-o", out}),
                     "'" + plan.string() + "': missing field 'status' in response");
  expect_input_error(run({"apply", model_, "-", "-o", out}, "{"),
                     "'standard input': malformed JSON at byte 1");
  expect_input_error(run({"apply", model_, (scratch_ / "none.json").string(), "-o", out}), "cannot read");
  // The model's own plan with the output layer's units swapped.
  const test::Outcome request = run({"request", model_, "--compact"});
  ASSERT_EQ(request.exit_status, 0) << request.err;
  const test::Outcome own = run({"plan", "-"}, request.out);
  ASSERT_EQ(own.exit_status, 0) << own.err;
  json swapped = json::parse(own.out);
  swapped["order"]["dense"] = {1, 0, 2, 3, 4, 5, 6, 7, 8, 9};
  const fs::path wrong = scratch_file("wrong.json", swapped.dump());
  expect_input_error(run({"apply", model_, wrong.string(), "-o", out}), "would reorder the model's outputs");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace reds::engine
