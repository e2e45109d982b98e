#include "chain_builder.h"

#include <utility>

namespace reds::models {
namespace {

constexpr std::int64_t kFloatBytes = 4;  // activations are float32

// Activation bytes. `activation`: the layer's input map (k_in channels) and output map (k units) are live
// together. `output_activation`: the output map alone, the REDS reference's peak-memory model.
void set_activation_costs(Layer& layer, Extent input_map, Extent output_map) {
  CostTerms& activation = layer.cost["activation"];
  activation.unit = kFloatBytes * output_map.positions();
  activation.input = kFloatBytes * input_map.positions();
  layer.cost["output_activation"].unit = kFloatBytes * output_map.positions();
}

Layer new_layer(const std::string& name, std::int64_t units) {
  Layer layer;
  layer.name = name;
  layer.units = units;
  return layer;
}

}  // namespace

ChainBuilder::ChainBuilder(std::string name, std::int64_t inputs, Extent input_map) : map_(input_map) {
  network_.name = std::move(name);
  network_.inputs = inputs;
  network_.resources = {{"macs", Aggregation::sum},
                        {"params", Aggregation::sum},
                        {"activation", Aggregation::max},
                        {"output_activation", Aggregation::max}};
}

void ChainBuilder::conv(const std::string& name, std::int64_t filters, Extent kernel, Extent stride,
                        Padding padding, bool bias, bool prunable) {
  const Extent output = output_map(map_, kernel, stride, padding);
  Layer layer = new_layer(name, filters);
  layer.prunable = prunable;
  // Every kept filter convolves every kept input channel at every output position.
  layer.cost["macs"].unit_input = kernel.positions() * output.positions();
  layer.cost["params"].unit_input = kernel.positions();
  layer.cost["params"].unit = bias ? 1 : 0;
  set_activation_costs(layer, map_, output);
  add(std::move(layer), output);
}

void ChainBuilder::pointwise(const std::string& name, std::int64_t filters, bool bias, bool prunable) {
  conv(name, filters, Extent{1, 1}, Extent{1, 1}, Padding::valid, bias, prunable);
}

void ChainBuilder::depthwise(const std::string& name, Extent kernel, Extent stride, Padding padding,
                             bool bias) {
  const Extent output = output_map(map_, kernel, stride, padding);
  Layer layer = new_layer(name, previous_units());
  layer.tied = true;
  // A channel reads only its own input channel, so its cost does not depend on k_in beyond k = k_in.
  layer.cost["macs"].unit = kernel.positions() * output.positions();
  layer.cost["params"].unit = kernel.positions() + (bias ? 1 : 0);
  set_activation_costs(layer, map_, output);
  add(std::move(layer), output);
}

void ChainBuilder::dense(const std::string& name, std::int64_t units, bool bias, bool prunable) {
  Layer layer = new_layer(name, units);
  layer.prunable = prunable;
  // k_in counts channels; after a flatten each kept channel contributes `positions` inputs.
  layer.cost["macs"].unit_input = map_.positions();
  layer.cost["params"].unit_input = map_.positions();
  layer.cost["params"].unit = bias ? 1 : 0;
  set_activation_costs(layer, map_, Extent{1, 1});
  add(std::move(layer), Extent{1, 1});
}

void ChainBuilder::average_pool(Extent window) {
  map_ = output_map(map_, window, Extent{1, 1}, Padding::valid);
}

void ChainBuilder::global_average_pool() { map_ = Extent{1, 1}; }

Network ChainBuilder::finish() && { return std::move(network_); }

void ChainBuilder::add(Layer layer, Extent output) {
  network_.layers.push_back(std::move(layer));
  map_ = output;
}

std::int64_t ChainBuilder::previous_units() const {
  return network_.layers.empty() ? network_.inputs : network_.layers.back().units;
}

}  // namespace reds::models
