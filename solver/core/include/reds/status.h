// reds/status.h: the one error taxonomy of library, command and service.
//
// Every fallible public call returns a Result<T>: either a value or an Error. Nothing in the public API
// throws across its boundary unless its header says so.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace reds {

enum class ErrorCode {
  // The input breaks a rule of the plan contract (malformed JSON, wrong type, bad value, inconsistent
  // levels...). `reds plan` exits with status 2; the service answers 400.
  invalid_argument,
  // The input is valid but too large to handle (body size, nesting depth, memory). Service: 413.
  resource_exhausted,
  // A deadline passed before any answer could be produced (a plan with a time limit still answers with
  // the best plan found; this code is for when there is none to give).
  deadline_exceeded,
  // A bug: an invariant of ours failed. Never the caller's fault.
  internal,
};

// Stable lower-case name of a code, as it appears in JSON errors ("invalid_argument", ...).
inline const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_argument:
      return "invalid_argument";
    case ErrorCode::resource_exhausted:
      return "resource_exhausted";
    case ErrorCode::deadline_exceeded:
      return "deadline_exceeded";
    case ErrorCode::internal:
      return "internal";
  }
  return "unknown";
}

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;  // one sentence a user can act on, naming the offending field
  std::string path;     // JSON Pointer to the offending value ("/network/layers/2/units"), or empty
};

inline Error invalid_argument(std::string message, std::string path = {}) {
  return Error{ErrorCode::invalid_argument, std::move(message), std::move(path)};
}

// A value or an error. Small on purpose: std::expected is C++23 and not in our toolchain.
template <class T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { return std::get<0>(state_); }
  T& value() & { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

}  // namespace reds
