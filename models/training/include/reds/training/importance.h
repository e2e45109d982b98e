// reds/training/importance.h: the REDS reference's gradient importance of every unit (reds-paper
// section 3): the gradient of the loss summed over a number of training minibatches,
// G = sum_b dL_b / dtheta (L_b the mean cross-entropy of minibatch b, no normalisation), then per unit the
// sum over its weights of |theta * G| (elementwise, the absolute value taken after the sum over minibatches;
// biases and batch-norm parameters excluded):
//   Conv2D filter j             sum over taps and input channels of |K[h][w][c][j] G[h][w][c][j]|
//   DepthwiseConv2D output o    sum over taps of |K[h][w][o] G[h][w][o]| (o = channel * multiplier + m)
//   Dense unit j                sum over input features of |W[i][j] G[i][j]|
// The reference accumulates 100 minibatches of its augmented training stream (128 images for
// Fashion-MNIST and CIFAR-10) with the model in training mode, i.e. batch norm with batch statistics
// (its moving averages are not changed here).
//
//   const ImageSet train = load_training_set(dir).value();
//   auto importance = gradient_importance(network, train, {});   // by unit layer name
//   RequestOptions options;  options.importance = importance.value();  // planning.h
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "reds/engine/dataset.h"
#include "reds/status.h"
#include "reds/training/data.h"
#include "reds/training/training.h"

namespace reds::engine::training {

struct ImportanceOptions {
  std::int64_t minibatches = 100;
  std::int64_t batch_size = 128;
  std::uint64_t seed = 0;  // of the minibatch stream (order and augmentation)
  Augmentation augmentation = Augmentation::reference();
  BatchNormMode batch_norm = BatchNormMode::batch_statistics;
  // Called after each minibatch with the number done and `minibatches`, on the calling thread.
  std::function<void(std::int64_t done, std::int64_t total)> on_minibatch;
};

// Per unit layer (by name, in the network's order of units): one score per unit, >= 0. Runs the full
// network (every unit) on `options.minibatches` minibatches of `images` (wrapping into further epochs when
// the set is smaller). invalid_argument when the images do not fit the network's input or labels, or the
// options are out of range.
template <class Real>
Result<std::map<std::string, std::vector<double>>> gradient_importance(const Network<Real>& network,
                                                                       const ImageSet& images,
                                                                       const ImportanceOptions& options = {});

}  // namespace reds::engine::training
