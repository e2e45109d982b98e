// The search for a level's Lagrangian multipliers (one price per limited sum resource) that the chain and
// the residual level solvers share: the dual as a function of the prices is convex and piecewise linear,
// so one price is searched by intersecting tangents and several by projected subgradient steps. How the
// minimum along one price is first bracketed, and which relaxations count as usable, stay the solvers' own.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace reds::detail {

// The dual along one price: the price, the dual bound there, and its slope (capacity - cost of the
// maximising path).
struct DualPoint {
  double lambda, dual, slope;
};

// `Solver` is a level solver that befriends this class and has:
//   budgets_ (per limited sum resource: `resource`, `capacity`), lambda_ (the best prices), upper_bound_
//   (the dual at them), incumbent_value_, deadline_, progress_, model_.cost_of(path, resource);
//   trial_lambda_, scaled_, slack_: scratch of one entry per budget;
//   relax_into(lambda, relaxation), consider(path), tolerance();
//   best_relaxation() (the relaxation at lambda_) and trial_relaxation() (storage for the next one);
//   usable(relaxation): the relaxation has a maximising path and a finite dual;
//   share(relaxation): hears of every usable relaxation of a line search.
template <class Solver>
class MultiplierSearch {
 public:
  template <class Relaxation>
  static DualPoint point_of(const Solver& solver, std::size_t b, const Relaxation& relaxation) {
    const auto& budget = solver.budgets_[b];
    const double used = static_cast<double>(solver.model_.cost_of(relaxation.path, budget.resource));
    return DualPoint{relaxation.lambda[b], relaxation.dual, budget.capacity - used};
  }

  // The dual at price b = t, the other prices at their best; nothing when the relaxation is not usable
  // (numerically meaningless at huge prices, or without a path). Keeps it when it lowers the bound.
  static std::optional<DualPoint> evaluate(Solver& solver, std::size_t b, double t) {
    std::vector<double>& lambda = solver.trial_lambda_;
    lambda = solver.lambda_;
    lambda[b] = t;
    auto& trial = solver.trial_relaxation();
    solver.relax_into(lambda, trial);
    if (!solver.usable(trial)) return std::nullopt;
    solver.consider(trial.path);
    solver.share(trial);
    const DualPoint point = point_of(solver, b, trial);
    // At an equal bound the smaller price is kept: where the dual is flat in lambda_b (every plan uses the
    // same amount of the resource) a price carried over from a neighbouring level would otherwise stay.
    if (trial.dual < solver.upper_bound_ || (trial.dual == solver.upper_bound_ && t < solver.lambda_[b])) {
      solver.upper_bound_ = trial.dual;
      if (solver.progress_) solver.progress_(solver.incumbent_value_, solver.upper_bound_);
      solver.lambda_[b] = t;
      std::swap(solver.best_relaxation(), trial);
    }
    return point;
  }

  // The minimum along price b between `left` (slope < 0) and `right` (slope >= 0): where their tangents
  // meet is the next price to try (Kelley's cutting planes in one dimension); it is the minimum once the
  // dual there touches them, as a convex function lies on or above its tangents.
  static void minimise_between(Solver& solver, std::size_t b, DualPoint left, DualPoint right) {
    for (int iteration = 0; iteration < 100 && !solver.deadline_.passed(); ++iteration) {
      if (left.slope >= right.slope) return;
      const double t = (right.dual - left.dual + left.slope * left.lambda - right.slope * right.lambda) /
                       (left.slope - right.slope);
      if (!(t > left.lambda && t < right.lambda)) return;
      const std::optional<DualPoint> evaluated = evaluate(solver, b, t);
      if (!evaluated) return;
      const DualPoint middle = *evaluated;
      const double tangent = left.dual + left.slope * (t - left.lambda);
      if (middle.dual <= tangent + solver.tolerance()) return;
      (middle.slope < 0.0 ? left : right) = middle;
    }
  }

  // Several budgets: coordinate line searches stall where the dual has a kink across coordinates, so
  // continue with projected subgradient steps of Polyak's length towards the best known plan, in prices
  // scaled by the capacities (lambda_t * capacity_t) so that resources of very different magnitude weigh
  // alike.
  static void subgradient_search(Solver& solver) {
    const auto& budgets = solver.budgets_;
    const std::size_t dims = budgets.size();
    std::vector<double>& scaled = solver.scaled_;
    std::vector<double>& lambda = solver.trial_lambda_;
    std::vector<double>& slack = solver.slack_;
    scaled.resize(dims);
    lambda.resize(dims);
    slack.resize(dims);
    for (std::size_t t = 0; t < dims; ++t) scaled[t] = solver.lambda_[t] * budgets[t].capacity;
    double step_factor = 1.0;
    int since_improvement = 0;
    for (int iteration = 0; iteration < 200 && !solver.deadline_.passed(); ++iteration) {
      for (std::size_t t = 0; t < dims; ++t) lambda[t] = scaled[t] / std::max(1.0, budgets[t].capacity);
      auto& trial = solver.trial_relaxation();
      solver.relax_into(lambda, trial);
      if (!solver.usable(trial)) return;
      solver.consider(trial.path);
      double norm = 0.0;
      for (std::size_t t = 0; t < dims; ++t) {
        const std::int64_t cost = solver.model_.cost_of(trial.path, budgets[t].resource);
        slack[t] = 1.0 - static_cast<double>(cost) / std::max(1.0, budgets[t].capacity);
        norm += slack[t] * slack[t];
      }
      if (trial.dual < solver.upper_bound_ - solver.tolerance()) {
        solver.upper_bound_ = trial.dual;
        solver.lambda_ = lambda;
        std::swap(solver.best_relaxation(), trial);
        if (solver.progress_) solver.progress_(solver.incumbent_value_, solver.upper_bound_);
        since_improvement = 0;
      } else if (++since_improvement >= 5) {
        step_factor /= 2.0;
        since_improvement = 0;
      }
      const double floor_value = std::isfinite(solver.incumbent_value_) ? solver.incumbent_value_ : 0.0;
      const double distance = solver.best_relaxation().dual - floor_value;
      if (norm == 0.0 || distance <= solver.tolerance() || step_factor < 1e-4) return;
      const double step = step_factor * distance / norm;
      for (std::size_t t = 0; t < dims; ++t) scaled[t] = std::max(0.0, scaled[t] - step * slack[t]);
    }
  }
};

// Slack for comparing bounds computed in floating point with plan importances: far above the rounding of
// the few hundred additions behind a bound, far below the contract's 1e-9 relative optimality. It scales
// with `bound` (the magnitude of the dual bound the solver counts in), the prices at the best multipliers
// `lambda` and at the envelope's relaxations, and the best known plan's value.
template <class Budget, class Relaxation>
double bound_tolerance(double bound, const std::vector<Budget>& budgets, const std::vector<double>& lambda,
                       const std::vector<Relaxation>& envelope, double incumbent_value) {
  double scale = 1.0 + bound;
  double largest_price = 0.0;
  for (const Relaxation& relaxation : envelope) {
    double price = 0.0;
    for (std::size_t t = 0; t < budgets.size(); ++t) price += relaxation.lambda[t] * budgets[t].capacity;
    largest_price = std::max(largest_price, price);
  }
  for (std::size_t t = 0; t < budgets.size(); ++t) scale += lambda[t] * budgets[t].capacity;
  scale += largest_price;
  if (std::isfinite(incumbent_value)) scale += std::abs(incumbent_value);
  return 1e-12 * scale;
}

// The prices a level starts from: the neighbouring level's, where given (`hints`, per model resource).
// Costs are integers, so above the whole network's importance a price only makes every plan that uses more
// of its resource lose: no optimal multiplier lies there. Larger hints are not taken (they would also
// inflate the tolerance of every comparison, which scales with the prices).
template <class Budget>
void start_prices(const std::vector<double>& hints, std::size_t resources, double importance,
                  const std::vector<Budget>& budgets, std::vector<double>& lambda) {
  lambda.assign(budgets.size(), 0.0);
  if (hints.size() != resources) return;
  for (std::size_t b = 0; b < budgets.size(); ++b) {
    const double hint = hints[budgets[b].resource];
    if (std::isfinite(hint) && hint > 0.0 && hint <= importance) lambda[b] = hint;
  }
}

// The prices of the label search's envelope of relaxations around the best prices `best`, each handed to
// `add`: with `wide`, all of them scaled alike; with several budgets, also each on its own, as the
// remaining budget of a label can be short in one resource and ample in another.
template <class Add>
void envelope_prices(const std::vector<double>& best, bool wide, std::vector<double>& lambda, Add&& add) {
  if (wide) {
    for (const double factor : {0.0, 0.125, 0.25, 0.5, 0.75, 4.0 / 3.0, 2.0, 4.0, 8.0}) {
      lambda = best;
      for (double& price : lambda) price *= factor;
      add(lambda);
    }
  }
  if (best.size() < 2) return;
  for (std::size_t t = 0; t < best.size(); ++t) {
    for (const double factor : {0.25, 0.5, 2.0, 4.0}) {
      lambda = best;
      lambda[t] *= factor;
      add(lambda);
    }
  }
}

// The thresholds of the label searches after the first, from just below the bound down to the best known
// plan (or unbounded without one): a search at threshold T keeps every label that can still reach T, high
// thresholds keep few labels, and the optimum is usually much closer to the bound than the best known plan
// is. One budget: the bound is tight and a single intermediate try pays; several: the bound is looser and
// the label sets grow fast below it, so step down more gradually.
inline std::vector<double> label_search_thresholds(double incumbent_value, double upper_bound,
                                                   std::size_t budgets) {
  std::vector<double> thresholds;
  if (std::isfinite(incumbent_value)) {
    const double gap = upper_bound - incumbent_value;
    const std::vector<double> fractions =
        budgets < 2 ? std::vector<double>{0.2} : std::vector<double>{0.02, 0.1, 0.3, 0.6};
    for (const double fraction : fractions) thresholds.push_back(upper_bound - fraction * gap);
  }
  thresholds.push_back(std::isfinite(incumbent_value) ? incumbent_value
                                                      : -std::numeric_limits<double>::infinity());
  return thresholds;
}

}  // namespace reds::detail
