// One budget level as a layered graph: per width group the admissible widths (nodes) and, per node, the
// admissible previous nodes; plus the level's limited sum resources. Shared by the level solver's parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "chain_model.h"

namespace reds::detail {

// One group restricted to a level: its admissible widths (nodes) and, per node, the largest admissible
// node of the previous stage (the source, width `inputs`, for the first stage).
struct Stage {
  const Group* group = nullptr;
  std::vector<std::int64_t> width;        // ascending
  std::vector<int> last_predecessor;      // index into the previous stage's nodes
  std::vector<int> by_decreasing_prefix;  // the nodes by decreasing last_predecessor (stable)
  bool admits_all = false;                // every node admits every previous node
};

// A sum resource with a limit at this level.
struct Budget {
  std::size_t resource = 0;
  double capacity = 0.0;
  std::int64_t limit = 0;
};

}  // namespace reds::detail
