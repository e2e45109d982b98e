// tests/support/engine/reference.h: what the engine computes, worked out directly in double precision, for
// the tests that check hand-built graphs against it. Maps are [y][x][channel] and square.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "reds/engine/model.h"

namespace reds::test {

// `count` values in [-1, 1] in steps of 1/1000 drawn from SplitMix64(seed), then `trailing_zeros` zeros
// (room for kernels that read past the end).
std::vector<float> random_floats(std::size_t count, std::uint64_t seed, std::size_t trailing_zeros = 0);

// A Conv2D layer (Keras' kernel layout [tap][input][unit], stride 1) over a `size` x `size` map of
// `channels` channels, its window moved up by `pad_top` and left by `pad_left` (taps outside the map read
// nothing): an `out_size` x `out_size` map.
std::vector<double> convolve(const std::vector<double>& in, std::int64_t size, std::int64_t channels,
                             const engine::Layer& layer, std::int64_t pad_top, std::int64_t pad_left,
                             std::int64_t out_size);

// Every value below 0 made 0 (ReLU).
std::vector<double> rectified(std::vector<double> values);

// A Dense layer (kernel [input][unit]) over a flat map.
std::vector<double> dense(const std::vector<double>& features, const engine::Layer& layer);

// The model's output for one input (NHWC), in double precision, layer by layer from model.h's definitions
// of every layer kind (windows, 'same' padding, depth multipliers, pools that average or take the largest
// of their valid pixels, additions, softmax), without the engine's kernels or shapes. `maps`: empty, or one
// per layer; a unit layer whose map has values computes output channel c as scale[c] * sum + bias[c]
// instead of sum + its bias (per-level statistics, model.h's ChannelMap).
std::vector<double> forward(const engine::Model& model, const std::vector<float>& input,
                            const std::vector<engine::ChannelMap>& maps = {});

}  // namespace reds::test
