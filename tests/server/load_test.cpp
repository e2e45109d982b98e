// Many clients at once get exactly the library's answers; plan requests beyond the solver slots wait in a
// bounded queue, and only a full queue or a wait that runs out sheds them with 503 and Retry-After.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "server_fixture.h"
#include "support/random_network.h"

namespace reds::server::test {
namespace {

TEST(LoadTest, ConcurrentClientsGetTheLibrarysAnswers) {
  constexpr int kClients = 16;
  constexpr int kRequestsPerClient = 20;
  Options options = test_options();
  options.threads = kClients;
  options.max_inflight = kClients;
  RunningServer server(options);

  // Bundled networks and seeded random requests (tied layers, tables, infeasible levels...).
  std::vector<std::string> requests = {tiny_ds_block_request(), example_request_json("dnn_s"),
                                       example_request_json("cnn_s"), example_request_json("ds_cnn_s")};
  for (std::uint64_t seed = 1; seed <= 12; ++seed)
    requests.push_back(to_json(reds::test::random_plan_request(seed)));
  std::vector<json> expected;
  for (const std::string& request : requests) expected.push_back(library_answer(request));

  std::atomic<int> identical{0};
  std::vector<std::thread> clients;
  for (int client_index = 0; client_index < kClients; ++client_index) {
    clients.emplace_back([&, client_index] {
      const auto client = server.client();
      for (int i = 0; i < kRequestsPerClient; ++i) {
        const std::size_t which =
            static_cast<std::size_t>(client_index * kRequestsPerClient + i) % requests.size();
        const httplib::Result response = client->Post("/plan", requests[which], "application/json");
        if (!response) {
          ADD_FAILURE() << "client " << client_index << ": " << httplib::to_string(response.error());
          continue;
        }
        if (response->status != 200) {
          ADD_FAILURE() << "client " << client_index << ": " << response->status << ' ' << response->body;
          continue;
        }
        if (without_solve_seconds(response->body) == expected[which]) {
          ++identical;
        } else {
          ADD_FAILURE() << "request " << which << " answered differently: " << response->body;
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(identical, kClients * kRequestsPerClient);
}

TEST(LoadTest, BusySolverSlotsWithoutAQueueGive503WithRetryAfter) {
  Options options = test_options();
  options.max_inflight = 1;
  options.queue_size = 0;
  RunningServer server(options);
  const OpenApi openapi(server);

  // One slow plan holds the only solver slot...
  auto slow = std::async(std::launch::async,
                         [&] { return server.client()->Post("/plan", slow_request(), "application/json"); });
  ASSERT_TRUE(eventually([&] { return scrape(server)["reds_plan_solves_in_flight"] == 1; }));

  // ...so another plan request is turned away at once, with a hint when to come back.
  const httplib::Result shed = server.client()->Post("/plan", tiny_ds_block_request(), "application/json");
  ASSERT_TRUE(shed);
  EXPECT_EQ(shed->status, 503);
  EXPECT_EQ(shed->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(shed->body)["error"]["code"], "resource_exhausted");
  for (const std::string& violation : openapi.violations("/plan", "post", *shed)) ADD_FAILURE() << violation;
  // Other endpoints do not take a solver slot.
  const httplib::Result health = server.client()->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  const httplib::Result slow_response = slow.get();
  ASSERT_TRUE(slow_response);
  EXPECT_EQ(slow_response->status, 200);
  // The slot is free again.
  const httplib::Result later = server.client()->Post("/plan", tiny_ds_block_request(), "application/json");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->status, 200);
}

TEST(LoadTest, BurstBeyondTheSlotsWithoutAQueueIsPartlyShed) {
  Options options = test_options();
  options.max_inflight = 1;
  options.queue_size = 0;
  RunningServer server(options);
  const std::string request = slow_request();
  std::vector<std::future<httplib::Result>> burst;
  for (int i = 0; i < 4; ++i) {
    burst.push_back(std::async(std::launch::async,
                               [&] { return server.client()->Post("/plan", request, "application/json"); }));
  }
  int answered = 0;
  int shed = 0;
  for (auto& response : burst) {
    const httplib::Result result = response.get();
    ASSERT_TRUE(result);
    answered += result->status == 200;
    shed += result->status == 503;
  }
  EXPECT_EQ(answered + shed, 4);
  EXPECT_GE(answered, 1);
  EXPECT_GE(shed, 1);
}

// With the default options (one solver slot per core, the default queue), more clients than slots are all
// answered, none refused.
TEST(QueueTest, MoreConcurrentRequestsThanSlotsAreAllAnswered) {
  constexpr int kClients = 16;
  constexpr int kRequestsPerClient = 10;
  Options options;
  options.port = 0;
  ASSERT_LT(options.max_inflight, kClients) << "the machine has as many cores as the test has clients";
  RunningServer server(options);
  const std::string request = example_request_json("dnn_s");
  const json expected = library_answer(request);

  std::atomic<int> identical{0};
  std::vector<std::thread> clients;
  for (int client_index = 0; client_index < kClients; ++client_index) {
    clients.emplace_back([&, client_index] {
      const auto client = server.client();
      for (int i = 0; i < kRequestsPerClient; ++i) {
        const httplib::Result response = client->Post("/plan", request, "application/json");
        if (!response) {
          ADD_FAILURE() << "client " << client_index << ": " << httplib::to_string(response.error());
        } else if (response->status != 200) {
          ADD_FAILURE() << "client " << client_index << ": " << response->status << ' ' << response->body;
        } else if (without_solve_seconds(response->body) == expected) {
          ++identical;
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(identical, kClients * kRequestsPerClient);
  EXPECT_EQ((scrape(server)[R"(reds_http_requests_total{endpoint="/plan",code="503"})"]), 0);
}

TEST(QueueTest, FullQueueGives503WithRetryAfter) {
  Options options = test_options();
  options.max_inflight = 1;
  options.queue_size = 1;
  options.queue_wait_ms = 60'000;
  RunningServer server(options);
  const OpenApi openapi(server);

  // One slow plan holds the only slot, another waits for it...
  auto solving = std::async(
      std::launch::async, [&] { return server.client()->Post("/plan", slow_request(), "application/json"); });
  ASSERT_TRUE(eventually([&] { return scrape(server)["reds_plan_solves_in_flight"] == 1; }));
  auto queued = std::async(std::launch::async, [&] {
    return server.client()->Post("/plan", tiny_ds_block_request(), "application/json");
  });
  ASSERT_TRUE(eventually([&] { return scrape(server)["reds_plan_queued"] == 1; }));

  // ...so a third finds the queue full and is turned away at once.
  const httplib::Result shed = server.client()->Post("/plan", tiny_ds_block_request(), "application/json");
  ASSERT_TRUE(shed);
  EXPECT_EQ(shed->status, 503);
  EXPECT_EQ(shed->get_header_value("Retry-After"), "1");
  const json error = json::parse(shed->body)["error"];
  EXPECT_EQ(error["code"], "resource_exhausted");
  EXPECT_NE(error["message"].get<std::string>().find("--queue-size"), std::string::npos) << error;
  for (const std::string& violation : openapi.violations("/plan", "post", *shed)) ADD_FAILURE() << violation;

  // The waiting request gets the slot once the slow plan is done.
  const httplib::Result solved = solving.get();
  ASSERT_TRUE(solved);
  EXPECT_EQ(solved->status, 200);
  const httplib::Result waited = queued.get();
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->status, 200) << waited->body;
  EXPECT_EQ(without_solve_seconds(waited->body), library_answer(tiny_ds_block_request()));
}

TEST(QueueTest, ExpiredWaitGives503WithRetryAfter) {
  Options options = test_options();
  options.max_inflight = 1;
  options.queue_wait_ms = 50;
  RunningServer server(options);

  auto solving = std::async(
      std::launch::async, [&] { return server.client()->Post("/plan", slow_request(), "application/json"); });
  ASSERT_TRUE(eventually([&] { return scrape(server)["reds_plan_solves_in_flight"] == 1; }));

  const auto start = std::chrono::steady_clock::now();
  const httplib::Result expired = server.client()->Post("/plan", tiny_ds_block_request(), "application/json");
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(expired);
  ASSERT_EQ(expired->status, 503) << "the slow plan ended within the wait: " << expired->body;
  EXPECT_GE(waited, std::chrono::milliseconds(50));
  EXPECT_EQ(expired->get_header_value("Retry-After"), "1");
  const json error = json::parse(expired->body)["error"];
  EXPECT_EQ(error["code"], "resource_exhausted");
  EXPECT_NE(error["message"].get<std::string>().find("--queue-wait-ms"), std::string::npos) << error;
  EXPECT_EQ(scrape(server)["reds_plan_queued"], 0);

  const httplib::Result solved = solving.get();
  ASSERT_TRUE(solved);
  EXPECT_EQ(solved->status, 200);
}

}  // namespace
}  // namespace reds::server::test
