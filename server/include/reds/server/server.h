// reds/server/server.h: the planning service behind `reds-server`, as a library so that tests can run it
// in-process on an ephemeral port.
//
// Endpoints (the OpenAPI 3 document at GET /openapi.json describes each one with JSON schemas):
//
//   POST /plan          the plan contract: a request in, the response out (reds/json.h)
//   GET  /health        plans a small bundled network; 200 {"status": "ok"} only if that plan is optimal
//   GET  /metrics       Prometheus text format: requests by endpoint and status, plan latency histogram,
//                       requests and solves in flight
//   GET  /openapi.json  the OpenAPI document
//
// A known path with another method answers 405 with an Allow header (OPTIONS answers 204 with it); an
// unknown path answers 404. Every error body is the contract's {"error": {"code", "message", "path"}}.
//
// Load: every request is independent (the server keeps no state between requests but its metrics). At
// most Options::max_inflight plans are parsed and solved at once; a plan request beyond that waits in a
// queue of at most Options::queue_size requests for up to Options::queue_wait_ms, first come first served
// (holding no thread while it waits), and is answered 503 with Retry-After only when the queue is full or
// its wait runs out. Each request's
// time limit is capped by max_time_ms.
// Connections: one thread reads every connection's requests (epoll), with the deadlines below, and hands
// each whole request to a worker thread, which answers it; so a client slow to send its request holds no
// worker. At most Options::max_connections connections are open at once; one more is answered 503 and
// closed.
//
// Example:
//
//   reds::server::Options options;
//   options.port = 0;                         // any free port
//   reds::server::Server server(options);
//   reds::Result<int> port = server.bind();
//   if (!port) return fail(port.error());
//   std::thread serving([&] { server.listen(); });
//   ...
//   server.stop();                            // from any thread: refuse new connections, finish requests
//   serving.join();
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "reds/status.h"

namespace reds::server {

// Every limit of the service, each a command-line option of reds-server with the same default.
struct Options {
  std::string host = "127.0.0.1";  // address to listen on
  int port = 8080;                 // 0 picks a free port (Server::bind() returns it)
  // Worker threads answering whole requests at once (reading a body too large for the reading thread's
  // buffers, planning, writing the answer), started as requests need them. Requests waiting in the queue
  // for a solver slot hold none.
  int threads = 16;
  std::int64_t max_body_bytes = std::int64_t{8} << 20;  // larger request bodies get 413
  std::int64_t max_time_ms = 10'000;  // cap on a request's time_limit_ms, and the limit when it has none
  int max_inflight = default_max_inflight();  // plans solved at once; beyond that they queue
  int queue_size = 64;  // plan requests waiting for a solver slot at most; beyond that 503 + Retry-After
  std::int64_t queue_wait_ms = 1'000;  // a plan request waiting longer for a slot gets 503 + Retry-After
  // Open connections at most; one more is answered 503 and closed. Each takes a file descriptor: the
  // server needs max_connections + about 64 (reds-server raises its soft RLIMIT_NOFILE to the hard one).
  std::int64_t max_connections = 10'000;
  std::int64_t read_timeout_ms = 5'000;  // a socket read (or write) waiting longer fails the request
  // A request's line and headers must arrive within this of its first byte, however steadily they
  // trickle; else 408 and the connection closes.
  std::int64_t header_timeout_ms = 10'000;
  // The whole body of POST /plan must arrive within this after its headers, however steadily it trickles.
  std::int64_t body_timeout_ms = 30'000;
  int keep_alive_s = 1;           // an idle keep-alive connection is closed after this many seconds
  int keep_alive_requests = 100;  // requests per connection before the server closes it
  // One JSON line per answer on standard error: time, client, method, path, status, body bytes, and the
  // milliseconds from the request's first byte until its answer was sent.
  bool access_log = false;

  // One solve per core: solves are CPU-bound, more at once only add latency.
  static int default_max_inflight();
};

// The first option out of range (invalid_argument, the message names the option: "--threads ..."), or
// nothing.
std::optional<Error> validate(const Options& options);

// The HTTP status of an error of the taxonomy (reds/status.h):
//   invalid_argument 400, resource_exhausted 413, deadline_exceeded 504 (the time limit passed before any
//   plan was found; 504 as in Google's HTTP mapping of DEADLINE_EXCEEDED), internal 500.
// The server also answers 503 (resource_exhausted: the queue for the solver slots is full, or the wait in
// it ran out; or too many connections), 404, 405, 408, 411 and 415.
int http_status(ErrorCode code);

class Server {
 public:
  explicit Server(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the options and binds the listening socket. Returns the bound port (the free port chosen
  // when Options::port is 0), or invalid_argument for bad options or an address that cannot be bound.
  Result<int> bind();

  // Serves on the bound socket until stop(), then waits for the requests in flight to finish. Returns
  // false when bind() did not succeed first.
  bool listen();

  // Closes the listening socket so that new connections are refused, and makes listen() return once the
  // requests in flight are answered. Safe from any thread, before or during listen(), more than once.
  // Not async-signal-safe: call it from a thread that waits for the signal (see reds-server's main).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reds::server
