// tests/support/lp_model.h: one plan level as a mixed-integer program, solved by the CBC command-line solver.
//
// The program is written from the plan contract (docs/contract.md, version 1.1 included), not from the
// planner: for every layer l a one-hot choice x[l][k] over the widths the layer may take (min_units, block,
// prunable; a layer that keeps another's width, a tied layer or a stream member after the first, has the
// choices of that layer and equal x), objective sum S_g(k) x[g][k] over the width groups g (at their first
// layers) with S_g the sum of the k largest of the group's unit-wise summed importances, and per limited
// resource the layer costs
//
//     c_l = fixed + unit*k + input*k_in + unit_input*k*k_in (+ table[k-1]) + sum over held h of c_h*k_h
//
// where k_in is the width of the layer `input` names (by default the previous layer; the network's inputs
// for the first layer) and k_h that of the layer a `held` entry names.
//
// Everything but the coupling is linear in the one-hot variables (constants are folded into x[l][k], since
// exactly one of them is 1; held terms are linear in the named layer's x). The coupling k*k_in is linearised
// exactly with pair variables y[l][k][k'] = x[l][k] * x[in(l)][k'], tied to the choices by
// sum_k' y[l][k][k'] = x[l][k] and sum_k y[l][k][k'] = x[in(l)][k'] (with binary x these force y to be the
// product). A `sum` resource gives one row sum_l c_l <= limit, a `max` resource one row c_l <= limit per
// layer. Nesting bounds (bottom_up: k at least the previous level's widths; top_down: at most the next
// level's) are rows on sum_k k x[l][k].
//
// All row coefficients are exact integers (costs are below 2^53 per the contract, so they print and parse
// exactly); only the objective is real. CBC is kept out of the library: it runs as the `cbc` program on an
// LP file, and only tests use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reds/network.h"
#include "support/brute_force.h"

namespace reds::test {

// The nesting a level is solved under: per-layer lower (bottom_up) or upper (top_down) width bounds.
struct Nesting {
  std::optional<Widths> at_least;
  std::optional<Widths> at_most;
};

class LevelMip {
 public:
  // Precondition: validate(request) finds nothing wrong and level < request.levels.size().
  LevelMip(const PlanRequest& request, std::size_t level, const Nesting& nesting = {});

  // The program in CPLEX LP format (minimising -V, so that no reader's handling of "Maximize" matters).
  std::string lp_format() const;

  // Whether the assignment the widths define (x one-hot, y the products) meets every row, in exact integer
  // arithmetic: the widths are allowed, nest and fit the level's budget.
  bool satisfied_by(const Widths& widths) const;

  // V(widths), the objective's value at them, summed in layer order. Precondition: satisfied_by(widths) or
  // at least every width is one of its layer's choices.
  double importance(const Widths& widths) const;

  // The widths a solution (variable name -> value, zeros may be omitted) selects: per layer the choice whose
  // x is above 1/2. Nothing when some layer has no such choice or several.
  std::optional<Widths> widths_of(const std::map<std::string, double>& values) const;

 private:
  struct Variable {
    std::string name;
    std::size_t layer;
    std::int64_t width;
    std::int64_t width_in;  // pair variables only: the input layer's width; 0 for choice variables
    double objective;       // the coefficient to maximise: S_l(width) on a group's first layer, else 0
  };
  struct Row {
    std::string name;
    std::map<std::size_t, std::int64_t> coefficients;  // variable index -> coefficient (never 0)
    char sense;                                        // '<' (<=), '>' (>=) or '=' (=)
    std::int64_t rhs;
  };

  void add_choices(const Network& network);
  void add_pairs(const Network& network, const std::vector<std::pair<std::string, std::int64_t>>& limits);
  void add_layer_rows(const Nesting& nesting, std::size_t layer);
  void add_budget_rows(const Network& network, const std::string& resource, std::int64_t limit,
                       std::size_t r);
  std::size_t choice(std::size_t layer, std::int64_t width) const;
  void add_cost(const Network& network, const CostTerms& terms, std::size_t layer, Row& row) const;

  static constexpr std::size_t kNetworkInputs = static_cast<std::size_t>(-1);

  std::size_t layer_count_ = 0;
  std::vector<std::size_t> source_;    // per layer: the layer whose width it keeps (width_source())
  std::vector<std::size_t> input_of_;  // per layer: the layer whose width is its k_in, or kNetworkInputs
  std::vector<Widths> choices_;        // per layer, the widths it may take
  std::vector<std::map<std::int64_t, std::size_t>> choice_of_;  // per layer: width -> its x variable
  // Per layer with a coupled limited resource: (width, width_in) -> its y variable.
  std::vector<std::map<std::pair<std::int64_t, std::int64_t>, std::size_t>> pair_of_;
  std::int64_t inputs_ = 1;
  std::vector<Variable> variables_;
  std::vector<Row> rows_;
  std::vector<std::string> comments_;  // what the budget rows stand for, written at the top of the file
};

enum class MipStatus { optimal, infeasible };

struct MipSolution {
  MipStatus status = MipStatus::infeasible;
  double reported_objective = 0.0;  // CBC's objective as printed (8 decimals), of the maximisation
  Widths widths;                    // the widths CBC selects, when optimal
};

// Solves the program with `cbc` (searched on PATH) and reads its solution file. Throws std::runtime_error
// with the reason when cbc is missing (install Debian's coinor-cbc: scripts/install-deps), fails, stops
// early or answers something else than optimal or infeasible; the LP file and CBC's log are then kept and
// named in the message.
MipSolution solve_with_cbc(const LevelMip& mip);

}  // namespace reds::test
