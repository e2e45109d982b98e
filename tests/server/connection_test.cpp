// The connections of the service (server/src/event_loop.h): the deadline on a request's line and headers
// (--header-timeout-ms), and what must not change with it: keep-alive connections with pauses between
// requests, slow bodies after prompt headers; pipelined requests, and the end of a connection whose answer
// says "Connection: close"; slow clients that hold no worker, and the limit on connections.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace reds::server::test {
namespace {

using Clock = std::chrono::steady_clock;

// Limits with which a trickle of one byte per 100 ms never trips the read timeout, yet runs into the
// header deadline within a second; one worker, which a slow client must not keep from the others.
Options header_deadline_options() {
  Options options = test_options();
  options.threads = 1;
  options.header_timeout_ms = 500;
  options.read_timeout_ms = 300;
  return options;
}

// Sends `bytes` one at a time, 100 ms apart, until the server answers or closes the connection (or the
// bytes run out, then waits up to 2 s more). Returns what the server sent.
std::string trickle(RawConnection& connection, const std::string& bytes, bool& closed) {
  std::string answer;
  closed = false;
  for (const char byte : bytes) {
    if (!connection.send(std::string(1, byte))) break;
    answer += connection.receive_until_closed(100ms, closed);
    if (closed || !answer.empty()) break;
  }
  if (!closed) answer += connection.receive_until_closed(2'000ms, closed);
  return answer;
}

std::string body_of(const std::string& answer) {
  const std::size_t end_of_headers = answer.find("\r\n\r\n");
  return end_of_headers == std::string::npos ? std::string() : answer.substr(end_of_headers + 4);
}

// A request line and headers that take 4 s at one byte per 100 ms.
const std::string kLongHeaderTail = "st: test\r\nX-Padding: " + std::string(30, 'a') + "\r\n\r\n";

double requests_counted(const RunningServer& server, const std::string& endpoint, int code) {
  return scrape(server)["reds_http_requests_total{endpoint=\"" + endpoint + "\",code=\"" +
                        std::to_string(code) + "\"}"];
}

void expect_late_answer(const std::string& answer, bool closed) {
  EXPECT_TRUE(closed) << "the server kept the connection open after the header deadline";
  EXPECT_EQ(raw_status(answer), 408) << answer;
  const json error = json::parse(body_of(answer), nullptr, false);
  ASSERT_TRUE(error.contains("error")) << answer;
  EXPECT_EQ(error["error"]["code"], "deadline_exceeded");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("--header-timeout-ms"), std::string::npos);
}

TEST(HttpHeaderDeadlineTest, TricklingHeadersGet408AndFreeTheWorker) {
  RunningServer server(header_deadline_options());
  RawConnection trickling(server.port());
  ASSERT_TRUE(trickling.connected());
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(trickling.send("POST /plan HTTP/1.1\r\nHo"));
  bool closed = false;
  const std::string answer = trickle(trickling, kLongHeaderTail, closed);
  const auto took = Clock::now() - start;

  // The deadline, not the read timeout (300 ms, never reached) nor the end of the trickle (4 s).
  EXPECT_GE(took, 500ms);
  EXPECT_LT(took, 1'500ms) << "the server kept reading trickling headers past their deadline";
  expect_late_answer(answer, closed);

  // The only worker is free again.
  const httplib::Result health = server.client()->Get("/health");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  EXPECT_TRUE(eventually([&] { return requests_counted(server, "/plan", 408) == 1; }));
}

TEST(HttpHeaderDeadlineTest, TricklingRequestLineGets408) {
  RunningServer server(header_deadline_options());
  RawConnection trickling(server.port());
  ASSERT_TRUE(trickling.connected());
  const Clock::time_point start = Clock::now();
  bool closed = false;
  const std::string answer = trickle(trickling, "GET /health?padding=" + std::string(40, 'a'), closed);
  const auto took = Clock::now() - start;

  EXPECT_GE(took, 500ms);
  EXPECT_LT(took, 1'500ms) << "the server kept reading a trickling request line past its deadline";
  expect_late_answer(answer, closed);
  EXPECT_TRUE(eventually([&] { return requests_counted(server, "other", 408) == 1; }));
}

TEST(HttpHeaderDeadlineTest, KeepAliveRequestsWithPausesAreServed) {
  Options options = header_deadline_options();
  options.header_timeout_ms = 300;
  options.read_timeout_ms = 2'000;
  options.keep_alive_s = 2;
  RunningServer server(options);
  RawConnection client(server.port());
  ASSERT_TRUE(client.connected());
  // Each wait for the answer lasts 600 ms: each request starts well after the previous one's deadline
  // would have passed, had it not restarted with the request.
  for (int request = 0; request < 3; ++request) {
    SCOPED_TRACE(request);
    // Its headers in two pieces, 100 ms apart: within the deadline.
    ASSERT_TRUE(client.send("GET /health HTTP/1.1\r\nHost: test\r\n"));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(client.send("Accept: */*\r\n\r\n"));
    bool closed = false;
    const std::string answer = client.receive_until_closed(600ms, closed);
    EXPECT_FALSE(closed);
    EXPECT_EQ(raw_status(answer), 200) << answer;
  }
}

TEST(HttpHeaderDeadlineTest, SlowBodyAfterPromptHeadersIsServed) {
  Options options = header_deadline_options();
  options.header_timeout_ms = 300;
  options.body_timeout_ms = 10'000;
  RunningServer server(options);
  RawConnection client(server.port());
  ASSERT_TRUE(client.connected());
  const std::string body = tiny_ds_block_request();
  ASSERT_TRUE(
      client.send("POST /plan HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Type: "
                  "application/json\r\nContent-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n"));
  // The body in four pieces over 600 ms: only the body's own limits apply to it.
  const std::size_t piece = body.size() / 4 + 1;
  for (std::size_t begin = 0; begin < body.size(); begin += piece) {
    std::this_thread::sleep_for(150ms);
    ASSERT_TRUE(client.send(body.substr(begin, piece)));
  }
  bool closed = false;
  const std::string answer = client.receive_until_closed(5'000ms, closed);
  ASSERT_EQ(raw_status(answer), 200) << answer;
  EXPECT_EQ(without_solve_seconds(body_of(answer)), library_answer(body));
}

TEST(HttpConnectionTest, PipelinedRequestsAreAllAnswered) {
  RunningServer server(header_deadline_options());
  RawConnection client(server.port());
  ASSERT_TRUE(client.connected());
  const std::string request = "GET /openapi.json HTTP/1.1\r\nHost: test\r\n\r\n";
  ASSERT_TRUE(client.send(request + request +
                          "GET /openapi.json HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
  bool closed = false;
  std::string answers = client.receive_until_closed(5'000ms, closed);
  EXPECT_TRUE(closed);
  int answered = 0;
  for (std::size_t at = answers.find("HTTP/1.1 200 "); at != std::string::npos;
       at = answers.find("HTTP/1.1 200 ", at + 1)) {
    ++answered;
  }
  EXPECT_EQ(answered, 3) << answers.substr(0, 300);
}

TEST(HttpConnectionTest, AnswerThatClosesTheConnectionEndsIt) {
  RunningServer server;
  RawConnection client(server.port());
  ASSERT_TRUE(client.connected());
  // A multipart body is answered 415 unread, with "Connection: close": what it holds is no request.
  const std::string unread_body = "GET /health HTTP/1.1\r\nHost: test\r\n\r\n";
  ASSERT_TRUE(
      client.send("POST /plan HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                  "Content-Length: " +
                  std::to_string(unread_body.size()) + "\r\n\r\n" + unread_body));
  bool closed = false;
  const std::string answer = client.receive_until_closed(3'000ms, closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(raw_status(answer), 415) << answer;
  EXPECT_EQ(answer.find("HTTP/1.1 200 "), std::string::npos) << "the unread body was served as a request:\n"
                                                             << answer;
}

// Clients that send their headers a line at a time hold no worker: a normal request is answered while many
// of them are open, well before their header deadline. (A bound for correctness, not a speed figure:
// bench/server/trickle.py measures the latency.)
TEST(HttpConnectionTest, TricklingClientsDoNotDelayOthers) {
  constexpr int kTrickling = 200;
  Options options = test_options();
  options.threads = 1;
  options.header_timeout_ms = 60'000;
  options.read_timeout_ms = 60'000;
  RunningServer server(options);
  std::vector<std::unique_ptr<RawConnection>> trickling;
  for (int i = 0; i < kTrickling; ++i) {
    trickling.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(trickling.back()->connected());
    ASSERT_TRUE(trickling.back()->send("POST /plan HTTP/1.1\r\nHost: test\r\n"));
  }
  ASSERT_TRUE(eventually([&] { return scrape(server)["reds_http_connections_open"] >= kTrickling; }));
  for (auto& connection : trickling) ASSERT_TRUE(connection->send("X-Trickle: 1\r\n"));

  const auto start = Clock::now();
  const httplib::Result plan = server.client()->Post("/plan", tiny_ds_block_request(), "application/json");
  const auto took = Clock::now() - start;
  ASSERT_TRUE(plan) << httplib::to_string(plan.error());
  EXPECT_EQ(plan->status, 200);
  EXPECT_LT(took, 2'000ms);

  // The trickling requests are still being read, not answered.
  for (auto& connection : trickling) ASSERT_TRUE(connection->send("X-Trickle: 2\r\n"));
  bool closed = false;
  EXPECT_EQ(trickling.front()->receive_until_closed(50ms, closed), "");
  EXPECT_FALSE(closed);
}

TEST(HttpConnectionTest, ConnectionsBeyondTheLimitAreAnswered503AndClosed) {
  Options options = test_options();
  options.max_connections = 3;
  options.keep_alive_s = 60;  // the three stay open while idle
  RunningServer server(options);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawConnection>(server.port()));
    ASSERT_TRUE(held.back()->connected());
  }

  // Accepted after the three (connections are accepted in the order they arrive).
  bool closed = false;
  RawConnection refused(server.port());
  ASSERT_TRUE(refused.connected());
  const std::string answer = refused.receive_until_closed(5'000ms, closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(raw_status(answer), 503) << answer;
  EXPECT_NE(answer.find("Retry-After: 1\r\n"), std::string::npos) << answer;
  EXPECT_NE(answer.find("--max-connections"), std::string::npos) << answer;

  // Room again once a connection closes.
  held.front().reset();
  std::map<std::string, double> metrics;
  EXPECT_TRUE(eventually([&] {
    metrics = scrape(server);
    return !metrics.empty();
  }));
  // At least this one; a scrape that came before the server saw the closed connection is refused too.
  EXPECT_GE(metrics["reds_http_connections_refused_total"], 1);
  EXPECT_LE(metrics["reds_http_connections_open"], 3);
}

}  // namespace
}  // namespace reds::server::test
