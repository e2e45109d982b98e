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
int poll_socket(int socket, short events, Clock::duration timeout) {
  const auto until = Clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::ceil<milliseconds>(until - Clock::now());
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

// recv() that retries when a signal interrupts it.
ssize_t receive(int socket, char* data, std::size_t size, int flags) {
  while (true) {
    const ssize_t count = ::recv(socket, data, size, flags);
    if (count >= 0 || errno != EINTR) return count;
  }
}

}  // namespace

std::size_t ConnectionStream::readable_end() const {
  return connection_.input == Connection::Input::complete
             ? std::min(connection_.request_size, connection_.buffer.size())
             : connection_.buffer.size();
}

std::size_t ConnectionStream::consumed() const {
  return connection_.input == Connection::Input::complete ? readable_end() : position_;
}

bool ConnectionStream::receive_more() {
  // The socket is non-blocking (the loop's): wait, then read what is there.
  const Clock::time_point deadline = Clock::now() + timeouts_.read;
  while (true) {
    const Clock::time_point now = Clock::now();
    if (now >= deadline || poll_socket(connection_.socket, POLLIN, deadline - now) <= 0) return false;
    char chunk[16 * 1024];
    const ssize_t count = receive(connection_.socket, chunk, sizeof chunk, 0);
    if (count > 0) {
      connection_.buffer.append(chunk, static_cast<std::size_t>(count));
      return true;
    }
    if (count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      connection_.end_of_stream = true;
      return false;
    }
  }
}

bool ConnectionStream::is_readable() const {
  // What is buffered, or what the loop decided comes after it, can be read at once.
  return position_ < readable_end() || connection_.input != Connection::Input::streaming ||
         poll_socket(connection_.socket, POLLIN, timeouts_.read) > 0;
}

ssize_t ConnectionStream::read(char* data, std::size_t size) {
  if (position_ >= readable_end()) {
    switch (connection_.input) {
      case Connection::Input::complete:
        return 0;
      case Connection::Input::exhausted:
        return -1;
      case Connection::Input::streaming:
        if (connection_.end_of_stream) return 0;
        if (!receive_more()) return connection_.end_of_stream ? 0 : -1;
        break;
    }
  }
  const std::size_t count = std::min(size, readable_end() - position_);
  std::memcpy(data, connection_.buffer.data() + position_, count);
  position_ += count;
  return static_cast<ssize_t>(count);
}

bool ConnectionStream::is_writable() const {
  if (poll_socket(connection_.socket, POLLOUT, timeouts_.write) <= 0) return false;
  // As the library does: no answer to a client that has hung up (readable, yet nothing to read).
  const int readable = poll_socket(connection_.socket, POLLIN, milliseconds(0));
  if (readable == 0) return true;
  if (readable < 0 && errno == EBADF) return false;
  char byte = 0;
  return receive(connection_.socket, &byte, 1, MSG_PEEK) > 0;
}

ssize_t ConnectionStream::write(const char* data, std::size_t size) {
  while (true) {
    if (!is_writable()) return -1;
    const ssize_t count = ::send(connection_.socket, data, size, MSG_NOSIGNAL);
    if (count > 0) answered_ = true;
    if (count >= 0) return count;
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return count;
  }
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(connection_.socket, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    address_of(address, length, ip, port);
  }
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(connection_.socket, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    address_of(address, length, ip, port);
  }
}

}  // namespace reds::server
