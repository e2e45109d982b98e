// reds/training/training.h: training a model in the engine, at any level of its plan.
//
// A Network is a model (model.h) whose weights can be trained: float32 NHWC maps over minibatches, the
// forward pass and its backward pass for every layer the engine runs (Conv2D with any kernel, stride,
// dilation and padding, with or without bias; DepthwiseConv2D; Dense; ReLU/LeakyReLU; AveragePooling2D;
// GlobalAveragePooling2D; Flatten; Add; ZeroPadding2D) plus batch normalization, which the engine folds away
// but training needs: Network::load_keras keeps every BatchNormalization of a Keras file as a layer of its
// own. The loss is the softmax cross-entropy of the last layer's outputs (a trailing Softmax of the model is
// the loss's: training works on the logits before it, exporting puts it back).
//
// Graphs. A residual model's layers run in the model's (topological) order, each reading the maps it names
// (TrainingLayer::inputs); the forward pass keeps every map, and the backward pass adds the gradients of
// all the readers of a map (a skip connection's source gets the sum of both paths' gradients).
//
// Levels. A forward pass runs the subnetwork that a set of widths describes (Widths: a prefix of every unit
// layer's units, as a plan level keeps them, see model.h; the operands of an Add keep one width, the
// stream's, and the Add sums that prefix of channels), and the backward pass adds that subnetwork's
// gradients into the shared weights' gradients (entries outside it get none). Joint fine-tuning of all levels
// runs one forward and one backward per level on the same minibatch, each backward scaled by the level's
// loss weight, then one optimizer step (reds-paper section 7.2).
//
// Batch normalization runs with the moving statistics (BatchNormMode::moving_statistics: the inference
// function, Keras' training=False, and what a frozen batch normalization does) or with the minibatch's own
// statistics (batch_statistics: Keras' training=True), optionally updating the moving averages with them.
//
// Network<double> runs the same code in double precision: the gradient checks use it.
//
//   reds::Result<Network<float>> network = Network<float>::load_keras("fashion_mnist_ds_cnn_sizeS.keras");
//   Pass<float> pass;
//   network->zero_gradients();
//   pass.forward(*network, network->full_widths(), images, count);        // images: count x 28 x 28 x 1
//   reds::Result<double> loss = pass.backward(*network, labels);          // gradients in every Parameter
//   optimizer.step(*network);                                             // optimizer.h
//   reds::Result<Model> model = network->to_model();                      // batch norm folded, for a Session
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::engine::training {

enum class TrainingLayerKind {
  conv2d,  // one group only
  depthwise_conv2d,
  dense,
  batch_norm,  // over the channels (the last axis) of the layer before
  rectifier,
  average_pool2d,
  global_average_pool2d,
  flatten,
  add,  // the elementwise sum of its inputs
  zero_padding2d,
};

const char* to_string(TrainingLayerKind kind);

// Numbers a network learns, and the gradient of the loss accumulated for them.
template <class Real>
struct Parameter {
  std::vector<Real> value;
  std::vector<Real> gradient;  // value.size() numbers; backward passes add to it, zero_gradients() clears it
  bool trainable = true;       // false: backward passes leave its gradient alone, optimizers its value
};

// y = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta per channel (inference); Keras'
// BatchNormalization with its defaults.
struct BatchNormalization {
  std::vector<float> gamma, beta, moving_mean, moving_variance;  // one per channel each
  double epsilon = 1e-3;
  // A training pass that updates the moving averages sets moving = momentum * moving + (1 - momentum) *
  // batch statistic.
  double momentum = 0.99;
};

template <class Real>
struct TrainingLayer {
  std::string name;  // the engine layer's name; a batch norm's own (Keras) name
  TrainingLayerKind kind = TrainingLayerKind::flatten;
  // The engine model's layer (Network::architecture()) this layer is; for a batch norm, the unit layer it
  // follows. Window, stride, padding and rectifier parameters are that layer's.
  std::size_t model_layer = 0;
  // The maps the layer reads: 0 the network's input, i + 1 the output of layers()[i] (the model layer's
  // inputs, each taken after its batch norm when it has one). Kept up to date by the Network.
  std::vector<std::size_t> inputs;
  // conv2d, depthwise_conv2d and dense: weights in Keras' layout (model.h), not folded with any batch norm;
  // bias empty for a layer without one.
  Parameter<Real> kernel;
  Parameter<Real> bias;
  // batch_norm
  Parameter<Real> gamma;
  Parameter<Real> beta;
  std::vector<Real> moving_mean;
  std::vector<Real> moving_variance;
  double epsilon = 1e-3;
  double momentum = 0.99;
};

// A per-channel affine map on the outputs of unit layers, for one level: scale[i] and shift[i] for
// layers()[i] (full width, the level uses their prefix), or both empty for no change.
struct LevelCalibration {
  std::vector<std::vector<double>> scale, shift;
};

// The kept units of every unit layer (Conv2D, DepthwiseConv2D, Dense) of a network, in the order of
// Network::unit_layers(): a prefix of each layer's units, as a level of a plan keeps them. -1 keeps all of
// them; a DepthwiseConv2D is tied to its input (-1, or exactly its input's width times its depth
// multiplier). The last unit layer keeps all its units.
using Widths = std::vector<std::int64_t>;

template <class Real>
class Network {
 public:
  // A network with the model's layers and weights (batch normalization folded in, as the engine holds it),
  // a chain or a graph. invalid_argument for an invalid model, a grouped convolution or a softmax that is
  // not the last layer.
  static Result<Network> from_model(const Model& model);
  // A Keras HDF5 file (as load_keras() reads it), every BatchNormalization kept as a layer with its
  // parameters and moving statistics, the layers before them with their weights as stored.
  static Result<Network> load_keras(const std::string& path);
  // A model file as load_model() tells them apart: a Keras file through load_keras(), a native or ONNX
  // file through from_model().
  static Result<Network> load(const std::string& path);

  // The same network in another precision (rounded to nearest).
  template <class Other>
  explicit Network(const Network<Other>& other);

  // The engine model of the network's current weights: every batch norm folded (with its moving
  // statistics) into the layer before, in double and rounded once, as load_keras() folds them; the model's
  // other layers, name and plan as the network was built from. With `calibrations` (one per level of the
  // plan, as the training passes applied them: PassOptions::calibration), the plan keeps them as its
  // per-level statistics (model.h's ChannelMap: each calibrated unit layer's scale, and its bias with the
  // shift and any batch norm after it folded in); without, the plan has none.
  Result<Model> to_model(std::span<const LevelCalibration> calibrations = {}) const;

  // Adds a batch normalization after the unit layer `unit_layer` (which has none yet); its parameters have
  // one number per output unit of the layer. For networks built from layers without folding.
  std::optional<Error> add_batch_norm(const std::string& unit_layer, const std::string& name,
                                      const BatchNormalization& batch_norm);

  // The model the network was built from (its weights are not kept up to date: see to_model()).
  const Model& architecture() const { return architecture_; }
  // The engine's shape after every architecture() layer.
  const std::vector<Shape>& shapes() const { return shapes_; }
  const Shape& input_shape() const { return architecture_.input; }
  std::int64_t classes() const { return classes_; }

  std::vector<TrainingLayer<Real>>& layers() { return layers_; }
  const std::vector<TrainingLayer<Real>>& layers() const { return layers_; }

  // Indices into layers() of the unit layers: what Widths are indexed by.
  const std::vector<std::size_t>& unit_layers() const { return unit_layers_; }
  // Every unit layer at its full width.
  Widths full_widths() const;
  // The widths of level `level` (0 = smallest) of the plan embedded in the architecture; invalid_argument
  // when there is no plan or no such level.
  Result<Widths> plan_widths(std::size_t level) const;
  // Engine-style widths: one per architecture() layer, -1 for a layer at full width. invalid_argument for
  // widths of the wrong count.
  Result<std::vector<std::int64_t>> model_widths(const Widths& widths) const;

  // Weights and biases of the unit layers a level keeps (batch norm not counted): the plan contract's
  // `params` of the level. invalid_argument for widths that do not describe a level.
  Result<std::int64_t> parameter_count(const Widths& widths) const;

  // Every parameter, trainable or not, in a fixed order (each layer's kernel, bias, gamma, beta when it has
  // them): what optimizers iterate over.
  std::vector<Parameter<Real>*> parameters();
  void zero_gradients();

 private:
  template <class Other>
  friend class Network;
  Network() = default;
  // Sets every layer's inputs and unit_layers_ from the layers' order and the architecture.
  void link();

  Model architecture_;
  std::vector<Shape> shapes_;
  bool trailing_softmax_ = false;
  std::int64_t classes_ = 0;
  std::vector<TrainingLayer<Real>> layers_;
  std::vector<std::size_t> unit_layers_;
};

enum class BatchNormMode {
  moving_statistics,  // normalise with the moving mean and variance (inference; a frozen batch norm)
  batch_statistics,   // normalise with the minibatch's own mean and (biased) variance
};

struct PassOptions {
  BatchNormMode batch_norm = BatchNormMode::moving_statistics;
  // batch_statistics only: fold the minibatch's statistics into the moving averages of the channels the
  // level keeps (the variance with Bessel's correction on feature maps, as TensorFlow's fused batch norm).
  bool update_moving_statistics = false;
  // Also compute the gradient of the loss with respect to the input images (input_gradient()).
  bool input_gradient = false;
  // Per-level statistics: each unit layer's output y becomes y * scale + shift per channel before the
  // layers reading it (levels.h: calibrate_level). Not owned; null: none.
  const LevelCalibration* calibration = nullptr;
};

// What a backward pass learns from besides the labels (in-place distillation, levels.h): a teacher's
// predictions softened by a temperature T, a constant of the pass (no gradient reaches the teacher).
template <class Real>
struct SoftTargets {
  // count x classes probabilities, each row summing to 1: softened_probabilities() of the teacher's logits.
  std::span<const Real> probabilities;
  double temperature = 1.0;
  // w in loss = (1 - w) * cross-entropy(labels) + w * T^2 * KL(probabilities || softmax(logits / T)), per
  // image, averaged over the minibatch. T^2 keeps the soft term's gradient, T * (softmax(logits / T) -
  // probabilities), on the scale of the hard term's as T grows (Hinton et al. 2015). In [0, 1].
  double weight = 0.0;
};

// softmax(logits / temperature) per row of `classes` logits, into `probabilities` (resized to match).
template <class Real>
void softened_probabilities(std::span<const Real> logits, std::int64_t classes, double temperature,
                            std::vector<Real>& probabilities);

// One forward and backward pass: the feature maps of a minibatch and the work areas, reused from call to
// call (create one per thread and keep it).
template <class Real>
class Pass {
 public:
  Pass();
  ~Pass();
  Pass(Pass&&) noexcept;
  Pass& operator=(Pass&&) noexcept;

  // Runs `count` images (count x input_shape().size() numbers, NHWC) through the subnetwork of `widths`.
  // Returns the logits, count x classes(), valid until the next forward(). invalid_argument for widths that
  // do not describe a level (see Widths) or a wrong number of inputs. Updates moving statistics only when
  // the options say so.
  Result<std::span<const Real>> forward(Network<Real>& network, const Widths& widths,
                                        std::span<const Real> images, std::int64_t count,
                                        const PassOptions& options = {});

  // The mean softmax cross-entropy of the last forward()'s logits against `labels` (one per image,
  // 0 <= label < classes()). invalid_argument for labels that do not fit, or before any forward().
  Result<double> loss(std::span<const std::int64_t> labels);

  // Back-propagates `scale` times the mean softmax cross-entropy of the last forward()'s logits against
  // `labels` (one per image, 0 <= label < classes()) through the same network and widths: adds the
  // gradient to every trainable parameter's gradient. Returns the mean cross-entropy (unscaled).
  // invalid_argument for labels that do not fit, or when no forward() of this network came first.
  Result<double> backward(Network<Real>& network, std::span<const std::int64_t> labels, Real scale = 1);
  // The same with soft targets mixed in: back-propagates `scale` times SoftTargets' loss; returns the mean
  // cross-entropy against the labels (unscaled, unmixed) and leaves the mean T^2-free KL term in
  // distillation_loss(). invalid_argument also for targets that are not count x classes numbers, a
  // temperature <= 0 or a weight outside [0, 1].
  Result<double> backward(Network<Real>& network, std::span<const std::int64_t> labels, Real scale,
                          const SoftTargets<Real>& targets);
  // Mean KL(probabilities || softmax(logits / T)) of the last backward() with soft targets (0 without).
  double distillation_loss() const { return distillation_loss_; }

  // The output of layers()[layer] in the last forward(): count x the level's shape of it.
  std::span<const Real> output(std::size_t layer) const { return maps_[layer + 1]; }

  // After a backward() whose forward() asked for it: d(scale * loss) / d(images), like the images.
  std::span<const Real> input_gradient() const { return input_gradient_; }
  // Images of the last backward() whose largest logit (the first, on ties) is their label.
  std::int64_t correct() const { return correct_; }

 private:
  struct LayerState;  // per layer: the level's shapes and what the backward pass needs

  const Network<Real>* network_ = nullptr;
  std::int64_t count_ = 0;
  PassOptions options_;
  std::vector<LayerState> states_;
  std::vector<std::vector<Real>> maps_;  // maps_[0]: the input; maps_[i + 1]: after layers()[i]
  // gradients_[m]: d loss / d maps_[m], summed over the map's readers; meaningful while has_gradient_[m].
  // A gradient's buffer returns to spare_ once its layer is done, so that a chain holds as few as before.
  std::vector<std::vector<Real>> gradients_;
  std::vector<char> has_gradient_;
  std::vector<std::vector<Real>> spare_;
  std::vector<Real> gradient_, next_gradient_, work_;
  std::vector<Real> input_gradient_;
  std::int64_t correct_ = 0;
  double distillation_loss_ = 0.0;

  // loss() and, with `gradient`, d(scale * loss) / d(logits) into it (the mixed loss's, with `targets`).
  Result<double> cross_entropy(std::span<const std::int64_t> labels, Real scale, std::vector<Real>* gradient,
                               const SoftTargets<Real>* targets = nullptr);
  Result<double> backward_from_logits(Network<Real>& network, std::span<const std::int64_t> labels,
                                      Real scale, const SoftTargets<Real>* targets);
  // Adds `gradient` (sized like maps_[map]) into gradients_[map], taking its buffer when it is the first.
  void deliver(std::size_t map, std::vector<Real>& gradient);
  // A buffer from spare_ (empty when there is none), and back.
  std::vector<Real> spare();
  void recycle(std::vector<Real>& buffer);
};

extern template class Network<float>;
extern template class Network<double>;
extern template class Pass<float>;
extern template class Pass<double>;

}  // namespace reds::engine::training
