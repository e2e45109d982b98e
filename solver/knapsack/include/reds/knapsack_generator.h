// reds/knapsack_generator.h: the instance classes of the knapsack literature, generated reproducibly.
//
// The classes and their parameters follow D. Pisinger, "Where are the hard knapsack problems?",
// Computers & Operations Research 32 (2005) 2271-2284, with range R (coefficients in [1, R]):
//
//   uncorrelated                 w_j, p_j uniform in [1, R]
//   weakly_correlated            w_j uniform in [1, R], p_j uniform in [w_j - R/10, w_j + R/10], at least 1
//   strongly_correlated          w_j uniform in [1, R], p_j = w_j + R/10
//   inverse_strongly_correlated  p_j uniform in [1, R], w_j = p_j + R/10
//   almost_strongly_correlated   w_j uniform in [1, R], p_j uniform in [w_j + R/10 - R/500, w_j + R/10 +
//   R/500] subset_sum                   w_j uniform in [1, R], p_j = w_j spanner_*  span(v = 2, m = 10): v
//   spanner items (w, p) drawn from the named class (uncorrelated, weakly
//              or strongly correlated), scaled down to (ceil(2w/m), ceil(2p/m)); every item is a spanner
//              item, chosen uniformly, times a multiplier uniform in [1, m]
//   profit_ceiling               pceil(d = 3): w_j uniform in [1, R], p_j = d * ceil(w_j / d)
//   circle                       circle(d = 2/3): w_j uniform in [1, R], p_j = floor(d * sqrt(4R^2 - (w_j -
//   2R)^2))
//
// (R/10, R/500 are integer divisions.) The h-th instance of a series of H has capacity
// c = floor(h * W / (H + 1)), W the total weight, raised to the largest weight if smaller (as Pisinger's
// generator does), so a series sweeps the capacity from tight to loose.
//
// Random numbers come from splitmix64 and unbiased rejection sampling, never from std:: distributions:
// the same options give the same instance on every platform and compiler.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reds/knapsack.h"

namespace reds::knapsack {

enum class InstanceClass {
  uncorrelated,
  weakly_correlated,
  strongly_correlated,
  inverse_strongly_correlated,
  almost_strongly_correlated,
  subset_sum,
  spanner_uncorrelated,
  spanner_weakly_correlated,
  spanner_strongly_correlated,
  profit_ceiling,
  circle,
};

// Every class, in the order above.
const std::vector<InstanceClass>& instance_classes();
// "uncorrelated", "weakly_correlated", ... as listed above.
const char* to_string(InstanceClass instance_class);
std::optional<InstanceClass> parse_instance_class(std::string_view name);

struct GeneratorOptions {
  InstanceClass instance_class = InstanceClass::uncorrelated;
  std::int64_t items = 1000;   // n >= 1
  std::int64_t range = 1000;   // R >= 10, at most 10^9
  std::int64_t instance = 50;  // h, 1 <= h <= series
  std::int64_t series = 100;   // H
  std::uint64_t seed = 1;
};

struct GeneratedInstance {
  std::string name;  // e.g. "strongly_correlated_n1000_r1000_h50_s1"
  Problem<std::int64_t> problem;
};

// invalid_argument when an option is out of its range.
Result<GeneratedInstance> generate(const GeneratorOptions& options);

// Multiple-choice knapsack instances: k classes of m items each, in the classes of the MCKP literature
// (Sinha and Zoltners 1979; Pisinger, "A minimal algorithm for the multiple-choice knapsack problem",
// European Journal of Operational Research 83 (1995) 394-410), with range R:
//
//   uncorrelated         w_ij, p_ij uniform in [1, R]
//   weakly_correlated    w_ij uniform in [1, R], p_ij uniform in [w_ij - R/10, w_ij + R/10], at least 1
//   strongly_correlated  per class, m pairs w' uniform in [1, R], p' = w' + R/10, sorted by w'; item j
//                        is the sum of the first j pairs (every item lies on the class's upper hull: no
//                        item is dominated, and the LP relaxation alone decides nothing)
//   subset_sum           w_ij uniform in [1, R], p_ij = w_ij
//
// The correlation constants scale with R (R/10, as in the 0-1 classes). Pisinger (1995), as we recall it
// (the paper was not at hand to check), used fixed ones instead: weakly p in [w - 10, w + 10], strongly
// p' = w' + 10, so at R = 10^3 to 10^4 his strongly correlated increments have efficiencies much closer
// to 1 (nearer subset-sum) than ours, whose offset is 100 to 1,000. Solve times on the two are not
// comparable one to one.
//
// The h-th instance of a series of H has capacity c = W_min + floor(h * (W_max - W_min) / (H + 1)),
// W_min and W_max the sums of the classes' lightest and heaviest weights: h = H / 2 is the midpoint.
enum class ChoiceClass {
  uncorrelated,
  weakly_correlated,
  strongly_correlated,
  subset_sum,
};

// Every class, in the order above.
const std::vector<ChoiceClass>& choice_classes();
// "uncorrelated", "weakly_correlated", "strongly_correlated", "subset_sum".
const char* to_string(ChoiceClass choice_class);
std::optional<ChoiceClass> parse_choice_class(std::string_view name);

struct ChoiceGeneratorOptions {
  ChoiceClass choice_class = ChoiceClass::uncorrelated;
  std::int64_t classes = 100;    // k >= 1
  std::int64_t class_size = 10;  // m >= 1; k * m at most 10^7
  std::int64_t range = 1000;     // R >= 10, at most 10^9
  std::int64_t instance = 50;    // h, 1 <= h <= series
  std::int64_t series = 100;     // H
  std::uint64_t seed = 1;
};

struct GeneratedChoiceInstance {
  std::string name;  // e.g. "mckp_strongly_correlated_k100_m10_r1000_h50_s1"
  MultipleChoiceProblem<std::int64_t> problem;
};

// invalid_argument when an option is out of its range.
Result<GeneratedChoiceInstance> generate(const ChoiceGeneratorOptions& options);

}  // namespace reds::knapsack
