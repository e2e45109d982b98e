// server/src/connection.h: one client connection, and the cpp-httplib Stream a worker answers one of its
// requests on.
//
// The event loop (event_loop.h) reads each request, line, headers and body, without a thread per
// connection; a worker gets the connection only once a request is whole (or once the loop has given up on
// it: a deadline passed, the client fell silent or hung up), and answers it with cpp-httplib's request
// processing on a ConnectionStream, which reads the bytes the loop buffered. So a client trickling its
// headers holds a few hundred bytes of memory, not a worker.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace reds::server {

using Clock = std::chrono::steady_clock;

struct Connection {
  // Where the connection stands; the loop owns it in every phase but `dispatched`.
  enum class Phase {
    idle,        // between requests: no byte of the next one yet
    head,        // reading a request line and headers
    body,        // reading the body the headers announced
    dispatched,  // a worker is answering the request
    draining,    // answered and closing: reading and dropping what the client still sends
  };
  // What the worker's stream finds after the bytes the loop buffered.
  enum class Input {
    complete,   // the first `request_size` bytes are the whole request: reading past them finds its end
    exhausted,  // the loop gave up on the request: reading past the buffered bytes fails
    streaming,  // the rest of the request is read from the socket by the worker (a body too large for
                // the loop's memory budget, or one the client sends only after "100 Continue")
  };

  Connection(int socket_in, std::uint64_t id_in) : socket(socket_in), id(id_in) {}

  const int socket;
  const std::uint64_t id;
  // Bytes received and not yet served: the current request from its first byte, and any pipelined after.
  std::string buffer;
  Phase phase = Phase::idle;
  Input input = Input::complete;
  std::size_t request_size = 0;  // Input::complete: the request's bytes at the front of `buffer`
  bool end_of_stream = false;    // the client sent FIN
  bool headers_timed_out = false;
  bool body_timed_out = false;
  bool close_after_answer = false;  // the body was left unread (larger than --max-body-bytes)
  int requests_served = 0;
  // A request that needs a solver slot (POST /plan): whether it holds one while a worker answers it, or why
  // not (event_loop.h).
  enum class Slot { none, held, queue_full, wait_expired } slot = Slot::none;

  Clock::time_point request_started;   // the current request's first byte
  Clock::time_point headers_received;  // the current request's blank line after its headers
  Clock::time_point last_received;     // the last bytes from the client
  Clock::time_point deadline;          // when the loop acts on the connection (Phase-dependent)

  // Framing of the current request (event_loop.cpp).
  std::size_t head_size = 0;     // request line and headers, with the blank line
  std::size_t head_scanned = 0;  // how far the search for the blank line has come
  std::size_t body_scanned = 0;  // chunked bodies: how far the chunks are known
  std::uint64_t chunk_left = 0;  // chunked bodies: data bytes left in the current chunk
  // chunked bodies: the part the scan is in (a chunk's size line, its data, the line ending its data, the
  // line after the last chunk)
  enum class ChunkPart { size_line, data, data_end, last_line } chunk_part = ChunkPart::size_line;
  std::uint64_t content_length = 0;
  enum class Framing { none, length, chunked } framing = Framing::none;
  std::size_t loop_bytes = 0;  // bytes of `buffer` counted against the loop's memory budget
};

// The stream cpp-httplib reads one request from and writes its answer to. It mirrors the library's socket
// stream where it touches the socket (poll before each read and write, no write to a peer that has hung
// up).
class ConnectionStream final : public httplib::Stream {
 public:
  struct Timeouts {
    std::chrono::microseconds read;   // each wait for data (Input::streaming)
    std::chrono::microseconds write;  // each wait for room to write
  };

  ConnectionStream(Connection& connection, Timeouts timeouts)
      : connection_(connection), timeouts_(timeouts) {}

  Connection& connection() { return connection_; }
  const Connection& connection() const { return connection_; }
  // Some bytes of an answer to the request have been sent.
  bool answered() const { return answered_; }
  // No request after this one: the connection ends once it is answered (an answer with
  // "Connection: close", which cpp-httplib would read on after).
  void close_after_answer() { closing_ = true; }
  bool closing() const { return closing_; }
  // The bytes of `connection().buffer` this request used: all of a complete request, even a body the
  // library left unread, so that the next request starts where the client's does.
  std::size_t consumed() const;

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* data, std::size_t size) override;
  ssize_t write(const char* data, std::size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return connection_.socket; }

 private:
  // The end of the bytes this request may read from the buffer.
  std::size_t readable_end() const;
  // Input::streaming: waits up to the read timeout, then appends what arrived to the buffer; false when
  // nothing came or the client hung up.
  bool receive_more();

  Connection& connection_;
  Timeouts timeouts_;
  std::size_t position_ = 0;
  bool answered_ = false;
  bool closing_ = false;
};

}  // namespace reds::server
