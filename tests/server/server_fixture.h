// tests/server/server_fixture.h: the real service on an ephemeral loopback port, in-process, and the
// helpers the server tests share (HTTP client, raw sockets, metrics, the library's own answers).
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "reds/json.h"
#include "reds/models/architectures.h"
#include "reds/plan.h"
#include "reds/server/server.h"
#include "support/json_schema.h"
#include "support/source_tree.h"

namespace reds::server::test {

using nlohmann::json;
using namespace std::chrono_literals;

// Options for tests: any free port, limits small enough that tests of them run in milliseconds.
inline Options test_options() {
  Options options;
  options.port = 0;
  options.threads = 8;
  options.max_inflight = 8;
  options.read_timeout_ms = 2'000;
  return options;
}

// A Server listening on 127.0.0.1:<free port> in a background thread until destroyed.
class RunningServer {
 public:
  explicit RunningServer(Options options = test_options()) : server_(std::move(options)) {
    // A test writing to a socket the server has closed must see an error, not die of SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    const Result<int> port = server_.bind();
    if (!port) throw std::runtime_error("cannot start the server: " + port.error().message);
    port_ = port.value();
    // bind() leaves the socket listening: connections queue in the backlog until listen() accepts them.
    serving_ = std::thread([this] { server_.listen(); });
  }
  ~RunningServer() { stop(); }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  void stop() {
    server_.stop();
    if (serving_.joinable()) serving_.join();
  }

  int port() const { return port_; }

  // A keep-alive client with TCP_NODELAY (without it every request waits 40 ms for Nagle's algorithm).
  std::unique_ptr<httplib::Client> client() const {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client->set_tcp_nodelay(true);
    client->set_keep_alive(true);
    client->set_connection_timeout(5s);
    client->set_read_timeout(60s);  // sanitizer builds plan several times slower
    client->set_write_timeout(60s);
    return client;
  }

 private:
  Server server_;
  int port_ = 0;
  std::thread serving_;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// The lines of `text`, without their newlines (a last line without one included).
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

// The repository's worked example (README, "The problem, in our words").
inline std::string tiny_ds_block_request() {
  return read_file(reds::test::source_path("examples/tiny_ds_block.json"));
}

inline std::string example_request_json(const std::string& name, models::ExampleOptions options = {}) {
  const Result<PlanRequest> request = models::example_request(name, options);
  if (!request) throw std::runtime_error(request.error().message);
  return to_json(request.value());
}

// A valid request that takes about a second to plan in a Release build (MobileNetV1-224 at unit
// granularity without minimum widths, 48 MAC levels), for tests that need a plan in flight.
inline std::string slow_request() {
  models::ExampleOptions options;
  options.min_width_fraction = 0.0001;
  options.mac_fractions.clear();
  for (int level = 1; level <= 48; ++level) options.mac_fractions.push_back(0.02 * level);
  return example_request_json("mobilenet_v1_224", options);
}

// A response without its "solve_seconds", the one field that differs between two plans of one request.
inline json without_solve_seconds(const std::string& body) {
  json document = json::parse(body);
  document.erase("solve_seconds");
  return document;
}

// What the library answers for `request_json` (which must be valid), minus solve_seconds.
inline json library_answer(const std::string& request_json) {
  const Result<PlanRequest> request = parse_plan_request(request_json);
  if (!request) throw std::runtime_error(request.error().message);
  const Result<PlanResult> result = plan(request.value());
  if (!result) throw std::runtime_error(result.error().message);
  return without_solve_seconds(to_json(result.value()));
}

// Samples of a Prometheus text exposition: "name{labels}" (exactly as written) -> value.
inline std::map<std::string, double> parse_metrics(const std::string& text) {
  static const std::regex sample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?) (\S+)$)");
  std::map<std::string, double> samples;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    std::smatch match;
    if (line.empty() || line.starts_with('#') || !std::regex_match(line, match, sample)) continue;
    samples[match[1]] = std::stod(match[3]);
  }
  return samples;
}

inline std::map<std::string, double> scrape(const RunningServer& server) {
  const httplib::Result response = server.client()->Get("/metrics");
  if (!response || response->status != 200) return {};
  return parse_metrics(response->body);
}

// Polls `condition` every 5 ms for up to `timeout`; true when it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

// A raw TCP connection to the server, for what an HTTP client library will not send.
class RawConnection {
 public:
  explicit RawConnection(int port) : socket_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(socket_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { ::close(socket_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    return ::send(socket_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // No more bytes from us: the server reads end-of-file.
  void close_sending() { ::shutdown(socket_, SHUT_WR); }

  // Everything the server sends until it closes the connection, or until `timeout` passes (then
  // `closed` is false).
  std::string receive_until_closed(std::chrono::milliseconds timeout, bool& closed) {
    std::string received;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    closed = false;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return received;
      pollfd readable{socket_, POLLIN, 0};
      if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) return received;
      char buffer[4096];
      const ssize_t count = ::recv(socket_, buffer, sizeof buffer, 0);
      if (count <= 0) {
        closed = true;
        return received;
      }
      received.append(buffer, static_cast<std::size_t>(count));
    }
  }

 private:
  int socket_;
  bool connected_ = false;
};

// The status code of a raw HTTP response ("HTTP/1.1 400 Bad Request..." -> 400), or 0.
inline int raw_status(const std::string& response) {
  static const std::regex status_line(R"(^HTTP/1\.[01] (\d{3}) )");
  std::smatch match;
  return std::regex_search(response, match, status_line) ? std::stoi(match[1]) : 0;
}

// The server's OpenAPI document, and the check of a real response against what it declares.
class OpenApi {
 public:
  explicit OpenApi(const RunningServer& server) {
    const httplib::Result response = server.client()->Get("/openapi.json");
    if (!response || response->status != 200) throw std::runtime_error("GET /openapi.json failed");
    document = json::parse(response->body);
  }

  // The violations of `response` to `path` with `method` (lower case, as OpenAPI spells it).
  std::vector<std::string> violations(const std::string& path, const std::string& method,
                                      const httplib::Response& response) const {
    const json::json_pointer operation = json::json_pointer("/paths") / path / method;
    if (!document.contains(operation)) return {"the document has no operation " + method + " " + path};
    const json& responses = document.at(operation).at("responses");
    const std::string status = std::to_string(response.status);
    if (!responses.contains(status)) return {method + " " + path + " does not declare status " + status};
    return violations_of(responses.at(status), response);
  }

  // The violations of `response` to the response object `declared` (a "$ref" is resolved).
  std::vector<std::string> violations_of(const json& declared, const httplib::Response& response) const {
    if (declared.contains("$ref")) {
      return violations_of(document.at(json::json_pointer(declared["$ref"].get<std::string>().substr(1))),
                           response);
    }
    std::vector<std::string> found;
    const json no_headers = json::object();
    const json& headers = declared.contains("headers") ? declared["headers"] : no_headers;
    for (const auto& [name, header] : headers.items()) {
      if (!response.has_header(name)) {
        found.push_back("the header " + name + " is missing");
        continue;
      }
      const std::string text = response.get_header_value(name);
      const bool number = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
      for (std::string& violation : reds::test::schema_violations(number ? json::parse(text) : json(text),
                                                                  header.at("schema"), document))
        found.push_back("header " + name + violation);
    }
    const std::string content_type = response.get_header_value("Content-Type");
    const std::string media_type = content_type.substr(0, content_type.find(';'));
    if (!declared.contains("content") || !declared["content"].contains(media_type)) {
      found.push_back("the content type '" + content_type + "' is not declared");
      return found;
    }
    const json body = media_type == "application/json" ? json::parse(response.body) : json(response.body);
    for (std::string& violation :
         reds::test::schema_violations(body, declared["content"][media_type].at("schema"), document))
      found.push_back("body" + violation);
    return found;
  }

  json document;
};

}  // namespace reds::server::test
