// reds/network.h: the plan request in C++ form (plan contract v1, "Request").
//
// A network is a chain of layers; layer l has `units` units with non-negative importance. A plan keeps
// k_l units of every layer (the k_l most important ones), so it is described by its widths. Per resource r
// (MACs, params, activation bytes, latency...) a layer costs
//
//     c_{l,r}(k_in, k) = fixed + unit*k + input*k_in + unit_input*k*k_in (+ table[k-1])
//
// where k_in is the kept width of the previous layer (the network's `inputs` for the first layer), or of the
// layer named in `input`, plus c*k_h for every `held` entry (k_h: the named layer's kept width). Resources
// aggregate over layers by `sum` (MACs, params, latency) or `max` (peak activation bytes).
//
// Residual networks (contract version 1.1): layers with the same `stream` keep one width and one unit order
// (their outputs are added channel by channel), `input` names the layer a shortcut projection reads, and
// `held` prices a tensor that stays live while a layer runs. width_variables() in reds/contract.h gives the
// structure these fields make: which layers share a width, and which widths are open across each cut.
//
// These structs are plain data: build them in code or parse them from JSON (reds/json.h); `validate()` in
// reds/contract.h checks every rule of the contract and names the offending field by JSON Pointer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace reds {

enum class Aggregation { sum, max };

// Cost coefficients of one layer for one resource. All exact non-negative integers below 2^53.
struct CostTerms {
  std::int64_t fixed = 0;
  std::int64_t unit = 0;            // per kept unit of this layer
  std::int64_t input = 0;           // per kept unit of the previous layer
  std::int64_t unit_input = 0;      // per (kept unit, kept input) pair: coupling, e.g. MACs of a dense layer
  std::vector<std::int64_t> table;  // empty, or exactly `units` entries: extra cost at width 1..units
  // Earlier layer name -> c: adds c * (that layer's kept width), e.g. a skip tensor live during this layer.
  std::map<std::string, std::int64_t> held;
};

struct Layer {
  std::string name;  // unique, non-empty
  std::int64_t units = 1;
  std::vector<double> importance;  // exactly `units` finite numbers >= 0, in original unit order
  std::int64_t min_units = 1;      // 1 <= min_units <= units
  std::int64_t block = 1;          // kept widths are multiples of block, or the full width
  bool prunable = true;            // false pins the width to `units`
  // The width always equals the previous layer's width (a depthwise convolution). A tied layer keeps the
  // defaults of min_units, block and prunable; they come from the layer it follows.
  bool tied = false;
  std::map<std::string, CostTerms> cost;  // resource name -> coefficients; unlisted resources cost 0
  // The layers with the same stream keep one width and one unit order; only the first member may give
  // min_units, block or prunable, for the whole stream. Absent: the layer is in no stream.
  std::optional<std::string> stream;
  // The earlier layer whose kept width is this layer's k_in. Absent: the previous layer (or the network's
  // inputs for the first layer).
  std::optional<std::string> input;
};

struct Network {
  std::string name;
  std::int64_t inputs = 1;  // width feeding the first layer, never pruned
  // Aggregation per resource. A resource not listed here aggregates by `sum`, except `activation`,
  // which aggregates by `max` (see aggregation_of()).
  std::map<std::string, Aggregation> resources;
  std::vector<Layer> layers;
};

// How a resource named `resource` aggregates in `network`.
Aggregation aggregation_of(const Network& network, const std::string& resource);

// A budget on one resource: a fraction of the full network's cost or an absolute maximum.
struct Limit {
  enum class Kind { fraction, max };
  Kind kind = Kind::fraction;
  double fraction = 1.0;     // 0 < fraction <= 1, used when kind == fraction
  std::int64_t maximum = 0;  // >= 0, used when kind == max

  static Limit of_fraction(double f) { return Limit{Kind::fraction, f, 0}; }
  static Limit of_max(std::int64_t m) { return Limit{Kind::max, 1.0, m}; }
};

// One budget level: resource name -> limit. Levels are given smallest first.
struct Level {
  std::map<std::string, Limit> limits;
};

enum class Strategy {
  independent,  // each level optimal on its own; not nested (the price of nesting)
  bottom_up,    // level 1 optimal; level j optimal subject to k >= k(level j-1)   (default)
  top_down,     // last level optimal; level j optimal subject to k <= k(level j+1)
  joint,        // max sum_j w_j V(k(j)) over nested chains
};

const char* to_string(Strategy strategy);
std::optional<Strategy> strategy_from_string(const std::string& name);

// What a plan maximises (an extension of plan contract v1: the optional request field "objective"). Every
// objective is a sum over width groups (a layer and the layers tied to it) of a function of the group's kept
// width; `normalized` and `product` are the contract's sum applied to rescaled importances
// (objective_importance() in reds/contract.h), which keep every group's unit order.
//   sum        the importance as given (the contract's V(k); the default);
//   normalized every group's importances scaled to sum 1: each group weighs the same;
//   product    the product over groups of the kept share of their importance, C_g(k_g) / C_g(n_g), C_g(k)
//              being the sum of the group's k largest unit sums: a group cut to a few units multiplies the
//              whole by a small share, as a narrow layer throttles every layer after it, so plans avoid
//              one-unit bottlenecks. Maximised through its logarithm: exp(level importance - full
//              importance) is the level's product of kept shares.
enum class Objective { sum, normalized, product };

const char* to_string(Objective objective);
std::optional<Objective> objective_from_string(const std::string& name);

struct PlanRequest {
  Network network;
  std::vector<Level> levels;  // 1..64 levels, smallest first
  Strategy strategy = Strategy::bottom_up;
  std::vector<double> weights;                // only with `joint`: one positive number per level
  std::optional<std::int64_t> time_limit_ms;  // wall-clock limit (positive)
  Objective objective = Objective::sum;       // what the levels maximise; importances are reported in it
};

}  // namespace reds
