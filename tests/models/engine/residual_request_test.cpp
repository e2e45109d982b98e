// Plan requests of residual models: the engine's random models of the bundled residual architectures give
// exactly the requests reds::models writes for them (structure, streams, projection inputs, costs with held
// skip tensors), the requests of MLPerf Tiny's ResNet-8 and MobileNetV1 price the peak the session's
// buffers really hold (computed here from the kernel calls alone) and the MACs of an independent count; and
// the max pool that ResNet-18 needs, against a direct computation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "keras_config.h"
#include "native_format.h"
#include "reds/contract.h"
#include "reds/engine/architectures.h"
#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/models/architectures.h"
#include "support/engine/models.h"

namespace reds::engine {
namespace {

using test::load_or_fail;
using test::mlperf_model;
using test::named_layer;

const std::vector<std::string> kResidual = {"resnet8", "mobilenet_v2_035_96", "mobilenet_v2_96", "resnet18",
                                            "mobilenet_v2_224"};

// The largest number of bytes the session's buffers hold during any kernel call of level 0: a map is in
// memory from the call that writes it to the last call that reads its buffer before the next write there
// (the model's output to the end); a buffer written over while it is read counts once.
std::int64_t session_peak_bytes(const Session& session) {
  const std::span<const KernelCall> calls = session.level_calls(0);
  struct Content {
    const float* buffer;
    std::int64_t bytes;
    std::size_t from, to;  // calls, `from` writing it (0 for the input, written before call 0)
  };
  std::vector<Content> contents;
  std::map<const float*, std::size_t> current;  // buffer -> its content
  const auto read = [&](const float* buffer, std::size_t call) {
    const auto found = current.find(buffer);
    ASSERT_NE(found, current.end()) << "call " << call << " reads a buffer nothing wrote";
    contents[found->second].to = call;
  };
  contents.push_back({calls[0].kind == CallKind::dense ? calls[0].dense_input.data : calls[0].input.data,
                      4 * session.input_size(), 0, 0});
  current[contents[0].buffer] = 0;
  for (std::size_t index = 0; index < calls.size(); ++index) {
    const KernelCall& call = calls[index];
    read(call.kind == CallKind::dense ? call.dense_input.data : call.input.data, index);
    if (call.addend) read(call.addend, index);
    if (call.accumulate) read(call.output.data, index);  // a fused addition's skip tensor
    const kernels::Window& window = call.window;
    const std::int64_t floats = call.kind == CallKind::dense || call.kind == CallKind::global_average_pool2d
                                    ? call.output.channels
                                    : window.out_height * window.out_width * call.output.channels;
    contents.push_back({call.output.data, 4 * floats, index, index});
    current[call.output.data] = contents.size() - 1;
  }
  contents.back().to = calls.size();
  std::int64_t peak = 0;
  for (std::size_t index = 0; index < calls.size(); ++index) {
    std::map<const float*, std::int64_t> held;  // per buffer, the larger of what it holds during the call
    for (const Content& content : contents)
      if (content.from <= index && index <= content.to)
        held[content.buffer] = std::max(held[content.buffer], content.bytes);
    std::int64_t bytes = 0;
    for (const auto& [buffer, size] : held) bytes += size;
    peak = std::max(peak, bytes);
  }
  return peak;
}

// Multiply-accumulates straight from the model's layers and shapes.
std::int64_t counted_macs(const Model& model) {
  const std::vector<Shape> shapes = layer_shapes(model).value();
  std::int64_t macs = 0;
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    const Layer& layer = model.layers[index];
    const std::size_t input = layer_inputs(model, index)[0];
    const Shape& in = input == 0 ? model.input : shapes[input - 1];
    const Shape& out = shapes[index];
    const std::int64_t taps = layer.kernel_height * layer.kernel_width;
    if (layer.kind == LayerKind::conv2d) macs += out.size() * taps * in.channels / layer.groups;
    if (layer.kind == LayerKind::depthwise_conv2d) macs += out.size() * taps;
    if (layer.kind == LayerKind::dense) macs += in.size() * layer.units;
  }
  return macs;
}

std::vector<std::int64_t> full_widths(const Network& network) {
  std::vector<std::int64_t> widths;
  for (const reds::Layer& layer : network.layers) widths.push_back(layer.units);
  return widths;
}

// Everything but importance: names, structure and every cost term.
void expect_same_request_network(const Network& actual, const Network& expected) {
  ASSERT_EQ(actual.layers.size(), expected.layers.size()) << expected.name;
  EXPECT_EQ(actual.inputs, expected.inputs);
  EXPECT_EQ(actual.resources, expected.resources);
  for (std::size_t index = 0; index < actual.layers.size(); ++index) {
    const reds::Layer& a = actual.layers[index];
    const reds::Layer& b = expected.layers[index];
    const std::string what = expected.name + " layer " + b.name;
    EXPECT_EQ(a.name, b.name) << what;
    EXPECT_EQ(std::tie(a.units, a.tied, a.prunable, a.min_units, a.block, a.stream, a.input),
              std::tie(b.units, b.tied, b.prunable, b.min_units, b.block, b.stream, b.input))
        << what;
    ASSERT_EQ(a.cost.size(), b.cost.size()) << what;
    for (const auto& [resource, terms] : b.cost) {
      ASSERT_TRUE(a.cost.contains(resource)) << what << " " << resource;
      const CostTerms& mine = a.cost.at(resource);
      EXPECT_EQ(std::tie(mine.fixed, mine.unit, mine.input, mine.unit_input, mine.table, mine.held),
                std::tie(terms.fixed, terms.unit, terms.input, terms.unit_input, terms.table, terms.held))
          << what << " " << resource;
    }
  }
}

TEST(ResidualRequest, RandomModelsGiveTheBundledArchitecturesRequests) {
  for (const std::string& name : kResidual) {
    const Result<Model> model = random_model(name, 3);
    ASSERT_TRUE(model) << name << ": " << model.error().message;
    EXPECT_FALSE(is_chain(model.value())) << name;
    const Result<PlanRequest> request = plan_request(model.value());
    ASSERT_TRUE(request) << name << ": " << request.error().message;
    const Result<Network> expected = models::build_network(name);
    ASSERT_TRUE(expected) << expected.error().message;
    expect_same_request_network(request->network, expected.value());

    // The full network's activation is the peak the session's buffers hold, its MACs the session's.
    const Result<Session> session = Session::create(model.value());
    ASSERT_TRUE(session) << session.error().message;
    const std::map<std::string, std::int64_t> full =
        network_cost(request->network, full_widths(request->network));
    EXPECT_EQ(full.at("activation"), session_peak_bytes(session.value())) << name;
    EXPECT_EQ(full.at("macs"), session->level_info(0).macs) << name;
    EXPECT_EQ(full.at("macs"), counted_macs(model.value())) << name;
  }
}

TEST(ResidualRequest, MlperfTinyModelsPriceTheSessionsPeak) {
  for (const char* file : {"pretrainedResnet.h5", "vww_96.h5"}) {
    const Model model = load_or_fail(mlperf_model(file));
    const Result<PlanRequest> request = plan_request(model);
    ASSERT_TRUE(request) << file << ": " << request.error().message;
    const std::optional<Error> error = validate(request.value());
    EXPECT_FALSE(error.has_value()) << file << ": " << error->message;
    const Result<Session> session = Session::create(model);
    ASSERT_TRUE(session) << session.error().message;
    const std::map<std::string, std::int64_t> full =
        network_cost(request->network, full_widths(request->network));
    EXPECT_EQ(full.at("activation"), session_peak_bytes(session.value())) << file;
    EXPECT_EQ(full.at("macs"), counted_macs(model)) << file;
  }
  // The reference's figures for ResNet-8: 12,501,632 MACs; two 16-channel 32x32 maps at most: the identity
  // block's second convolution reads one and adds its sums onto the other, the block's input, so the session
  // runs no addition of its own.
  const Model resnet = load_or_fail(mlperf_model("pretrainedResnet.h5"));
  const PlanRequest request = plan_request(resnet).value();
  const std::map<std::string, std::int64_t> full =
      network_cost(request.network, full_widths(request.network));
  EXPECT_EQ(full.at("macs"), 12'501'632);
  EXPECT_EQ(full.at("activation"), 2 * 16 * 32 * 32 * 4);
  const Session session = Session::create(resnet).value();
  std::size_t accumulating = 0;
  for (const KernelCall& call : session.level_calls(0)) {
    EXPECT_NE(call.kind, CallKind::add);
    accumulating += call.accumulate ? 1 : 0;
  }
  EXPECT_EQ(accumulating, 3u);
}

TEST(ResidualRequest, MlperfResNet8IsTheBundledResNet8) {
  // The Keras model runs its layers in the bundled spec's order, so the costs agree term by term once the
  // names are mapped (conv2d_5 is block2_shortcut, ...).
  const PlanRequest keras = plan_request(load_or_fail(mlperf_model("pretrainedResnet.h5"))).value();
  const Network bundled = models::build_network("resnet8").value();
  ASSERT_EQ(keras.network.layers.size(), bundled.layers.size());
  std::map<std::string, std::string> bundled_name;
  for (std::size_t index = 0; index < bundled.layers.size(); ++index)
    bundled_name[keras.network.layers[index].name] = bundled.layers[index].name;
  for (std::size_t index = 0; index < bundled.layers.size(); ++index) {
    reds::Layer renamed = keras.network.layers[index];
    renamed.name = bundled_name.at(renamed.name);
    if (renamed.stream) renamed.stream = bundled_name.at(*renamed.stream);
    if (renamed.input) renamed.input = bundled_name.at(*renamed.input);
    for (auto& [resource, terms] : renamed.cost) {
      std::map<std::string, std::int64_t> held;
      for (const auto& [name, bytes] : terms.held) held[bundled_name.at(name)] = bytes;
      terms.held = held;
    }
    Network one = bundled, other = bundled;
    one.layers = {renamed};
    other.layers = {bundled.layers[index]};
    expect_same_request_network(one, other);
  }
}

TEST(ResidualRequest, ResNet8BuiltForOtherImagesIsTheBundledOneWithGlobalPooling) {
  // At the bundled input the global pool covers what MLPerf's 8x8 pool covers, and the weights are drawn
  // in the same order: the two models compute the same logits.
  const Model bundled = random_model("resnet8", 5).value();
  const Result<Model> rebuilt = random_resnet8(Shape{32, 32, 3}, 10, 5);
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->layers.back().name, "head");
  EXPECT_EQ(rebuilt->layers[rebuilt->layers.size() - 2].kind, LayerKind::global_average_pool2d);
  Session bundled_session = Session::create(bundled).value();
  Session rebuilt_session = Session::create(rebuilt.value()).value();
  std::vector<float> image(32 * 32 * 3);
  for (std::size_t index = 0; index < image.size(); ++index)
    image[index] = static_cast<float>((index * 37) % 101) / 101.0f;
  const std::vector<float> expected(bundled_session.run(image).begin(), bundled_session.run(image).end());
  const std::span<const float> logits = rebuilt_session.run(image);
  ASSERT_EQ(logits.size(), expected.size());
  for (std::size_t index = 0; index < expected.size(); ++index)
    EXPECT_NEAR(logits[index], expected[index], 1e-5f * (1.0f + std::abs(expected[index]))) << index;

  // Fashion-MNIST's 28x28x1 with 12 classes: the same layers and streams, the bundled names, a 7x7 map
  // pooled, twelve outputs; the request's MACs are the session's.
  const Result<Model> small = random_resnet8(Shape{28, 28, 1}, 12);
  ASSERT_TRUE(small) << small.error().message;
  const Result<PlanRequest> request = plan_request(small.value());
  ASSERT_TRUE(request) << request.error().message;
  const Network reference = models::build_network("resnet8").value();
  ASSERT_EQ(request->network.layers.size(), reference.layers.size());
  for (std::size_t index = 0; index < reference.layers.size(); ++index) {
    const reds::Layer& layer = request->network.layers[index];
    const reds::Layer& expected_layer = reference.layers[index];
    EXPECT_EQ(layer.name, expected_layer.name);
    EXPECT_EQ(layer.stream, expected_layer.stream) << layer.name;
    EXPECT_EQ(layer.input, expected_layer.input) << layer.name;
    EXPECT_EQ(layer.units, layer.name == "head" ? 12 : expected_layer.units) << layer.name;
  }
  const Session session = Session::create(small.value()).value();
  EXPECT_EQ(session.output_size(), 12);
  const std::map<std::string, std::int64_t> full =
      network_cost(request->network, full_widths(request->network));
  EXPECT_EQ(full.at("macs"), session.level_info(0).macs);
  // Counted by hand: conv1 28*28*16*9; block 1 2 * 28*28*16*144; block 2 (14x14) 32*144 + 32*288 + the
  // projection 32*16 per position; block 3 (7x7) 64*288 + 64*576 + 64*32; the head 64*12.
  EXPECT_EQ(full.at("macs"),
            112'896 + 2 * 1'806'336 + 196 * (4'608 + 9'216 + 512) + 49 * (18'432 + 36'864 + 2'048) + 768);

  EXPECT_FALSE(random_resnet8(Shape{1, 1, 10, true}, 10));
  EXPECT_FALSE(random_resnet8(Shape{28, 28, 1}, 0));
}

TEST(ResidualRequest, FixingAStreamMemberPinsTheStream) {
  const Model model = load_or_fail(mlperf_model("pretrainedResnet.h5"));
  RequestOptions options;
  options.fixed = {"conv2d_5"};  // the first projection, second member of stream conv2d_4
  options.block = 4;
  const Result<PlanRequest> request = plan_request(model, options);
  ASSERT_TRUE(request) << request.error().message;
  const std::vector<reds::Layer>& layers = request->network.layers;
  ASSERT_EQ(layers[4].name, "conv2d_4");
  EXPECT_EQ(layers[4].stream, std::optional<std::string>("conv2d_4"));
  EXPECT_FALSE(layers[4].prunable);  // the stream's first member states it for the stream
  EXPECT_EQ(layers[4].min_units, 1);
  EXPECT_TRUE(layers[5].prunable);  // members after the first keep the defaults
  EXPECT_EQ(layers[3].block, 4);
  EXPECT_EQ(layers[3].min_units, 8);  // ceil(0.25 * 32)
  EXPECT_FALSE(validate(request.value()).has_value());
}

TEST(ResidualRequest, ReadingTheInputTwiceIsRefused) {
  // Two convolutions of the input added: the second has no earlier layer whose width is its k_in.
  Model model;
  model.name = "twice";
  model.input = Shape{4, 4, 2, false};
  for (const char* name : {"a", "b"}) {
    Layer conv = named_layer(name, LayerKind::conv2d, {0});
    conv.units = 3;
    conv.kernel.assign(2 * 3, 0.5f);
    model.layers.push_back(conv);
  }
  model.layers.push_back(named_layer("sum", LayerKind::add, {1, 2}));
  const Result<PlanRequest> request = plan_request(model);
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(request.error().message.find("'b'"), std::string::npos) << request.error().message;
}

// --- Max pooling --------------------------------------------------------------------------------------

// A 5x5x2 map through MaxPooling2D(3, strides 2, padding), against the maximum over each window's pixels
// inside the map.
void expect_max_pool(Padding padding, std::int64_t expected_side) {
  Model model;
  model.name = "pool";
  model.input = Shape{5, 5, 2, false};
  Layer pool = named_layer("pool", LayerKind::max_pool2d);
  pool.kernel_height = pool.kernel_width = 3;
  pool.stride_height = pool.stride_width = 2;
  pool.padding = padding;
  model.layers.push_back(pool);
  const std::vector<Shape> shapes = layer_shapes(model).value();
  ASSERT_EQ(shapes[0], (Shape{expected_side, expected_side, 2, false}));
  std::vector<float> image(50);
  for (std::size_t i = 0; i < image.size(); ++i)
    image[i] = static_cast<float>((i * 37) % 23) - 11.0f;  // negative values too: padding is never a pixel
  Session session = Session::create(model).value();
  const std::span<const float> output = session.run(image);
  ASSERT_EQ(output.size(), static_cast<std::size_t>(expected_side * expected_side * 2));
  // Keras: 'same' pads (3 - 1) rows in all for 5 -> 3, one above (total / 2) and one below.
  const std::int64_t before = padding == Padding::same ? 1 : 0;
  for (std::int64_t row = 0; row < expected_side; ++row)
    for (std::int64_t column = 0; column < expected_side; ++column)
      for (std::int64_t channel = 0; channel < 2; ++channel) {
        float largest = -std::numeric_limits<float>::infinity();
        for (std::int64_t r = row * 2 - before; r < row * 2 - before + 3; ++r)
          for (std::int64_t c = column * 2 - before; c < column * 2 - before + 3; ++c)
            if (r >= 0 && r < 5 && c >= 0 && c < 5)
              largest = std::max(largest, image[static_cast<std::size_t>((r * 5 + c) * 2 + channel)]);
        EXPECT_EQ(output[static_cast<std::size_t>((row * expected_side + column) * 2 + channel)], largest)
            << row << "," << column << "," << channel;
      }
}

TEST(MaxPool, ValidAndSameWindowsTakeTheLargestPixel) {
  expect_max_pool(Padding::valid, 2);
  expect_max_pool(Padding::same, 3);
}

TEST(MaxPool, KerasLayerAndNativeFile) {
  const std::string config = R"({"class_name": "Functional", "config": {"name": "g", "layers": [
    {"class_name": "InputLayer", "config": {"name": "input", "batch_input_shape": [null, 4, 4, 1]},
     "inbound_nodes": []},
    {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2, 2], "padding": "valid"},
     "inbound_nodes": [[["input", 0, 0, {}]]]}],
    "input_layers": [["input", 0, 0]], "output_layers": [["pool", 0, 0]]}})";
  const auto no_weights = [](const std::string&) -> Result<detail::KerasLayerWeights> {
    return detail::KerasLayerWeights{};
  };
  const Result<Model> model = detail::build_model_from_keras_config("pool", config, no_weights);
  ASSERT_TRUE(model) << model.error().message;
  ASSERT_EQ(model->layers.size(), 1u);
  EXPECT_EQ(model->layers[0].kind, LayerKind::max_pool2d);
  EXPECT_EQ(model->layers[0].stride_height, 2);  // a pool's strides default to its size
  Session session = Session::create(model.value()).value();
  const std::vector<float> image = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const std::span<const float> output = session.run(image);
  EXPECT_EQ(std::vector<float>(output.begin(), output.end()), (std::vector<float>{6, 8, 14, 16}));

  // A native file of a max pool is a version 2 file, read back as written.
  const std::string bytes = detail::encode_native(model.value());
  EXPECT_EQ(bytes[8], 2);
  const Result<Model> back = detail::decode_native("pool.reds", bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->layers[0].kind, LayerKind::max_pool2d);
  EXPECT_EQ(back->layers[0].kernel_height, 2);
  EXPECT_EQ(back->layers[0].stride_width, 2);
}

}  // namespace
}  // namespace reds::engine
