// The width groups of a network and, per group, the layers between which its width is open: shared by
// width_variables(), which lists the open widths of every cut, and validate(), which only counts them.
#pragma once

#include <cstddef>
#include <vector>

#include "reds/contract.h"
#include "reds/network.h"

namespace reds::detail {

struct WidthSpans {
  WidthVariables variables;  // everything but open_after
  // Per group: the last layer that has its width, reads it as k_in or names one of its layers in `held`.
  // The group is open across the cuts after layers groups[g].layers.front() .. last_reference[g] - 1.
  std::vector<std::size_t> last_reference;
};

WidthSpans width_spans(const Network& network);

}  // namespace reds::detail
