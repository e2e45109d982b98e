// Where a value sits in a plan request, in the two forms an error reports it: the JSON Pointer of the
// `path` field ("/network/layers/2/importance") and the name a message uses ("layers[2].importance").
// The parser and validate() build both the same way, so an error reads the same whichever finds it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace reds::detail {

class RequestField {
 public:
  static RequestField root() { return RequestField({}, {}); }
  static RequestField layers() { return root().key("network").key("layers"); }

  RequestField key(std::string_view key) const {
    // The layers are named "layers[i]" rather than "network.layers[i]", as the contract's messages do.
    if (path_ == "/network" && key == "layers") return RequestField("/network/layers", "layers");
    std::string name = name_.empty() ? std::string(key) : name_ + "." + std::string(key);
    return RequestField(path_ + "/" + escape(key), std::move(name));
  }
  RequestField index(std::size_t index) const {
    const std::string text = std::to_string(index);
    return RequestField(path_ + "/" + text, name_ + "[" + text + "]");
  }

  const std::string& path() const { return path_; }
  // The request itself is named "request" so that messages about the root still read as sentences.
  std::string name() const { return name_.empty() ? std::string("request") : name_; }

 private:
  RequestField(std::string path, std::string name) : path_(std::move(path)), name_(std::move(name)) {}

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
};

}  // namespace reds::detail
