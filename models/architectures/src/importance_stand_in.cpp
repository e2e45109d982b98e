#include "importance_stand_in.h"

#include <cmath>

namespace reds::models {
namespace {

// splitmix64 (Steele, Lea, Flood 2014): one step of the generator from `state`.
std::uint64_t splitmix64(std::uint64_t state) {
  std::uint64_t z = state + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Mixes the seed and every byte of the layer's name, so that layers get unrelated streams.
std::uint64_t layer_key(std::uint64_t seed, const std::string& layer) {
  std::uint64_t key = splitmix64(seed);
  for (const unsigned char byte : layer) key = splitmix64(key ^ byte);
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
    const double u = unit_interval(splitmix64(key ^ static_cast<std::uint64_t>(unit)));
    importance.push_back(1.0 / std::sqrt(u));
  }
  return importance;
}

}  // namespace reds::models
