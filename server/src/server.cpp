#include "reds/server/server.h"

#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>

#include "connection.h"
#include "metrics.h"
#include "openapi.h"
#include "reds/json.h"
#include "reds/models/architectures.h"
#include "reds/plan.h"

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

void reply_error(httplib::Response& response, int status, const Error& error) {
  response.status = status;
  response.set_content(to_json(error), kJson);
}

Error headers_too_late(std::int64_t header_timeout_ms) {
  return Error{ErrorCode::deadline_exceeded,
               "the request line and headers did not arrive within the server's " +
                   std::to_string(header_timeout_ms) + " ms (--header-timeout-ms)",
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

// One of `slots` solver slots, or none when all are taken. Never waits: an overloaded server answers 503
// at once instead of queueing work it cannot finish in time.
class SolveSlot {
 public:
  SolveSlot(std::atomic<std::int64_t>& in_use, int slots) : in_use_(in_use) {
    acquired_ = in_use_.fetch_add(1) < slots;
    if (!acquired_) --in_use_;
  }
  ~SolveSlot() {
    if (acquired_) --in_use_;
  }
  SolveSlot(const SolveSlot&) = delete;
  SolveSlot& operator=(const SolveSlot&) = delete;

  bool acquired() const { return acquired_; }

 private:
  std::atomic<std::int64_t>& in_use_;
  bool acquired_ = false;
};

// The connection the worker running this thread is reading a request from, while the library processes
// that request (HttpServer::process_and_close_socket).
thread_local ConnectionStream* connection_in_progress = nullptr;

class InProgress {
 public:
  explicit InProgress(ConnectionStream& connection) { connection_in_progress = &connection; }
  ~InProgress() { connection_in_progress = nullptr; }
  InProgress(const InProgress&) = delete;
  InProgress& operator=(const InProgress&) = delete;
};

// cpp-httplib's Server with access to its listening socket (a protected member). Debian's build of the
// library fixes the listen backlog at 5: a burst of connections beyond that has its SYNs dropped and waits
// a second or more for the retransmission. And its stop() asserts that the server is running, which
// makes a stop() that races with the start of listen() unsafe; closing the socket the same way it does
// (atomic exchange, shutdown, close) is safe at any time.
//
// It also serves each connection itself, on a ConnectionStream, so that a request's line and headers
// have a deadline (connection.h).
class HttpServer : public httplib::Server {
 public:
  void raise_backlog() { ::listen(svr_sock_, SOMAXCONN); }

  void close_listener() {
    const socket_t socket = svr_sock_.exchange(INVALID_SOCKET);
    if (socket == INVALID_SOCKET) return;
    ::shutdown(socket, SHUT_RDWR);
    ::close(socket);
  }

  // A request's line and headers must have arrived this long after its first byte.
  std::chrono::milliseconds header_timeout{10'000};
  // The whole answer (status line to body) to a request whose line missed the header deadline: the
  // library answers nothing then. A request whose headers missed it gets the library's 400, which the
  // error handler turns into 408 (see headers_timed_out()).
  std::string late_request_line_answer;
  // Called after that answer, to count and log it.
  std::function<void(const ConnectionStream&)> on_late_request_line;

  // Whether the request this thread's worker is reading has missed its header deadline. For the error
  // handler, which the library calls in the middle of process_request.
  static bool headers_timed_out() {
    return connection_in_progress != nullptr && connection_in_progress->headers_timed_out();
  }

  // Ends the connection of the request this thread's worker is answering, once the answer is sent. The
  // library would read the next request from it even after an answer with "Connection: close", such as
  // one that leaves the body unread.
  static void close_after_answer() {
    if (connection_in_progress != nullptr) connection_in_progress->close_after_answer();
  }

  // When the first byte of the request this thread's worker is answering arrived.
  static Clock::time_point request_started() {
    return connection_in_progress != nullptr ? connection_in_progress->request_started() : Clock::now();
  }

 private:
  bool process_and_close_socket(socket_t socket) override;
};

// cpp-httplib 0.11.4's loop over the requests of one connection (its Server::process_and_close_socket and
// detail::process_server_socket_core, which it does not let us extend), on our stream: while the server
// listens and the connection may serve more requests, wait up to the keep-alive timeout for the next
// request, then process it. The differences:
// - the header deadline, which ends the connection;
// - an answer with "Connection: close" ends it too (close_after_answer()), the library would read on;
// - a connection the server ends after an answer is drained before it closes, for at most the read
//   timeout, so that the client is not reset before it reads the answer (finish_sending_and_drain());
// - one stream for the whole connection, so that bytes of a pipelined request read along with the
//   previous one are kept (the library makes a stream per request and drops them).
// A copy follows the version it copies: a different cpp-httplib stops the build here, so that whoever
// upgrades compares its loop with this one (a changed signature alone would be caught by `override`,
// a changed behaviour would not) and then names the new version.
static_assert(std::string_view(CPPHTTPLIB_VERSION) == "0.11.4",
              "HttpServer::process_and_close_socket mirrors cpp-httplib 0.11.4: compare it with the "
              "installed version's Server::process_and_close_socket, then update this check");

bool HttpServer::process_and_close_socket(socket_t socket) {
  using std::chrono::microseconds;
  using std::chrono::seconds;
  const microseconds connection_read_timeout = seconds(read_timeout_sec_) + microseconds(read_timeout_usec_);
  ConnectionStream connection(
      socket, {connection_read_timeout, seconds(write_timeout_sec_) + microseconds(write_timeout_usec_),
               header_timeout});
  // The deadline ends where the library hands the request to the routing (and to our handlers).
  const std::function<void(httplib::Request&)> headers_read = [&connection](httplib::Request&) {
    connection.end_headers();
  };
  bool served = false;
  for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
    if (!connection.wait_for_request(seconds(keep_alive_timeout_sec_))) break;
    connection.begin_request();
    bool client_closes = false;
    {
      const InProgress in_progress(connection);
      served = process_request(connection, left == 1, client_closes, headers_read);
    }
    if (connection.headers_timed_out()) {
      std::string_view unsent = late_request_line_answer;
      while (!connection.answered() && !unsent.empty()) {
        const ssize_t sent = connection.write(unsent.data(), unsent.size());
        if (sent <= 0) break;
        unsent.remove_prefix(static_cast<std::size_t>(sent));
      }
      if (unsent.size() < late_request_line_answer.size() && on_late_request_line) {
        on_late_request_line(connection);
      }
    }
    if (connection.headers_timed_out() || connection.closing()) {
      connection.finish_sending_and_drain(connection_read_timeout);
      break;
    }
    if (!served || client_closes) break;
  }
  ::shutdown(socket, SHUT_RDWR);
  ::close(socket);
  return served;
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
  bool bound = false;
  std::atomic<bool> stopping{false};
};

void Server::Impl::configure() {
  using std::chrono::milliseconds;
  // One connection per worker: the pool size is the number of connections served at once.
  http.new_task_queue = [threads = options.threads] { return new httplib::ThreadPool(threads); };
  // Without TCP_NODELAY every answer waits 40-80 ms for Nagle's algorithm on loopback (deps.md).
  http.set_tcp_nodelay(true);
  // cpp-httplib's default options add SO_REUSEPORT, which lets a second server bind the same port and
  // silently take half the connections; SO_REUSEADDR alone restarts cleanly without that.
  http.set_socket_options([](socket_t socket) {
    const int yes = 1;
    ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_read_timeout(milliseconds(options.read_timeout_ms));
  // The read timeout bounds each read; this deadline the whole request line and headers, which the library
  // reads before any handler of ours runs.
  http.header_timeout = milliseconds(options.header_timeout_ms);
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
    log_access(client, nullptr, nullptr, 408, late_bytes, connection.request_started());
  };
  http.set_write_timeout(milliseconds(options.read_timeout_ms));
  // stop() waits for idle keep-alive connections to time out: a short timeout keeps shutdown prompt.
  http.set_keep_alive_timeout(options.keep_alive_s);
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
             response.set_content(metrics.exposition(options.max_inflight),
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
  // The body is read here, not by the library, so that the size limit also holds for chunked and
  // compressed bodies (the library checks Content-Length only).
  // The read timeout bounds each wait for data; the body deadline bounds the whole body, so that a client
  // trickling a byte now and then cannot keep a worker for hours.
  const auto max_body = static_cast<std::size_t>(options.max_body_bytes);
  const Clock::time_point body_deadline = Clock::now() + std::chrono::milliseconds(options.body_timeout_ms);
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
  // The rest of a body we stopped reading would be read as the next request: the connection must end.
  if (too_large || too_slow || !complete) response.set_header("Connection", "close");
  if (too_slow) {
    return reply_error(response, 408,
                       Error{ErrorCode::deadline_exceeded,
                             "the request body did not arrive within the server's " +
                                 std::to_string(options.body_timeout_ms) + " ms (--body-timeout-ms)",
                             {}});
  }
  if (too_large || response.status == 413) {
    return reply_error(response, 413, body_too_large(options.max_body_bytes));
  }
  if (!complete) {
    return reply_error(
        response, 400,
        invalid_argument("the request body ended before its Content-Length, or arrived slower than "
                         "the server's read timeout allows"));
  }

  const SolveSlot slot(metrics.solves_in_flight, options.max_inflight);
  if (!slot.acquired()) {
    response.set_header("Retry-After", "1");
    return reply_error(response, 503,
                       Error{ErrorCode::resource_exhausted,
                             "the server is busy: all " + std::to_string(options.max_inflight) +
                                 " solver slots are in use; retry after 1 s",
                             {}});
  }
  const Clock::time_point start = Clock::now();
  answer_plan(body, response);
  metrics.observe_plan_seconds(std::chrono::duration<double>(Clock::now() - start).count());
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
      {"status", healthy ? "ok" : "failing"}, {"version", REDS_VERSION}, {"check", std::move(check)}};
  response.status = healthy ? 200 : 503;
  response.set_content(answer.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace), kJson);
}

void Server::Impl::handle_error(const httplib::Request& request, httplib::Response& response) const {
  if (HttpServer::headers_timed_out()) {
    response.set_header("Connection", "close");
    return reply_error(response, 408, headers_too_late(options.header_timeout_ms));
  }
  switch (response.status) {
    case 404:
      return reply_error(response, 404,
                         invalid_argument("no endpoint " + request.method + " " + request.path +
                                          "; the endpoints are " + endpoint_list()));
    case 413:
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
  if (!impl_->bound) return false;
  if (impl_->stopping) return true;
  return impl_->http.listen_after_bind();
}

void Server::stop() {
  impl_->stopping = true;
  impl_->http.close_listener();
}

}  // namespace reds::server
