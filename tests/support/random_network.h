// tests/support/random_network.h: seeded random plan requests, small enough for the brute-force oracle.
#pragma once

#include <cstddef>
#include <cstdint>

#include "reds/network.h"

namespace reds::test {

// A valid request drawn from `seed` alone (the same seed gives the same request on every platform), with
// strategy bottom_up; callers set the strategy they test. It exercises every feature of the contract:
//   * 1-5 layers (mostly 3-5) of 1-6 units, 1-4 inputs; importances that are small integers (zeros and
//     ties), uniform doubles, or dyadic numbers spanning ten orders of magnitude (sums of those stay exact);
//   * min_units, block, prunable=false, tied layers;
//   * 1-3 resources among macs, params, latency (sum) and activation, peak (max), declared or defaulted,
//     with coefficients 0..20 (many zero) and occasional cost tables (0..200, half of them dearer at
//     narrow widths), which make costs non-monotone;
//   * 1-4 levels mixing fractions (round ones such as 0.3 among them) and max limits, growing per precise
//     rule 4; each level's budget is the cost of a random width vector, except that about one level in
//     eight is pushed below the cheapest width vector on one resource, so that some levels are infeasible
//     (and, with the tables, some top_down levels cannot nest).
// At most `max_width_vectors` width vectors are allowed, so that brute force stays fast.
PlanRequest random_plan_request(std::uint64_t seed, std::size_t max_width_vectors = 2000);

// A valid residual request (contract 1.1) drawn from `seed` alone, with strategy bottom_up: streams of
// identity and projection blocks (`input`), tied layers after inner layers and after stream members, `held`
// terms (some with coefficient 0), min_units, block and prunable=false on first members, and resources and
// levels (infeasible ones included) as random_plan_request() draws them. No cut opens more than two widths.
// At most `max_width_vectors` width vectors are allowed.
PlanRequest random_residual_plan_request(std::uint64_t seed, std::size_t max_width_vectors = 2000);

}  // namespace reds::test
