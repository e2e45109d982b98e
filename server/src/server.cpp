#include "reds/server/server.h"

#include <httplib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>

#include "connection.h"
#include "event_loop.h"
#include "metrics.h"
#include "openapi.h"
#include "reds/json.h"
#include "reds/models/architectures.h"
#include "reds/plan.h"
#include "reds/version.h"

namespace reds::server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kJson = "application/json";

// The bundled network GET /health plans: small (a fraction of a millisecond), yet with coupled MACs and
// three nested levels, so that it exercises the whole planner.
constexpr const char* kHealthNetwork = "cnn_s";

struct Endpoint {
  const char* path;
  const char* pattern;  // cpp-httplib matches paths as regular expressions
  const char* method;
  const char* allow;  // the Allow header of a 405 (HEAD comes with GET in cpp-httplib)
};

constexpr Endpoint kEndpoints[] = {
    {"/plan", "/plan", "POST", "POST, OPTIONS"},
    {"/health", "/health", "GET", "GET, HEAD, OPTIONS"},
    {"/metrics", "/metrics", "GET", "GET, HEAD, OPTIONS"},
    {"/openapi.json", R"(/openapi\.json)", "GET", "GET, HEAD, OPTIONS"},
};

// The endpoint label of a request path in the metrics: a known path, or "other".
std::string_view endpoint_label(const std::string& path) {
  for (const Endpoint& endpoint : kEndpoints) {
    if (path == endpoint.path) return endpoint.path;
  }
  return "other";
}

std::string endpoint_list() {
  std::string list;
  for (const Endpoint& endpoint : kEndpoints) {
    list += (list.empty() ? "" : ", ") + std::string(endpoint.method) + ' ' + endpoint.path;
  }
  return list;
}

// How cpp-httplib compares header values such as "chunked".
bool equal_ignoring_case(const std::string& a, const std::string& b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

void reply_error(httplib::Response& response, int status, const Error& error) {
  response.status = status;
  response.set_content(to_json(error), kJson);
}

// Whether a request line is "POST /plan ...": the path before any query, percent-decoded as cpp-httplib
// decodes it for routing.
bool is_plan_request(std::string_view request_line) {
  if (!request_line.starts_with("POST ")) return false;
  request_line.remove_prefix(5);
  const std::string_view target = request_line.substr(0, request_line.find_first_of(" ?"));
  std::string path;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '%' && i + 2 < target.size() &&
        std::isxdigit(static_cast<unsigned char>(target[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(target[i + 2]))) {
      path += static_cast<char>(std::stoi(std::string(target.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      path += target[i];
    }
  }
  return path == "/plan";
}

Error headers_too_late(std::int64_t header_timeout_ms) {
  return Error{ErrorCode::deadline_exceeded,
               "the request line and headers did not arrive within the server's " +
                   std::to_string(header_timeout_ms) + " ms (--header-timeout-ms)",
               {}};
}

Error body_too_late(std::int64_t body_timeout_ms) {
  return Error{ErrorCode::deadline_exceeded,
               "the request body did not arrive within the server's " + std::to_string(body_timeout_ms) +
                   " ms (--body-timeout-ms)",
               {}};
}

Error body_too_large(std::int64_t max_body_bytes) {
  return Error{ErrorCode::resource_exhausted,
               "the request body is larger than the server's limit of " + std::to_string(max_body_bytes) +
                   " bytes (--max-body-bytes)",
               {}};
}

// Counts an HTTP request or a solve as in flight for its lifetime.
class InFlight {
 public:
  explicit InFlight(std::atomic<std::int64_t>& count) : count_(count) { ++count_; }
  ~InFlight() { --count_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<std::int64_t>& count_;
};

// The stream of the request the worker running this thread is answering, while the library processes
// that request (HttpServer::serve).
thread_local ConnectionStream* request_in_progress = nullptr;

class InProgress {
 public:
  explicit InProgress(ConnectionStream& stream) { request_in_progress = &stream; }
  ~InProgress() { request_in_progress = nullptr; }
  InProgress(const InProgress&) = delete;
  InProgress& operator=(const InProgress&) = delete;
};

// cpp-httplib's Server with access to its listening socket and its request processing (protected
// members). The event loop (event_loop.h) reads the requests; a worker answers each one on a
// ConnectionStream with the library's process_request, which parses the request line and headers, reads
// the body, routes, and writes the answer, as its own connection loop would.
//
// Debian's build of the library fixes the listen backlog at 5: a burst of connections beyond that has its
// SYNs dropped and waits a second or more for the retransmission. Closing the listener the way the
// library does (atomic exchange, shutdown, close) is safe at any time.
class HttpServer : public httplib::Server {
 public:
  void raise_backlog() { ::listen(svr_sock_, SOMAXCONN); }
  int listener() const { return svr_sock_; }

  // New connections are refused from now on; the loop stops watching the socket, close_listener() closes it.
  void shut_listener() {
    const socket_t socket = svr_sock_;
    if (socket != INVALID_SOCKET) ::shutdown(socket, SHUT_RDWR);
  }

  void close_listener() {
    const socket_t socket = svr_sock_.exchange(INVALID_SOCKET);
    if (socket == INVALID_SOCKET) return;
    ::shutdown(socket, SHUT_RDWR);
    ::close(socket);
  }

  std::chrono::microseconds read_timeout() const {
    return std::chrono::seconds(read_timeout_sec_) + std::chrono::microseconds(read_timeout_usec_);
  }
  std::chrono::microseconds write_timeout() const {
    return std::chrono::seconds(write_timeout_sec_) + std::chrono::microseconds(write_timeout_usec_);
  }

  // Answers the request at the front of the connection's buffer, and says what becomes of the
  // connection. Requests after the last one keep-alive allows, and every request once `stopping`, are
  // answered with "Connection: close".
  EventLoop::Verdict serve(Connection& connection, bool stopping);

  // The whole answer (status line to body) to a request whose line missed the header deadline: the
  // library answers nothing then. A request whose headers missed it gets the library's 400, which the
  // error handler turns into 408 (see headers_timed_out()).
  std::string late_request_line_answer;
  // Called after that answer, to count and log it.
  std::function<void(const ConnectionStream&)> on_late_request_line;

  // Whether the request this thread's worker is answering missed its header (or body) deadline. For the
  // error handler and the handlers, which the library calls in the middle of process_request.
  static bool headers_timed_out() {
    return request_in_progress != nullptr && request_in_progress->connection().headers_timed_out;
  }
  static bool body_timed_out() {
    return request_in_progress != nullptr && request_in_progress->connection().body_timed_out;
  }

  // Ends the connection of the request this thread's worker is answering, once the answer is sent. The
  // library would read the next request from it even after an answer with "Connection: close", such as
  // one that leaves the body unread.
  static void close_after_answer() {
    if (request_in_progress != nullptr) request_in_progress->close_after_answer();
  }

  // When the first byte of the request this thread's worker is answering arrived, and the end of its
  // headers.
  static Clock::time_point request_started() {
    return request_in_progress != nullptr ? request_in_progress->connection().request_started : Clock::now();
  }
  // The plan is made: the solver slot goes to the next request before this one's answer is written.
  void release_slot() const {
    if (request_in_progress != nullptr && loop != nullptr)
      loop->release_slot(request_in_progress->connection());
  }
  EventLoop* loop = nullptr;  // while the server listens
  static Connection::Slot slot() {
    return request_in_progress != nullptr ? request_in_progress->connection().slot : Connection::Slot::none;
  }
  static Clock::time_point headers_received() {
    return request_in_progress != nullptr ? request_in_progress->connection().headers_received : Clock::now();
  }
};

// process_request is cpp-httplib 0.11.4's, and what serve() expects of it (it reads the request from the
// stream, writes one answer, and says whether the client asked to close) was checked against that
// version: a different cpp-httplib stops the build here, so that whoever upgrades checks it again and then
// names the new version.
static_assert(std::string_view(CPPHTTPLIB_VERSION) == "0.11.4",
              "HttpServer::serve relies on cpp-httplib 0.11.4's Server::process_request: check it against "
              "the installed version, then update this check");

EventLoop::Verdict HttpServer::serve(Connection& connection, bool stopping) {
  ConnectionStream stream(connection, {read_timeout(), write_timeout()});
  ++connection.requests_served;
  const bool last = stopping || connection.requests_served >= static_cast<int>(keep_alive_max_count_);
  bool client_closes = false;
  bool served = false;
  {
    const InProgress in_progress(stream);
    served = process_request(stream, last, client_closes, [](httplib::Request&) {});
  }
  if (connection.headers_timed_out) {
    std::string_view unsent = late_request_line_answer;
    while (!stream.answered() && !unsent.empty()) {
      const ssize_t sent = stream.write(unsent.data(), unsent.size());
      if (sent <= 0) break;
      unsent.remove_prefix(static_cast<std::size_t>(sent));
    }
    if (unsent.size() < late_request_line_answer.size() && on_late_request_line) on_late_request_line(stream);
  }
  connection.buffer.erase(0, stream.consumed());
  // A request the loop gave up on was not read whole: what follows it is no request.
  if (connection.headers_timed_out || stream.closing() || connection.close_after_answer ||
      connection.input == Connection::Input::exhausted) {
    return EventLoop::Verdict::drain_and_close;
  }
  if (!served || client_closes || last) return EventLoop::Verdict::close;
  return EventLoop::Verdict::keep_alive;
}

}  // namespace

int Options::default_max_inflight() {
  return static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
}

std::optional<Error> validate(const Options& options) {
  const auto at_least = [](const char* option, std::int64_t value,
                           std::int64_t minimum) -> std::optional<Error> {
    if (value >= minimum) return std::nullopt;
    return invalid_argument(std::string(option) + " is " + std::to_string(value) + ", must be at least " +
                            std::to_string(minimum));
  };
  if (options.host.empty()) return invalid_argument("--host is empty, give an address such as 127.0.0.1");
  if (options.port < 0 || options.port > 65535) {
    return invalid_argument("--port is " + std::to_string(options.port) +
                            ", must be 0 (any free port) to 65535");
  }
  for (const auto& [option, value, minimum] : {
           std::tuple<const char*, std::int64_t, std::int64_t>{"--threads", options.threads, 1},
           {"--max-body-bytes", options.max_body_bytes, 1},
           {"--max-time-ms", options.max_time_ms, 1},
           {"--max-inflight", options.max_inflight, 1},
           {"--queue-size", options.queue_size, 0},
           {"--queue-wait-ms", options.queue_wait_ms, 1},
           {"--max-connections", options.max_connections, 1},
           {"--read-timeout-ms", options.read_timeout_ms, 1},
           {"--header-timeout-ms", options.header_timeout_ms, 1},
           {"--body-timeout-ms", options.body_timeout_ms, 1},
           {"--keep-alive-s", options.keep_alive_s, 1},
           {"--keep-alive-requests", options.keep_alive_requests, 1},
       }) {
    if (std::optional<Error> error = at_least(option, value, minimum)) return error;
  }
  return std::nullopt;
}

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
      return 400;
    case ErrorCode::resource_exhausted:
      return 413;
    case ErrorCode::deadline_exceeded:
      return 504;
    case ErrorCode::internal:
      return 500;
  }
  return 500;
}

struct Server::Impl {
  explicit Impl(Options options_in)
      : options(std::move(options_in)), health_request(health_check_request()) {}
  ~Impl() { http.close_listener(); }

  static Result<PlanRequest> health_check_request() { return models::example_request(kHealthNetwork); }

  void configure();
  void route();
  void handle_plan(const httplib::Request& request, httplib::Response& response,
                   const httplib::ContentReader& content);
  void answer_plan(const std::string& body, httplib::Response& response);
  void handle_health(httplib::Response& response);
  void handle_error(const httplib::Request& request, httplib::Response& response) const;
  // One line of the access log (Options::access_log); no method and path for a request line that never
  // arrived whole.
  void log_access(const std::string& client, const std::string* method, const std::string* path, int status,
                  std::size_t body_bytes, Clock::time_point started) const;

  Options options;
  HttpServer http;
  Metrics metrics;
  const Result<PlanRequest> health_request;
  std::unique_ptr<EventLoop> loop;  // while listen() runs
  std::mutex loop_mutex;            // guards `loop` against stop() from another thread
  bool bound = false;
  std::atomic<bool> stopping{false};
};

void Server::Impl::configure() {
  using std::chrono::milliseconds;
  // cpp-httplib's default options add SO_REUSEPORT, which lets a second server bind the same port and
  // silently take half the connections; SO_REUSEADDR alone restarts cleanly without that.
  http.set_socket_options([](socket_t socket) {
    const int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_read_timeout(milliseconds(options.read_timeout_ms));
  const std::string late = to_json(headers_too_late(options.header_timeout_ms));
  http.late_request_line_answer = std::string("HTTP/1.1 408 Request Timeout\r\n") +
                                  "Connection: close\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Content-Length: " +
                                  std::to_string(late.size()) + "\r\n\r\n" + late;
  http.on_late_request_line = [this, late_bytes = late.size()](const ConnectionStream& connection) {
    metrics.count_response(endpoint_label(""), 408);
    if (!options.access_log) return;
    std::string client;
    int port = 0;
    connection.get_remote_ip_and_port(client, port);
    log_access(client, nullptr, nullptr, 408, late_bytes, connection.connection().request_started);
  };
  http.set_write_timeout(milliseconds(options.read_timeout_ms));
  http.set_keep_alive_max_count(static_cast<std::size_t>(options.keep_alive_requests));
  http.set_payload_max_length(static_cast<std::size_t>(options.max_body_bytes));
  http.set_logger([this](const httplib::Request& request, const httplib::Response& response) {
    metrics.count_response(endpoint_label(request.path), response.status);
    if (response.get_header_value("Connection") == "close") HttpServer::close_after_answer();
    if (options.access_log) {
      log_access(request.remote_addr, &request.method, &request.path, response.status, response.body.size(),
                 HttpServer::request_started());
    }
  });
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& request, httplib::Response& response) {
        // Our handlers write their own error bodies; only the library's bare statuses need one.
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        handle_error(request, response);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& response, std::exception_ptr failure) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(std::move(failure));
        } catch (const std::exception& exception) {
          what = exception.what();
        } catch (...) {
        }
        reply_error(response, 500, Error{ErrorCode::internal, "the server failed: " + what, {}});
      });
  route();
}

void Server::Impl::log_access(const std::string& client, const std::string* method, const std::string* path,
                              int status, std::size_t body_bytes, Clock::time_point started) const {
  const double milliseconds = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  // UTC with milliseconds, e.g. 2026-11-26T05:59:01.123Z.
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char time[64];
  std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  nlohmann::ordered_json line = {{"time", time},
                                 {"client", client},
                                 {"method", method != nullptr ? nlohmann::ordered_json(*method) : nullptr},
                                 {"path", path != nullptr ? nlohmann::ordered_json(*path) : nullptr},
                                 {"status", status},
                                 {"bytes", body_bytes},
                                 {"ms", std::round(milliseconds * 1000.0) / 1000.0}};
  // A path is whatever the client sent: invalid UTF-8 is replaced rather than refused.
  std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), stderr);  // one call per line: lines never interleave
}

void Server::Impl::route() {
  using httplib::Request;
  using httplib::Response;
  const auto counted = [this](auto handler) {
    return [this, handler](const Request& request, Response& response) {
      const InFlight in_flight(metrics.requests_in_flight);
      handler(request, response);
    };
  };

  http.Post("/plan",
            [this](const Request& request, Response& response, const httplib::ContentReader& content) {
              const InFlight in_flight(metrics.requests_in_flight);
              handle_plan(request, response, content);
            });
  http.Get("/health", counted([this](const Request&, Response& response) { handle_health(response); }));
  http.Get("/metrics", counted([this](const Request&, Response& response) {
             response.set_content(metrics.exposition({options.max_inflight, options.queue_size}),
                                  "text/plain; version=0.0.4; charset=utf-8");
           }));
  http.Get(R"(/openapi\.json)", counted([](const Request&, Response& response) {
             const std::string_view document = openapi_document();
             response.set_content(document.data(), document.size(), kJson);
           }));

  // Every other method on a known path: 405 with Allow (cpp-httplib alone would answer 404), and OPTIONS
  // answers 204 with Allow.
  for (const Endpoint& endpoint : kEndpoints) {
    const auto not_allowed = counted([endpoint](const Request& request, Response& response) {
      response.set_header("Allow", endpoint.allow);
      reply_error(response, 405,
                  invalid_argument(request.method + " is not allowed on " + endpoint.path + "; use " +
                                   endpoint.method));
    });
    const std::string_view method = endpoint.method;
    if (method != "GET") http.Get(endpoint.pattern, not_allowed);
    if (method != "POST") http.Post(endpoint.pattern, not_allowed);
    http.Put(endpoint.pattern, not_allowed);
    http.Patch(endpoint.pattern, not_allowed);
    http.Delete(endpoint.pattern, not_allowed);
    http.Options(endpoint.pattern, counted([endpoint](const Request&, Response& response) {
                   response.status = 204;
                   response.set_header("Allow", endpoint.allow);
                 }));
  }
}

void Server::Impl::handle_plan(const httplib::Request& request, httplib::Response& response,
                               const httplib::ContentReader& content) {
  // cpp-httplib would hand a multipart body to a form parser, not to us.
  if (request.is_multipart_form_data()) {
    response.set_header("Connection", "close");  // the body stays unread
    return reply_error(
        response, 415,
        invalid_argument("POST /plan takes the plan request as a JSON body, not multipart/form-data"));
  }
  // HTTP/1.1 reads a request without either header as one without a body; the library would read one
  // until the client closes the connection or falls silent.
  if (!request.has_header("Content-Length") &&
      !equal_ignoring_case(request.get_header_value("Transfer-Encoding"), "chunked")) {
    return reply_error(response, 411,
                       invalid_argument("POST /plan needs the plan request as its body, announced by a "
                                        "Content-Length header (or sent with chunked Transfer-Encoding); "
                                        "this request has no body"));
  }
  // The encodings the library decodes; it would hand any other to us undecoded, to fail as malformed JSON.
  if (const std::string encoding = request.get_header_value("Content-Encoding");
      !encoding.empty() && encoding != "identity" && encoding != "gzip" && encoding != "deflate" &&
      encoding != "br") {
    response.set_header("Connection", "close");  // the body stays unread
    return reply_error(response, 415,
                       invalid_argument("the Content-Encoding '" + encoding +
                                        "' is not one the server decodes; send the body as is, or with gzip, "
                                        "deflate or br"));
  }
  // The body is read here, not by the library, so that the size limit also holds for chunked and
  // compressed bodies (the library checks Content-Length only).
  // The read timeout bounds each wait for data; the body deadline bounds the whole body, so that a client
  // trickling a byte now and then cannot keep a worker for hours. The event loop enforces both while it
  // reads the body; a body too large for its buffers is read here, and the deadline counts from the end
  // of the headers all the same.
  const auto max_body = static_cast<std::size_t>(options.max_body_bytes);
  const Clock::time_point body_deadline =
      HttpServer::headers_received() + std::chrono::milliseconds(options.body_timeout_ms);
  std::string body;
  bool too_large = false;
  bool too_slow = false;
  const bool complete = content([&](const char* data, std::size_t length) {
    if (length > max_body - body.size()) {
      too_large = true;
      return false;
    }
    body.append(data, length);
    too_slow = Clock::now() > body_deadline;
    return !too_slow;
  });
  too_slow = too_slow || HttpServer::body_timed_out();
  // The rest of a body we stopped reading would be read as the next request: the connection must end.
  if (too_large || too_slow || !complete) response.set_header("Connection", "close");
  if (too_slow) return reply_error(response, 408, body_too_late(options.body_timeout_ms));
  if (too_large || response.status == 413) {
    return reply_error(response, 413, body_too_large(options.max_body_bytes));
  }
  if (!complete) {
    return reply_error(
        response, 400,
        invalid_argument("the request body ended before its Content-Length, or arrived slower than "
                         "the server's read timeout allows"));
  }

  // The event loop gave this request a solver slot, or queued it for one (event_loop.h); when it could not,
  // it says why.
  const Connection::Slot slot = HttpServer::slot();
  if (slot != Connection::Slot::held) {
    response.set_header("Retry-After", "1");
    const std::string slots =
        "all " + std::to_string(options.max_inflight) + " solver slots (--max-inflight)";
    std::string why = slot == Connection::Slot::queue_full
                          ? "the server is busy: " + slots + " are in use and " +
                                std::to_string(options.queue_size) +
                                " requests are waiting for one (--queue-size); retry after 1 s"
                      : slot == Connection::Slot::wait_expired
                          ? "the server is busy: " + slots + " stayed in use for the " +
                                std::to_string(options.queue_wait_ms) +
                                " ms this request waited (--queue-wait-ms); retry after 1 s"
                          : "the server is busy: this request reached the planner without a solver slot";
    return reply_error(response, 503, Error{ErrorCode::resource_exhausted, std::move(why), {}});
  }
  {
    const InFlight solving(metrics.solves_in_flight);
    const Clock::time_point start = Clock::now();
    answer_plan(body, response);
    metrics.observe_plan_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  }
  http.release_slot();
}

void Server::Impl::answer_plan(const std::string& body, httplib::Response& response) {
  Result<PlanRequest> request = parse_plan_request(body);
  if (!request) return reply_error(response, http_status(request.error().code), request.error());
  PlanRequest& plan_request = request.value();
  const bool capped = !plan_request.time_limit_ms || *plan_request.time_limit_ms > options.max_time_ms;
  if (capped) plan_request.time_limit_ms = options.max_time_ms;

  const Result<PlanResult> result = plan(plan_request);
  if (!result) {
    Error error = result.error();
    if (error.code == ErrorCode::deadline_exceeded && capped) {
      error.message +=
          " (the server limits every plan to --max-time-ms = " + std::to_string(options.max_time_ms) + " ms)";
    }
    return reply_error(response, http_status(error.code), error);
  }
  metrics.count_plan(result->status);
  response.status = 200;
  response.set_content(to_json(result.value()), kJson);
}

void Server::Impl::handle_health(httplib::Response& response) {
  nlohmann::ordered_json check = {{"network", kHealthNetwork}};
  bool healthy = false;
  if (!health_request) {
    check["status"] = "error";
    check["error"] = health_request.error().message;
  } else {
    PlanRequest request = health_request.value();
    request.time_limit_ms = options.max_time_ms;
    const Result<PlanResult> result = plan(request);
    if (!result) {
      check["status"] = "error";
      check["error"] = result.error().message;
    } else {
      healthy = result->status == PlanStatus::optimal;
      check["status"] = to_string(result->status);
      check["solve_seconds"] = result->solve_seconds;
    }
  }
  const nlohmann::ordered_json answer = {
      {"status", healthy ? "ok" : "failing"}, {"version", reds::kVersion}, {"check", std::move(check)}};
  response.status = healthy ? 200 : 503;
  response.set_content(answer.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace), kJson);
}

void Server::Impl::handle_error(const httplib::Request& request, httplib::Response& response) const {
  if (HttpServer::headers_timed_out()) {
    response.set_header("Connection", "close");
    return reply_error(response, 408, headers_too_late(options.header_timeout_ms));
  }
  if (HttpServer::body_timed_out()) {
    response.set_header("Connection", "close");
    return reply_error(response, 408, body_too_late(options.body_timeout_ms));
  }
  switch (response.status) {
    case 404:
      return reply_error(response, 404,
                         invalid_argument("no endpoint " + request.method + " " + request.path +
                                          "; the endpoints are " + endpoint_list()));
    case 413:
      response.set_header("Connection", "close");  // the body was left unread
      return reply_error(response, 413, body_too_large(options.max_body_bytes));
    case 400:
      return reply_error(response, 400, invalid_argument("malformed HTTP request"));
    default:
      return reply_error(response, response.status,
                         Error{response.status >= 500 ? ErrorCode::internal : ErrorCode::invalid_argument,
                               "HTTP status " + std::to_string(response.status),
                               {}});
  }
}

Server::Server(Options options) : impl_(std::make_unique<Impl>(std::move(options))) { impl_->configure(); }

Server::~Server() = default;

Result<int> Server::bind() {
  const Options& options = impl_->options;
  if (std::optional<Error> error = validate(options)) return *std::move(error);
  if (impl_->bound) return invalid_argument("the server is already bound");
  errno = 0;
  const int port = options.port == 0
                       ? impl_->http.bind_to_any_port(options.host)
                       : (impl_->http.bind_to_port(options.host, options.port) ? options.port : -1);
  if (port < 0) {
    const std::string reason = errno != 0 ? std::string(": ") + std::strerror(errno) : std::string();
    return invalid_argument("cannot listen on " + options.host + " port " + std::to_string(options.port) +
                            reason);
  }
  impl_->http.raise_backlog();
  impl_->bound = true;
  return port;
}

bool Server::listen() {
  Impl& impl = *impl_;
  if (!impl.bound) return false;
  const Options& options = impl.options;
  EventLoop::Settings settings;
  settings.read_timeout = std::chrono::milliseconds(options.read_timeout_ms);
  settings.header_timeout = std::chrono::milliseconds(options.header_timeout_ms);
  settings.body_timeout = std::chrono::milliseconds(options.body_timeout_ms);
  settings.keep_alive = std::chrono::seconds(options.keep_alive_s);
  settings.max_connections = static_cast<std::size_t>(options.max_connections);
  settings.max_workers = static_cast<std::size_t>(options.threads);
  settings.max_body_bytes = static_cast<std::uint64_t>(options.max_body_bytes);
  settings.needs_slot = is_plan_request;
  settings.slots = options.max_inflight;
  settings.queue_size = static_cast<std::size_t>(options.queue_size);
  settings.queue_wait = std::chrono::milliseconds(options.queue_wait_ms);
  const std::string refusal =
      to_json(Error{ErrorCode::resource_exhausted,
                    "the server holds " + std::to_string(options.max_connections) +
                        " connections, its limit (--max-connections); retry after 1 s",
                    {}});
  settings.refusal =
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(refusal.size()) + "\r\n\r\n" + refusal;
  {
    const std::lock_guard lock(impl.loop_mutex);
    if (impl.stopping) return true;
    impl.loop = std::make_unique<EventLoop>(
        std::move(settings),
        [&impl](Connection& connection) { return impl.http.serve(connection, impl.stopping); },
        [&impl] { impl.metrics.count_refused_connection(); });
    impl.metrics.open_connections = [loop = impl.loop.get()] { return loop->open_connections(); };
    impl.metrics.queued_requests = [loop = impl.loop.get()] { return loop->queued(); };
    impl.http.loop = impl.loop.get();
  }
  const bool served = impl.loop->run(impl.http.listener());
  impl.http.close_listener();
  {
    const std::lock_guard lock(impl.loop_mutex);
    impl.metrics.open_connections = nullptr;
    impl.metrics.queued_requests = nullptr;
    impl.http.loop = nullptr;
    impl.loop.reset();
  }
  return served;
}

void Server::stop() {
  const std::lock_guard lock(impl_->loop_mutex);
  impl_->stopping = true;
  impl_->http.shut_listener();
  if (impl_->loop) impl_->loop->stop();
}

}  // namespace reds::server
