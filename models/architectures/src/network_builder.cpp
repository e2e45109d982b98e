#include "network_builder.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace reds::models {
namespace {

constexpr std::int64_t kFloatBytes = 4;  // activations are float32

// A feature map of the spec's graph (SpecNetwork::graph): tensor 0 is the network's input, tensor i + 1 the
// output of graph layer i.
struct Tensor {
  Extent map;
  std::int64_t channels = 0;
  bool flat = false;
  // The request layer whose kept width is the map's channel count; none for the network's input.
  std::optional<std::size_t> source;
};

// Union-find over request layers, in list order; a class is named by its first (smallest) layer.
class StreamClasses {
 public:
  // The next request layer, in a class of its own.
  void add_layer() { parent_.push_back(parent_.size()); }
  std::size_t find(std::size_t layer) {
    while (parent_[layer] != layer) layer = parent_[layer] = parent_[parent_[layer]];
    return layer;
  }
  // The layers' outputs are added: one width from now on.
  void join(std::size_t a, std::size_t b) {
    a = find(a), b = find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<std::size_t> parent_;
};

LiveMap live_map(const Tensor& tensor) {
  if (tensor.source) return LiveMap{tensor.source, kFloatBytes * tensor.map.positions()};
  return LiveMap{std::nullopt, kFloatBytes * tensor.map.positions() * tensor.channels};
}

ScheduledKind scheduled_kind(SpecLayerKind kind) {
  switch (kind) {
    case SpecLayerKind::conv:
      return ScheduledKind::convolution;
    case SpecLayerKind::depthwise:
      return ScheduledKind::depthwise_convolution;
    case SpecLayerKind::dense:
      return ScheduledKind::dense;
    case SpecLayerKind::average_pool:
    case SpecLayerKind::global_average_pool:
    case SpecLayerKind::max_pool:
      return ScheduledKind::pool;
    case SpecLayerKind::zero_padding:
      return ScheduledKind::zero_padding;
    case SpecLayerKind::add:
      break;
  }
  return ScheduledKind::addition;
}

Error spec_error(const ArchitectureSpec& spec, const LayerSpec& layer, const std::string& message) {
  return invalid_argument(spec.name + ", layer '" + layer.name + "': " + message);
}

}  // namespace

Result<SpecNetwork> spec_network(const ArchitectureSpec& spec) {
  SpecNetwork result;
  Network& network = result.network;
  network.name = spec.name;
  network.inputs = spec.input_channels;
  network.resources = {{"macs", Aggregation::sum},
                       {"params", Aggregation::sum},
                       {"activation", Aggregation::max},
                       {"output_activation", Aggregation::max}};

  std::vector<Tensor> tensors = {Tensor{spec.input_map, spec.input_channels, spec.flat_input, std::nullopt}};
  std::map<std::string, std::size_t> tensor_of_name;
  // Per request layer: the spec layer computing it and the tensor it reads.
  std::vector<const LayerSpec*> spec_of_layer;
  std::vector<std::size_t> read_by_layer;
  // A tied layer's width is its predecessor's: streams join the untied layer it follows.
  std::vector<std::size_t> untied;
  StreamClasses streams;
  for (std::size_t index = 0; index < spec.layers.size(); ++index) {
    const LayerSpec& layer = spec.layers[index];
    std::vector<std::size_t> reads;
    for (const std::string& name : layer.inputs) {
      const auto found = tensor_of_name.find(name);
      if (found == tensor_of_name.end())
        return spec_error(spec, layer, "reads '" + name + "', no earlier layer");
      reads.push_back(found->second);
    }
    if (reads.empty()) reads.push_back(tensors.size() - 1);
    if ((layer.kind == SpecLayerKind::add) != (reads.size() == 2))
      return spec_error(spec, layer, "an add reads two maps, every other layer one");
    const Tensor& in = tensors[reads[0]];
    Tensor out = in;
    std::optional<std::size_t> computed;  // the request layer the spec layer computes
    const auto request_layer = [&](std::int64_t units) -> Layer& {
      Layer entry;
      entry.name = layer.name;
      entry.units = units;
      network.layers.push_back(std::move(entry));
      spec_of_layer.push_back(&layer);
      read_by_layer.push_back(reads[0]);
      streams.add_layer();
      untied.push_back(network.layers.size() - 1);
      out.source = computed = network.layers.size() - 1;
      out.channels = units;
      return network.layers.back();
    };
    switch (layer.kind) {
      case SpecLayerKind::conv:
      case SpecLayerKind::depthwise: {
        out.map = output_map(in.map, layer.kernel, layer.stride, layer.padding);
        const std::int64_t taps = layer.kernel.positions();
        const std::int64_t bias = layer.bias ? 1 : 0;
        if (layer.kind == SpecLayerKind::conv) {
          Layer& entry = request_layer(layer.units);
          entry.prunable = layer.prunable;
          // Every kept filter convolves every kept input channel at every output position.
          entry.cost["macs"].unit_input = taps * out.map.positions();
          entry.cost["params"].unit_input = taps;
          entry.cost["params"].unit = bias;
        } else {
          if (network.layers.empty() || in.source != network.layers.size() - 1)
            return spec_error(spec, layer, "a depthwise layer must read the previous weighted layer's map");
          Layer& entry = request_layer(in.channels);
          entry.tied = true;
          untied.back() = untied[untied.size() - 2];
          // A channel reads only its own input channel: no coupling to k_in beyond k = k_in.
          entry.cost["macs"].unit = taps * out.map.positions();
          entry.cost["params"].unit = taps + bias;
        }
        network.layers.back().cost["output_activation"].unit = kFloatBytes * out.map.positions();
        break;
      }
      case SpecLayerKind::dense: {
        // k_in counts channels; after a flatten each kept channel contributes `positions` inputs.
        const std::int64_t positions = in.map.positions();
        Layer& entry = request_layer(layer.units);
        entry.prunable = layer.prunable;
        entry.cost["macs"].unit_input = positions;
        entry.cost["params"].unit_input = positions;
        entry.cost["params"].unit = layer.bias ? 1 : 0;
        entry.cost["output_activation"].unit = kFloatBytes;
        out.map = Extent{1, 1};
        out.flat = true;
        break;
      }
      case SpecLayerKind::average_pool:
        out.map = output_map(in.map, layer.kernel, Extent{1, 1}, Padding::valid);
        break;
      case SpecLayerKind::max_pool:
        out.map = output_map(in.map, layer.kernel, layer.stride, layer.padding);
        break;
      case SpecLayerKind::global_average_pool:
        out.map = Extent{1, 1};
        out.flat = true;
        break;
      case SpecLayerKind::zero_padding:
        out.map = Extent{in.map.height + layer.pad.top + layer.pad.bottom,
                         in.map.width + layer.pad.left + layer.pad.right};
        break;
      case SpecLayerKind::add: {
        const Tensor& other = tensors[reads[1]];
        if (other.map != in.map || other.channels != in.channels || !in.source || !other.source)
          return spec_error(spec, layer, "adds maps of different shapes, or the network's input");
        streams.join(untied[*in.source], untied[*other.source]);
        out.source = std::max(*in.source, *other.source);
        break;
      }
    }
    result.graph.push_back({scheduled_kind(layer.kind), reads, computed});
    tensors.push_back(out);
    if (layer.activation != Activation::none) {
      // The engine runs an activation as a layer of its own, reading the map of the layer declaring it.
      result.graph.push_back({ScheduledKind::rectifier, {tensors.size() - 1}, std::nullopt});
      tensors.push_back(out);
    }
    if (!layer.name.empty()) tensor_of_name[layer.name] = tensors.size() - 1;
  }

  // Streams: a class of two or more untied layers, named after its first member, which alone states
  // prunable for the stream.
  std::map<std::size_t, std::vector<std::size_t>> members;
  for (std::size_t layer = 0; layer < network.layers.size(); ++layer)
    if (untied[layer] == layer) members[streams.find(layer)].push_back(layer);
  for (const auto& [root, layers] : members) {
    if (layers.size() < 2) continue;
    for (const std::size_t layer : layers) {
      network.layers[layer].stream = network.layers[layers.front()].name;
      if (layer != layers.front()) network.layers[layer].prunable = true;
    }
  }
  const auto stream_of = [&](std::size_t layer) { return streams.find(untied[layer]); };

  // The `input` of every layer whose k_in is not the previous request layer's width.
  for (std::size_t index = 1; index < network.layers.size(); ++index) {
    Layer& entry = network.layers[index];
    if (entry.tied) continue;
    const Tensor& in = tensors[read_by_layer[index]];
    if (!in.source)
      return spec_error(spec, *spec_of_layer[index], "only the first weighted layer may read the input");
    if (stream_of(*in.source) != stream_of(index - 1)) entry.input = network.layers[*in.source].name;
  }
  for (const Tensor& tensor : tensors) result.maps.push_back(live_map(tensor));
  return result;
}

}  // namespace reds::models
