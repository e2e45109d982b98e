// reds/knapsack_format.h: the knapsack literature's standard text format (D. Pisinger's instance files,
// e.g. knapPI_1_50_1000.csv), several instances per file:
//
//   knapPI_1_50_1000_1       the instance's name
//   n 50                     number of items
//   c 995                    capacity
//   z 8373                   optimal profit (as the file claims)
//   time 0.00                solution time of the file's author, seconds
//   1,94,485,0               index (1..n), profit, weight, x (1 when in the file's optimal solution)
//   ...
//   50,...
//   -----                    a line of dashes ends the instance
//
// Reading is strict about the item rows and the dashes (a truncated or garbled file is an error naming
// the line) and lenient about layout: blank lines between instances, surrounding spaces, CRLF line ends,
// and the n, c, z, time lines in any order (n and c required, z and time optional). Profits and weights
// are integers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reds/knapsack.h"

namespace reds::knapsack {

struct TextInstance {
  std::string name;
  Problem<std::int64_t> problem;
  std::optional<std::int64_t> optimum;  // the z line
  std::optional<double> seconds;        // the time line
  std::vector<bool> solution;           // the x column, per item
};

// invalid_argument with "line L: ..." when the text breaks the format; an empty text has no instances.
Result<std::vector<TextInstance>> parse_instances(std::string_view text);

// One instance in the format, ending with the dashes line and a newline.
std::string format_instance(const TextInstance& instance);

}  // namespace reds::knapsack
