#include <cmath>

#include "reds/training/importance.h"

namespace reds::engine::training {

namespace {

// Per unit layer, per unit: the sum of |kernel * accumulated gradient| over the unit's weights.
template <class Real>
std::map<std::string, std::vector<double>> unit_importance(
    const Network<Real>& network, const std::vector<std::vector<double>>& kernel_gradients) {
  std::map<std::string, std::vector<double>> importance;
  for (const std::size_t index : network.unit_layers()) {
    const TrainingLayer<Real>& layer = network.layers()[index];
    // Every unit layer's kernel holds one weight per output unit in each row (Keras' layouts, model.h):
    // entry `at` belongs to unit at % units.
    const std::size_t units = static_cast<std::size_t>(network.shapes()[layer.model_layer].channels);
    std::vector<double>& scores = importance[layer.name];
    scores.assign(units, 0.0);
    const std::vector<double>& gradient = kernel_gradients[index];
    for (std::size_t at = 0; at < layer.kernel.value.size(); ++at)
      scores[at % units] += std::abs(static_cast<double>(layer.kernel.value[at]) * gradient[at]);
  }
  return importance;
}

}  // namespace

template <class Real>
Result<std::map<std::string, std::vector<double>>> gradient_importance(const Network<Real>& network,
                                                                       const ImageSet& images,
                                                                       const ImportanceOptions& options) {
  if (options.minibatches < 1 || options.batch_size < 1)
    return invalid_argument("gradient importance needs at least one minibatch of at least one image");
  const Shape& input = network.input_shape();
  if (images.count < 1 || images.height != input.height || images.width != input.width ||
      images.channels != input.channels)
    return invalid_argument("the images are " + std::to_string(images.height) + "x" +
                            std::to_string(images.width) + "x" + std::to_string(images.channels) +
                            ", the model takes " + std::to_string(input.height) + "x" +
                            std::to_string(input.width) + "x" + std::to_string(input.channels));
  // Only the kernels' gradients are needed.
  Network<Real> scratch = network;
  for (TrainingLayer<Real>& layer : scratch.layers()) {
    layer.kernel.trainable = !layer.kernel.value.empty();
    layer.bias.trainable = layer.gamma.trainable = layer.beta.trainable = false;
  }
  std::vector<std::vector<double>> sums(scratch.layers().size());
  for (std::size_t index = 0; index < sums.size(); ++index)
    sums[index].assign(scratch.layers()[index].kernel.value.size(), 0.0);

  MinibatchStream stream(images, options.batch_size, options.seed, options.augmentation);
  Minibatch batch;
  std::vector<Real> pixels;
  Pass<Real> pass;
  PassOptions pass_options;
  pass_options.batch_norm = options.batch_norm;
  const Widths widths = scratch.full_widths();
  for (std::int64_t minibatch = 0; minibatch < options.minibatches; ++minibatch) {
    stream.next(batch);
    pixels.assign(batch.images.begin(), batch.images.end());
    scratch.zero_gradients();
    const Result<std::span<const Real>> logits =
        pass.forward(scratch, widths, pixels, batch.count, pass_options);
    if (!logits) return logits.error();
    const Result<double> loss = pass.backward(scratch, batch.labels);
    if (!loss) return loss.error();
    for (std::size_t index = 0; index < sums.size(); ++index) {
      const std::vector<Real>& gradient = scratch.layers()[index].kernel.gradient;
      for (std::size_t at = 0; at < gradient.size(); ++at)
        sums[index][at] += static_cast<double>(gradient[at]);
    }
    if (options.on_minibatch) options.on_minibatch(minibatch + 1, options.minibatches);
  }
  return unit_importance(network, sums);
}

template Result<std::map<std::string, std::vector<double>>> gradient_importance(const Network<float>&,
                                                                                const ImageSet&,
                                                                                const ImportanceOptions&);
template Result<std::map<std::string, std::vector<double>>> gradient_importance(const Network<double>&,
                                                                                const ImageSet&,
                                                                                const ImportanceOptions&);

}  // namespace reds::engine::training
