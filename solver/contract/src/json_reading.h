// Reading a plan-contract document (request or response) with nlohmann/json, every error explained with
// its message and JSON Pointer. Shared by the request's reference reader (json.cpp) and the response
// reader (json_response_reader.cpp), so both report errors in the same words.
//
// The reading runs in two passes. A SAX pass checks the text alone (syntax, nesting depth, duplicate keys,
// numbers too large for a double) while building the document, so hostile input such as 100000 '[' is
// rejected in constant stack and memory. Only then is the document read field by field; a field that
// breaks the contract throws a FieldError, which read_document() turns into the Result.
#pragma once

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reds/status.h"
#include "request_field.h"

namespace reds::detail {

// Ordered, so that documents are read and written in document order.
using Json = nlohmann::ordered_json;

// A contract error found while reading a document. It unwinds the reader to read_document(), which returns
// it as a Result; it never leaves the readers.
struct FieldError {
  Error error;
};

[[noreturn]] void fail(const RequestField& field, const std::string& message);

// The syntax pass: parses `json_text` into `document`, or says what is wrong with the text (paths start
// at `root`).
std::optional<Error> build_document(std::string_view json_text, const RequestField& root, Json& document);

// "an object", "a string", "null", or the number itself: what a value is, for messages.
std::string describe(const Json& value);

// Checks that `value` is an object with only `known` fields and every one of `required`.
void expect_object(const Json& value, const RequestField& field, std::initializer_list<const char*> known,
                   std::initializer_list<const char*> required);
const Json& expect_array(const Json& value, const RequestField& field);

std::int64_t read_integer(const Json& value, const RequestField& field);
double read_number(const Json& value, const RequestField& field);
bool read_bool(const Json& value, const RequestField& field);
std::string read_string(const Json& value, const RequestField& field);
std::vector<double> read_numbers(const Json& value, const RequestField& field);
std::vector<std::int64_t> read_integers(const Json& value, const RequestField& field);

// Builds the document named by `root` from `json_text` and reads it with `read(const Json&)` (which
// returns a T or a Result<T>), turning every failure into an Error: contract errors as invalid_argument,
// memory as resource_exhausted.
template <class T, class Read>
Result<T> read_document(std::string_view json_text, const RequestField& root, const Read& read) {
  try {
    Json document;
    if (std::optional<Error> error = build_document(json_text, root, document)) return *std::move(error);
    return read(document);
  } catch (const FieldError& field_error) {
    return field_error.error;
  } catch (const std::bad_alloc&) {
    return Error{ErrorCode::resource_exhausted, "not enough memory to read the " + root.name(), {}};
  } catch (const std::exception& exception) {
    return Error{ErrorCode::internal, "reading the " + root.name() + " failed: " + exception.what(), {}};
  }
}

}  // namespace reds::detail
