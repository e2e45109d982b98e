// The connections of the service (server/src/connection.h): the deadline on a request's line and headers
// (--header-timeout-ms), and what must not change with it: keep-alive connections with pauses between
// requests, slow bodies after prompt headers; pipelined requests, and the end of a connection whose answer
// says "Connection: close".
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "server_fixture.h"

namespace reds::server::test {
namespace {

using Clock = std::chrono::steady_clock;

// Limits with which a trickle of one byte per 100 ms never trips the read timeout, yet runs into the
// header deadline within a second; one worker, so that a client holding it starves every other.
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

}  // namespace
}  // namespace reds::server::test
