// Cross-check: the planner's level optima against CBC, an independent exact MIP solver, on the same problem
// written as a mixed-integer program from the contract (tests/support/lp_model.h).
//
// The networks are larger than the brute force can enumerate (chains of up to 5 layers of 12 units, and
// residual networks of up to 14 layers with streams, projections and held terms, contract 1.1), always
// coupled (MACs and params cost unit_input * k * k_in) and every level limits several resources at once (2-3
// sum resources and a max resource, limits mixing fractions and absolute maxima). Each level of every
// strategy is checked under the nesting the planner itself chose (its widths at the last feasible level
// solved before), as in plan_property_test.cpp.
//
// How values are compared. Both solvers' widths are checked in the program in exact integer arithmetic, and
// both values are recomputed from the widths with the contract's formula (CBC prints its objective with 8
// decimals only). Then:
//   * the planner may not be worse than CBC's widths beyond the contract's relative 1e-9 (precise rule 6:
//     `optimal` means bound = importance up to 1e-9): CBC's widths are exactly feasible, so anything more
//     is a planner bug;
//   * CBC may not be worse than the planner's widths beyond 1e-6 relative: CBC stops on its own
//     floating-point tolerances (reduced costs within 1e-7, integrality within 1e-7, a cutoff increment
//     we lower to 1e-12), not on exact values; 1e-6 is ten times its dual tolerance, and a larger miss would
//     mean that the program lacks plans the planner found feasible (which satisfied_by() rules out) or that
//     CBC is wrong. In 22,455 level checks (REDS_CBC_SEED=1000 REDS_CBC_INSTANCES=3000) CBC's shortfall was
//     0, once its MIP preprocessing was off (see RequestWhereCbcPreprocessingErred).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "reds/json.h"
#include "reds/plan.h"
#include "support/brute_force.h"
#include "support/lp_model.h"
#include "support/random_network.h"

namespace reds::test {
namespace {

// CBC's own tolerance, relative (see the file comment).
constexpr double kCbcTolerance = 1e-6;

std::string describe(const Widths& widths) {
  std::ostringstream text;
  text << "(";
  for (std::size_t l = 0; l < widths.size(); ++l) text << (l > 0 ? ", " : "") << widths[l];
  text << ")";
  return text.str();
}

// Draws from the raw 64-bit engine only (and no libm function but exact ones), so that a seed gives the same
// request with every standard library.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  std::int64_t between(std::int64_t low, std::int64_t high) {
    return low + static_cast<std::int64_t>(engine_() % static_cast<std::uint64_t>(high - low + 1));
  }
  bool chance(int percent) { return between(0, 99) < percent; }
  double unit_interval() { return std::ldexp(static_cast<double>(engine_() >> 11), -53); }

 private:
  std::mt19937_64 engine_;
};

std::vector<double> random_importance(Random& random, std::int64_t units) {
  std::vector<double> importance(static_cast<std::size_t>(units));
  const std::int64_t kind = random.between(0, 2);
  for (double& value : importance) {
    if (kind == 0) value = random.unit_interval();
    if (kind == 1) value = static_cast<double>(random.between(0, 3));  // ties and zeros
    if (kind == 2)
      value = std::ldexp(1.0 + random.unit_interval(), static_cast<int>(random.between(-10, 10)));
  }
  return importance;
}

CostTerms random_terms(Random& random, const std::string& resource, std::int64_t units) {
  auto coefficient = [&random](int percent) { return random.chance(percent) ? random.between(1, 9) : 0; };
  CostTerms terms;
  if (resource == "macs") {
    terms.unit_input = random.between(1, 9);
    terms.unit = coefficient(20);
  } else if (resource == "params") {
    terms.unit_input = random.between(1, 9);
    terms.unit = coefficient(70);
  } else if (resource == "latency") {
    terms.fixed = coefficient(50);
    terms.unit = coefficient(50);
    terms.input = coefficient(30);
    terms.unit_input = coefficient(40);
    if (random.chance(30)) {
      for (std::int64_t width = 1; width <= units; ++width) terms.table.push_back(random.between(0, 150));
    }
    // A limited resource must cost something somewhere (precise rule 4): every layer's latency does.
    if (terms.fixed + terms.unit + terms.input + terms.unit_input == 0) terms.unit = random.between(1, 9);
  } else {  // a max resource: activation-like, the layer's input and output widths
    terms.unit = random.between(1, 9);
    terms.input = coefficient(70);
    terms.unit_input = coefficient(20);
  }
  return terms;
}

void draw_levels(Random& random, const std::vector<std::string>& resources, const std::string& peak,
                 PlanRequest& request);

// A valid request of 2-5 layers with 1-12 units (mostly 6-12): tied layers, min_units, blocks, pinned layers;
// 2-3 sum resources among macs, params (both coupled), latency (sometimes a table), and one max resource;
// 1-4 levels, the first limiting every resource, later ones a shrinking set (precise rule 4), with limits
// drawn as fractions of the full cost up to 95 %, from 15 % (40 % for the max resource), so that most levels
// bind and about one in five is infeasible.
PlanRequest crosscheck_request(std::uint64_t seed) {
  Random random(seed);
  PlanRequest request;
  Network& network = request.network;
  network.name = "crosscheck_" + std::to_string(seed);
  network.inputs = random.between(1, 8);

  std::vector<std::string> resources = {"macs", "params", "latency"};
  std::swap(resources[static_cast<std::size_t>(random.between(0, 2))], resources[2]);
  if (random.chance(50)) resources.pop_back();
  const std::string peak = random.chance(50) ? "activation" : "peak";
  if (peak == "peak") network.resources[peak] = Aggregation::max;
  resources.insert(resources.begin() + random.between(0, static_cast<std::int64_t>(resources.size())), peak);

  const std::int64_t layer_count = random.between(2, 5);
  for (std::int64_t l = 0; l < layer_count; ++l) {
    Layer layer;
    layer.name = "layer" + std::to_string(l);
    layer.tied = l > 0 && random.chance(20);
    if (layer.tied) {
      layer.units = network.layers.back().units;
    } else {
      layer.units = random.chance(75) ? random.between(6, 12) : random.between(1, 12);
      if (random.chance(25)) layer.min_units = random.between(1, layer.units);
      if (random.chance(20)) layer.block = random.between(2, 4);
      layer.prunable = !random.chance(10);
    }
    layer.importance = random_importance(random, layer.units);
    for (const std::string& resource : resources) {
      if (l == 0 || random.chance(85)) layer.cost[resource] = random_terms(random, resource, layer.units);
    }
    network.layers.push_back(std::move(layer));
  }
  draw_levels(random, resources, peak, request);
  return request;
}

// 1-4 levels, the first limiting every resource, later ones a shrinking set (precise rule 4), with limits
// drawn as fractions of the full cost up to 95 %, from 15 % (40 % for the max resource `peak`).
void draw_levels(Random& random, const std::vector<std::string>& resources, const std::string& peak,
                 PlanRequest& request) {
  const std::map<std::string, std::int64_t> full = full_network_cost(request.network);
  const std::size_t level_count = static_cast<std::size_t>(random.between(1, 4));
  std::vector<std::size_t> limited(level_count);
  for (std::size_t& count : limited) {
    count = static_cast<std::size_t>(random.between(1, static_cast<std::int64_t>(resources.size())));
  }
  std::sort(limited.begin(), limited.end(), std::greater<>());
  limited.front() = resources.size();
  request.levels.resize(level_count);
  for (std::size_t r = 0; r < resources.size(); ++r) {
    // A max resource's cheapest plan is dearer relative to its full cost (one layer alone must fit).
    // Coupled costs fall with the square of the widths, so fractions are drawn nearer the top.
    const double lowest = resources[r] == peak ? 0.4 : 0.15;
    std::vector<double> fractions;
    for (std::size_t j = 0; j < level_count && limited[j] > r; ++j) {
      fractions.push_back(lowest + (0.95 - lowest) * std::sqrt(random.unit_interval()));
    }
    std::sort(fractions.begin(), fractions.end());
    for (std::size_t j = 0; j < fractions.size(); ++j) {
      const std::string& resource = resources[r];
      request.levels[j].limits[resource] =
          random.chance(50) ? Limit::of_fraction(fractions[j])
                            : Limit::of_max(resolve_fraction(fractions[j], full.at(resource)));
    }
  }
}

// A valid residual request (contract 1.1) with the resources and levels of crosscheck_request(), larger
// than the brute force enumerates: a first layer of 6-12 units, then 1-3 blocks, each
//   * a plain layer (sometimes followed by a tied one);
//   * an identity block: its input x joins (or starts) a stream, an inner layer (sometimes followed by a
//     tied, depthwise one) and a closing member of x's stream;
//   * or a projection block: a new stream whose shortcut projection reads x through `input`, before the
//     inner layer (which then reads x through `input` too) or after the closing member.
// The inner layers hold x (`held`, 0-9 per unit of its width) on the max resource, as a skip tensor is live
// during a block; no cut opens more than two widths.
PlanRequest crosscheck_residual_request(std::uint64_t seed) {
  Random random(seed);
  PlanRequest request;
  Network& network = request.network;
  network.name = "crosscheck_residual_" + std::to_string(seed);
  network.inputs = random.between(1, 8);

  std::vector<std::string> resources = {"macs", "params", "latency"};
  std::swap(resources[static_cast<std::size_t>(random.between(0, 2))], resources[2]);
  if (random.chance(50)) resources.pop_back();
  const std::string peak = random.chance(50) ? "activation" : "peak";
  if (peak == "peak") network.resources[peak] = Aggregation::max;
  resources.insert(resources.begin() + random.between(0, static_cast<std::int64_t>(resources.size())), peak);

  const auto add = [&](Layer layer) {
    layer.name = "layer" + std::to_string(network.layers.size());
    layer.importance = random_importance(random, layer.units);
    for (const std::string& resource : resources) {
      if (network.layers.empty() || random.chance(85))
        layer.cost[resource] = random_terms(random, resource, layer.units);
    }
    network.layers.push_back(std::move(layer));
    return network.layers.size() - 1;
  };
  const auto units = [&] { return random.chance(75) ? random.between(6, 12) : random.between(1, 12); };
  // A layer with a width of its own, or a stream's first member: it may set the width rules.
  const auto variable = [&](std::int64_t width) {
    Layer layer;
    layer.units = width;
    if (random.chance(20)) layer.min_units = random.between(1, layer.units);
    if (random.chance(20)) layer.block = random.between(2, 4);
    layer.prunable = !random.chance(10);
    return layer;
  };
  const auto member = [](const std::string& stream, std::int64_t width) {
    Layer layer;
    layer.units = width;
    layer.stream = stream;
    return layer;
  };
  const auto tied_after = [&] {
    Layer layer;
    layer.units = network.layers.back().units;
    layer.tied = true;
    return add(std::move(layer));
  };
  const auto hold = [&](std::size_t holder, std::size_t held) {
    network.layers[holder].cost[peak].held[network.layers[held].name] = random.between(0, 9);
  };

  add(variable(units()));
  std::size_t streams = 0;
  const std::int64_t blocks = random.between(1, 3);
  for (std::int64_t block = 0; block < blocks; ++block) {
    const std::size_t x = network.layers.size() - 1;
    const std::int64_t kind = random.between(0, 2);
    if (kind == 0 || (kind == 1 && network.layers[x].tied)) {
      add(variable(units()));
      if (random.chance(30)) tied_after();
    } else if (kind == 1) {
      Layer& input = network.layers[x];
      if (!input.stream) input.stream = "s" + std::to_string(streams++);
      const std::string stream = *input.stream;
      const std::int64_t width = input.units;
      const std::size_t inner = add(variable(units()));
      if (random.chance(50)) hold(inner, x);
      if (random.chance(40)) {
        const std::size_t depthwise = tied_after();
        if (random.chance(50)) hold(depthwise, x);
      }
      add(member(stream, width));
    } else {
      const std::string stream = "s" + std::to_string(streams++);
      const std::int64_t width = units();
      const bool projection_first = random.chance(50);
      Layer projection = projection_first ? variable(width) : member(stream, width);
      projection.stream = stream;
      projection.input = network.layers[x].name;
      if (projection_first) add(projection);
      Layer inner_layer = variable(units());
      if (projection_first) inner_layer.input = network.layers[x].name;
      const std::size_t inner = add(std::move(inner_layer));
      if (random.chance(50)) hold(inner, x);
      Layer closing = projection_first ? member(stream, width) : variable(width);
      closing.stream = stream;
      add(std::move(closing));
      if (!projection_first) add(std::move(projection));
    }
  }
  if (random.chance(40)) add(variable(units()));
  draw_levels(random, resources, peak, request);
  return request;
}

// CBC is the slow part; within one request the same program comes up under several strategies (a first level
// has no nesting, independent levels recur in bottom_up), so answers are kept by program text.
class Cbc {
 public:
  const MipSolution& solve(const LevelMip& mip) {
    const std::string program = mip.lp_format();
    auto known = answers_.find(program);
    if (known == answers_.end()) known = answers_.emplace(program, solve_with_cbc(mip)).first;
    return known->second;
  }
  std::size_t runs() const { return answers_.size(); }

 private:
  std::map<std::string, MipSolution> answers_;
};

struct Tally {
  std::size_t level_checks = 0;
  std::size_t feasible = 0;
  std::size_t infeasible = 0;
  std::size_t cbc_runs = 0;
  double largest_cbc_shortfall = 0.0;  // relative, where CBC's widths were worth less than the planner's
};

bool within(double difference, double scale, double relative) { return difference <= relative * scale; }

// A claimed optimum of one level (the planner's or the brute force's: its widths, nothing when it finds the
// level infeasible) against CBC's optimum of the same program. `who` names the claimant in messages.
void expect_same_optimum(const LevelMip& mip, const MipSolution& cbc, const std::optional<Widths>& claimed,
                         const char* who, Tally& tally) {
  ++tally.level_checks;
  if (cbc.status == MipStatus::infeasible) {
    ++tally.infeasible;
    EXPECT_FALSE(claimed) << "CBC finds no plan; " << who << "'s widths " << describe(*claimed) << " are "
                          << (mip.satisfied_by(*claimed) ? "" : "not ") << "feasible in the program";
    return;
  }
  ++tally.feasible;
  ASSERT_TRUE(mip.satisfied_by(cbc.widths))
      << "CBC's widths " << describe(cbc.widths) << " break the program (CBC's tolerances)";
  const double cbc_value = mip.importance(cbc.widths);
  EXPECT_NEAR(cbc.reported_objective, cbc_value, 1e-8 * std::max(1.0, std::abs(cbc_value)))
      << "CBC's printed objective does not match its widths " << describe(cbc.widths);
  ASSERT_TRUE(claimed) << who << " finds the level infeasible; CBC reaches " << cbc_value << " at "
                       << describe(cbc.widths);
  ASSERT_TRUE(mip.satisfied_by(*claimed))
      << who << "'s widths " << describe(*claimed) << " break the program (budget, choices or nesting)";
  const double claimed_value = mip.importance(*claimed);

  const double scale = std::max(std::abs(claimed_value), std::abs(cbc_value));
  EXPECT_TRUE(claimed_value >= cbc_value || same_importance(claimed_value, cbc_value))
      << who << " is not optimal: " << claimed_value << " at " << describe(*claimed) << ", CBC reaches "
      << cbc_value << " at " << describe(cbc.widths);
  EXPECT_TRUE(within(claimed_value - cbc_value, scale, kCbcTolerance))
      << "CBC misses the optimum: " << cbc_value << " at " << describe(cbc.widths) << ", " << who
      << " reaches " << claimed_value << " at " << describe(*claimed);
  if (scale > 0.0) {
    tally.largest_cbc_shortfall = std::max(tally.largest_cbc_shortfall, (claimed_value - cbc_value) / scale);
  }
}

// One level of the planner's answer against CBC: the same optimum, and an honest status and importance.
void expect_level_agrees(const LevelMip& mip, const MipSolution& cbc, const LevelPlan& level, Tally& tally) {
  const bool feasible = level.status != PlanStatus::infeasible;
  expect_same_optimum(mip, cbc, feasible ? std::optional<Widths>(level.widths) : std::nullopt, "the planner",
                      tally);
  if (!feasible || ::testing::Test::HasFatalFailure()) return;
  EXPECT_EQ(level.status, PlanStatus::optimal);
  EXPECT_TRUE(same_importance(level.importance, mip.importance(level.widths)))
      << "reported " << level.importance << ", the widths " << describe(level.widths) << " are worth "
      << mip.importance(level.widths);
}

// Every level of `plan` (the planner's answer to `request`) against CBC, in the strategy's solving order.
void expect_plan_agrees(const PlanRequest& request, const PlanResult& plan, Cbc& cbc, Tally& tally) {
  ASSERT_EQ(plan.levels.size(), request.levels.size());
  std::vector<std::size_t> solving_order(request.levels.size());
  for (std::size_t j = 0; j < solving_order.size(); ++j) solving_order[j] = j;
  if (request.strategy == Strategy::top_down) std::reverse(solving_order.begin(), solving_order.end());

  std::optional<Widths> nest;  // the planner's widths at the last feasible level solved (precise rule 5)
  for (std::size_t j : solving_order) {
    SCOPED_TRACE("level " + std::to_string(j));
    Nesting nesting;
    if (request.strategy == Strategy::bottom_up) nesting.at_least = nest;
    if (request.strategy == Strategy::top_down) nesting.at_most = nest;
    const LevelMip mip(request, j, nesting);
    const LevelPlan& level = plan.levels[j];
    expect_level_agrees(mip, cbc.solve(mip), level, tally);
    if (::testing::Test::HasFatalFailure()) return;
    if (request.strategy != Strategy::independent && level.status != PlanStatus::infeasible)
      nest = level.widths;
  }
}

// Plans `request` with every strategy but joint and checks every level against CBC; the independent optima
// (checked by CBC themselves) must also be every nested strategy's independent_importance.
void expect_request_agrees(PlanRequest request, Tally& tally) {
  ASSERT_FALSE(validate(request).has_value()) << validate(request)->message;
  Cbc cbc;
  std::optional<PlanResult> independent;
  for (Strategy strategy : {Strategy::independent, Strategy::bottom_up, Strategy::top_down}) {
    SCOPED_TRACE(std::string("strategy ") + to_string(strategy));
    request.strategy = strategy;
    const Result<PlanResult> plan = reds::plan(request);
    ASSERT_TRUE(plan.ok()) << plan.error().message << " at " << plan.error().path;
    expect_plan_agrees(request, *plan, cbc, tally);
    if (strategy == Strategy::independent) {
      independent = *plan;
      continue;
    }
    for (std::size_t j = 0; j < request.levels.size(); ++j) {
      const LevelPlan& alone = independent->levels[j];
      const std::optional<double>& reported = plan->levels[j].independent_importance;
      if (alone.status == PlanStatus::infeasible || !reported) continue;
      EXPECT_TRUE(same_importance(*reported, alone.importance))
          << "level " << j << ": independent_importance " << *reported << ", the independent optimum is "
          << alone.importance;
    }
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "the failing request, for `reds plan`: " << to_json(request);
      return;
    }
  }
  tally.cbc_runs += cbc.runs();
}

// The program itself, on the README's worked example (examples/tiny_ds_block.json), whose optima are worked
// out by hand there: conv (4 filters, 90 MACs each per input), dw tied to it (81 MACs per channel), pw (4
// filters, 9 MACs per filter and input) and a pinned 3-class head. conv+dw summed importances sorted give
// S = 1.1, 1.8, 2.4, 2.7; pw 0.7, 1.3, 1.6, 1.65; the head 3.
PlanRequest tiny_ds_block() {
  const auto layer = [](const char* name, std::vector<double> importance) {
    Layer made;
    made.name = name;
    made.units = static_cast<std::int64_t>(importance.size());
    made.importance = std::move(importance);
    return made;
  };
  Layer conv = layer("conv", {0.9, 0.1, 0.5, 0.3});
  conv.cost["macs"].unit_input = 90;
  Layer dw = layer("dw", {0.2, 0.2, 0.1, 0.4});
  dw.tied = true;
  dw.cost["macs"].unit = 81;
  Layer pw = layer("pw", {0.7, 0.6, 0.05, 0.3});
  pw.cost["macs"].unit_input = 9;
  Layer head = layer("head", {1, 1, 1});
  head.prunable = false;
  head.cost["macs"].unit_input = 1;
  PlanRequest request;
  request.network.name = "tiny_ds_block";
  request.network.layers = {conv, dw, pw, head};
  request.levels = {Level{{{"macs", Limit::of_fraction(0.4)}}}, Level{{{"macs", Limit::of_max(600)}}}};
  return request;
}

TEST(LevelMipByHand, TinyDsBlockOptimaAndFeasibility) {
  const PlanRequest request = tiny_ds_block();
  // 40 % of 840 MACs is 336: (1, 1, 4, 3) costs 90 + 81 + 36 + 12 = 219 and is worth 1.1 + 1.65 + 3.
  const LevelMip first(request, 0);
  const MipSolution smallest = solve_with_cbc(first);
  ASSERT_EQ(smallest.status, MipStatus::optimal);
  EXPECT_EQ(smallest.widths, (Widths{1, 1, 4, 3}));
  EXPECT_DOUBLE_EQ(first.importance(smallest.widths), 5.75);

  // 600 MACs alone: (3, 3, 2, 3) at 270 + 243 + 54 + 6 = 573, worth 2.4 + 1.3 + 3.
  const LevelMip alone(request, 1);
  const MipSolution independent = solve_with_cbc(alone);
  ASSERT_EQ(independent.status, MipStatus::optimal);
  EXPECT_EQ(independent.widths, (Widths{3, 3, 2, 3}));
  EXPECT_DOUBLE_EQ(alone.importance(independent.widths), 6.7);
  EXPECT_TRUE(alone.satisfied_by({3, 3, 2, 3}));
  EXPECT_FALSE(alone.satisfied_by({3, 3, 4, 3}));  // 633 MACs
  EXPECT_FALSE(alone.satisfied_by({2, 3, 2, 3}));  // dw off its tied width
  EXPECT_FALSE(alone.satisfied_by({1, 1, 1, 2}));  // the head pruned
  EXPECT_FALSE(alone.satisfied_by({1, 1, 1}));     // a layer missing

  // Nested above the first level, pw keeps its 4 filters: (2, 2, 4, 3) at 426 MACs, worth 1.8 + 1.65 + 3.
  const LevelMip bottom_up(request, 1, Nesting{Widths{1, 1, 4, 3}, std::nullopt});
  const MipSolution nested = solve_with_cbc(bottom_up);
  ASSERT_EQ(nested.status, MipStatus::optimal);
  EXPECT_EQ(nested.widths, (Widths{2, 2, 4, 3}));
  EXPECT_DOUBLE_EQ(bottom_up.importance(nested.widths), 6.45);
  EXPECT_FALSE(bottom_up.satisfied_by({3, 3, 2, 3}));  // below the first level's pw

  // Below the first level's widths nothing else fits 100 MACs: only (1, 1, 1, 3) at 90 + 81 + 9 + 3 = 183.
  const LevelMip top_down(request, 0, Nesting{std::nullopt, Widths{1, 1, 1, 3}});
  EXPECT_TRUE(top_down.satisfied_by({1, 1, 1, 3}));
  EXPECT_EQ(solve_with_cbc(top_down).widths, (Widths{1, 1, 1, 3}));
  PlanRequest tight = request;
  tight.levels[0].limits["macs"] = Limit::of_max(182);
  EXPECT_EQ(solve_with_cbc(LevelMip(tight, 0)).status, MipStatus::infeasible);
}

// Each level of every strategy of `request` under the nesting the brute-force oracle chose, against CBC.
void expect_oracle_agrees(const PlanRequest& request, Tally& tally) {
  const BruteForce oracle(request);
  Cbc cbc;
  for (Strategy strategy : {Strategy::independent, Strategy::bottom_up, Strategy::top_down}) {
    SCOPED_TRACE(to_string(strategy));
    const std::vector<LevelOptimum> chain = oracle.solve(strategy);
    std::vector<std::size_t> solving_order(request.levels.size());
    for (std::size_t j = 0; j < solving_order.size(); ++j) solving_order[j] = j;
    if (strategy == Strategy::top_down) std::reverse(solving_order.begin(), solving_order.end());
    std::optional<Widths> nest;
    for (std::size_t j : solving_order) {
      SCOPED_TRACE("level " + std::to_string(j));
      Nesting nesting;
      if (strategy == Strategy::bottom_up) nesting.at_least = nest;
      if (strategy == Strategy::top_down) nesting.at_most = nest;
      const LevelMip mip(request, j, nesting);
      const LevelOptimum& optimum = chain[j];
      const std::optional<Widths> widths =
          optimum.feasible ? std::optional<Widths>(optimum.optimal_widths.front()) : std::nullopt;
      expect_same_optimum(mip, cbc.solve(mip), widths, "the brute force", tally);
      if (widths) {
        EXPECT_TRUE(same_importance(mip.importance(*widths), optimum.importance));
        if (strategy != Strategy::independent) nest = widths;
      }
      if (::testing::Test::HasFailure()) {
        ADD_FAILURE() << "the request: " << to_json(request);
        return;
      }
    }
  }
}

// The program against the brute-force oracle (both written from the contract, sharing only the width
// choices) on the property tests' small random requests, with their tables, tied and pinned layers and
// levels infeasible on purpose: each level of every strategy under the nesting the oracle chose.
TEST(CbcCrossCheck, BruteForceOptimaAgreeWithCbc) {
  const std::uint64_t first_seed = 7'000'001;
  const std::uint64_t instances = 40;
  Tally tally;
  for (std::uint64_t seed = first_seed; seed < first_seed + instances; ++seed) {
    SCOPED_TRACE("random_plan_request(" + std::to_string(seed) + ")");
    expect_oracle_agrees(random_plan_request(seed), tally);
    if (HasFailure()) return;
  }
  EXPECT_GE(tally.level_checks, 200u);
  EXPECT_GE(tally.infeasible, 5u);
}

// The same on the residual property tests' requests (contract 1.1): streams, projections reading an earlier
// layer through `input`, tied layers after members and `held` terms, which the program states as rows of
// its own (tie rows to the stream's first member, pair variables with the named input, held terms linear
// in the named layer's choice).
TEST(CbcCrossCheck, BruteForceResidualOptimaAgreeWithCbc) {
  const std::uint64_t first_seed = 7'100'001;
  const std::uint64_t instances = 40;
  Tally tally;
  std::size_t streams = 0, inputs = 0, held = 0;
  for (std::uint64_t seed = first_seed; seed < first_seed + instances; ++seed) {
    SCOPED_TRACE("random_residual_plan_request(" + std::to_string(seed) + ")");
    const PlanRequest request = random_residual_plan_request(seed);
    for (const Layer& layer : request.network.layers) {
      streams += layer.stream ? 1 : 0;
      inputs += layer.input ? 1 : 0;
      for (const auto& [resource, terms] : layer.cost) held += terms.held.size();
    }
    expect_oracle_agrees(request, tally);
    if (HasFailure()) return;
  }
  EXPECT_GE(tally.level_checks, 200u);
  EXPECT_GE(tally.infeasible, 5u);
  EXPECT_GE(streams, 40u);
  EXPECT_GE(inputs, 10u);
  EXPECT_GE(held, 10u);
}

// The planner on `instances` requests of `generator` from REDS_CBC_SEED (default 1) against CBC.
// REDS_CBC_SEED (the first seed, e.g. one a failure named) and REDS_CBC_INSTANCES rerun or soak it.
void expect_random_requests_agree(PlanRequest (*generator)(std::uint64_t), const char* name,
                                  std::uint64_t instances) {
  std::uint64_t first_seed = 1;
  if (const char* first = std::getenv("REDS_CBC_SEED")) first_seed = std::strtoull(first, nullptr, 10);
  if (const char* count = std::getenv("REDS_CBC_INSTANCES")) instances = std::strtoull(count, nullptr, 10);
  Tally tally;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint64_t seed = first_seed; seed < first_seed + instances; ++seed) {
    SCOPED_TRACE(std::string(name) + "(" + std::to_string(seed) + ")");
    expect_request_agrees(generator(seed), tally);
    if (::testing::Test::HasFailure()) return;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // The check is only worth its instances: enough levels, mostly feasible, some infeasible (a rerun of a
  // few seeds is exempt).
  if (instances >= 100) {
    EXPECT_GE(tally.level_checks, 300u);
    EXPECT_GE(tally.feasible, tally.level_checks * 2 / 3);
    EXPECT_GE(tally.infeasible, tally.level_checks / 50);
  }
  std::printf(
      "%llu requests, %zu level checks (%zu feasible, %zu infeasible), %zu cbc runs, %.1f s; "
      "largest relative shortfall of CBC: %.3g\n",
      static_cast<unsigned long long>(instances), tally.level_checks, tally.feasible, tally.infeasible,
      tally.cbc_runs, seconds, tally.largest_cbc_shortfall);
}

TEST(CbcCrossCheck, RandomCoupledNetworksWithSeveralLimitsAgreeWithCbc) {
  expect_random_requests_agree(crosscheck_request, "crosscheck_request", 150);
}

// Residual networks (contract 1.1) of up to 12 units per layer, beyond the brute force's reach.
TEST(CbcCrossCheck, RandomResidualNetworksWithSeveralLimitsAgreeWithCbc) {
  expect_random_requests_agree(crosscheck_residual_request, "crosscheck_residual_request", 100);
}

// With its MIP preprocessing on, CBC 2.10.8 answered level 0 of this request under top_down (widths at most
// (2, 4, 5), the planner's level 1) with (2, 4, 1), worth 683.10, as optimal, while (1, 4, 2), worth 694.04,
// meets every row (CBC itself accepts it once those widths are fixed). solve_with_cbc turns preprocessing
// off.
TEST(CbcCrossCheck, RequestWhereCbcPreprocessingErred) {
  const Result<PlanRequest> request = parse_plan_request(R"({
    "network": {"name": "crosscheck_1511", "inputs": 3, "layers": [
      {"name": "layer0", "units": 2, "importance": [3.0, 3.0],
       "cost": {"activation": {"unit": 5, "input": 9}, "macs": {"unit_input": 7},
                "params": {"unit": 4, "unit_input": 1}}},
      {"name": "layer1", "units": 6, "min_units": 4,
       "importance": [0.17732721622135902, 10.375022833517301, 0.011671093831283666, 0.1954685102269575,
                      0.08586033245555091, 0.10215696566016332],
       "cost": {"activation": {"unit": 5, "input": 5}, "macs": {"unit_input": 1},
                "params": {"unit": 4, "unit_input": 9}}},
      {"name": "layer2", "units": 6,
       "importance": [13.942224268059464, 0.0013970324748186667, 0.23335513760339435, 1.2683538573289939,
                      666.2507125495226, 0.41086807081542254],
       "cost": {"activation": {"unit": 2, "input": 2, "unit_input": 5}, "macs": {"unit_input": 8},
                "params": {"unit": 4, "unit_input": 8}}}]},
    "levels": [
      {"activation": {"fraction": 0.8814584306686566}, "macs": {"max": 110},
       "params": {"fraction": 0.6820617408656204}},
      {"macs": {"max": 237}, "params": {"fraction": 0.7694309015123088}}]})");
  ASSERT_TRUE(request.ok()) << request.error().message;
  const LevelMip nested(*request, 0, Nesting{std::nullopt, Widths{2, 4, 5}});
  EXPECT_TRUE(nested.satisfied_by({1, 4, 2}));
  const MipSolution cbc = solve_with_cbc(nested);
  ASSERT_EQ(cbc.status, MipStatus::optimal);
  EXPECT_EQ(cbc.widths, (Widths{1, 4, 2}));
  EXPECT_NEAR(nested.importance(cbc.widths), 694.04, 0.005);  // 3 + 10.85 + 680.19
  Tally tally;
  expect_request_agrees(*request, tally);
  EXPECT_EQ(tally.level_checks, 6u);
}

// A paper architecture at a realistic shape: DNN S of the paper's keyword spotting (250 MFCC features,
// 3 x Dense(144), Dense(12)) with its exact costs (MACs k*k_in; params k*k_in + k; float32 activation bytes
// 4*(k_in + k), max; fc1 alone needs 4*(250 + 48), 76 % of the peak), blocks of 16 and the examples'
// quarter-width minimum, three levels limiting MACs, params and peak activation together. Built here rather
// than from reds::models, which this test program does not link.
PlanRequest dnn_s_request() {
  Random random(2026);
  PlanRequest request;
  request.network.name = "dnn_s";
  request.network.inputs = 250;
  for (const char* name : {"fc1", "fc2", "fc3", "head"}) {
    Layer layer;
    layer.name = name;
    const bool head = std::string(name) == "head";
    layer.units = head ? 12 : 144;
    layer.prunable = !head;
    if (!head) {
      layer.min_units = 36;
      layer.block = 16;
    }
    for (std::int64_t unit = 0; unit < layer.units; ++unit)
      layer.importance.push_back(random.unit_interval());
    layer.cost["macs"].unit_input = 1;
    layer.cost["params"].unit_input = 1;
    layer.cost["params"].unit = 1;
    layer.cost["activation"].unit = 4;
    layer.cost["activation"].input = 4;
    request.network.layers.push_back(std::move(layer));
  }
  const std::vector<std::map<std::string, double>> fractions = {
      {{"macs", 0.25}, {"params", 0.25}, {"activation", 0.8}},
      {{"macs", 0.5}, {"params", 0.5}, {"activation", 0.9}},
      {{"macs", 0.75}, {"params", 0.75}, {"activation", 1.0}}};
  for (const auto& level : fractions) {
    Level budget;
    for (const auto& [resource, fraction] : level) budget.limits[resource] = Limit::of_fraction(fraction);
    request.levels.push_back(std::move(budget));
  }
  return request;
}

TEST(CbcCrossCheck, DnnSWithBlocksAgreesWithCbc) {
  Tally tally;
  expect_request_agrees(dnn_s_request(), tally);
  EXPECT_EQ(tally.level_checks, 9u);
  EXPECT_EQ(tally.infeasible, 0u);
}

}  // namespace
}  // namespace reds::test
