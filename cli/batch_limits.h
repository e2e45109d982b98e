// Checks of a training minibatch's size against the data and the machine, made before anything is
// allocated: `reds request --data` and `reds finetune` run the network forward and backward on
// --batch-size images at once, and the feature maps of a pass grow with the batch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "reds/status.h"
#include "reds/training/training.h"

namespace reds::cli {

// The bytes a forward and backward pass over `images` images holds, an upper estimate: per image and
// layer its feature map, kept for the backward pass, its gradient and the layer's work areas.
std::int64_t pass_bytes(const engine::training::Network<float>& network, std::int64_t images);

// The memory this process may use: the machine's physical memory, or less under RLIMIT_AS or RLIMIT_DATA.
std::int64_t memory_bytes();

// invalid_argument naming --batch-size as typed (`text`) when the batch holds more images than the
// `available` training images of `data`, or when its pass would need more than memory_bytes().
std::optional<Error> check_batch_size(const engine::training::Network<float>& network,
                                      const std::string& text, std::int64_t batch_size,
                                      std::int64_t available, const std::string& data);

}  // namespace reds::cli
