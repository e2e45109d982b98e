// A stable radix sort of (key, item) pairs for the knapsack kernels' orders of 10^5 and more items, where
// std::sort's comparisons cost several times the passes over the keys' varying bytes.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace reds::knapsack::detail {

struct KeyedItem {
  std::uint64_t key;
  std::size_t item;
};

// Sorts by key, ascending; equal keys keep their order. `buffer` is scratch.
inline void radix_sort(std::vector<KeyedItem>& entries, std::vector<KeyedItem>& buffer) {
  constexpr std::size_t kSmall = 256;
  if (entries.size() <= kSmall) {
    std::stable_sort(entries.begin(), entries.end(),
                     [](const KeyedItem& a, const KeyedItem& b) { return a.key < b.key; });
    return;
  }
  std::uint64_t varying = 0;  // the bits in which some key differs from the first
  for (const KeyedItem& entry : entries) varying |= entry.key ^ entries.front().key;
  buffer.resize(entries.size());
  for (int shift = 0; shift < 64; shift += 8) {
    if (((varying >> shift) & 0xff) == 0) continue;
    std::array<std::size_t, 257> starts{};
    for (const KeyedItem& entry : entries) ++starts[((entry.key >> shift) & 0xff) + 1];
    for (std::size_t digit = 1; digit < starts.size(); ++digit) starts[digit] += starts[digit - 1];
    for (const KeyedItem& entry : entries) buffer[starts[(entry.key >> shift) & 0xff]++] = entry;
    entries.swap(buffer);
  }
}

inline void radix_sort(std::vector<KeyedItem>& entries) {
  std::vector<KeyedItem> buffer;
  radix_sort(entries, buffer);
}

// A key ordering doubles (not NaN) like their values: the bit pattern, its sign bit flipped, and every
// bit of a negative one flipped (-0 comes just before +0).
inline std::uint64_t ascending_key(double value) {
  const auto bits = std::bit_cast<std::uint64_t>(value);
  return bits >> 63 != 0 ? ~bits : bits | (std::uint64_t{1} << 63);
}
inline std::uint64_t descending_key(double value) { return ~ascending_key(value); }

}  // namespace reds::knapsack::detail
