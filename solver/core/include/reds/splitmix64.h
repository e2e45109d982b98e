// reds/splitmix64.h: the one seeded random generator of REDS, for generated instances, stand-in
// importances, initial weights and tests.
//
// splitmix64 (Steele, Lea, Flood 2014) is plain 64-bit integer arithmetic, so a seed gives the same numbers
// on every platform and compiler, which std:: engines' distributions do not promise.
#pragma once

#include <cstdint>

namespace reds {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  // The output after one step from `state`, without a generator: a good 64-bit hash of `state`.
  static std::uint64_t mix(std::uint64_t state) {
    std::uint64_t z = state + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t next() {
    const std::uint64_t output = mix(state_);
    state_ += 0x9e3779b97f4a7c15ULL;
    return output;
  }

  // Uniform in [0, 1), from the top 53 bits of an output.
  static double unit_interval(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

  // Uniform in [0, 1), and in [low, high).
  double uniform() { return unit_interval(next()); }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  // Uniform in [low, high] by rejection: the accepted draws cover a whole number of copies of the span.
  std::int64_t uniform_integer(std::int64_t low, std::int64_t high) {
    const std::uint64_t span = static_cast<std::uint64_t>(high - low) + 1;
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    std::uint64_t draw = next();
    while (draw >= limit) draw = next();
    return low + static_cast<std::int64_t>(draw % span);
  }

 private:
  std::uint64_t state_;
};

}  // namespace reds
