// Where a value sits in a plan request (or response), in the two forms an error reports it: the JSON Pointer
// of the `path` field ("/network/layers/2/importance") and the name a message uses ("layers[2].importance").
// The parsers and validate() build both the same way, so an error reads the same whichever finds it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace reds::detail {

class RequestField {
 public:
  // `document` names the root in messages ("request must be an object"); a string literal.
  static RequestField root(const char* document = "request") { return RequestField({}, {}, document); }
  static RequestField layers() { return root().key("network").key("layers"); }

  RequestField key(std::string_view key) const {
    // The layers are named "layers[i]" rather than "network.layers[i]", as the contract's messages do.
    if (path_ == "/network" && key == "layers") return RequestField("/network/layers", "layers", document_);
    std::string name = name_.empty() ? std::string(key) : name_ + "." + std::string(key);
    return RequestField(path_ + "/" + escape(key), std::move(name), document_);
  }
  RequestField index(std::size_t index) const {
    const std::string text = std::to_string(index);
    return RequestField(path_ + "/" + text, name_ + "[" + text + "]", document_);
  }

  const std::string& path() const { return path_; }
  // The document itself is named ("request") so that messages about the root still read as sentences.
  std::string name() const { return name_.empty() ? std::string(document_) : name_; }

 private:
  RequestField(std::string path, std::string name, const char* document)
      : path_(std::move(path)), name_(std::move(name)), document_(document) {}

  // RFC 6901: '~' and '/' inside a reference token are written "~0" and "~1".
  static std::string escape(std::string_view token) {
    std::string escaped;
    escaped.reserve(token.size());
    for (char c : token) {
      if (c == '~') {
        escaped += "~0";
      } else if (c == '/') {
        escaped += "~1";
      } else {
        escaped += c;
      }
    }
    return escaped;
  }

  std::string path_;
  std::string name_;
  const char* document_;
};

}  // namespace reds::detail
