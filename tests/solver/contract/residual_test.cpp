// Contract version 1.1 (residual networks): stream, input and held, read, written, validated (rules 9 and
// 10), costed (rule 11), and the width structure and unit orders they make.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "reds/contract.h"
#include "reds/json.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds {
namespace {

using Groups = std::vector<std::vector<std::size_t>>;

Layer make_layer(const std::string& name, std::int64_t units, std::optional<std::string> stream = {}) {
  Layer layer;
  layer.name = name;
  layer.units = units;
  for (std::int64_t unit = 0; unit < units; ++unit)
    layer.importance.push_back(1.0 + static_cast<double>(unit));
  layer.cost["macs"].unit_input = 1;
  layer.stream = std::move(stream);
  return layer;
}

Layer tied_layer(const std::string& name, std::int64_t units) {
  Layer layer = make_layer(name, units);
  layer.tied = true;
  layer.cost["macs"] = CostTerms{.fixed = 0, .unit = 1, .input = 0, .unit_input = 0, .table = {}, .held = {}};
  return layer;
}

PlanRequest request_of(std::vector<Layer> layers, std::int64_t inputs = 2) {
  PlanRequest request;
  request.network.inputs = inputs;
  request.network.layers = std::move(layers);
  request.levels = {Level{{{"macs", Limit::of_fraction(0.5)}}}};
  return request;
}

// A ResNet basic block with a projection shortcut: stem -> conv1 -> conv2, plus proj reading stem; conv2
// and proj are added (stream "block1"). The skip tensor (stem's output) is live during conv1.
PlanRequest resnet_block() {
  Layer stem = make_layer("stem", 4);
  Layer conv1 = make_layer("conv1", 3);
  conv1.cost["activation"].unit = 1;
  conv1.cost["activation"].held["stem"] = 1;
  Layer conv2 = make_layer("conv2", 2, "block1");
  Layer proj = make_layer("proj", 2, "block1");
  proj.input = "stem";
  Layer fc = make_layer("fc", 2);
  fc.prunable = false;
  return request_of({stem, conv1, conv2, proj, fc});
}

// A MobileNetV2 inverted residual: expand (1x1) -> dw (depthwise, tied) -> project, added to the block
// input (stream "s"), which stays live during expand and dw.
PlanRequest mobilenet_block() {
  Layer input = make_layer("project0", 3, "s");
  Layer expand = make_layer("expand", 6);
  expand.cost["activation"].held["project0"] = 2;
  Layer dw = tied_layer("dw", 6);
  dw.cost["activation"].held["project0"] = 2;
  Layer project = make_layer("project", 3, "s");
  Layer fc = make_layer("fc", 2);
  return request_of({input, expand, dw, project, fc});
}

// x and y added (stream "s"), y also holds a: three widths open after b.
PlanRequest three_open() {
  Layer x = make_layer("x", 2, "s");
  Layer a = make_layer("a", 2);
  Layer b = make_layer("b", 2);
  Layer y = make_layer("y", 2, "s");
  y.cost["macs"].held["a"] = 0;  // openness is structural: a zero coefficient opens a's width too
  return request_of({x, a, b, y});
}

Groups open_after(const PlanRequest& request) { return width_variables(request.network).open_after; }

void expect_invalid(const PlanRequest& request, const std::string& message_part, const std::string& path) {
  const std::optional<Error> error = validate(request);
  ASSERT_TRUE(error.has_value()) << "expected an error at " << path;
  EXPECT_EQ(error->code, ErrorCode::invalid_argument);
  EXPECT_NE(error->message.find(message_part), std::string::npos) << "message: " << error->message;
  EXPECT_EQ(error->path, path) << "message: " << error->message;
  // The JSON form gets the same answer from the parser (both readers).
  const Result<PlanRequest> parsed = parse_plan_request(to_json(request));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().path, path) << parsed.error().message;
}

void expect_valid(const PlanRequest& request) {
  const std::optional<Error> error = validate(request);
  EXPECT_FALSE(error.has_value()) << error->message << " at " << error->path;
}

TEST(WidthVariables, ResNetBasicBlockWithProjectionOpensTwo) {
  const PlanRequest request = resnet_block();
  expect_valid(request);
  const WidthVariables structure = width_variables(request.network);
  EXPECT_EQ(structure.group_of_layer, (std::vector<std::size_t>{0, 1, 2, 2, 3}));
  EXPECT_EQ(structure.groups[2].layers, (std::vector<std::size_t>{2, 3}));
  EXPECT_TRUE(structure.groups[3].pinned);
  EXPECT_EQ(structure.input_of_layer, (std::vector<std::size_t>{WidthVariables::kNetworkInputs, 0, 1, 0, 3}));
  // fc is pinned: it is never open, though proj's width (the stream) is read by fc.
  EXPECT_EQ(structure.open_after, (Groups{{0}, {0, 1}, {0, 2}, {2}, {}}));
}

TEST(WidthVariables, MobileNetV2InvertedResidualOpensTwo) {
  const PlanRequest request = mobilenet_block();
  expect_valid(request);
  const WidthVariables structure = width_variables(request.network);
  EXPECT_EQ(structure.group_of_layer, (std::vector<std::size_t>{0, 1, 1, 0, 2}));
  EXPECT_EQ(structure.open_after, (Groups{{0}, {0, 1}, {0, 1}, {0}, {}}));
}

TEST(WidthVariables, AChainOpensOne) {
  Layer dw = tied_layer("dw", 3);
  const PlanRequest request = request_of({make_layer("a", 3), dw, make_layer("b", 2), make_layer("c", 2)});
  expect_valid(request);
  EXPECT_EQ(open_after(request), (Groups{{0}, {0}, {1}, {}}));  // groups: a with dw, b, c
  EXPECT_FALSE(first_residual_field(request.network).has_value());
}

TEST(WidthVariables, HeldAndInputOpenTheWidthsTheyName) {
  PlanRequest request = request_of({make_layer("a", 2), make_layer("b", 2), make_layer("c", 2)});
  request.network.layers[2].cost["activation"].held["a"] = 0;
  EXPECT_EQ(open_after(request), (Groups{{0}, {0, 1}, {}}));
  request.network.layers[2].cost["activation"].held.clear();
  request.network.layers[2].input = "a";
  EXPECT_EQ(open_after(request), (Groups{{0}, {0}, {}}));  // b's width is read by no one after it
}

TEST(Validate, ThreeOpenWidthsAreAnErrorAtTheFirstSuchCut) {
  const PlanRequest request = three_open();
  EXPECT_EQ(open_after(request)[2].size(), 3u);
  expect_invalid(request, "at most two widths may be open across a layer boundary", "/network/layers/2");
}

TEST(Validate, APinnedStreamIsNoOpenWidth) {
  PlanRequest request = three_open();
  request.network.layers[0].prunable = false;
  expect_valid(request);
  EXPECT_EQ(open_after(request)[2].size(), 2u);
}

TEST(Validate, InputNamesAnEarlierLayer) {
  PlanRequest request = resnet_block();
  request.network.layers[3].input = "nowhere";
  expect_invalid(request, "which is no layer", "/network/layers/3/input");
  request.network.layers[3].input = "fc";
  expect_invalid(request, "layers[4], after this layer", "/network/layers/3/input");
  request.network.layers[3].input = "proj";
  expect_invalid(request, "itself", "/network/layers/3/input");
  request.network.layers[3].input = "";
  expect_invalid(request, "which is no layer", "/network/layers/3/input");
}

TEST(Validate, HeldNamesAnEarlierLayerAtTheEntry) {
  PlanRequest request = resnet_block();
  CostTerms& terms = request.network.layers[1].cost["activation"];
  terms.held = {{"nowhere", 1}};
  expect_invalid(request, "no layer", "/network/layers/1/cost/activation/held/nowhere");
  terms.held = {{"conv2", 1}};
  expect_invalid(request, "after this layer", "/network/layers/1/cost/activation/held/conv2");
  terms.held = {{"conv1", 1}};
  expect_invalid(request, "itself", "/network/layers/1/cost/activation/held/conv1");
  terms.held = {{"a/b", 1}};
  expect_invalid(request, "no layer", "/network/layers/1/cost/activation/held/a~1b");
}

TEST(Validate, HeldCoefficientsFollowRuleTwo) {
  PlanRequest request = resnet_block();
  request.network.layers[1].cost["activation"].held["stem"] = -1;
  expect_invalid(request, "must be >= 0", "/network/layers/1/cost/activation/held/stem");
  request.network.layers[1].cost["activation"].held["stem"] = std::int64_t{1} << 53;
  expect_invalid(request, "below 2^53", "/network/layers/1/cost/activation/held/stem");
  // Within 2^53 alone, but the full network's cost reaches it.
  request.network.layers[1].cost["activation"].held["stem"] = (std::int64_t{1} << 53) / 4;
  expect_invalid(request, "reaches 2^53", "/network/layers/1/cost/activation");
}

TEST(Validate, AResourceCostedOnlyThroughHeldCanBeLimited) {
  PlanRequest request = request_of({make_layer("a", 2), make_layer("b", 2)});
  request.network.layers[1].cost["memory"].held["a"] = 3;
  request.levels = {Level{{{"memory", Limit::of_max(3)}}}};
  expect_valid(request);
  request.network.layers[1].cost["memory"].held["a"] = 0;
  expect_invalid(request, "which no layer costs", "/levels/0/memory");
}

TEST(Validate, StreamRules) {
  PlanRequest request = resnet_block();
  request.network.layers[2].stream = "";
  expect_invalid(request, "must not be empty", "/network/layers/2/stream");

  request = resnet_block();
  request.network.layers[3].units = 3;
  request.network.layers[3].importance = {1, 2, 3};
  expect_invalid(request, "stream 'block1' has 2 units", "/network/layers/3/units");

  for (const char* field : {"min_units", "block", "prunable"}) {
    request = resnet_block();
    Layer& second = request.network.layers[3];
    if (std::string(field) == "min_units") second.min_units = 2;
    if (std::string(field) == "block") second.block = 2;
    if (std::string(field) == "prunable") second.prunable = false;
    expect_invalid(request, "other than its first", "/network/layers/3/" + std::string(field));
    // The first member may give them, for the whole stream.
    std::swap(request.network.layers[2].min_units, second.min_units);
    std::swap(request.network.layers[2].block, second.block);
    std::swap(request.network.layers[2].prunable, second.prunable);
    expect_valid(request);
  }
}

TEST(Validate, TiedLayersTakeNoStreamAndNoInput) {
  PlanRequest request = mobilenet_block();
  request.network.layers[2].stream = "s";
  request.network.layers[2].units = 6;
  expect_invalid(request, "cannot be set on a tied layer", "/network/layers/2/stream");
  request = mobilenet_block();
  request.network.layers[2].input = "project0";
  expect_invalid(request, "cannot be set on a tied layer", "/network/layers/2/input");
}

TEST(Validate, AStreamOfOneMemberIsValid) {
  PlanRequest request = request_of({make_layer("a", 2, "alone"), make_layer("b", 2)});
  expect_valid(request);
  EXPECT_EQ(first_residual_field(request.network), "/network/layers/0/stream");
}

TEST(Validate, ATiedLayerAfterAMemberJoinsTheStream) {
  PlanRequest request = mobilenet_block();
  request.network.layers.insert(request.network.layers.begin() + 4, tied_layer("after", 3));
  expect_valid(request);
  const WidthVariables structure = width_variables(request.network);
  EXPECT_EQ(structure.groups[0].layers, (std::vector<std::size_t>{0, 3, 4}));
}

TEST(FullCost, InputAndHeldUseTheNamedLayersWidths) {
  // macs: stem 2*4, conv1 4*3, conv2 3*2, proj 4*2 (reads stem), fc 2*2; activation: conv1 3 + 1*4 (stem).
  const PlanRequest request = resnet_block();
  EXPECT_EQ(full_network_cost(request.network),
            (std::map<std::string, std::int64_t>{{"activation", 7}, {"macs", 38}}));
  // At widths stem 2, conv1 1, stream 1: macs 2*2 + 2*1 + 1*1 + 2*1 + 1*2; activation 1 + 2.
  EXPECT_EQ(network_cost(request.network, {2, 1, 1, 1, 2}),
            (std::map<std::string, std::int64_t>{{"activation", 3}, {"macs", 11}}));
}

TEST(UnitOrders, AStreamSortsBySumOverMembersAndTheirTiedFollowers) {
  Layer a = make_layer("a", 3, "s");
  a.importance = {1, 2, 0};
  Layer b = tied_layer("b", 3);
  b.importance = {0, 0, 4};
  Layer c = make_layer("c", 3);
  c.importance = {3, 2, 1};
  Layer d = make_layer("d", 3, "s");
  d.importance = {2, 0, 0};
  PlanRequest request = request_of({a, b, c, d});
  expect_valid(request);
  // Sums 3, 2, 4.
  const std::vector<std::int64_t> stream_order = {2, 0, 1};
  EXPECT_EQ(unit_orders(request.network),
            (std::vector<std::vector<std::int64_t>>{stream_order, stream_order, {0, 1, 2}, stream_order}));
  // Ties by the lower index: sums 2, 2, 2.
  request.network.layers[0].importance = {0, 2, 0};
  request.network.layers[1].importance = {0, 0, 2};
  EXPECT_EQ(unit_orders(request.network)[3], (std::vector<std::int64_t>{0, 1, 2}));
  // A pinned stream keeps the identity order.
  request.network.layers[0].importance = {1, 2, 0};
  request.network.layers[0].prunable = false;
  EXPECT_EQ(unit_orders(request.network)[3], (std::vector<std::int64_t>{0, 1, 2}));

  const std::vector<std::vector<double>> normalized =
      objective_importance(request.network, Objective::normalized);
  double group_total = 0.0;
  for (std::size_t layer : {0u, 1u, 3u})
    group_total += std::accumulate(normalized[layer].begin(), normalized[layer].end(), 0.0);
  EXPECT_DOUBLE_EQ(group_total, 1.0);
  EXPECT_DOUBLE_EQ(normalized[3][0], 2.0 / 7.0);  // sums 3, 2, 2
  const std::vector<std::vector<double>> product = objective_importance(request.network, Objective::product);
  EXPECT_EQ(product[1], (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(product[3], (std::vector<double>{0, 0, 0}));
  EXPECT_GT(product[0][2], 0.0);
}

std::string answer(const Result<PlanRequest>& result) {
  return result ? "accepted " + to_json(result.value()) : "rejected " + to_json(result.error());
}

// Both readers answer alike, or the fast one leaves the answer to the checked one.
Result<PlanRequest> parse_both(const std::string& text) {
  const std::optional<Result<PlanRequest>> fast = detail::parse_plan_request_fast(text);
  Result<PlanRequest> checked = detail::parse_plan_request_checked(text);
  if (fast) {
    EXPECT_EQ(answer(*fast), answer(checked)) << text;
  }
  EXPECT_EQ(answer(parse_plan_request(text)), answer(checked));
  return checked;
}

TEST(ResidualJson, ReadsAndWritesTheNewFields) {
  const std::string text =
      R"({"network":{"inputs":2,"layers":[)"
      R"({"name":"x","units":2,"importance":[1.5,2.5],"stream":"s","cost":{"macs":{"unit_input":1}}},)"
      R"({"name":"a","units":2,"importance":[1.5,2.5],"cost":{"activation":{"unit":1,"held":{"x":3}}}},)"
      R"({"name":"y","units":2,"importance":[1.5,2.5],"stream":"s","input":"x","cost":{"macs":{"unit_input":1}}}]},)"
      R"("levels":[{"macs":{"max":4}}],"strategy":"bottom_up"})";
  ASSERT_TRUE(detail::parse_plan_request_fast(text).has_value()) << "the fast path reads 1.1 fields";
  const Result<PlanRequest> request = parse_both(text);
  ASSERT_TRUE(request.ok()) << request.error().message;
  const Network& network = request.value().network;
  EXPECT_EQ(network.layers[0].stream, "s");
  EXPECT_FALSE(network.layers[1].stream.has_value());
  EXPECT_EQ(network.layers[2].input, "x");
  EXPECT_EQ(network.layers[1].cost.at("activation").held, (std::map<std::string, std::int64_t>{{"x", 3}}));
  EXPECT_EQ(to_json(request.value()), text);
}

TEST(ResidualJson, RejectsMalformedNewFields) {
  const auto request_with = [](const std::string& second_layer) {
    return R"({"network":{"inputs":2,"layers":[{"name":"x","units":2,"importance":[1,2],"stream":"s"},)" +
           second_layer + R"(]},"levels":[{"macs":{"max":4}}]})";
  };
  const std::pair<std::string, std::string> cases[] = {
      {R"({"name":"y","units":2,"importance":[1,2],"stream":"s","min_units":1})",
       "/network/layers/1/min_units"},
      {R"({"name":"y","units":2,"importance":[1,2],"stream":"s","prunable":true})",
       "/network/layers/1/prunable"},
      {R"({"name":"y","units":2,"importance":[1,2],"stream":7})", "/network/layers/1/stream"},
      {R"({"name":"y","units":2,"importance":[1,2],"input":null})", "/network/layers/1/input"},
      {R"({"name":"y","units":2,"importance":[1,2],"cost":{"macs":{"held":[1]}}})",
       "/network/layers/1/cost/macs/held"},
      {R"({"name":"y","units":2,"importance":[1,2],"cost":{"macs":{"held":{"x":1.5}}}})",
       "/network/layers/1/cost/macs/held/x"},
      {R"({"name":"y","units":2,"importance":[1,2],"cost":{"macs":{"held":{"x":1,"x":2}}}})",
       "/network/layers/1/cost/macs/held/x"},
      {R"({"name":"y","units":2,"importance":[1,2],"cost":{"macs":{"held":{"y":1}}}})",
       "/network/layers/1/cost/macs/held/y"},
  };
  for (const auto& [layer, path] : cases) {
    const Result<PlanRequest> request = parse_both(request_with(layer));
    ASSERT_FALSE(request.ok()) << layer;
    EXPECT_EQ(request.error().path, path) << request.error().message;
  }
}

TEST(ResidualJson, AVersionOneRequestWritesNoNewField) {
  const PlanRequest request = request_of({make_layer("a", 2), make_layer("b", 2)});
  const std::string text = to_json(request);
  for (const char* field : {"stream", "\"input\"", "held"}) EXPECT_EQ(text.find(field), std::string::npos);
}

}  // namespace
}  // namespace reds
