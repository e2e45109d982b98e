#include "event_loop.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

namespace reds::server {
namespace {

constexpr std::uint64_t kListenerId = 0;
constexpr std::uint64_t kWakeId = 1;
// One read per readiness event and connection: a client sending fast cannot keep the loop from the others.
constexpr std::size_t kReadBytes = 64 * 1024;
// Every connection's socket is watched for one event at a time: the loop, or the worker that hands it back,
// watches it again.
constexpr std::uint32_t kConnectionEvents = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
// The loop wakes at least this often, to take back connections the workers returned quietly.
constexpr int kMaxWaitMs = 100;
// A chunk-size line longer than this is no chunk-size line.
constexpr std::size_t kMaxChunkLine = 1024;

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// What the loop needs of a request's headers to find the end of its body, read as cpp-httplib reads them
// (the first Transfer-Encoding and Content-Length headers count; a Content-Length that is no number is 0).
struct BodyHeaders {
  bool chunked = false;
  bool has_length = false;
  std::uint64_t length = 0;
  bool expects_continue = false;
};

BodyHeaders body_headers(std::string_view head) {
  BodyHeaders headers;
  bool seen_transfer_encoding = false;
  std::size_t begin = head.find('\n');  // past the request line
  while (begin != std::string_view::npos && begin + 1 < head.size()) {
    ++begin;
    const std::size_t end = head.find('\n', begin);
    const std::string_view line = head.substr(begin, end == std::string_view::npos ? end : end - begin);
    begin = end;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trimmed(line.substr(colon + 1));
    if (equal_ignoring_case(name, "Transfer-Encoding") && !seen_transfer_encoding) {
      seen_transfer_encoding = true;
      headers.chunked = equal_ignoring_case(value, "chunked");
    } else if (equal_ignoring_case(name, "Content-Length") && !headers.has_length) {
      headers.has_length = true;
      headers.length = std::strtoull(std::string(value).c_str(), nullptr, 10);
    } else if (equal_ignoring_case(name, "Expect")) {
      headers.expects_continue = equal_ignoring_case(value, "100-continue");
    }
  }
  return headers;
}

// The request waiting for the solver slot this worker thread's request released (release_slot()), which the
// worker answers next.
thread_local Connection* next_on_this_worker = nullptr;

void set_nonblocking(int socket) { ::fcntl(socket, F_SETFL, ::fcntl(socket, F_GETFL) | O_NONBLOCK); }

}  // namespace

EventLoop::EventLoop(Settings settings, Serve serve, std::function<void()> on_refused)
    : settings_(std::move(settings)),
      serve_(std::move(serve)),
      on_refused_(std::move(on_refused)),
      scratch_(kReadBytes),
      free_slots_(settings_.slots) {
  wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

EventLoop::~EventLoop() {
  {
    const std::lock_guard lock(tasks_mutex_);
    quitting_ = true;
  }
  task_ready_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  for (auto& [id, connection] : connections_) ::close(connection->socket);
  if (epoll_ >= 0) ::close(epoll_);
  if (wake_ >= 0) ::close(wake_);
  if (spare_file_ >= 0) ::close(spare_file_);
}

void EventLoop::stop() {
  stopping_ = true;
  const std::uint64_t one = 1;
  if (wake_ >= 0) {
    [[maybe_unused]] const ssize_t written = ::write(wake_, &one, sizeof one);
  }
}

bool EventLoop::run(int listener) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0 || wake_ < 0) return false;
  spare_file_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  set_nonblocking(listener);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kListenerId;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, listener, &event) != 0) return false;
  event.data.u64 = kWakeId;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event) != 0) return false;

  std::array<epoll_event, 256> events{};
  while (true) {
    if (stopping_ && !stop_handled_) {
      stop_handled_ = true;
      ::epoll_ctl(epoll_, EPOLL_CTL_DEL, listener, nullptr);
      close_idle_connections();
    }
    if (stop_handled_ && connections_.empty()) break;
    const int ready =
        ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), next_timeout_ms(Clock::now()));
    // Before the events: a connection a worker re-armed may have one.
    take_returned();
    for (int i = 0; i < ready; ++i) {
      const std::uint64_t id = events[static_cast<std::size_t>(i)].data.u64;
      if (id == kListenerId) {
        if (!stop_handled_) accept_connections(listener);
      } else if (id == kWakeId) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t got = ::read(wake_, &count, sizeof count);
      } else if (const auto found = connections_.find(id);
                 found != connections_.end() && found->second->phase != Connection::Phase::dispatched) {
        receive(*found->second);
        // The event disarmed the socket (EPOLLONESHOT): watch it again unless it was closed or dispatched.
        if (const auto still = connections_.find(id);
            still != connections_.end() && still->second->phase != Connection::Phase::dispatched) {
          watch(*still->second);
        }
      }
    }
    fire_timers(Clock::now());
  }

  {
    const std::lock_guard lock(tasks_mutex_);
    quitting_ = true;
  }
  task_ready_.notify_all();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  return true;
}

void EventLoop::accept_connections(int listener) {
  while (true) {
    const int socket = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (socket < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && spare_file_ >= 0) {
        // Out of file descriptors: the pending connection would keep the listener readable forever.
        // Accept it on the spare descriptor and close it at once.
        ::close(spare_file_);
        const int refused = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (refused >= 0) ::close(refused);
        spare_file_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (on_refused_) on_refused_();
        continue;
      }
      return;  // EAGAIN: none left; anything else: try again on the next readiness
    }
    if (connections_.size() >= settings_.max_connections) {
      // Best effort: the answer fits any socket buffer, and a client that has sent nothing reads it.
      [[maybe_unused]] const ssize_t sent =
          ::send(socket, settings_.refusal.data(), settings_.refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(socket, SHUT_WR);
      ::close(socket);
      if (on_refused_) on_refused_();
      continue;
    }
    // Without TCP_NODELAY every answer waits 40-80 ms for Nagle's algorithm on loopback.
    const int yes = 1;
    ::setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    const std::uint64_t id = next_id_++;
    auto owned = std::make_unique<Connection>(socket, id);
    Connection& connection = *owned;
    connections_.emplace(id, std::move(owned));
    ++open_connections_;
    epoll_event event{};
    event.events = kConnectionEvents;
    event.data.u64 = id;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, socket, &event);
    connection.phase = Connection::Phase::idle;
    connection.deadline = Clock::now() + settings_.keep_alive;
    schedule(connection);
  }
}

void EventLoop::watch(Connection& connection) const {
  epoll_event event{};
  event.events = kConnectionEvents;
  event.data.u64 = connection.id;
  ::epoll_ctl(epoll_, EPOLL_CTL_MOD, connection.socket, &event);
}

void EventLoop::receive(Connection& connection) {
  const ssize_t count = ::recv(connection.socket, scratch_.data(), scratch_.size(), 0);
  if (count < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return close_connection(connection);  // reset by the client
  }
  if (count == 0) {
    connection.end_of_stream = true;
  } else if (connection.phase != Connection::Phase::draining) {
    connection.buffer.append(scratch_.data(), static_cast<std::size_t>(count));
    connection.last_received = Clock::now();
    count_loop_bytes(connection);
  }
  if (connection.phase == Connection::Phase::draining) {
    if (connection.end_of_stream) close_connection(connection);
    return;
  }
  advance(connection);
}

void EventLoop::count_loop_bytes(Connection& connection) {
  loop_bytes_ += connection.buffer.size() - connection.loop_bytes;
  connection.loop_bytes = connection.buffer.size();
}

void EventLoop::advance(Connection& connection) {
  using Phase = Connection::Phase;
  if (connection.phase == Phase::idle) {
    if (connection.buffer.empty()) {
      if (connection.end_of_stream) close_connection(connection);
      return;
    }
    connection.phase = Phase::head;
    connection.request_started = Clock::now();
    connection.last_received = connection.request_started;
    connection.head_size = 0;
    connection.head_scanned = 0;
    connection.headers_timed_out = false;
    connection.body_timed_out = false;
    connection.close_after_answer = false;
  }
  if (connection.phase == Phase::head) {
    // The headers end with an empty line: "\r\n" right after a line's "\n" (cpp-httplib's rule).
    const std::size_t from = connection.head_scanned >= 2 ? connection.head_scanned - 2 : 0;
    const std::size_t blank = connection.buffer.find("\n\r\n", from);
    if (blank == std::string::npos) {
      connection.head_scanned = connection.buffer.size();
      if (connection.buffer.size() > settings_.max_head_bytes || connection.end_of_stream) {
        return dispatch(connection, Connection::Input::exhausted);
      }
      connection.deadline = std::min(connection.request_started + settings_.header_timeout,
                                     connection.last_received + settings_.read_timeout);
      return schedule(connection);
    }
    connection.head_size = blank + 3;
    connection.headers_received = Clock::now();
    connection.phase = Phase::body;
    const BodyHeaders headers = body_headers(std::string_view(connection.buffer).substr(0, blank + 1));
    connection.framing = headers.chunked      ? Connection::Framing::chunked
                         : headers.has_length ? Connection::Framing::length
                                              : Connection::Framing::none;
    connection.content_length = headers.length;
    connection.body_scanned = connection.head_size;
    connection.chunk_part = Connection::ChunkPart::size_line;
    connection.chunk_left = 0;
    const bool has_body = connection.framing == Connection::Framing::chunked ||
                          (connection.framing == Connection::Framing::length && headers.length > 0);
    // The client sends the body only after the worker's "100 Continue".
    if (has_body && headers.expects_continue) return dispatch(connection, Connection::Input::streaming);
    if (connection.framing == Connection::Framing::length) {
      if (headers.length > settings_.max_body_bytes) {
        // Refused unread (413): the request ends at its headers, and so does the connection.
        connection.request_size = connection.head_size;
        connection.close_after_answer = true;
        return dispatch(connection, Connection::Input::complete);
      }
      const std::size_t budget_left =
          settings_.body_budget_bytes - std::min(settings_.body_budget_bytes, loop_bytes_);
      if (headers.length > budget_left + (connection.buffer.size() - connection.head_size)) {
        return dispatch(connection, Connection::Input::streaming);
      }
    }
  }
  if (connection.phase == Phase::body) frame_body(connection);
}

void EventLoop::frame_body(Connection& connection) {
  const std::size_t buffered = connection.buffer.size();
  switch (connection.framing) {
    case Connection::Framing::none:
      connection.request_size = connection.head_size;
      return dispatch(connection, Connection::Input::complete);
    case Connection::Framing::length:
      if (buffered - connection.head_size >= connection.content_length) {
        connection.request_size = connection.head_size + static_cast<std::size_t>(connection.content_length);
        return dispatch(connection, Connection::Input::complete);
      }
      break;
    case Connection::Framing::chunked: {
      bool done = false;
      bool malformed = false;
      scan_chunks(connection, done, malformed);
      if (done || malformed) {
        connection.request_size = connection.body_scanned;
        // cpp-httplib stops reading a malformed body where it stops making sense, and so answers 400;
        // where the next request would start is anyone's guess.
        if (malformed) connection.close_after_answer = true;
        return dispatch(connection, Connection::Input::complete);
      }
      // Framing adds a few bytes per chunk: a body this far past the size limit is refused anyway, and
      // its worker counts the bytes as they come (as beyond the budget).
      const std::size_t body_bytes = buffered - connection.head_size;
      if (body_bytes > settings_.max_body_bytes + kReadBytes || loop_bytes_ > settings_.body_budget_bytes) {
        return dispatch(connection, Connection::Input::streaming);
      }
      break;
    }
  }
  if (connection.end_of_stream) return dispatch(connection, Connection::Input::exhausted);
  connection.deadline = std::min(connection.headers_received + settings_.body_timeout,
                                 connection.last_received + settings_.read_timeout);
  schedule(connection);
}

// Follows the chunks of a chunked body over the bytes buffered so far, as cpp-httplib 0.11 reads them: a
// hexadecimal size line, that many bytes, a line; after the chunk of size 0, one more line.
void EventLoop::scan_chunks(Connection& connection, bool& done, bool& malformed) {
  using Part = Connection::ChunkPart;
  const std::string& buffer = connection.buffer;
  std::size_t& at = connection.body_scanned;
  while (at < buffer.size()) {
    if (connection.chunk_part == Part::data) {
      const std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(connection.chunk_left, buffer.size() - at));
      at += take;
      connection.chunk_left -= take;
      if (connection.chunk_left > 0) return;
      connection.chunk_part = Part::data_end;
      continue;
    }
    const std::size_t end = buffer.find('\n', at);
    if (end == std::string::npos) {
      if (buffer.size() - at > kMaxChunkLine) malformed = true;
      return;
    }
    const std::string_view line = std::string_view(buffer).substr(at, end + 1 - at);
    at = end + 1;
    switch (connection.chunk_part) {
      case Part::size_line: {
        const std::string text(line);
        char* parsed_to = nullptr;
        const unsigned long size = std::strtoul(text.c_str(), &parsed_to, 16);
        if (parsed_to == text.c_str() || size == std::numeric_limits<unsigned long>::max()) {
          malformed = true;
          return;
        }
        connection.chunk_left = size;
        connection.chunk_part = size == 0 ? Part::last_line : Part::data;
        break;
      }
      case Part::data_end:
        // The library ends the body at a data line not followed by "\r\n".
        if (line != "\r\n") {
          done = true;
          return;
        }
        connection.chunk_part = Part::size_line;
        break;
      case Part::last_line:
        done = true;
        return;
      case Part::data:
        break;
    }
  }
}

void EventLoop::dispatch(Connection& connection, Connection::Input input) {
  // Not watched: the event that brought the request disarmed the socket (EPOLLONESHOT).
  connection.input = input;
  connection.phase = Connection::Phase::dispatched;
  loop_bytes_ -= connection.loop_bytes;
  connection.loop_bytes = 0;
  connection.slot = Connection::Slot::none;
  // A request the loop gave up on is answered 400 or 408 before it could plan: it needs no slot.
  const std::string_view buffer = connection.buffer;
  const bool needs_slot = input != Connection::Input::exhausted && settings_.needs_slot &&
                          settings_.needs_slot(buffer.substr(0, buffer.find('\n')));
  {
    const std::lock_guard lock(tasks_mutex_);
    if (needs_slot) {
      if (free_slots_ > 0 && slot_waiters_.empty()) {
        --free_slots_;
        connection.slot = Connection::Slot::held;
      } else if (slot_waiters_.size() < settings_.queue_size) {
        slot_waiters_.push_back(&connection);
        connection.deadline = Clock::now() + settings_.queue_wait;
        schedule(connection);
        return;
      } else {
        connection.slot = Connection::Slot::queue_full;
      }
    }
    enqueue_task(connection);
  }
  task_ready_.notify_one();
}

void EventLoop::enqueue_task(Connection& connection) {
  tasks_.push_back(&connection);
  if (tasks_.size() > idle_workers_ && workers_.size() < settings_.max_workers) start_worker();
}

Connection* EventLoop::pass_slot_on(Connection& connection) {
  connection.slot = Connection::Slot::none;
  if (slot_waiters_.empty()) {
    ++free_slots_;
    return nullptr;
  }
  Connection* next = slot_waiters_.front();
  slot_waiters_.pop_front();
  next->slot = Connection::Slot::held;
  return next;
}

void EventLoop::release_slot(Connection& connection) {
  if (connection.slot != Connection::Slot::held) return;
  const std::lock_guard lock(tasks_mutex_);
  next_on_this_worker = pass_slot_on(connection);
}

void EventLoop::expire_wait(Connection& connection) {
  {
    const std::lock_guard lock(tasks_mutex_);
    const auto waiting = std::find(slot_waiters_.begin(), slot_waiters_.end(), &connection);
    if (waiting == slot_waiters_.end()) return;  // a worker took it in the meantime
    slot_waiters_.erase(waiting);
    connection.slot = Connection::Slot::wait_expired;
    enqueue_task(connection);
  }
  task_ready_.notify_one();
}

std::int64_t EventLoop::queued() const {
  const std::lock_guard lock(tasks_mutex_);
  return static_cast<std::int64_t>(slot_waiters_.size());
}

void EventLoop::start_worker() {
  workers_.emplace_back([this] { work(); });
}

void EventLoop::work() {
  Connection* next = nullptr;  // a request waiting for the slot the previous one freed
  while (true) {
    Connection* connection = next;
    next = nullptr;
    if (connection == nullptr) {
      std::unique_lock lock(tasks_mutex_);
      ++idle_workers_;
      task_ready_.wait(lock, [&] { return !tasks_.empty() || quitting_; });
      --idle_workers_;
      if (tasks_.empty()) return;
      connection = tasks_.front();
      tasks_.pop_front();
    }
    const Verdict verdict = serve_(*connection);
    release_slot(*connection);  // if the request kept it (an error before its plan)
    next = std::exchange(next_on_this_worker, nullptr);
    // A connection kept alive with nothing buffered just waits for its next request: the worker watches its
    // socket again itself, and the loop takes it back (sets its keep-alive timer) when it next wakes, at
    // the latest after kMaxWaitMs, instead of being woken for it after every request. Under the lock, so
    // that the loop cannot see an event of the socket before it has taken the connection back.
    const bool quiet = verdict == Verdict::keep_alive && connection->buffer.empty() &&
                       !connection->end_of_stream && !stopping_;
    {
      const std::lock_guard lock(returned_mutex_);
      returned_.push_back({connection, verdict, quiet});
      if (quiet) watch(*connection);
    }
    if (!quiet) {
      const std::uint64_t one = 1;
      [[maybe_unused]] const ssize_t written = ::write(wake_, &one, sizeof one);
    }
  }
}

void EventLoop::take_returned() {
  std::vector<Returned> returned;
  {
    const std::lock_guard lock(returned_mutex_);
    returned.swap(returned_);
  }
  for (const auto& [connection, verdict, watched] : returned) {
    if (verdict == Verdict::close || (verdict == Verdict::keep_alive && stopping_)) {
      close_connection(*connection);
    } else if (verdict == Verdict::drain_and_close) {
      start_draining(*connection);
    } else {
      connection->phase = Connection::Phase::idle;
      count_loop_bytes(*connection);
      connection->deadline = Clock::now() + settings_.keep_alive;
      schedule(*connection);
      advance(*connection);  // a pipelined request may be waiting in the buffer
      if (!watched && connections_.contains(connection->id) &&
          connection->phase != Connection::Phase::dispatched) {
        watch(*connection);
      }
    }
  }
}

void EventLoop::start_draining(Connection& connection) {
  ::shutdown(connection.socket, SHUT_WR);
  if (connection.end_of_stream) return close_connection(connection);
  connection.phase = Connection::Phase::draining;
  connection.buffer.clear();
  connection.buffer.shrink_to_fit();
  count_loop_bytes(connection);
  watch(connection);
  connection.deadline = Clock::now() + settings_.read_timeout;
  schedule(connection);
}

void EventLoop::close_connection(Connection& connection) {
  ::close(connection.socket);  // also takes it out of epoll
  loop_bytes_ -= connection.loop_bytes;
  timer_of_.erase(connection.id);
  --open_connections_;
  connections_.erase(connection.id);
}

void EventLoop::close_idle_connections() {
  std::vector<Connection*> idle;
  for (auto& [id, connection] : connections_) {
    if (connection->phase == Connection::Phase::idle) idle.push_back(connection.get());
  }
  for (Connection* connection : idle) close_connection(*connection);
}

void EventLoop::schedule(Connection& connection) {
  const auto [queued, inserted] = timer_of_.try_emplace(connection.id, connection.deadline);
  // A later deadline is found when the earlier timer fires; only an earlier one needs a new timer.
  if (!inserted && queued->second <= connection.deadline) return;
  queued->second = connection.deadline;
  timers_.emplace(connection.deadline, connection.id);
}

int EventLoop::next_timeout_ms(Clock::time_point now) {
  if (timers_.empty()) return kMaxWaitMs;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(timers_.top().first - now).count();
  return static_cast<int>(std::clamp<std::int64_t>(wait, 0, kMaxWaitMs));
}

void EventLoop::fire_timers(Clock::time_point now) {
  while (!timers_.empty() && timers_.top().first <= now) {
    const auto [when, id] = timers_.top();
    timers_.pop();
    const auto queued = timer_of_.find(id);
    if (queued == timer_of_.end() || queued->second != when) continue;  // superseded by an earlier one
    timer_of_.erase(queued);
    const auto found = connections_.find(id);
    if (found == connections_.end()) continue;
    Connection& connection = *found->second;
    if (connection.deadline > now) {
      schedule(connection);
      continue;
    }
    if (connection.phase == Connection::Phase::dispatched) {
      expire_wait(connection);  // nothing unless it is still waiting for a slot
      continue;
    }
    on_deadline(connection, now);
  }
}

void EventLoop::on_deadline(Connection& connection, Clock::time_point now) {
  switch (connection.phase) {
    case Connection::Phase::idle:
    case Connection::Phase::draining:
      return close_connection(connection);
    case Connection::Phase::head:
      connection.headers_timed_out = now >= connection.request_started + settings_.header_timeout;
      return dispatch(connection, Connection::Input::exhausted);
    case Connection::Phase::body:
      connection.body_timed_out = now >= connection.headers_received + settings_.body_timeout;
      return dispatch(connection, Connection::Input::exhausted);
    case Connection::Phase::dispatched:
      return;
  }
}

}  // namespace reds::server
