// From a model to a plan request and back: L1 importance, costs from the shapes (checked against the
// bundled architectures' hand-derived coefficients), permutations that keep the function, and applied
// plans whose every level computes the original model with the dropped units masked out.
#include "reds/engine/planning.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "models/test_data.h"
#include "reds/engine/architectures.h"
#include "reds/engine/dataset.h"
#include "reds/engine/session.h"
#include "reds/json.h"
#include "reds/models/architectures.h"
#include "reds/plan.h"
#include "support/engine/models.h"

namespace reds::engine {
namespace {

using test::expect_close;
using test::load_or_fail;
using test::outputs_of;
using test::random_inputs;
using test::random_or_fail;

// The three pretrained models and a few random architectures that add Dense chains (DNN) and a Flatten
// of a pruned convolution (CNN).
std::vector<std::pair<std::string, Model>> models_under_test() {
  std::vector<std::pair<std::string, Model>> models;
  for (const char* data_set : {"fashion_mnist", "cifar10", "mnist"})
    models.emplace_back(data_set, load_or_fail(testing::pretrained_model(data_set)));
  for (const char* name : {"dnn_s", "cnn_s", "ds_cnn_s"}) models.emplace_back(name, random_or_fail(name));
  return models;
}

// --- Importance ---------------------------------------------------------------------------------------

TEST(Importance, L1OfEveryUnitsWeights) {
  // A 2x1 convolution with 3 input channels and 2 filters, Keras layout [tap][input][filter].
  Layer conv;
  conv.kind = LayerKind::conv2d;
  conv.kernel_height = 2;
  conv.units = 2;
  conv.bias = {100.0f, -100.0f};  // not counted
  for (int tap = 0; tap < 2; ++tap)
    for (int input = 0; input < 3; ++input)
      for (int filter = 0; filter < 2; ++filter)
        conv.kernel.push_back(static_cast<float>((filter == 0 ? 1 : -1) * (1 + tap * 3 + input)));
  EXPECT_EQ(l1_importance(conv), (std::vector<double>{21.0, 21.0}));
  conv.kernel[0] = 0.5f;  // tap 0, input 0, filter 0: |1| -> |0.5|
  EXPECT_EQ(l1_importance(conv), (std::vector<double>{20.5, 21.0}));

  // Depthwise 3x3 over 2 channels: [tap][channel].
  Layer depthwise;
  depthwise.kind = LayerKind::depthwise_conv2d;
  depthwise.kernel_height = depthwise.kernel_width = 3;
  for (int tap = 0; tap < 9; ++tap)
    depthwise.kernel.insert(depthwise.kernel.end(), {-1.0f, 0.25f * static_cast<float>(tap)});
  EXPECT_EQ(l1_importance(depthwise), (std::vector<double>{9.0, 0.25 * 36}));

  // Dense 2 -> 3: [input][unit]; unit j sums its column.
  Layer dense;
  dense.kind = LayerKind::dense;
  dense.units = 3;
  dense.kernel = {1, -2, 3, -4, 5, -6};
  EXPECT_EQ(l1_importance(dense), (std::vector<double>{5.0, 7.0, 9.0}));

  Layer relu;
  relu.kind = LayerKind::rectifier;
  EXPECT_TRUE(l1_importance(relu).empty());
}

// --- Requests -------------------------------------------------------------------------------------------

// Every layer's structure and cost coefficients equal the bundled architecture's (reds::models builds
// them by hand from the paper's shapes; the engine derives them from the model's).
void expect_same_network(const Network& actual, const Network& expected, bool compare_names) {
  ASSERT_EQ(actual.layers.size(), expected.layers.size()) << expected.name;
  EXPECT_EQ(actual.inputs, expected.inputs);
  EXPECT_EQ(full_network_cost(actual), full_network_cost(expected)) << expected.name;
  for (std::size_t index = 0; index < actual.layers.size(); ++index) {
    const reds::Layer& a = actual.layers[index];
    const reds::Layer& b = expected.layers[index];
    const std::string what = expected.name + " layer " + b.name;
    if (compare_names) {
      EXPECT_EQ(a.name, b.name) << what;
    }
    EXPECT_EQ(a.units, b.units) << what;
    EXPECT_EQ(a.tied, b.tied) << what;
    EXPECT_EQ(a.prunable, b.prunable) << what;
    EXPECT_EQ(a.min_units, b.min_units) << what;
    EXPECT_EQ(a.block, b.block) << what;
    ASSERT_EQ(a.cost.size(), b.cost.size()) << what;
    for (const auto& [resource, terms] : b.cost) {
      ASSERT_TRUE(a.cost.contains(resource)) << what << " " << resource;
      const CostTerms& mine = a.cost.at(resource);
      EXPECT_EQ(std::tie(mine.fixed, mine.unit, mine.input, mine.unit_input, mine.table),
                std::tie(terms.fixed, terms.unit, terms.input, terms.unit_input, terms.table))
          << what << " " << resource;
    }
  }
}

TEST(Request, CostsEqualTheBundledArchitectures) {
  for (const std::string& name : random_model_names()) {
    RequestOptions options;
    // The paper prunes the CNN's convolutions only (reds/models/architectures.h).
    if (name.starts_with("cnn_")) options.fixed = {"fc1", "fc2"};
    const Result<PlanRequest> request = plan_request(random_or_fail(name), options);
    ASSERT_TRUE(request) << name << ": " << request.error().message;
    const Result<Network> expected = models::build_network(name);
    ASSERT_TRUE(expected);
    expect_same_network(request->network, expected.value(), true);
  }
  // The Fashion-MNIST model: Keras' layer names, the bundled architecture's shapes and costs.
  const Result<PlanRequest> fashion = plan_request(load_or_fail(testing::pretrained_model("fashion_mnist")));
  ASSERT_TRUE(fashion) << fashion.error().message;
  const Result<Network> expected = models::build_network("ds_cnn_s_fmnist");
  ASSERT_TRUE(expected);
  expect_same_network(fashion->network, expected.value(), false);
}

TEST(Request, LevelsImportanceAndOptions) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  RequestOptions options;
  options.fractions = {0.6, 0.9};
  options.resource = "params";
  options.block = 8;
  options.min_width_fraction = 0.5;
  options.fixed = {"conv2d_2"};
  options.strategy = Strategy::joint;
  std::vector<double> scores(64);
  for (std::size_t unit = 0; unit < scores.size(); ++unit) scores[unit] = static_cast<double>(unit);
  options.importance["conv2d_1"] = scores;
  const Result<PlanRequest> request = plan_request(model, options);
  ASSERT_TRUE(request) << request.error().message;
  ASSERT_EQ(request->levels.size(), 2u);
  EXPECT_EQ(request->levels[1].limits.at("params").fraction, 0.9);
  EXPECT_EQ(request->strategy, Strategy::joint);
  const std::vector<reds::Layer>& layers = request->network.layers;
  ASSERT_EQ(layers.size(), 10u);
  EXPECT_EQ(layers[0].name, "conv2d");
  EXPECT_EQ(layers[0].min_units, 32);
  EXPECT_EQ(layers[0].block, 8);
  EXPECT_EQ(layers[0].importance, l1_importance(model.layers[0]));
  EXPECT_TRUE(layers[1].tied);
  EXPECT_EQ(layers[2].importance, scores);
  EXPECT_FALSE(layers[4].prunable);  // conv2d_2, fixed
  EXPECT_FALSE(layers[9].prunable);  // the classifier
  EXPECT_EQ(layers[9].block, 1);
  // The request is valid JSON of the contract and plans.
  const Result<PlanRequest> parsed = parse_plan_request(to_json(request.value()));
  ASSERT_TRUE(parsed) << parsed.error().message;
  const Result<PlanResult> plan = reds::plan(parsed.value());
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_NE(plan->levels[0].status, PlanStatus::infeasible);
  EXPECT_EQ(plan->levels[0].widths[4], 64);
  EXPECT_EQ(plan->order[2].front(), 63);  // the given scores: the last unit is the most important
}

// --- Objectives -------------------------------------------------------------------------------------------

PlanRequest request_or_fail(const Model& model, const RequestOptions& options) {
  Result<PlanRequest> request = plan_request(model, options);
  EXPECT_TRUE(request) << request.error().message;
  return request ? std::move(request).value() : PlanRequest{};
}

TEST(Objective, TheRequestStatesItAndKeepsTheScores) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  EXPECT_EQ(request_or_fail(model, {}).objective, Objective::product);
  for (const Objective objective : {Objective::sum, Objective::normalized, Objective::product}) {
    RequestOptions options;
    options.objective = objective;
    const PlanRequest request = request_or_fail(model, options);
    EXPECT_EQ(request.objective, objective);
    EXPECT_EQ(request.network.layers[0].importance,
              l1_importance(model.layers[0]));  // rescaled by the solver
  }
}

// The reason for the product objective: at a quarter of the MACs and without any minimum width, the sum of
// L1 importance narrows a layer of the Fashion-MNIST model to a few units, the product keeps every layer
// at a quarter of its units or more.
TEST(Objective, ProductAvoidsBottlenecks) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const auto narrowest_prunable = [&](Objective objective) {
    RequestOptions options;
    options.fractions = {0.25};
    options.min_width_fraction = 0;
    options.objective = objective;
    const PlanRequest request = request_or_fail(model, options);
    const Result<PlanResult> plan = reds::plan(request);
    EXPECT_TRUE(plan) << plan.error().message;
    std::int64_t narrowest = 1 << 30;
    for (std::size_t layer = 0; layer < request.network.layers.size(); ++layer)
      if (request.network.layers[layer].prunable)
        narrowest = std::min(narrowest, plan->levels[0].widths[layer]);
    return narrowest;
  };
  EXPECT_LT(narrowest_prunable(Objective::sum), 8);
  EXPECT_GE(narrowest_prunable(Objective::product), 16);
}

TEST(Request, BadInputsAreNamed) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const auto rejection = [&](const RequestOptions& options) {
    const Result<PlanRequest> request = plan_request(model, options);
    EXPECT_FALSE(request);
    return request ? std::string() : request.error().message;
  };
  RequestOptions options;
  options.resource = "latency";
  EXPECT_NE(rejection(options).find("unknown resource 'latency'"), std::string::npos);
  options = {};
  options.fractions = {0.5, 1.5};
  EXPECT_NE(rejection(options).find("(0, 1], got 1.5"), std::string::npos);
  options.fractions = {0.5, 0.25};  // levels must grow (the solver's validation)
  EXPECT_NE(rejection(options).find("level"), std::string::npos);
  options = {};
  options.fixed = {"flatten"};
  EXPECT_NE(rejection(options).find("'flatten' is not a Conv2D, DepthwiseConv2D or Dense layer"),
            std::string::npos);
  options.fixed = {"depthwise_conv2d"};
  EXPECT_NE(rejection(options).find("takes the width of the layer before it"), std::string::npos);
  options = {};
  options.importance["conv2d"] = std::vector<double>(63, 1.0);
  EXPECT_NE(rejection(options).find("63 scores for 64 units"), std::string::npos);
  options.importance["conv2d"] = std::vector<double>(64, -1.0);
  EXPECT_NE(rejection(options).find("finite and non-negative"), std::string::npos);
  options = {};
  options.min_width_fraction = 2;
  EXPECT_NE(rejection(options).find("between 0 and 1"), std::string::npos);

  Model grouped = model;
  Layer& conv = *std::find_if(grouped.layers.begin(), grouped.layers.end(),
                              [](const Layer& layer) { return layer.name == "conv2d_1"; });
  conv.groups = 2;  // 64 -> 64 in 2 groups: half the weights
  conv.kernel.resize(conv.kernel.size() / 2);
  const Result<PlanRequest> request = plan_request(grouped);
  ASSERT_FALSE(request);
  EXPECT_NE(request.error().message.find("grouped convolution (2 groups)"), std::string::npos)
      << request.error().message;
}

// --- Permutations ---------------------------------------------------------------------------------------

std::vector<std::int64_t> identity_order(std::int64_t units) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(units));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

// A random order for every Conv2D and Dense layer but the output layer.
UnitOrders random_orders(const Model& model, std::mt19937& generator) {
  const Result<std::vector<Shape>> shapes = layer_shapes(model);
  EXPECT_TRUE(shapes);
  std::size_t last = 0;
  for (std::size_t index = 0; index < model.layers.size(); ++index)
    if (model.layers[index].kind == LayerKind::conv2d || model.layers[index].kind == LayerKind::dense)
      last = index;
  UnitOrders orders;
  for (std::size_t index = 0; index < last; ++index) {
    const Layer& layer = model.layers[index];
    if (layer.kind != LayerKind::conv2d && layer.kind != LayerKind::dense) continue;
    std::vector<std::int64_t> order = identity_order((*shapes)[index].channels);
    std::shuffle(order.begin(), order.end(), generator);
    orders[layer.name] = order;
  }
  return orders;
}

TEST(Permute, RandomPermutationsKeepTheFunction) {
  std::mt19937 generator(2024);
  for (const auto& [name, model] : models_under_test()) {
    Session original = Session::create(model).value();
    for (int trial = 0; trial < 2; ++trial) {
      const UnitOrders orders = random_orders(model, generator);
      const Result<Model> permuted = permute_units(model, orders);
      ASSERT_TRUE(permuted) << name << ": " << permuted.error().message;
      // The weights did move: the first layer's kernel is not the original one.
      EXPECT_NE(permuted->layers[0].kernel, model.layers[0].kernel) << name;
      Session session = Session::create(permuted.value()).value();
      for (const std::vector<float>& input : random_inputs(model, 5, test::InputValues::unit_pixels))
        expect_close(outputs_of(session, input), outputs_of(original, input), name);
    }
  }
}

TEST(Permute, InvalidOrdersAreRejected) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const auto rejection = [&](const UnitOrders& orders) {
    const Result<Model> permuted = permute_units(model, orders);
    EXPECT_FALSE(permuted);
    return permuted ? std::string() : permuted.error().message;
  };
  std::vector<std::int64_t> reversed(64);
  for (std::int64_t unit = 0; unit < 64; ++unit) reversed[static_cast<std::size_t>(unit)] = 63 - unit;
  EXPECT_NE(rejection({{"depthwise_conv2d", reversed}}).find("tied to its input"), std::string::npos);
  EXPECT_TRUE(permute_units(model, {{"conv2d", reversed}, {"depthwise_conv2d", reversed}}));
  std::vector<std::int64_t> repeated = reversed;
  repeated[5] = 0;
  EXPECT_NE(rejection({{"conv2d_1", repeated}}).find("not a permutation of its 64 units (entry 0)"),
            std::string::npos);
  EXPECT_NE(rejection({{"conv2d_1", {0, 1, 2}}}).find("has 3 entries for its 64 units"), std::string::npos);
  EXPECT_NE(rejection({{"average_pooling2d", reversed}}).find("is not a Conv2D"), std::string::npos);
  EXPECT_NE(rejection({{"dense", {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}}}).find("would reorder the model's outputs"),
            std::string::npos);
}

// --- Applying plans -------------------------------------------------------------------------------------

// The original model computing a level by masking: every unit layer ignores (zero weights) the input
// channels the level drops, so the dropped units, whatever they compute, reach nothing. Built from the
// plan's order and widths in the original unit numbering, independently of permute_units.
Model masked(const Model& model, const PlanResult& plan, std::size_t level) {
  std::map<std::string, std::vector<bool>> kept;
  for (std::size_t entry = 0; entry < plan.layer_names.size(); ++entry) {
    std::vector<bool> keep(plan.order[entry].size(), false);
    for (std::int64_t position = 0; position < plan.levels[level].widths[entry]; ++position)
      keep[static_cast<std::size_t>(plan.order[entry][static_cast<std::size_t>(position)])] = true;
    kept[plan.layer_names[entry]] = keep;
  }
  Model result = model;
  const std::vector<Shape> shapes = layer_shapes(model).value();
  std::vector<bool> channels(static_cast<std::size_t>(model.input.channels), true);  // of the current map
  for (std::size_t index = 0; index < result.layers.size(); ++index) {
    Layer& layer = result.layers[index];
    const Shape& input = index == 0 ? model.input : shapes[index - 1];
    if (layer.kind == LayerKind::flatten && !input.flat) {
      std::vector<bool> features;
      for (std::int64_t pixel = 0; pixel < input.height * input.width; ++pixel)
        features.insert(features.end(), channels.begin(), channels.end());
      channels = features;
    }
    if (layer.kind != LayerKind::conv2d && layer.kind != LayerKind::dense) continue;
    // Kernel [taps][input channels][units]: zero the rows of dropped inputs.
    const std::size_t rows = channels.size();
    const auto units = static_cast<std::size_t>(layer.units);
    for (std::size_t at = 0; at < layer.kernel.size(); ++at)
      if (!channels[(at / units) % rows]) layer.kernel[at] = 0.0f;
    channels = kept.contains(layer.name) ? kept[layer.name] : std::vector<bool>(units, true);
  }
  return result;
}

TEST(Apply, EveryLevelComputesTheMaskedOriginal) {
  for (const auto& [name, model] : models_under_test()) {
    RequestOptions options;
    options.fractions = {0.25, 0.5, 0.75, 1.0};
    const Result<PlanRequest> request = plan_request(model, options);
    ASSERT_TRUE(request) << name << ": " << request.error().message;
    const Result<PlanResult> plan = reds::plan(request.value());
    ASSERT_TRUE(plan) << name << ": " << plan.error().message;
    const Result<Model> applied = apply_plan(model, plan.value());
    ASSERT_TRUE(applied) << name << ": " << applied.error().message;
    Session session = Session::create(applied.value()).value();
    ASSERT_EQ(session.level_count(), 4u) << name;
    Session original = Session::create(model).value();
    const std::vector<std::vector<float>> inputs = random_inputs(model, 4, test::InputValues::unit_pixels);
    for (std::size_t level = 0; level < session.level_count(); ++level) {
      // The plan's MACs are the session's: the request's costs price what the engine computes.
      EXPECT_EQ(session.level_info(level).macs, plan->levels[level].cost.at("macs")) << name << " " << level;
      Session reference = Session::create(masked(model, plan.value(), level)).value();
      ASSERT_TRUE(session.set_level(level));
      // A level sums its kept products in another order than the masked full-width reference, which
      // also adds the masked zeros: float rounding differs a little more than for the full network.
      for (const std::vector<float>& input : inputs)
        expect_close(outputs_of(session, input), outputs_of(reference, input),
                     name + " level " + std::to_string(level + 1), 5e-5f);
    }
    // The last level is the full network: the original function.
    for (const std::vector<float>& input : inputs)
      expect_close(outputs_of(session, input), outputs_of(original, input), name + " full");
  }
}

TEST(Apply, TheEmbeddedPlanIsInTheModelsOrder) {
  const Model model = load_or_fail(testing::pretrained_model("mnist"));
  const Result<PlanResult> plan = reds::plan(plan_request(model).value());
  ASSERT_TRUE(plan);
  const Result<Model> applied = apply_plan(model, plan.value());
  ASSERT_TRUE(applied) << applied.error().message;
  ASSERT_TRUE(applied->plan);
  const nlohmann::json embedded = nlohmann::json::parse(applied->plan->json);
  ASSERT_EQ(plan->layer_names[0], "conv2d_5");  // this file's Keras names
  EXPECT_EQ(embedded.at("applied_order").at("conv2d_5"), plan->order[0]);
  EXPECT_EQ(embedded.at("order").at("conv2d_5"), nlohmann::json(identity_order(64)));
  // Applying the embedded plan again moves nothing.
  const Result<PlanResult> embedded_plan = parse_plan_result(applied->plan->json);
  ASSERT_TRUE(embedded_plan) << embedded_plan.error().message;
  const Result<Model> again = apply_plan(applied.value(), embedded_plan.value());
  ASSERT_TRUE(again) << again.error().message;
  for (std::size_t index = 0; index < model.layers.size(); ++index)
    EXPECT_EQ(again->layers[index].kernel, applied->layers[index].kernel) << index;
  EXPECT_EQ(again->plan->widths, applied->plan->widths);
}

TEST(Apply, BadPlanResponsesAreNamedByTheReader) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const std::string good = to_json(reds::plan(plan_request(model).value()).value());
  const auto rejection = [](const std::string& text) {
    const Result<PlanResult> plan = parse_plan_result(text);
    EXPECT_FALSE(plan) << text.substr(0, 200);
    return plan ? Error{} : plan.error();
  };
  EXPECT_NE(rejection("not json").message.find("malformed JSON"), std::string::npos);
  nlohmann::json plan = nlohmann::json::parse(good);
  plan.erase("order");
  EXPECT_NE(rejection(plan.dump()).message.find("missing field 'order'"), std::string::npos);
  plan = nlohmann::json::parse(good);
  plan["order"]["conv2d_1"][0] = "first";
  EXPECT_EQ(rejection(plan.dump()).path, "/order/conv2d_1/0");
  plan = nlohmann::json::parse(good);
  plan["levels"][1].erase("widths");
  const Error no_widths = rejection(plan.dump());
  EXPECT_EQ(no_widths.path, "/levels/1");
  EXPECT_NE(no_widths.message.find("missing field 'widths'"), std::string::npos);
}

TEST(Apply, InconsistentPlansAreRejected) {
  const Model model = load_or_fail(testing::pretrained_model("fashion_mnist"));
  const PlanResult good = reds::plan(plan_request(model).value()).value();
  const auto rejection = [&](const PlanResult& plan) {
    const Result<Model> applied = apply_plan(model, plan);
    EXPECT_FALSE(applied);
    return applied ? Error{} : applied.error();
  };
  ASSERT_TRUE(apply_plan(model, good));
  const auto entry_of = [&](const std::string& name) {
    const auto found = std::find(good.layer_names.begin(), good.layer_names.end(), name);
    EXPECT_NE(found, good.layer_names.end()) << name;
    return static_cast<std::size_t>(found - good.layer_names.begin());
  };
  const std::size_t conv = entry_of("conv2d_1");

  // A layer the model has not, and one it has without units.
  PlanResult plan = good;
  plan.layer_names[conv] = "conv2d_9";
  const Error unknown = rejection(plan);
  EXPECT_NE(unknown.message.find("'conv2d_9' is not a Conv2D, DepthwiseConv2D or Dense layer"),
            std::string::npos)
      << unknown.message;
  plan = good;
  plan.layer_names.push_back("flatten");
  plan.order.push_back({0});
  for (LevelPlan& level : plan.levels) level.widths.push_back(1);
  EXPECT_NE(rejection(plan).message.find("'flatten' is not a Conv2D"), std::string::npos);
  plan = good;
  plan.layer_names.push_back("conv2d_1");
  plan.order.push_back(plan.order[conv]);
  for (LevelPlan& level : plan.levels) level.widths.push_back(level.widths[conv]);
  const Error twice = rejection(plan);
  EXPECT_EQ(twice.message, "the plan names layer 'conv2d_1' twice");
  EXPECT_EQ(twice.path, "/order/conv2d_1");

  // Orders and widths the layers' units cannot have.
  plan = good;
  plan.order[conv].pop_back();
  EXPECT_NE(rejection(plan).message.find("has 63 entries for its 64 units"), std::string::npos);
  plan = good;
  plan.order.pop_back();
  const Error orders = rejection(plan);
  EXPECT_EQ(orders.path, "/order");
  EXPECT_NE(orders.message.find("unit orders for its"), std::string::npos) << orders.message;
  plan = good;
  plan.levels[0].widths[conv] = 65;
  EXPECT_NE(rejection(plan).message.find("width 65 is outside 1..64"), std::string::npos);
  plan = good;
  plan.levels[0].widths[conv] = 0;
  EXPECT_NE(rejection(plan).message.find("width 0 is outside 1..64"), std::string::npos);
  plan = good;
  plan.levels[1].widths.pop_back();
  const Error short_level = rejection(plan);
  EXPECT_EQ(short_level.path, "/levels/1/widths");
  EXPECT_NE(short_level.message.find("level 2 of the plan has"), std::string::npos) << short_level.message;
  plan = good;
  plan.levels[1].status = PlanStatus::infeasible;
  const Error infeasible = rejection(plan);
  EXPECT_EQ(infeasible.path, "/levels/1");
  EXPECT_NE(infeasible.message.find("infeasible level cannot run"), std::string::npos);
  plan = good;
  plan.levels.clear();
  EXPECT_EQ(rejection(plan).path, "/levels");

  // A plan of another model.
  const PlanResult other = reds::plan(plan_request(random_or_fail("dnn_s")).value()).value();
  EXPECT_NE(rejection(other).message.find("'fc1' is not a Conv2D"), std::string::npos);
}

}  // namespace
}  // namespace reds::engine
