// `reds-server`: the planning service. `reds-server --help` lists every option with its default.
//
// SIGTERM or SIGINT stops it gracefully: the listening socket closes at once (new connections are
// refused), the requests in flight are answered, and the process exits 0. A second signal exits at once.
#ifdef REDS_SERVER_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "reds/server/server.h"
#include "reds/version.h"

namespace {

namespace po = boost::program_options;

constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;     // the server could not run (address unavailable, internal error)
constexpr int kExitUsageError = 2;  // bad command line

// An IPv6 address needs brackets in a URL.
std::string url_host(const std::string& host) {
  return host.find(':') == std::string::npos ? host : "[" + host + "]";
}

// The allocator serving this process's malloc, for --version: jemalloc (linked for speed, see
// server/CMakeLists.txt) when its count of the bytes this thread allocated grows by a malloc's size, glibc's
// when jemalloc is linked but something else answers malloc.
std::string malloc_in_use() {
#ifndef REDS_SERVER_JEMALLOC
  return "the default (built without jemalloc)";
#else
  std::uint64_t allocated_before = 0;
  std::uint64_t allocated_after = 0;
  std::size_t size = sizeof(std::uint64_t);
  mallctl("thread.allocated", &allocated_before, &size, nullptr, 0);
  void* volatile probe = std::malloc(1 << 16);  // volatile: the compiler may not drop the pair
  mallctl("thread.allocated", &allocated_after, &size, nullptr, 0);
  std::free(probe);
  if (allocated_after < allocated_before + (1 << 16))
    return "another allocator (jemalloc is linked but does not serve malloc)";
  const char* version = nullptr;
  std::size_t version_size = sizeof version;
  if (mallctl("version", static_cast<void*>(&version), &version_size, nullptr, 0) != 0) return "jemalloc";
  return "jemalloc " + std::string(version);
#endif
}

// Each connection takes a file descriptor, and the default soft limit (often 1,024) is far below
// --max-connections: raises the soft limit to the hard one. A warning when even that cannot hold the
// connections (then connections beyond the descriptors are closed on arrival).
std::optional<std::string> raise_open_file_limit(std::int64_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  // Descriptors beyond the connections: standard streams, the listener, epoll and its wake-up, a spare.
  constexpr rlim_t kOtherFiles = 64;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= static_cast<rlim_t>(max_connections) + kOtherFiles)
    return std::nullopt;
  return "the open-file limit (" + std::to_string(limit.rlim_cur) + ", RLIMIT_NOFILE) holds fewer than " +
         "--max-connections " + std::to_string(max_connections) + " connections; connections beyond it " +
         "are closed on arrival";
}

// Waits for SIGTERM/SIGINT (blocked in every thread, so that they arrive here and not in the middle of a
// request) and stops the server; a second signal ends the process at once.
void wait_for_signals(const sigset_t& signals, reds::server::Server& server,
                      const std::atomic<bool>& served) {
  bool stopping = false;
  const timespec tick{0, 100'000'000};
  while (!served) {
    const int signal = sigtimedwait(&signals, nullptr, &tick);
    if (signal < 0) continue;  // the tick passed, or another signal interrupted the wait
    if (stopping) {
      std::cerr << "reds-server: " << strsignal(signal) << " again, exiting now" << std::endl;
      std::_Exit(kExitFailure);
    }
    std::cerr << "reds-server: " << strsignal(signal) << ", answering the requests in flight, then exiting"
              << std::endl;
    stopping = true;
    server.stop();
  }
}

int run(int argc, char** argv) {
  reds::server::Options options;
  po::options_description described("Options");
  described.add_options()                        //
      ("help,h", "show this help and exit")      //
      ("version", "print the version and exit")  //
      ("host", po::value(&options.host)->value_name("ADDRESS")->default_value(options.host),
       "address to listen on (0.0.0.0: every IPv4 interface)")  //
      ("port", po::value(&options.port)->value_name("N")->default_value(options.port),
       "port to listen on; 0 picks a free one (printed on start)")  //
      ("threads", po::value(&options.threads)->value_name("N")->default_value(options.threads),
       "worker threads answering whole requests at once, started as needed (one thread reads every "
       "connection; queued requests hold none)")  //
      ("max-body-bytes",
       po::value(&options.max_body_bytes)->value_name("N")->default_value(options.max_body_bytes),
       "larger request bodies are refused with 413")  //
      ("max-time-ms", po::value(&options.max_time_ms)->value_name("MS")->default_value(options.max_time_ms),
       "cap on a request's time_limit_ms, and the limit of requests without one")  //
      ("max-inflight", po::value(&options.max_inflight)->value_name("N")->default_value(options.max_inflight),
       "plans solved at once (default: one per core); more wait in the queue")  //
      ("queue-size", po::value(&options.queue_size)->value_name("N")->default_value(options.queue_size),
       "plan requests waiting for a solver slot at most; beyond that 503 with Retry-After")  //
      ("queue-wait-ms",
       po::value(&options.queue_wait_ms)->value_name("MS")->default_value(options.queue_wait_ms),
       "a plan request waiting this long for a solver slot gets 503 with Retry-After")  //
      ("max-connections",
       po::value(&options.max_connections)->value_name("N")->default_value(options.max_connections),
       "open connections at most; one more is answered 503 and closed (each takes a file descriptor)")  //
      ("read-timeout-ms",
       po::value(&options.read_timeout_ms)->value_name("MS")->default_value(options.read_timeout_ms),
       "a client silent for this long while sending (or receiving) loses its request")  //
      ("header-timeout-ms",
       po::value(&options.header_timeout_ms)->value_name("MS")->default_value(options.header_timeout_ms),
       "a request line and headers not complete this long after their first byte get 408, however steadily "
       "they arrive")  //
      ("body-timeout-ms",
       po::value(&options.body_timeout_ms)->value_name("MS")->default_value(options.body_timeout_ms),
       "a POST /plan body not complete this long after its headers gets 408, however steadily it arrives")  //
      ("keep-alive-s", po::value(&options.keep_alive_s)->value_name("S")->default_value(options.keep_alive_s),
       "idle keep-alive connections are closed after S seconds")  //
      ("keep-alive-requests",
       po::value(&options.keep_alive_requests)->value_name("N")->default_value(options.keep_alive_requests),
       "requests per connection before the server closes it")  //
      ("access-log", po::bool_switch(&options.access_log),
       "write one JSON line per answer to standard error: time, client, method, path, status, body bytes, "
       "and ms from the request's first byte until the answer was sent");

  const auto print_help = [&](std::ostream& out) {
    out << "Usage: reds-server [OPTIONS]\n\n"
           "Serves exact nested subnetwork planning over HTTP (plan contract v1):\n"
           "POST /plan, GET /health, GET /metrics, GET /openapi.json.\n"
           "Prints 'listening on http://HOST:PORT' once it accepts connections;\n"
           "SIGTERM or SIGINT: refuse new connections, answer the requests in flight, exit 0.\n\n"
        << described;
  };
  po::variables_map values;
  try {
    const po::parsed_options parsed = po::command_line_parser(argc, argv).options(described).run();
    // Options only: a stray word is most likely a mistyped option or a value without its option.
    const std::vector<std::string> stray = po::collect_unrecognized(parsed.options, po::include_positional);
    if (!stray.empty()) {
      std::cerr << "reds-server: unexpected argument '" << stray.front()
                << "': reds-server takes only options (see reds-server --help)\n";
      return kExitUsageError;
    }
    po::store(parsed, values);
    po::notify(values);
  } catch (const po::error& error) {
    std::cerr << "reds-server: " << error.what() << " (see reds-server --help)\n";
    return kExitUsageError;
  }
  if (values.count("help")) {
    print_help(std::cout);
    return kExitSuccess;
  }
  if (values.count("version")) {
    std::cout << "reds-server " << reds::kVersion << " (malloc: " << malloc_in_use() << ")\n";
    return kExitSuccess;
  }
  if (const std::optional<reds::Error> error = reds::server::validate(options)) {
    std::cerr << "reds-server: " << error->message << '\n';
    return kExitUsageError;
  }

  if (const std::optional<std::string> warning = raise_open_file_limit(options.max_connections)) {
    std::cerr << "reds-server: " << *warning << '\n';
  }

  // Before any thread starts, so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client that hangs up mid-answer must cost a failed write, not the process.
  signal(SIGPIPE, SIG_IGN);

  reds::server::Server server(options);
  const reds::Result<int> port = server.bind();
  if (!port) {
    std::cerr << "reds-server: " << port.error().message << '\n';
    return kExitFailure;
  }
  std::cout << "listening on http://" << url_host(options.host) << ':' << port.value() << std::endl;

  std::atomic<bool> served{false};
  std::thread signal_waiter([&] { wait_for_signals(signals, server, served); });
  const bool listened = server.listen();
  served = true;
  signal_waiter.join();
  if (!listened) std::cerr << "reds-server: serving failed\n";
  return listened ? kExitSuccess : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "reds-server: internal error: " << error.what() << '\n';
    return kExitFailure;
  }
}
