// POST /plan against the real server on a loopback port: the contract's examples, every kind of bad input,
// body limits, missing bodies and unknown encodings, truncated and silent clients, the time-limit cap.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace reds::server::test {
namespace {

// A valid two-layer request whose fields the bad-input cases below break one at a time.
constexpr const char* kSmallRequest = R"({
  "network": {"inputs": 2, "layers": [
    {"name": "fc", "units": 3, "importance": [0.5, 0.25, 1], "cost": {"macs": {"unit_input": 1}}},
    {"name": "head", "units": 2, "importance": [1, 1], "prunable": false, "cost": {"macs": {"unit_input": 1}}}]},
  "levels": [{"macs": {"fraction": 0.5}}]
})";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("'" + from + "' is not in the request");
  return text.replace(at, from.size(), to);
}

json error_of(const httplib::Result& response) { return json::parse(response->body).at("error"); }

class PlanEndpointTest : public ::testing::Test {
 protected:
  RunningServer server_;
};

TEST_F(PlanEndpointTest, WorkedExampleMatchesTheHandComputedPlan) {
  const httplib::Result response =
      server_.client()->Post("/plan", tiny_ds_block_request(), "application/json");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(response->get_header_value("Content-Type"), "application/json");
  const json plan = json::parse(response->body);
  // Figures worked out by hand in the README: full MACs 4*90 + 4*81 + 4*4*9 + 3*4, levels 40 % of 840
  // and at most 600; the first level keeps 1 convolution filter (and its depthwise channel), all 4
  // pointwise filters and the 3 classes: 90 + 81 + 4*9 + 3*4 MACs, importance 0.9 + 0.2 + 1.65 + 3.
  EXPECT_EQ(plan["full"]["cost"]["macs"], 840);
  ASSERT_EQ(plan["levels"].size(), 2u);
  EXPECT_EQ(plan["levels"][0]["limits"]["macs"], 336);
  EXPECT_EQ(plan["levels"][1]["limits"]["macs"], 600);
  EXPECT_EQ(plan["levels"][0]["widths"], (json{{"conv", 1}, {"dw", 1}, {"pw", 4}, {"head", 3}}));
  EXPECT_EQ(plan["levels"][0]["cost"]["macs"], 219);
  EXPECT_NEAR(plan["levels"][0]["importance"].get<double>(), 5.75, 1e-12);
  EXPECT_EQ(plan["status"], "optimal");
  EXPECT_EQ(plan["order"]["conv"], (json{0, 3, 2, 1}));
}

TEST_F(PlanEndpointTest, AnswersExactlyWhatTheLibraryAnswers) {
  const std::vector<std::string> requests = {tiny_ds_block_request(), kSmallRequest,
                                             example_request_json("dnn_s"), example_request_json("ds_cnn_l")};
  const auto client = server_.client();
  for (const std::string& request : requests) {
    const httplib::Result response = client->Post("/plan", request, "application/json");
    ASSERT_TRUE(response);
    ASSERT_EQ(response->status, 200) << response->body;
    EXPECT_EQ(without_solve_seconds(response->body), library_answer(request));
  }
}

TEST_F(PlanEndpointTest, SpeaksTheObjectiveExtension) {
  const auto client = server_.client();
  std::string request = example_request_json("dnn_s");
  const std::size_t levels = request.rfind("\"levels\"");
  ASSERT_NE(levels, std::string::npos);
  for (const char* objective : {"normalized", "product"}) {
    std::string with_objective = request;
    with_objective.insert(levels, "\"objective\": \"" + std::string(objective) + "\", ");
    const httplib::Result response = client->Post("/plan", with_objective, "application/json");
    ASSERT_TRUE(response);
    ASSERT_EQ(response->status, 200) << response->body;
    EXPECT_EQ(without_solve_seconds(response->body), library_answer(with_objective)) << objective;
    EXPECT_NE(without_solve_seconds(response->body), library_answer(request)) << objective;
  }
}

TEST_F(PlanEndpointTest, ContractErrorExampleNamesTheBadValue) {
  // The contract's own example of an error: 3 importances for 2 units.
  const std::string request = R"({"network": {"inputs": 1, "layers": [{"name": "a", "units": 2,
      "importance": [1, 2, 3]}]}, "levels": [{"macs": {"max": 1}}]})";
  const httplib::Result response = server_.client()->Post("/plan", request, "application/json");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->get_header_value("Content-Type"), "application/json");
  const json error = error_of(response);
  EXPECT_EQ(error["code"], "invalid_argument");
  EXPECT_EQ(error["path"], "/network/layers/0/importance");
  EXPECT_NE(error["message"].get<std::string>().find("expected 2"), std::string::npos) << error;
}

struct BadInput {
  const char* what;
  std::string body;
  std::string path;  // the JSON Pointer the error must name ("" when the whole document is at fault)
};

std::string repeated(const std::string& piece, std::size_t times) {
  std::string text;
  text.reserve(piece.size() * times);
  for (std::size_t i = 0; i < times; ++i) text += piece;
  return text;
}

std::vector<BadInput> bad_inputs() {
  const std::string small = kSmallRequest;
  std::string many_numbers = "[1";
  for (int i = 0; i < 200'000; ++i) many_numbers += ",1";
  many_numbers += "]";
  std::string many_levels = "[";
  for (int i = 0; i < 1000; ++i) many_levels += std::string(i == 0 ? "" : ",") + R"({"macs": {"max": 100}})";
  many_levels += "]";
  return {
      {"empty body", "", ""},
      {"not JSON", "plan please", ""},
      {"truncated JSON", small.substr(0, small.size() / 2), ""},
      {"trailing garbage", small + "}", ""},
      {"a JSON array", "[]", ""},
      {"a JSON string", R"("network")", ""},
      {"NaN literal", replaced(small, "[0.5, 0.25, 1]", "[0.5, NaN, 1]"), ""},
      {"number beyond a double", replaced(small, "[0.5, 0.25, 1]", "[0.5, 1e999, 1]"),
       "/network/layers/0/importance/1"},
      {"negative importance", replaced(small, "[0.5, 0.25, 1]", "[0.5, -0.25, 1]"),
       "/network/layers/0/importance/1"},
      {"string instead of integer", replaced(small, R"("inputs": 2)", R"("inputs": "2")"), "/network/inputs"},
      {"float instead of integer", replaced(small, R"("inputs": 2)", R"("inputs": 2.0)"), "/network/inputs"},
      {"coefficient of 2^53",
       replaced(small, R"("unit_input": 1}}},)", R"("unit_input": 9007199254740992}}},)"),
       "/network/layers/0/cost/macs/unit_input"},
      {"object instead of array",
       replaced(small, R"("levels": [{"macs": {"fraction": 0.5}}])", R"("levels": {"macs": 1})"), "/levels"},
      {"negative cost",
       replaced(small, R"({"macs": {"unit_input": 1}}},)", R"({"macs": {"unit_input": -1}}},)"),
       "/network/layers/0/cost/macs/unit_input"},
      {"unknown field", replaced(small, R"("units": 3)", R"("units": 3, "min_unit": 2)"),
       "/network/layers/0/min_unit"},
      {"duplicate field", replaced(small, R"("units": 3)", R"("units": 3, "units": 3)"),
       "/network/layers/0/units"},
      {"unknown strategy", replaced(small, R"("levels")", R"("strategy": "greedy", "levels")"), "/strategy"},
      {"unknown objective", replaced(small, R"("levels")", R"("objective": "max", "levels")"), "/objective"},
      {"fraction above 1", replaced(small, R"("fraction": 0.5)", R"("fraction": 1.5)"),
       "/levels/0/macs/fraction"},
      {"huge importance array", replaced(small, "[0.5, 0.25, 1]", many_numbers),
       "/network/layers/0/importance"},
      {"a thousand levels", replaced(small, R"([{"macs": {"fraction": 0.5}}])", many_levels), "/levels"},
      {"deep nesting", repeated("[", 100'000), ""},
      {"deep nesting in a field",
       replaced(small, R"("inputs": 2)", R"("inputs": )" + repeated("[", 80) + repeated("]", 80)), ""},
      {"invalid UTF-8", replaced(small, R"("name": "fc")", "\"name\": \"f\xff\""), ""},
      {"NUL byte", replaced(small, R"("name": "fc")", std::string("\"name\": \"f\0c\"", 12)), ""},
  };
}

TEST_F(PlanEndpointTest, EveryKindOfBadInputIsA400NamingTheValue) {
  const auto client = server_.client();
  for (const BadInput& bad : bad_inputs()) {
    SCOPED_TRACE(bad.what);
    const httplib::Result response = client->Post("/plan", bad.body, "application/json");
    ASSERT_TRUE(response) << httplib::to_string(response.error());
    EXPECT_EQ(response->status, 400) << response->body;
    const json error = error_of(response);
    EXPECT_EQ(error["code"], "invalid_argument");
    EXPECT_FALSE(error["message"].get<std::string>().empty());
    if (!bad.path.empty()) {
      EXPECT_EQ(error.value("path", ""), bad.path) << error;
    }
  }
  // None of it hurt the server.
  const httplib::Result health = client->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(PlanEndpointLimits, OversizeBodyIs413WhateverItsFraming) {
  Options options = test_options();
  options.max_body_bytes = 4096;
  RunningServer server(options);
  const auto client = server.client();
  const std::string oversize = R"({"network": )" + std::string(5000, ' ') + "}";

  const httplib::Result declared = client->Post("/plan", oversize, "application/json");
  ASSERT_TRUE(declared);
  EXPECT_EQ(declared->status, 413);
  EXPECT_EQ(error_of(declared)["code"], "resource_exhausted");

  // Chunked: no Content-Length for the library to check, so the service counts the bytes itself.
  const httplib::Result chunked = server.client()->Post(
      "/plan",
      [&](std::size_t offset, httplib::DataSink& sink) {
        if (offset < 8 * oversize.size()) {
          sink.write(oversize.data(), oversize.size());
        } else {
          sink.done();
        }
        return true;
      },
      "application/json");
  ASSERT_TRUE(chunked) << httplib::to_string(chunked.error());
  EXPECT_EQ(chunked->status, 413);

  // Gzip: 5 kB of spaces compress to a few dozen bytes; the limit holds for what they expand to.
  const auto compressing = server.client();
  compressing->set_compress(true);
  const httplib::Result compressed = compressing->Post("/plan", oversize, "application/json");
  ASSERT_TRUE(compressed);
  EXPECT_EQ(compressed->status, 413);

  // A request under the limit still plans, compressed or not.
  const httplib::Result fine = compressing->Post("/plan", kSmallRequest, "application/json");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200) << fine->body;
}

TEST_F(PlanEndpointTest, MultipartBodyIs415) {
  const httplib::MultipartFormDataItems items = {
      {"request", kSmallRequest, "request.json", "application/json"}};
  const httplib::Result response = server_.client()->Post("/plan", items);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 415);
  EXPECT_EQ(error_of(response)["code"], "invalid_argument");
}

// Without Content-Length or chunked Transfer-Encoding a request has no body: 411 at once, not after the
// read timeout, and the connection serves the next request.
TEST(PlanEndpointLimits, PostWithoutABodyIs411AtOnce) {
  Options options = test_options();
  options.read_timeout_ms = 5'000;
  RunningServer server(options);
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.connected());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(
      connection.send("POST /plan HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\r\n"
                      "GET /health HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
  bool closed = false;
  const std::string answers = connection.receive_until_closed(std::chrono::milliseconds(4'000), closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_TRUE(closed);
  EXPECT_EQ(raw_status(answers), 411) << answers;
  const std::size_t body = answers.find("\r\n\r\n") + 4;
  const std::size_t next = answers.find("HTTP/1.1 ", body);
  const json error = json::parse(answers.substr(body, next - body))["error"];
  EXPECT_EQ(error["code"], "invalid_argument");
  EXPECT_NE(error["message"].get<std::string>().find("no body"), std::string::npos) << error;
  ASSERT_NE(next, std::string::npos) << "the request after it was not answered:\n" << answers;
  EXPECT_EQ(raw_status(answers.substr(next)), 200) << answers;
}

TEST_F(PlanEndpointTest, UnknownContentEncodingIs415NamingIt) {
  const auto client = server_.client();
  for (const std::string encoding : {"zstd", "compress", "gzip, br"}) {
    SCOPED_TRACE(encoding);
    const httplib::Result response =
        client->Post("/plan", {{"Content-Encoding", encoding}}, kSmallRequest, "application/json");
    ASSERT_TRUE(response) << httplib::to_string(response.error());
    EXPECT_EQ(response->status, 415);
    const json error = error_of(response);
    EXPECT_EQ(error["code"], "invalid_argument");
    EXPECT_NE(error["message"].get<std::string>().find("'" + encoding + "'"), std::string::npos) << error;
  }
  // "identity" is no encoding at all.
  const httplib::Result identity =
      client->Post("/plan", {{"Content-Encoding", "identity"}}, kSmallRequest, "application/json");
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->status, 200) << identity->body;
}

TEST(PlanEndpointLimits, TruncatedBodyNeitherHangsNorCrashes) {
  Options options = test_options();
  options.read_timeout_ms = 300;
  RunningServer server(options);
  // Content-Length promises 1000 bytes, 20 arrive, then the client closes its side.
  RawConnection connection(server.port());
  ASSERT_TRUE(connection.connected());
  ASSERT_TRUE(
      connection.send("POST /plan HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                      "Content-Length: 1000\r\n\r\n{\"network\": {\"input"));
  connection.close_sending();
  bool closed = false;
  const std::string answer = connection.receive_until_closed(std::chrono::milliseconds(5'000), closed);
  EXPECT_TRUE(closed) << "the server kept the connection of a client that had hung up";
  if (!answer.empty()) {
    EXPECT_EQ(raw_status(answer), 400) << answer;
  }

  const httplib::Result health = server.client()->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(PlanEndpointLimits, SilentClientLosesItsWorkerAfterTheReadTimeout) {
  Options options = test_options();
  options.threads = 1;  // the silent client holds the only worker
  options.read_timeout_ms = 300;
  RunningServer server(options);
  RawConnection silent(server.port());
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(silent.send("POST /plan HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n{"));

  // Served as soon as the read timeout frees the worker.
  const auto start = std::chrono::steady_clock::now();
  const httplib::Result health = server.client()->Get("/health");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));

  bool closed = false;
  const std::string answer = silent.receive_until_closed(std::chrono::milliseconds(2'000), closed);
  EXPECT_TRUE(closed);
  if (!answer.empty()) {
    EXPECT_EQ(raw_status(answer), 400) << answer;
  }
}

TEST(PlanEndpointLimits, TricklingClientLosesItsWorkerAtTheBodyDeadline) {
  Options options = test_options();
  options.threads = 1;  // the trickling client holds the only worker
  options.read_timeout_ms = 2'000;
  options.body_timeout_ms = 400;
  RunningServer server(options);
  RawConnection trickling(server.port());
  ASSERT_TRUE(trickling.connected());
  ASSERT_TRUE(trickling.send("POST /plan HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n{"));
  // One byte every 100 ms (the wait for an answer paces it): never silent for the read timeout, so only
  // the body deadline can end it.
  const auto start = std::chrono::steady_clock::now();
  std::string answer;
  bool closed = false;
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(3) && trickling.send(" ")) {
    answer += trickling.receive_until_closed(std::chrono::milliseconds(100), closed);
    if (closed || !answer.empty()) break;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3))
      << "the server kept reading a trickling body past its body deadline";
  if (!closed) answer += trickling.receive_until_closed(std::chrono::milliseconds(2'000), closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(raw_status(answer), 408) << answer;

  const httplib::Result health = server.client()->Get("/health");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
}

TEST(PlanEndpointLimits, TimeLimitIsCappedByTheServer) {
  Options options = test_options();
  options.max_time_ms = 50;
  RunningServer server(options);
  // About a second of planning without a limit (see slow_request), and a limit far above the cap.
  json request = json::parse(slow_request());
  request["time_limit_ms"] = 600'000;
  const httplib::Result response = server.client()->Post("/plan", request.dump(), "application/json");
  ASSERT_TRUE(response);
  // Cut short at 50 ms: either the best plan found so far (not proved optimal), or no plan in time.
  if (response->status == 200) {
    EXPECT_NE(json::parse(response->body)["status"], "optimal");
  } else {
    EXPECT_EQ(response->status, 504) << response->body;
    const json error = error_of(response);
    EXPECT_EQ(error["code"], "deadline_exceeded");
    EXPECT_NE(error["message"].get<std::string>().find("--max-time-ms"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace reds::server::test
