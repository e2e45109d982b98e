#include "connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace reds::server {
namespace {

using std::chrono::milliseconds;

// poll() for `events` up to `timeout`, rounded up to whole milliseconds so that a wait never ends before
// the time it is meant to reach. Retries when a signal interrupts it.
int poll_socket(socket_t socket, short events, ConnectionStream::Clock::duration timeout) {
  const auto until = ConnectionStream::Clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::ceil<milliseconds>(until - ConnectionStream::Clock::now());
    pollfd ready{socket, events, 0};
    const int count = ::poll(&ready, 1, static_cast<int>(std::max<milliseconds::rep>(0, left.count())));
    if (count >= 0 || errno != EINTR) return count;
  }
}

void address_of(const sockaddr_storage& address, socklen_t length, std::string& ip, int& port) {
  if (address.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  } else if (address.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  char host[NI_MAXHOST] = {};
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) == 0) {
    ip = host;
  }
}

}  // namespace

bool ConnectionStream::wait_for_request(milliseconds idle) const {
  return buffer_begin_ < buffer_end_ || poll_socket(socket_, POLLIN, idle) > 0;
}

void ConnectionStream::begin_request() {
  request_started_ = Clock::now();
  headers_deadline_ = request_started_ + timeouts_.headers;
  headers_timed_out_ = false;
  answered_ = false;
}

void ConnectionStream::finish_sending_and_drain(Clock::duration limit) {
  ::shutdown(socket_, SHUT_WR);
  const Clock::time_point deadline = Clock::now() + limit;
  while (true) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline || poll_socket(socket_, POLLIN, deadline - now) <= 0) return;
    if (receive(buffer_.data(), buffer_.size()) <= 0) return;
  }
}

bool ConnectionStream::wait_readable() const {
  const Clock::time_point read_deadline = Clock::now() + timeouts_.read;
  while (true) {
    const Clock::time_point now = Clock::now();
    Clock::time_point until = read_deadline;
    if (headers_deadline_) {
      if (now >= *headers_deadline_) {
        headers_timed_out_ = true;
        return false;
      }
      until = std::min(until, *headers_deadline_);
    }
    if (now >= until) return false;  // the read timeout
    const int ready = poll_socket(socket_, POLLIN, until - now);
    if (ready != 0) return ready > 0;
  }
}

bool ConnectionStream::is_readable() const { return buffer_begin_ < buffer_end_ || wait_readable(); }

bool ConnectionStream::is_writable() const {
  if (poll_socket(socket_, POLLOUT, timeouts_.write) <= 0) return false;
  // As the library does: no answer to a client that has hung up (readable, yet nothing to read).
  const int readable = poll_socket(socket_, POLLIN, milliseconds(0));
  if (readable == 0) return true;
  if (readable < 0 && errno == EBADF) return false;
  char byte = 0;
  return receive(&byte, 1, MSG_PEEK) > 0;
}

ssize_t ConnectionStream::receive(char* data, std::size_t size, int flags) const {
  while (true) {
    const ssize_t count = ::recv(socket_, data, size, flags);
    if (count >= 0 || errno != EINTR) return count;
  }
}

ssize_t ConnectionStream::read(char* data, std::size_t size) {
  if (buffer_begin_ == buffer_end_) {
    if (!wait_readable()) return -1;
    // Large reads (bodies) go straight to the caller, small ones (request lines, headers) through the buffer.
    if (size >= buffer_.size()) return receive(data, size);
    const ssize_t count = receive(buffer_.data(), buffer_.size());
    if (count <= 0) return count;
    buffer_begin_ = 0;
    buffer_end_ = static_cast<std::size_t>(count);
  }
  const std::size_t count = std::min(size, buffer_end_ - buffer_begin_);
  std::memcpy(data, buffer_.data() + buffer_begin_, count);
  buffer_begin_ += count;
  return static_cast<ssize_t>(count);
}

ssize_t ConnectionStream::write(const char* data, std::size_t size) {
  if (!is_writable()) return -1;
  while (true) {
    const ssize_t count = ::send(socket_, data, size, MSG_NOSIGNAL);
    if (count > 0) answered_ = true;
    if (count >= 0 || errno != EINTR) return count;
  }
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(socket_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    address_of(address, length, ip, port);
  }
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    address_of(address, length, ip, port);
  }
}

}  // namespace reds::server
