#include "importance_stand_in.h"

#include <cmath>

#include "reds/splitmix64.h"

namespace reds::models {
namespace {

// Mixes the seed and every byte of the layer's name, so that layers get unrelated streams.
std::uint64_t layer_key(std::uint64_t seed, const std::string& layer) {
  std::uint64_t key = SplitMix64::mix(seed);
  for (const unsigned char byte : layer) key = SplitMix64::mix(key ^ byte);
  return key;
}

// The top 53 bits as a double in (0, 1]: exact, never 0.
double unit_interval(std::uint64_t bits) {
  constexpr double kTwoToMinus53 = 1.0 / 9007199254740992.0;
  return static_cast<double>((bits >> 11) + 1) * kTwoToMinus53;
}

}  // namespace

std::vector<double> importance_stand_in(std::uint64_t seed, const std::string& layer, std::int64_t units) {
  const std::uint64_t key = layer_key(seed, layer);
  std::vector<double> importance;
  importance.reserve(static_cast<std::size_t>(units));
  for (std::int64_t unit = 0; unit < units; ++unit) {
    const double u = unit_interval(SplitMix64::mix(key ^ static_cast<std::uint64_t>(unit)));
    importance.push_back(1.0 / std::sqrt(u));
  }
  return importance;
}

}  // namespace reds::models
