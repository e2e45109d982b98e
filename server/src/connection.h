// server/src/connection.h: one client connection as cpp-httplib's Stream, with a deadline on the headers
// of each request.
//
// cpp-httplib 0.11 reads a request's line and headers before any handler of ours runs, and bounds each
// read by the read timeout only: a client sending a byte just before every timeout would hold a worker
// for as long as it likes. The server (HttpServer in server.cpp) serves each connection on this stream
// instead of the library's socket stream, which it mirrors (a 4 KiB read buffer, poll before each read and
// write, no write to a peer that has hung up), and adds the headers deadline: from the first byte of a
// request until end_headers(), every wait for data ends at the deadline, and the read fails.
#pragma once

#include <httplib.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace reds::server {

class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  struct Timeouts {
    std::chrono::microseconds read;     // each wait for data
    std::chrono::microseconds write;    // each wait for room to write
    std::chrono::microseconds headers;  // a request's line and headers, from its first byte
  };

  ConnectionStream(socket_t socket, Timeouts timeouts) : socket_(socket), timeouts_(timeouts) {}

  // Waits up to `idle` for the first byte of the next request (or for the client to hang up, which the
  // next read reports); false when nothing came.
  bool wait_for_request(std::chrono::milliseconds idle) const;
  // A new request starts: its headers are due `Timeouts::headers` from now.
  void begin_request();
  // When the current request's first byte arrived (begin_request()).
  Clock::time_point request_started() const { return request_started_; }
  // The request's headers are read: from now on only the read timeout bounds the reads.
  void end_headers() { headers_deadline_.reset(); }
  // The current request's headers missed their deadline (a read failed because of it).
  bool headers_timed_out() const { return headers_timed_out_; }
  // No request after the current one: the connection ends once it is answered.
  void close_after_answer() { closing_ = true; }
  bool closing() const { return closing_; }
  // Some bytes of an answer to the current request have been sent.
  bool answered() const { return answered_; }

  // Ends a connection the server closes while the client may still be sending (an answer that left the
  // body unread, a header deadline): sends the end of the stream, then reads and discards what comes for
  // at most `limit`, or until the client closes. Closing with unread bytes at once would send a reset, which
  // can destroy the answer before the client reads it.
  void finish_sending_and_drain(Clock::duration limit);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* data, std::size_t size) override;
  ssize_t write(const char* data, std::size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return socket_; }

 private:
  // Waits for data up to the read timeout, and while the headers are due, no later than their deadline
  // (then headers_timed_out() turns true). True when data (or the end of the stream) is there.
  bool wait_readable() const;
  ssize_t receive(char* data, std::size_t size, int flags = 0) const;

  socket_t socket_;
  Timeouts timeouts_;
  Clock::time_point request_started_;
  std::optional<Clock::time_point> headers_deadline_;
  mutable bool headers_timed_out_ = false;  // set by waits, which the Stream interface makes const
  bool answered_ = false;
  bool closing_ = false;
  std::array<char, 4096> buffer_{};
  std::size_t buffer_begin_ = 0;
  std::size_t buffer_end_ = 0;
};

}  // namespace reds::server
