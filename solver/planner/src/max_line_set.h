// Upper envelope of lines over a fixed, sorted set of query points (a Li Chao tree).
//
// The Lagrangian relaxation of a level turns every transition between two groups into
//     best(x) = max over lines i of (intercept_i + slope_i * x)
// evaluated at finitely many points x; inserting n lines and answering n queries costs O(n log n), instead
// of O(n^2) for all pairs of widths. Lines may be inserted in any order, which lets the caller activate
// them as a budget filter (a max resource) admits more pairs.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace reds::detail {

class MaxLineSet {
 public:
  MaxLineSet() = default;
  // `points` must be sorted ascending.
  explicit MaxLineSet(std::vector<double> points)
      : points_(std::move(points)), tree_(points_.empty() ? 0 : 4 * points_.size()) {}

  // Empties the set for new query points (sorted ascending), reusing its storage.
  template <typename Point>
  void reset(const std::vector<Point>& points) {
    points_.assign(points.begin(), points.end());
    tree_.assign(points_.empty() ? 0 : 4 * points_.size(), Line{});
  }

  void insert(double slope, double intercept, int id) {
    if (points_.empty()) return;
    insert(Line{slope, intercept, id}, 1, 0, points_.size() - 1);
  }

  // The largest line value at points[point_index] and the id of a line reaching it (-1 if none inserted).
  std::pair<double, int> query(std::size_t point_index) const {
    double best = -std::numeric_limits<double>::infinity();
    int best_id = -1;
    std::size_t node = 1, lo = 0, hi = points_.size() - 1;
    const double x = points_[point_index];
    while (true) {
      const Line& line = tree_[node];
      if (line.id >= 0) {
        const double value = line.at(x);
        if (value > best || (value == best && line.id < best_id)) {
          best = value;
          best_id = line.id;
        }
      }
      if (lo == hi) break;
      const std::size_t mid = lo + (hi - lo) / 2;
      if (point_index <= mid) {
        node = 2 * node;
        hi = mid;
      } else {
        node = 2 * node + 1;
        lo = mid + 1;
      }
    }
    return {best, best_id};
  }

 private:
  struct Line {
    double slope = 0.0;
    double intercept = 0.0;
    int id = -1;
    double at(double x) const { return intercept + slope * x; }
  };

  void insert(Line line, std::size_t node, std::size_t lo, std::size_t hi) {
    while (true) {
      Line& kept = tree_[node];
      if (kept.id < 0) {
        kept = line;
        return;
      }
      const std::size_t mid = lo + (hi - lo) / 2;
      const bool better_at_mid = line.at(points_[mid]) > kept.at(points_[mid]);
      if (better_at_mid) std::swap(kept, line);
      if (lo == hi) return;
      // `line` now loses at mid; it can only win on one side.
      if (line.at(points_[lo]) > kept.at(points_[lo])) {
        node = 2 * node;
        hi = mid;
      } else if (line.at(points_[hi]) > kept.at(points_[hi])) {
        node = 2 * node + 1;
        lo = mid + 1;
      } else {
        return;
      }
    }
  }

  std::vector<double> points_;
  std::vector<Line> tree_;
};

// The same envelope when every line is present from the start and the lines come ordered by
// non-increasing slope (as a stage's widths order them): a hull built in one pass and swept by the
// ascending points, O(n) instead of O(n log n). Line i is intercept[i] + slope[i] * x; lines with an
// intercept of -infinity are absent. Writes the envelope's value and a line reaching it (-1: none) per
// point. Returns false, writing nothing, when the slopes are not ordered or the numbers are too large
// for the hull's intersection tests (the caller then uses MaxLineSet).
struct EnvelopeLine {
  double slope, intercept;
  int id;
  double at(double x) const { return intercept + slope * x; }
};
// Space sorted_upper_envelope() reuses from call to call.
using EnvelopeScratch = std::vector<EnvelopeLine>;

inline bool sorted_upper_envelope(const std::vector<double>& slope, const std::vector<double>& intercept,
                                  const std::vector<std::int64_t>& points, std::vector<double>& value,
                                  std::vector<int>& id, EnvelopeScratch& hull) {
  constexpr double kLarge = 1e100;  // products of two such numbers stay finite
  const double widest = points.empty() ? 0.0 : static_cast<double>(points.back());
  using Line = EnvelopeLine;
  if (points.size() == 1) {
    // One point (the source of the first group): the best line there, without a hull. Ties go to the
    // larger slope, as the sweep below breaks them.
    const double x = widest;
    double best = -std::numeric_limits<double>::infinity();
    int best_id = -1;
    for (std::size_t k = slope.size(); k-- > 0;) {
      if (k + 1 < slope.size() && slope[k] < slope[k + 1]) return false;
      const double c = intercept[k];
      if (c == -std::numeric_limits<double>::infinity()) continue;
      if (!(std::abs(c) < kLarge) || !(std::abs(slope[k]) * (1.0 + widest) < kLarge)) return false;
      const double at = c + slope[k] * x;
      if (best_id < 0 || at >= best) {
        best = at;
        best_id = static_cast<int>(k);
      }
    }
    value.assign(1, best);
    id.assign(1, best_id);
    return true;
  }
  // Ascending slope: from the last line to the first. The hull lives in `hull`'s storage, sized once.
  const std::size_t n = slope.size();
  hull.resize(n);
  Line* const h = hull.data();
  std::size_t size = 0;
  double previous_slope = -std::numeric_limits<double>::infinity();
  for (std::size_t k = n; k-- > 0;) {
    const double m = slope[k];
    const double c = intercept[k];
    if (m < previous_slope) return false;
    previous_slope = m;
    if (c == -std::numeric_limits<double>::infinity()) continue;
    if (!(std::abs(c) < kLarge) || !(std::abs(m) * (1.0 + widest) < kLarge)) return false;
    if (size > 0 && h[size - 1].slope == m) {
      if (h[size - 1].intercept >= c) continue;
      --size;
    }
    // The last hull line is useless once the new one overtakes the one before it no later than it does.
    while (size >= 2) {
      const Line& a = h[size - 2];
      const Line& b = h[size - 1];
      if ((a.intercept - c) * (b.slope - a.slope) > (a.intercept - b.intercept) * (m - a.slope)) break;
      --size;
    }
    h[size++] = Line{m, c, static_cast<int>(k)};
  }
  const std::size_t count = points.size();
  if (size == 0) {
    value.assign(count, -std::numeric_limits<double>::infinity());
    id.assign(count, -1);
    return true;
  }
  value.resize(count);
  id.resize(count);
  std::size_t best = 0;
  for (std::size_t j = 0; j < count; ++j) {
    const double x = static_cast<double>(points[j]);
    double at_best = h[best].at(x);
    while (best + 1 < size) {
      const double at_next = h[best + 1].at(x);
      if (at_next < at_best) break;
      ++best;
      at_best = at_next;
    }
    value[j] = at_best;
    id[j] = h[best].id;
  }
  return true;
}

}  // namespace reds::detail
