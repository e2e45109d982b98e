// server/src/event_loop.h: the service's connections on one epoll loop, in front of a pool of workers.
//
// cpp-httplib serves a connection on one thread from its first byte to its last, so every client that is
// slow to send its request (or keeps an idle connection open) holds a worker: a few dozen such clients
// starved everyone else. Here one thread accepts connections and reads requests, all of them at once, with
// every deadline of the service (--keep-alive-s between requests, --header-timeout-ms for a request line and
// headers, --body-timeout-ms for a body, --read-timeout-ms of silence); a request goes to a worker only
// when it has arrived whole, or when the loop gives up on it (the worker then answers what cpp-httplib
// answers for it: 400, or 408 after a deadline). A worker answers on a ConnectionStream (connection.h) and
// hands the connection back for its next request; a connection that ends after an answer comes back to
// the loop too, which reads and drops what the client still sends before closing, so that the client
// reads the answer rather than a reset.
//
// Solver slots: a request that needs one (Settings::needs_slot: POST /plan) goes to a worker holding one
// of Settings::slots; when all are taken it waits in a queue of at most Settings::queue_size requests,
// first come first served, holding no thread; the worker that frees a slot answers the request that has
// waited longest next, without waking another thread. A request finding the queue full, or waiting
// Settings::queue_wait, goes to a worker without a slot (Connection::slot says why), to be answered 503.
//
// What the loop holds is bounded: at most max_connections connections (one more is answered 503 and
// closed), at most max_head_bytes of a request line and headers each, and at most body_budget_bytes of
// bodies in all; a body beyond the budget (or one the client sends only after "100 Continue") is read by
// its worker instead, bounded by the same deadlines.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "connection.h"

namespace reds::server {

class EventLoop {
 public:
  struct Settings {
    Clock::duration read_timeout;
    Clock::duration header_timeout;
    Clock::duration body_timeout;
    Clock::duration keep_alive;
    std::size_t max_connections = 0;
    std::size_t max_workers = 0;  // started as requests need them
    std::uint64_t max_body_bytes = 0;
    std::size_t max_head_bytes = 64 * 1024;
    std::size_t body_budget_bytes = 64 * 1024 * 1024;
    // Sent to a connection beyond max_connections before it is closed (a whole HTTP answer).
    std::string refusal;
    // Whether the request with this request line needs a solver slot.
    std::function<bool(std::string_view request_line)> needs_slot;
    int slots = 1;
    std::size_t queue_size = 0;
    Clock::duration queue_wait{};
  };
  // What becomes of a connection once a worker has answered its request.
  enum class Verdict { keep_alive, close, drain_and_close };
  // Answers the request at the front of the connection's buffer; runs on a worker.
  using Serve = std::function<Verdict(Connection&)>;

  EventLoop(Settings settings, Serve serve, std::function<void()> on_refused);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Accepts and serves connections on `listener` (a bound, listening socket) until stop(), then closes
  // the idle connections, lets the requests already begun finish, and returns once the last connection
  // has closed. False when the loop cannot be set up.
  bool run(int listener);
  // Stops accepting (the caller shuts the listener down) and ends run() as described there. Safe from any
  // thread, before or during run().
  void stop();

  std::int64_t open_connections() const { return open_connections_; }
  // Requests waiting for a solver slot now.
  std::int64_t queued() const;
  // Called by Serve once the request no longer needs its solver slot (its plan is made, the answer not yet
  // sent): the slot goes to the request waiting longest, which this worker answers next. Nothing when the
  // request holds no slot.
  void release_slot(Connection& connection);

 private:
  using Timer = std::pair<Clock::time_point, std::uint64_t>;  // (when, connection id)

  struct Returned {
    Connection* connection;
    Verdict verdict;
    bool watched;  // the worker watches the socket again
  };

  void accept_connections(int listener);
  void receive(Connection& connection);
  // Moves a connection's current request on as far as its buffered bytes allow.
  void advance(Connection& connection);
  void frame_body(Connection& connection);
  void scan_chunks(Connection& connection, bool& done, bool& malformed);
  void on_deadline(Connection& connection, Clock::time_point now);
  void schedule(Connection& connection);
  void fire_timers(Clock::time_point now);
  int next_timeout_ms(Clock::time_point now);
  void dispatch(Connection& connection, Connection::Input input);
  // Under tasks_mutex_: hands the connection to the workers.
  void enqueue_task(Connection& connection);
  // Under tasks_mutex_: gives up the slot `connection` held; returns the waiting connection it goes to.
  Connection* pass_slot_on(Connection& connection);
  void expire_wait(Connection& connection);
  void take_returned();
  void watch(Connection& connection) const;
  void start_draining(Connection& connection);
  void close_connection(Connection& connection);
  void close_idle_connections();
  void count_loop_bytes(Connection& connection);

  void start_worker();
  void work();

  Settings settings_;
  Serve serve_;
  std::function<void()> on_refused_;

  int epoll_ = -1;
  int wake_ = -1;        // eventfd: a worker returned a connection, or stop()
  int spare_file_ = -1;  // given up to accept (and close) a connection when out of file descriptors
  std::atomic<bool> stopping_{false};
  bool stop_handled_ = false;
  std::uint64_t next_id_ = 2;  // 0 and 1 are the listener and the wake-up in epoll's data
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::unordered_map<std::uint64_t, Clock::time_point> timer_of_;  // the earliest Timer queued per id
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::size_t loop_bytes_ = 0;  // bytes buffered in connections the loop owns
  std::atomic<std::int64_t> open_connections_{0};
  std::vector<char> scratch_;

  std::mutex returned_mutex_;
  std::vector<Returned> returned_;

  mutable std::mutex tasks_mutex_;
  std::condition_variable task_ready_;
  std::deque<Connection*> tasks_;
  std::size_t idle_workers_ = 0;
  int free_slots_ = 0;
  std::deque<Connection*> slot_waiters_;  // oldest first
  bool quitting_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace reds::server
