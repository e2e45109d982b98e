// The service's HTTP surface: health, metrics, the OpenAPI document (and every kind of real response
// validated against it), unknown paths and wrong methods.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace reds::server::test {
namespace {

constexpr const char* kSmallRequest = R"({
  "network": {"inputs": 2, "layers": [
    {"name": "fc", "units": 3, "importance": [0.5, 0.25, 1], "cost": {"macs": {"unit_input": 1}}},
    {"name": "head", "units": 2, "importance": [1, 1], "prunable": false, "cost": {"macs": {"unit_input": 1}}}]},
  "levels": [{"macs": {"max": 1}}, {"macs": {"fraction": 0.5}}]
})";

struct KnownEndpoint {
  std::string path;
  std::string method;  // the one method it serves
};

const std::vector<KnownEndpoint> kKnownEndpoints = {
    {"/plan", "POST"}, {"/health", "GET"}, {"/metrics", "GET"}, {"/openapi.json", "GET"}};

// Sends `method` to `path` with a small JSON body where the method takes one.
httplib::Result send(httplib::Client& client, const std::string& method, const std::string& path) {
  if (method == "GET") return client.Get(path);
  if (method == "HEAD") return client.Head(path);
  if (method == "POST") return client.Post(path, "{}", "application/json");
  if (method == "PUT") return client.Put(path, "{}", "application/json");
  if (method == "PATCH") return client.Patch(path, "{}", "application/json");
  if (method == "DELETE") return client.Delete(path);
  return client.Options(path);
}

TEST(HealthTest, PlansTheBundledNetworkOptimally) {
  RunningServer server;
  const httplib::Result response = server.client()->Get("/health");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  const json health = json::parse(response->body);
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["check"]["status"], "optimal");
  EXPECT_EQ(health["check"]["network"], "cnn_s");
  EXPECT_GT(health["check"]["solve_seconds"].get<double>(), 0.0);
}

TEST(RoutingTest, UnknownPathIs404WithAJsonBody) {
  RunningServer server;
  const auto client = server.client();
  for (const std::string path : {"/", "/plans", "/plan/", "/health/x", "/openapi_json", "/%FF"}) {
    SCOPED_TRACE(path);
    const httplib::Result response = client->Get(path);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 404);
    const json error = json::parse(response->body)["error"];
    EXPECT_EQ(error["code"], "invalid_argument");
    EXPECT_NE(error["message"].get<std::string>().find("POST /plan"), std::string::npos) << error;
  }
}

TEST(RoutingTest, WrongMethodOnAKnownPathIs405WithAllow) {
  RunningServer server;
  const auto client = server.client();
  for (const KnownEndpoint& endpoint : kKnownEndpoints) {
    for (const std::string method : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}) {
      const bool allowed = method == endpoint.method || (method == "HEAD" && endpoint.method == "GET");
      if (allowed) continue;
      SCOPED_TRACE(method + " " + endpoint.path);
      const httplib::Result response = send(*client, method, endpoint.path);
      ASSERT_TRUE(response) << httplib::to_string(response.error());
      EXPECT_EQ(response->status, 405);
      EXPECT_NE(response->get_header_value("Allow").find(endpoint.method), std::string::npos);
      if (method == "HEAD") continue;  // no body
      EXPECT_EQ(json::parse(response->body)["error"]["code"], "invalid_argument");
    }
    const httplib::Result options = send(*client, "OPTIONS", endpoint.path);
    ASSERT_TRUE(options);
    EXPECT_EQ(options->status, 204);
    EXPECT_NE(options->get_header_value("Allow").find(endpoint.method), std::string::npos);
  }
}

TEST(MetricsTest, ExpositionIsWellFormed) {
  RunningServer server;
  server.client()->Get("/health");
  const httplib::Result response = server.client()->Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  // Every sample belongs to a family announced by HELP and TYPE lines before it.
  const std::regex help(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$)");
  const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z_]+="[^"]*",?)*\})? -?[0-9][0-9.e+-]*$)");
  std::set<std::string> helped;
  std::map<std::string, std::string> typed;
  std::istringstream lines(response->body);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    SCOPED_TRACE(line);
    std::smatch match;
    if (std::regex_match(line, match, help)) {
      helped.insert(match[1]);
    } else if (std::regex_match(line, match, type)) {
      EXPECT_TRUE(helped.contains(match[1]));
      typed[match[1]] = match[2];
    } else {
      ASSERT_TRUE(std::regex_match(line, match, sample));
      std::string family = match[1];
      for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
        if (family.ends_with(suffix) && typed.contains(family.substr(0, family.size() - suffix.size())))
          family = family.substr(0, family.size() - suffix.size());
      }
      EXPECT_TRUE(typed.contains(family));
      ++samples;
    }
  }
  EXPECT_GT(samples, 20);
  EXPECT_EQ(typed["reds_http_requests_total"], "counter");
  EXPECT_EQ(typed["reds_http_requests_in_flight"], "gauge");
  EXPECT_EQ(typed["reds_plan_duration_seconds"], "histogram");
}

TEST(MetricsTest, CountsMove) {
  Options options = test_options();
  options.max_inflight = 3;
  RunningServer server(options);
  const auto client = server.client();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(client->Post("/plan", kSmallRequest, "application/json")->status, 200);
  ASSERT_EQ(client->Post("/plan", "{", "application/json")->status, 400);
  ASSERT_EQ(client->Get("/nowhere")->status, 404);
  ASSERT_EQ(client->Delete("/health")->status, 405);

  // The access log (and so the counter) runs just after the answer is sent: poll.
  std::map<std::string, double> metrics;
  EXPECT_TRUE(eventually([&] {
    metrics = scrape(server);
    return metrics[R"(reds_http_requests_total{endpoint="/health",code="405"})"] == 1;
  }));
  EXPECT_EQ((metrics[R"(reds_http_requests_total{endpoint="/plan",code="200"})"]), 3);
  EXPECT_EQ((metrics[R"(reds_http_requests_total{endpoint="/plan",code="400"})"]), 1);
  EXPECT_EQ((metrics[R"(reds_http_requests_total{endpoint="other",code="404"})"]), 1);
  // The scrape itself is in flight.
  EXPECT_EQ(metrics["reds_http_requests_in_flight"], 1);
  EXPECT_EQ(metrics["reds_plan_solves_in_flight"], 0);
  EXPECT_EQ(metrics["reds_plan_solve_slots"], 3);
  // Four plan requests got a solver slot: three plans, one parse error. Buckets are cumulative.
  EXPECT_EQ(metrics["reds_plan_duration_seconds_count"], 4);
  EXPECT_EQ(metrics[R"(reds_plan_duration_seconds_bucket{le="+Inf"})"], 4);
  EXPECT_GT(metrics["reds_plan_duration_seconds_sum"], 0.0);
  double previous = 0;
  for (const double bound :
       {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0}) {
    std::ostringstream series;
    series << "reds_plan_duration_seconds_bucket{le=\"" << bound << "\"}";
    ASSERT_TRUE(metrics.contains(series.str())) << series.str();
    EXPECT_GE(metrics[series.str()], previous);
    previous = metrics[series.str()];
  }
  EXPECT_LE(previous, 4);
  EXPECT_EQ((metrics[R"(reds_plans_total{status="infeasible"})"]), 3);  // the first level cannot be met
}

class OpenApiTest : public ::testing::Test {
 protected:
  static Options options() {
    Options options = test_options();
    options.max_body_bytes = 1 << 20;
    options.max_time_ms = 50;
    return options;
  }

  void expect_valid(const std::string& path, const std::string& method, const httplib::Result& response) {
    ASSERT_TRUE(response) << httplib::to_string(response.error());
    SCOPED_TRACE(method + " " + path + " -> " + std::to_string(response->status));
    for (const std::string& violation : openapi_.violations(path, method, *response))
      ADD_FAILURE() << violation;
  }

  RunningServer server_{options()};
  OpenApi openapi_{server_};
};

TEST_F(OpenApiTest, DescribesEveryEndpoint) {
  const json& document = openapi_.document;
  EXPECT_TRUE(document["openapi"].get<std::string>().starts_with("3."));
  std::set<std::string> paths;
  for (const auto& [path, operations] : document["paths"].items()) {
    paths.insert(path);
    EXPECT_EQ(operations.size(), 1u) << path;
  }
  EXPECT_EQ(paths, (std::set<std::string>{"/plan", "/health", "/metrics", "/openapi.json"}));
  for (const KnownEndpoint& endpoint : kKnownEndpoints) {
    std::string method = endpoint.method;
    std::transform(method.begin(), method.end(), method.begin(), ::tolower);
    EXPECT_TRUE(document["paths"][endpoint.path].contains(method)) << endpoint.path;
  }
}

TEST_F(OpenApiTest, PlanResponsesMatchTheDocument) {
  const auto client = server_.client();
  // 200, with an infeasible level (at most 1 MAC) next to a feasible one.
  const httplib::Result infeasible_level = client->Post("/plan", kSmallRequest, "application/json");
  ASSERT_EQ(infeasible_level->status, 200);
  EXPECT_EQ(json::parse(infeasible_level->body)["levels"][0]["status"], "infeasible");
  expect_valid("/plan", "post", infeasible_level);
  expect_valid("/plan", "post", client->Post("/plan", tiny_ds_block_request(), "application/json"));
  expect_valid("/plan", "post", client->Post("/plan", example_request_json("ds_cnn_s"), "application/json"));
  // A residual network (contract 1.1: streams, projection inputs, held skip tensors).
  const httplib::Result residual = client->Post("/plan", example_request_json("resnet8"), "application/json");
  ASSERT_EQ(residual->status, 200) << residual->body;
  EXPECT_EQ(json::parse(residual->body)["status"], "optimal");
  expect_valid("/plan", "post", residual);
  json joint = json::parse(tiny_ds_block_request());
  joint["strategy"] = "joint";
  joint["weights"] = {1, 2};
  const httplib::Result joint_plan = client->Post("/plan", joint.dump(), "application/json");
  ASSERT_EQ(joint_plan->status, 200) << joint_plan->body;
  EXPECT_TRUE(json::parse(joint_plan->body).contains("objective"));
  expect_valid("/plan", "post", joint_plan);
  // 400, 413, 415, and 504 (or a 200 cut short) under the 50 ms cap.
  expect_valid("/plan", "post", client->Post("/plan", R"({"network": 1})", "application/json"));
  expect_valid("/plan", "post", client->Post("/plan", std::string(2 << 20, ' '), "application/json"));
  expect_valid("/plan", "post", client->Post("/plan", httplib::MultipartFormDataItems{{"a", "b", "", ""}}));
  expect_valid("/plan", "post",
               client->Post("/plan", {{"Content-Encoding", "zstd"}}, "{}", "application/json"));
  // 411: a request without a body (the client library always sends a Content-Length with a POST).
  {
    RawConnection raw(server_.port());
    ASSERT_TRUE(raw.send("POST /plan HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
    bool closed = false;
    const std::string answer = raw.receive_until_closed(std::chrono::milliseconds(5'000), closed);
    httplib::Response no_body;
    no_body.status = raw_status(answer);
    no_body.set_header("Content-Type", "application/json");
    no_body.body = answer.substr(answer.find("\r\n\r\n") + 4);
    EXPECT_EQ(no_body.status, 411);
    for (const std::string& violation : openapi_.violations("/plan", "post", no_body))
      ADD_FAILURE() << violation;
  }
  expect_valid("/plan", "post", client->Post("/plan", slow_request(), "application/json"));
}

TEST_F(OpenApiTest, OtherResponsesMatchTheDocument) {
  const auto client = server_.client();
  expect_valid("/health", "get", client->Get("/health"));
  expect_valid("/metrics", "get", client->Get("/metrics"));
  expect_valid("/openapi.json", "get", client->Get("/openapi.json"));
  for (const KnownEndpoint& endpoint : kKnownEndpoints) {
    const std::string wrong = endpoint.method == "GET" ? "PUT" : "GET";
    std::string method = endpoint.method;
    std::transform(method.begin(), method.end(), method.begin(), ::tolower);
    expect_valid(endpoint.path, method, send(*client, wrong, endpoint.path));
  }
  const httplib::Result not_found = client->Get("/nowhere");
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->status, 404);
  for (const std::string& violation :
       openapi_.violations_of(openapi_.document["components"]["responses"]["NotFound"], *not_found))
    ADD_FAILURE() << violation;
}

TEST_F(OpenApiTest, RequestSchemaAgreesWithTheServer) {
  const json& schema = openapi_.document["components"]["schemas"]["PlanRequest"];
  // Valid requests pass the schema...
  for (const std::string& request :
       {tiny_ds_block_request(), std::string(kSmallRequest), example_request_json("ds_cnn_l"),
        example_request_json("mobilenet_v1_224"), example_request_json("resnet8"),
        example_request_json("mobilenet_v2_96")}) {
    for (const std::string& violation :
         reds::test::schema_violations(json::parse(request), schema, openapi_.document))
      ADD_FAILURE() << violation;
  }
  // ...and what the schema can tell is wrong, the server rejects too.
  const auto client = server_.client();
  const json small = json::parse(kSmallRequest);
  std::vector<json> invalid(9, small);
  invalid[0]["network"]["layers"][0]["min_unit"] = 2;
  invalid[1]["network"]["inputs"] = "2";
  invalid[2]["network"]["layers"][0]["importance"][1] = -1;
  invalid[3]["levels"][1]["macs"]["fraction"] = 1.5;
  invalid[4]["levels"][1]["macs"] = {{"fraction", 0.5}, {"max", 3}};
  invalid[5]["strategy"] = "greedy";
  invalid[6]["network"]["layers"][0]["stream"] = "";
  invalid[7]["network"]["layers"][1]["input"] = 0;
  invalid[8]["network"]["layers"][1]["cost"]["macs"]["held"] = {{small["network"]["layers"][0]["name"], -1}};
  for (const json& request : invalid) {
    SCOPED_TRACE(request.dump());
    EXPECT_FALSE(reds::test::schema_violations(request, schema, openapi_.document).empty());
    EXPECT_EQ(client->Post("/plan", request.dump(), "application/json")->status, 400);
  }
}

}  // namespace
}  // namespace reds::server::test
