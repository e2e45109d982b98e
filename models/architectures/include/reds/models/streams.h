// reds/models/streams.h: which layers of a plan request share one width because their outputs are added
// (the contract's `stream`), found while a network's graph is read layer by layer. Both the bundled
// architectures and the engine's plan_request() group layers with it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace reds::models {

// Union-find over request layers, in list order; a class is named by its first (smallest) layer.
class StreamClasses {
 public:
  // The next request layer, in a class of its own.
  void add_layer() { parent_.push_back(parent_.size()); }
  std::size_t find(std::size_t layer) {
    while (parent_[layer] != layer) layer = parent_[layer] = parent_[parent_[layer]];
    return layer;
  }
  // The layers' outputs are added: one width from now on.
  void join(std::size_t a, std::size_t b) {
    a = find(a), b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<std::size_t> parent_;
};

}  // namespace reds::models
