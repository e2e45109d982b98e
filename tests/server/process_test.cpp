// The reds-server binary as a separate process ($REDS_BIN_DIR/reds-server): its command line, its one
// line on start, and graceful shutdown on SIGTERM and SIGINT.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <optional>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "server_fixture.h"

extern char** environ;

namespace reds::server::test {
namespace {

namespace fs = std::filesystem;

fs::path server_binary() {
  const char* bin_dir = std::getenv("REDS_BIN_DIR");
  if (bin_dir == nullptr) throw std::runtime_error("REDS_BIN_DIR is not set (run the tests with ctest)");
  return fs::path(bin_dir) / "reds-server";
}

// reds-server started with `args`, its standard output and error on pipes.
class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    int out[2];
    int err[2];
    if (::pipe(out) != 0 || ::pipe(err) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addclose(&actions, err[0]);
    const std::string binary = server_binary().string();
    std::vector<std::string> words = {binary};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    const int spawned = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
    if (spawned != 0) throw std::runtime_error("cannot start " + binary);
  }
  ~ServerProcess() {
    if (!exit_status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
    ::close(err_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // The first line of standard output, without its newline ("" if the process closed it first).
  std::string first_line() {
    std::string line;
    char c = 0;
    while (::read(out_, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }
  std::string rest_of(int fd) {
    std::string text;
    char buffer[4096];
    ssize_t count = 0;
    while ((count = ::read(fd, buffer, sizeof buffer)) > 0)
      text.append(buffer, static_cast<std::size_t>(count));
    return text;
  }
  std::string standard_output() { return rest_of(out_); }
  std::string standard_error() { return rest_of(err_); }

  void signal(int number) { ::kill(pid_, number); }

  // The exit status (-1 when killed by a signal), waiting at most `timeout`; nothing if still running.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const bool exited = eventually(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
          exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
          return true;
        },
        timeout);
    if (!exited) return std::nullopt;
    return exit_status_;
  }

 private:
  pid_t pid_ = 0;
  int out_ = -1;
  int err_ = -1;
  std::optional<int> exit_status_;
};

// The port of "listening on http://127.0.0.1:PORT", or 0 when the line does not read so.
int listening_port(const std::string& line) {
  static const std::regex listening(R"(^listening on http://127\.0\.0\.1:([0-9]+)$)");
  std::smatch match;
  return std::regex_match(line, match, listening) ? std::stoi(match[1]) : 0;
}

std::unique_ptr<httplib::Client> client_of(int port) {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(std::chrono::seconds(2));
  client->set_read_timeout(std::chrono::seconds(60));
  return client;
}

TEST(ProcessTest, HelpShowsEveryOptionWithItsDefault) {
  ServerProcess process({"--help"});
  const std::string help = process.standard_output();
  EXPECT_EQ(process.wait(std::chrono::seconds(10)), 0);
  const Options defaults;
  for (const std::string& option : std::vector<std::string>{
           "--host ADDRESS (=127.0.0.1)", "--port N (=8080)",
           "--threads N (=" + std::to_string(defaults.threads) + ")",
           "--max-body-bytes N (=" + std::to_string(defaults.max_body_bytes) + ")",
           "--max-time-ms MS (=" + std::to_string(defaults.max_time_ms) + ")",
           "--max-inflight N (=" + std::to_string(defaults.max_inflight) + ")",
           "--queue-size N (=" + std::to_string(defaults.queue_size) + ")",
           "--queue-wait-ms MS (=" + std::to_string(defaults.queue_wait_ms) + ")",
           "--max-connections N (=" + std::to_string(defaults.max_connections) + ")",
           "--read-timeout-ms MS (=" + std::to_string(defaults.read_timeout_ms) + ")",
           "--header-timeout-ms MS (=" + std::to_string(defaults.header_timeout_ms) + ")",
           "--keep-alive-s S (=" + std::to_string(defaults.keep_alive_s) + ")",
           "--keep-alive-requests N (=" + std::to_string(defaults.keep_alive_requests) + ")",
           "--access-log"}) {
    EXPECT_NE(help.find(option), std::string::npos) << option << " is not in:\n" << help;
  }
}

// The executable links jemalloc (server/CMakeLists.txt), and jemalloc, not glibc, must answer its malloc:
// under load glibc's malloc cost ~12 % of the plans per second (README, "Load").
TEST(ProcessTest, VersionShowsThatJemallocServesMalloc) {
#ifndef REDS_SERVER_JEMALLOC
  GTEST_SKIP() << "a sanitizer build: reds-server keeps the sanitizer's malloc";
#endif
  ServerProcess process({"--version"});
  const std::string version = process.first_line();
  EXPECT_EQ(process.wait(std::chrono::seconds(10)), 0);
  EXPECT_TRUE(std::regex_match(version, std::regex(R"(reds-server [0-9.]+ \(malloc: jemalloc 5\.[^)]+\))")))
      << version;
}

TEST(ProcessTest, BadCommandLinesExitWithStatus2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--threads", "0"},
                                             {"--port", "70000"},
                                             {"--max-body-bytes", "-1"},
                                             {"--nonsense"},
                                             {"--port", "x"}}) {
    SCOPED_TRACE(args[0]);
    ServerProcess process(args);
    EXPECT_EQ(process.first_line(), "");  // nothing on standard output
    EXPECT_NE(process.standard_error().find("reds-server: "), std::string::npos);
    EXPECT_EQ(process.wait(std::chrono::seconds(10)), 2);
  }
}

TEST(ProcessTest, StrayArgumentIsOneLineNamingItAndExitStatus2) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"8080"}, {"--port", "0", "--access-log", "yes"}}) {
    SCOPED_TRACE(args.back());
    ServerProcess process(args);
    EXPECT_EQ(process.first_line(), "");
    const std::string error = process.standard_error();
    EXPECT_EQ(lines_of(error).size(), 1U) << error;
    EXPECT_NE(error.find("reds-server: "), std::string::npos) << error;
    EXPECT_NE(error.find("'" + args.back() + "'"), std::string::npos) << error;
    EXPECT_EQ(process.wait(std::chrono::seconds(10)), 2);
  }
}

TEST(ProcessTest, PortInUseExitsWithStatus1) {
  RunningServer taken;
  ServerProcess process({"--port", std::to_string(taken.port())});
  EXPECT_EQ(process.first_line(), "");
  EXPECT_NE(process.standard_error().find("cannot listen"), std::string::npos);
  EXPECT_EQ(process.wait(std::chrono::seconds(10)), 1);
}

TEST(ProcessTest, SigtermFinishesTheRequestInFlightRefusesNewOnesAndExits0) {
  ServerProcess process({"--port", "0", "--max-inflight", "2"});
  const std::string line = process.first_line();
  const int port = listening_port(line);
  ASSERT_NE(port, 0) << "the first line was '" << line << "'";
  ASSERT_EQ(client_of(port)->Get("/health")->status, 200);

  std::atomic<bool> answered{false};
  auto in_flight = std::async(std::launch::async, [&] {
    httplib::Result response = client_of(port)->Post("/plan", slow_request(), "application/json");
    answered = true;
    return response;
  });
  ASSERT_TRUE(eventually([&] {
    const httplib::Result metrics = client_of(port)->Get("/metrics");
    return metrics && parse_metrics(metrics->body)["reds_plan_solves_in_flight"] == 1;
  }));

  process.signal(SIGTERM);
  // The listening socket closes at once: new connections are refused while the plan is still running.
  EXPECT_TRUE(eventually([&] { return !client_of(port)->Get("/health"); }, std::chrono::seconds(2)));
  EXPECT_FALSE(answered) << "the slow plan finished before the refusal could be observed";

  const httplib::Result response = in_flight.get();
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(response->status, 200);
  // A whole plan: optimal, or cut short by --max-time-ms in a slow (sanitizer) build.
  EXPECT_NE(json::parse(response->body)["status"], "infeasible");
  EXPECT_EQ(process.wait(std::chrono::seconds(20)), 0);
  EXPECT_FALSE(client_of(port)->Get("/health"));
}

// The JSON lines of standard error (the access log), parsed; other lines are skipped.
std::vector<json> json_lines(const std::string& text) {
  std::vector<json> lines;
  for (const std::string& line : lines_of(text)) {
    if (!line.empty() && line.front() == '{') lines.push_back(json::parse(line));
  }
  return lines;
}

TEST(ProcessTest, AccessLogHasOneJsonLinePerAnswerOnStandardError) {
  ServerProcess process({"--port", "0", "--access-log", "--header-timeout-ms", "300"});
  const int port = listening_port(process.first_line());
  ASSERT_NE(port, 0);
  const httplib::Result plan = client_of(port)->Post("/plan", tiny_ds_block_request(), "application/json");
  const httplib::Result malformed = client_of(port)->Post("/plan", "{\"network\": ", "application/json");
  const httplib::Result missing = client_of(port)->Get("/nowhere");
  ASSERT_TRUE(plan && malformed && missing);
  // A request line that never ends: 408 after the header deadline, logged without method and path.
  std::size_t late_bytes = 0;
  {
    RawConnection trickle(port);
    ASSERT_TRUE(trickle.connected());
    ASSERT_TRUE(trickle.send("GET /heal"));
    bool closed = false;
    const std::string answer = trickle.receive_until_closed(std::chrono::seconds(10), closed);
    EXPECT_EQ(raw_status(answer), 408);
    const std::size_t body = answer.find("\r\n\r\n");
    late_bytes = body == std::string::npos ? 0 : answer.size() - body - 4;
  }
  process.signal(SIGTERM);
  EXPECT_EQ(process.wait(std::chrono::seconds(10)), 0);

  // Each line is written once its answer is sent, so a client may see its answer, send the next request
  // and have it logged first: lines in the order of their statuses.
  std::vector<json> log = json_lines(process.standard_error());
  std::sort(log.begin(), log.end(), [](const json& a, const json& b) { return a["status"] < b["status"]; });
  std::string all;
  for (const json& line : log) all += line.dump() + "\n";
  ASSERT_EQ(log.size(), 4U) << all;
  const std::vector<std::tuple<json, json, int, std::size_t>> expected = {
      {"POST", "/plan", 200, plan->body.size()},
      {"POST", "/plan", 400, malformed->body.size()},
      {"GET", "/nowhere", 404, missing->body.size()},
      {nullptr, nullptr, 408, late_bytes}};  // by status
  const std::regex utc_time(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)");
  for (std::size_t i = 0; i < log.size(); ++i) {
    SCOPED_TRACE(all);
    const auto& [method, path, status, bytes] = expected[i];
    EXPECT_TRUE(std::regex_match(log[i]["time"].get<std::string>(), utc_time));
    EXPECT_EQ(log[i]["client"], "127.0.0.1");
    EXPECT_EQ(log[i]["method"], method);
    EXPECT_EQ(log[i]["path"], path);
    EXPECT_EQ(log[i]["status"], status);
    EXPECT_EQ(log[i]["bytes"], bytes);
    EXPECT_GE(log[i]["ms"].get<double>(), 0.0);
  }
  // The trickled request line took the whole header deadline.
  EXPECT_GE(log[3]["ms"].get<double>(), 300.0);
}

TEST(ProcessTest, NoAccessLogByDefault) {
  ServerProcess process({"--port", "0"});
  const int port = listening_port(process.first_line());
  ASSERT_NE(port, 0);
  ASSERT_TRUE(client_of(port)->Get("/health"));
  process.signal(SIGTERM);
  EXPECT_EQ(json_lines(process.standard_error()).size(), 0U);
  EXPECT_EQ(process.wait(std::chrono::seconds(10)), 0);
}

TEST(ProcessTest, SigintOnAnIdleServerExits0) {
  ServerProcess process({"--port", "0"});
  ASSERT_NE(listening_port(process.first_line()), 0);
  process.signal(SIGINT);
  EXPECT_EQ(process.wait(std::chrono::seconds(5)), 0);
  EXPECT_EQ(process.standard_output(), "");  // the one line, nothing after it
}

}  // namespace
}  // namespace reds::server::test
