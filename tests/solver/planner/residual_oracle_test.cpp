// The brute-force oracle and the random request generator on residual networks (contract 1.1), checked by
// hand and against the contract library; and the planner's answer on a hand-checked block.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reds/contract.h"
#include "reds/json.h"
#include "reds/plan.h"
#include "support/brute_force.h"
#include "support/random_network.h"

namespace reds::test {
namespace {

Layer layer_of(const std::string& name, std::vector<double> importance,
               std::optional<std::string> stream = {}) {
  Layer layer;
  layer.name = name;
  layer.units = static_cast<std::int64_t>(importance.size());
  layer.importance = std::move(importance);
  layer.cost["macs"].unit_input = 1;
  layer.stream = std::move(stream);
  return layer;
}

// x and y added (stream s); a between them. One input. MACs = s + s*a + a*s; activation: a holds x twice.
PlanRequest identity_block() {
  PlanRequest request;
  request.network.inputs = 1;
  Layer a = layer_of("a", {2, 1});
  a.cost["activation"].unit = 1;
  a.cost["activation"].held["x"] = 2;
  request.network.layers = {layer_of("x", {1, 3}, "s"), a, layer_of("y", {1, 1}, "s")};
  request.levels = {Level{{{"macs", Limit::of_max(5)}}}, Level{{{"macs", Limit::of_max(6)}}}};
  return request;
}

TEST(ResidualBruteForce, EnumeratesWidthVariablesNotLayers) {
  const PlanRequest request = identity_block();
  ASSERT_FALSE(validate(request).has_value());
  EXPECT_EQ(count_width_vectors(request.network), 4u);
  const BruteForce oracle(request);
  EXPECT_EQ(oracle.all_widths(), (std::vector<Widths>{{1, 1, 1}, {1, 2, 1}, {2, 1, 2}, {2, 2, 2}}));
  EXPECT_FALSE(oracle.allowed({1, 1, 2}));
  // MACs s + 2as; activation a + 2s.
  EXPECT_EQ(oracle.cost({1, 1, 1}), (Costs{{"activation", 3}, {"macs", 3}}));
  EXPECT_EQ(oracle.cost({2, 1, 2}), (Costs{{"activation", 5}, {"macs", 6}}));
  EXPECT_EQ(oracle.full_cost(), (Costs{{"activation", 6}, {"macs", 10}}));
  // The stream's summed importances are 2, 4: V = 4 or 6 for the stream, 2 or 3 for a.
  EXPECT_DOUBLE_EQ(oracle.importance({1, 2, 1}), 7.0);
  EXPECT_DOUBLE_EQ(oracle.importance({2, 1, 2}), 8.0);
  EXPECT_EQ(expected_order(request.network), (std::vector<Widths>{{1, 0}, {0, 1}, {1, 0}}));
  const std::vector<LevelOptimum> chain = oracle.solve(Strategy::bottom_up);
  EXPECT_EQ(chain[0].optimal_widths, (std::vector<Widths>{{1, 2, 1}}));
  // Alone, the second level would take the stream at 2 and a at 1 (8); nested above a = 2 it cannot.
  EXPECT_EQ(chain[1].optimal_widths, (std::vector<Widths>{{1, 2, 1}}));
  EXPECT_EQ(oracle.solve(Strategy::independent)[1].optimal_widths, (std::vector<Widths>{{2, 1, 2}}));
}

TEST(ResidualBruteForce, AProjectionReadsItsInputAndATiedLayerFollowsAMember) {
  PlanRequest request;
  request.network.inputs = 1;
  Layer projection = layer_of("p", {1, 1}, "t");
  projection.input = "x";
  Layer tied = layer_of("d", {0, 5});
  tied.tied = true;
  tied.cost["macs"] = CostTerms{.fixed = 0, .unit = 1, .input = 0, .unit_input = 0, .table = {}, .held = {}};
  // x (1 or 2) -> c (stream t) -> p (stream t, reads x) -> d (tied to p).
  request.network.layers = {layer_of("x", {1}), layer_of("c", {3, 1}, "t"), projection, tied};
  request.network.layers[0].units = 1;
  request.levels = {Level{{{"macs", Limit::of_max(4)}}}};
  ASSERT_FALSE(validate(request).has_value());
  const BruteForce oracle(request);
  EXPECT_EQ(oracle.all_widths(), (std::vector<Widths>{{1, 1, 1, 1}, {1, 2, 2, 2}}));
  // MACs: x 1, c t*1, p t*1 (x's width), d t.
  EXPECT_EQ(oracle.cost({1, 2, 2, 2}), (Costs{{"macs", 7}}));
  // Stream t sums c, p and d: 4, 7: the order puts unit 1 first.
  EXPECT_EQ(expected_order(request.network), (std::vector<Widths>{{0}, {1, 0}, {1, 0}, {1, 0}}));
  EXPECT_DOUBLE_EQ(oracle.importance({1, 1, 1, 1}), 1.0 + 7.0);
}

// The generator's residual requests are valid, within two open widths, and between them use every feature;
// the oracle and the contract library agree on their structure, orders and costs.
TEST(RandomResidualRequests, AreValidAndAgreeWithTheContract) {
  int streams = 0, projections = 0, tied_after_member = 0, held = 0, pinned = 0, blocked = 0, infeasible = 0,
      several_resources = 0;
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    const PlanRequest request = random_residual_plan_request(seed);
    const std::optional<Error> error = validate(request);
    ASSERT_FALSE(error.has_value()) << "seed " << seed << ": " << error->message << " at " << error->path;
    const WidthVariables structure = width_variables(request.network);
    std::size_t most_open = 0;
    for (const auto& open : structure.open_after) most_open = std::max(most_open, open.size());
    EXPECT_LE(most_open, 2u);

    const BruteForce oracle(request);
    EXPECT_EQ(expected_order(request.network), unit_orders(request.network)) << "seed " << seed;
    EXPECT_EQ(oracle.full_cost(), full_network_cost(request.network)) << "seed " << seed;
    for (const Widths& widths : oracle.all_widths()) {
      ASSERT_EQ(oracle.cost(widths), network_cost(request.network, widths)) << "seed " << seed;
    }
    const std::vector<std::size_t> source = width_source(request.network);
    for (std::size_t l = 0; l < source.size(); ++l) {
      EXPECT_EQ(structure.group_of_layer[l], structure.group_of_layer[source[l]]);
    }

    const Result<PlanRequest> again = parse_plan_request(to_json(request));
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(to_json(again.value()), to_json(request));

    for (const WidthGroup& group : structure.groups) {
      const Layer& first = request.network.layers[group.layers.front()];
      std::size_t members = 0;
      for (std::size_t l : group.layers) {
        const Layer& layer = request.network.layers[l];
        members += layer.stream ? 1 : 0;
        if (layer.tied && request.network.layers[l - 1].stream) ++tied_after_member;
      }
      streams += members >= 2 ? 1 : 0;
      pinned += first.stream && group.pinned ? 1 : 0;
      blocked += first.stream && first.block > 1 ? 1 : 0;
    }
    for (const Layer& layer : request.network.layers) {
      projections += layer.input && layer.stream ? 1 : 0;
      for (const auto& [resource, terms] : layer.cost) held += terms.held.empty() ? 0 : 1;
    }
    for (const LevelOptimum& level : oracle.solve(Strategy::bottom_up)) infeasible += level.feasible ? 0 : 1;
    several_resources += oracle.resources().size() > 1 ? 1 : 0;
  }
  EXPECT_GT(streams, 50);
  EXPECT_GT(projections, 30);
  EXPECT_GT(tied_after_member, 10);
  EXPECT_GT(held, 50);
  EXPECT_GT(pinned, 3);
  EXPECT_GT(blocked, 3);
  EXPECT_GT(infeasible, 10);
  EXPECT_GT(several_resources, 50);
}

TEST(PlanResidualNetworks, AnswersWhatTheOracleAnswers) {
  PlanRequest request = identity_block();
  const Result<PlanResult> result = plan(request);
  ASSERT_TRUE(result.ok()) << result.error().message;
  // Bottom-up, as the oracle's chain above: (1, 2, 1) at both levels, the members repeating the stream's
  // width and order.
  ASSERT_EQ(result->levels.size(), 2u);
  EXPECT_EQ(result->levels[0].widths, (Widths{1, 2, 1}));
  EXPECT_EQ(result->levels[1].widths, (Widths{1, 2, 1}));
  EXPECT_EQ(result->levels[1].status, PlanStatus::optimal);
  EXPECT_DOUBLE_EQ(result->levels[1].importance, 7.0);
  EXPECT_DOUBLE_EQ(*result->levels[1].independent_importance, 8.0);
  EXPECT_EQ(result->levels[1].cost, (Costs{{"activation", 4}, {"macs", 5}}));
  EXPECT_EQ(result->order, expected_order(request.network));
  EXPECT_EQ(result->full_cost, (Costs{{"activation", 6}, {"macs", 10}}));

  request.strategy = Strategy::independent;
  const Result<PlanResult> independent = plan(request);
  ASSERT_TRUE(independent.ok());
  EXPECT_EQ(independent->levels[1].widths, (Widths{2, 1, 2}));
}

}  // namespace
}  // namespace reds::test
