#include "graph_solver.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <vector>

#include "max_line_set.h"
#include "multiplier_search.h"
#include "pareto_front.h"
#include "reds/detail/saturating.h"

namespace reds::detail {
namespace {

constexpr double kMinus = -std::numeric_limits<double>::infinity();
constexpr std::size_t kNoGroup = static_cast<std::size_t>(-1);

// The states of one cut: the assignments of its open variables (at most two), by index into their
// admissible widths; state = index of the first * size[1] + index of the second.
struct Cut {
  std::array<std::size_t, 2> var{kNoGroup, kNoGroup};
  std::size_t count = 0;
  std::array<std::size_t, 2> size{1, 1};
  std::size_t states = 1;
};

// One layer's cost for one resource over its step's slots (the variables open before it, then the one it
// introduces), by index into the slots' admissible widths.
struct StepCost {
  std::int64_t constant = 0;
  std::array<std::vector<std::int64_t>, 3> unary;  // per slot; empty when the cost does not depend on it
  std::int64_t coupling = 0;                       // times the widths of slots p and q of the step
};

struct Step {
  std::size_t slots = 0;  // the before cut's variables, then the new one if any
  std::array<std::size_t, 3> group{kNoGroup, kNoGroup, kNoGroup};
  bool introduces = false;                // the last slot is the variable this layer introduces
  std::array<int, 2> after_slot{-1, -1};  // per variable of the after cut: its slot
  int p = -1, q = -1;                     // the slots of the product of two widths, or -1
  std::vector<StepCost> cost;             // per model resource
  bool filtered = false;                  // a limited max resource forbids some of its edges
};

// Relaxed longest path for prices `lambda` (one per budget).
struct Relaxation {
  std::vector<double> lambda;
  double dual = 0.0;                       // upper bound on the level's optimum
  std::vector<std::vector<double>> to_go;  // per cut (index i + 1 for the cut after layer i) and state
  std::vector<std::int64_t> path;          // a maximising path (group widths); empty if none
};

// Consecutive steps [first, end) that one backward step of the relaxation spans. A run introduces a
// variable v at `first` that stays open up to cut `end` and no further, while at most one other variable u
// is open (throughout, and perhaps still after `end`) and no step introduces another or is filtered: an
// inner width of a residual block between the cuts of its stream. Every cost over the run is then a
// function of u, of v or of their product, so that the best v per width of u is an upper envelope of lines
// in u's width, O(|u| + |v|) instead of O(|u| x |v|) per step.
struct Segment {
  std::size_t first = 0, end = 0;
  bool run = false;
  std::size_t u = kNoGroup, v = kNoGroup;  // runs only
  bool keeps_u = false;                    // runs only: u is open at cut `end`
};

// Labels of one cut, grouped by state.
struct Labels {
  std::vector<double> value;
  std::vector<std::int64_t> cost;  // dims per label
  std::vector<int> parent;         // label of the cut before
  std::vector<int> chosen;         // the new width's index at this segment, or -1
  std::vector<std::size_t> state;
  std::vector<std::size_t> state_begin;  // per state, into the labels; states + 1 entries
};

// A label of the cut being labelled, before the Pareto fronts per state.
struct Candidate {
  std::size_t state;
  double value;
  std::size_t cost;  // offset into the candidates' costs
  int parent, chosen;
};

}  // namespace

// The storage of a solve that grows with the cuts' states, kept from one solve to the next.
struct GraphWorkspace {
  Relaxation best, trial;
  std::vector<Relaxation> envelope, spare;  // the label search's relaxations; storage of earlier ones
  std::vector<std::vector<std::vector<double>>> min_to_go;
  std::vector<std::vector<int>> arg;
  std::vector<Labels> labels;  // per cut between segments
  std::vector<Candidate> candidates;
  std::vector<std::int64_t> candidate_cost;
  std::vector<std::size_t> order, bucket_begin, bucket_fill;
  ParetoFront front;
};

void GraphWorkspaceDeleter::operator()(GraphWorkspace* workspace) const { delete workspace; }

GraphWorkspacePtr make_graph_workspace() { return GraphWorkspacePtr(new GraphWorkspace); }

namespace {

struct Budget {
  std::size_t resource = 0;
  double capacity = 0.0;
  std::int64_t limit = 0;
};

class GraphLevelSolver {
 public:
  GraphLevelSolver(const GraphModel& model, const LevelConstraints& constraints, const Deadline& deadline,
                   const LevelProgress& progress, GraphWorkspace& space)
      : model_(model),
        constraints_(constraints),
        deadline_(deadline),
        progress_(progress),
        space_(space),
        min_to_go_(space.min_to_go),
        best_(space.best),
        envelope_(space.envelope),
        arg_(space.arg) {
    for (Relaxation& relaxation : envelope_) space_.spare.push_back(std::move(relaxation));
    envelope_.clear();
  }

  LevelOutcome solve();

 private:
  bool build();
  // Slot indices of state `state` of the cut before step `s` and new width index `n`.
  std::array<std::size_t, 3> slot_indices(std::size_t s, std::size_t state, std::size_t n) const {
    const Cut& before = cuts_[s];
    std::array<std::size_t, 3> index{state / before.size[1], state % before.size[1], 0};
    if (steps_[s].introduces) index[steps_[s].slots - 1] = n;
    return index;
  }
  std::size_t after_state(std::size_t s, const std::array<std::size_t, 3>& index) const {
    const Cut& after = cuts_[s + 1];
    const Step& step = steps_[s];
    std::size_t state = 0;
    if (after.count >= 1) state = index[step.after_slot[0]];
    if (after.count == 2) state = state * after.size[1] + index[step.after_slot[1]];
    return state;
  }
  std::int64_t slot_width(std::size_t s, int slot, std::size_t index) const {
    return domain_[steps_[s].group[slot]][index];
  }
  std::int64_t edge_cost(std::size_t s, std::size_t resource, const std::array<std::size_t, 3>& index) const;
  bool admissible(std::size_t s, const std::array<std::size_t, 3>& index) const;
  std::size_t new_count(std::size_t s) const {
    return steps_[s].introduces ? domain_[steps_[s].group[steps_[s].slots - 1]].size() : 1;
  }
  // Backward pass: to_go per cut that starts a segment (and the last) of the best of
  // value_weight * value - prices . cost to the end, and `arg` at the segments' first steps.
  void relax(const std::vector<double>& prices, double value_weight, std::vector<std::vector<double>>& to_go,
             std::vector<std::vector<int>>& arg) const;
  // The weights of step s's slots (weights_), and its constant and product weights.
  void step_weights(std::size_t s, const std::vector<double>& prices, double value_weight, double& constant,
                    double& product) const;
  void backward_step(std::size_t s, const std::vector<double>& prices, double value_weight,
                     const std::vector<double>& next, std::vector<double>& out, std::vector<int>& arg) const;
  void backward_run(const Segment& run, const std::vector<double>& prices, double value_weight,
                    const std::vector<double>& next, std::vector<double>& out, std::vector<int>& arg) const;
  // The cost of a run's layers for `resource` at width indices (a of u, n of v).
  std::int64_t run_cost(const Segment& run, std::size_t resource, std::size_t a, std::size_t n) const;
  void filtered_envelope(std::size_t s, std::array<std::size_t, 3> index, int query, double* row,
                         int* row_arg) const;
  void find_segments();
  void relax_into(const std::vector<double>& lambda, Relaxation& relaxation);
  bool consider(const std::vector<std::int64_t>& widths);
  void improve(const std::vector<std::int64_t>& widths);
  void search_multipliers();
  void line_search(std::size_t b);
  friend class MultiplierSearch<GraphLevelSolver>;
  bool usable(const Relaxation& relaxation) const {
    return !relaxation.path.empty() && std::isfinite(relaxation.dual);
  }
  void share(const Relaxation&) const {}  // no pool of tangents across residual levels
  Relaxation& best_relaxation() { return best_; }
  Relaxation& trial_relaxation() { return space_.trial; }
  void build_envelope();
  enum class SearchEnd { finished, deadline, capped };
  SearchEnd label_search(double threshold, std::size_t labels_per_node_cap = 0);
  double tolerance() const;
  LevelOutcome finish(LevelOutcome::Kind kind) const;

  const GraphModel& model_;
  const LevelConstraints& constraints_;
  const Deadline& deadline_;
  const LevelProgress& progress_;

  std::vector<std::vector<std::int64_t>> domain_;  // per group: admissible widths, ascending
  std::vector<Cut> cuts_;                          // cuts_[i]: the cut before layer i; one more at the end
  std::vector<Step> steps_;                        // per layer
  std::vector<Segment> segments_;                  // the steps in order, runs collapsed
  std::vector<std::vector<std::size_t>> layers_of_group_;  // per group: the layers whose costs depend on it
  std::vector<Budget> budgets_;
  std::vector<std::size_t> limited_max_;
  double pinned_value_ = 0.0;  // the pinned groups' value, in every plan
  GraphWorkspace& space_;
  std::vector<std::vector<std::vector<double>>>& min_to_go_;  // per budget, cut, state
  std::vector<double> lambda_;
  std::vector<double> trial_lambda_, scaled_, slack_;  // the multiplier search's scratch, per budget
  Relaxation& best_;
  std::vector<Relaxation>& envelope_;
  std::vector<std::vector<int>>& arg_;
  const std::vector<double> zero_weight_ = std::vector<double>(1, 0.0);
  mutable std::vector<double> weights_[3], line_value_, line_slope_, query_value_, table_, run_u_, run_v_;
  mutable std::vector<int> query_arg_, table_arg_;
  mutable std::vector<std::size_t> line_order_, line_admits_;
  mutable MaxLineSet line_set_;
  mutable std::vector<std::int64_t> query_points_;
  mutable EnvelopeScratch scratch_;
  double upper_bound_ = std::numeric_limits<double>::infinity();
  double incumbent_value_ = kMinus;
  std::vector<std::int64_t> incumbent_;
};

bool GraphLevelSolver::build() {
  const std::size_t layers = model_.layer_costs.size();
  const std::size_t groups = model_.groups.size();
  for (std::size_t r = 0; r < model_.resources.size(); ++r) {
    if (constraints_.limit[r] == kCostInfinity) continue;
    if (model_.resources[r].aggregation == Aggregation::max) {
      limited_max_.push_back(r);
    } else {
      budgets_.push_back({r, static_cast<double>(constraints_.limit[r]), constraints_.limit[r]});
    }
  }
  domain_.resize(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    const GraphGroup& group = model_.groups[g];
    if (group.pinned) {
      domain_[g] = {group.units};
      pinned_value_ += group.value[group.units];
      continue;
    }
    for (std::int64_t k : group.widths) {
      if (k >= constraints_.min_width[g] && k <= constraints_.max_width[g]) domain_[g].push_back(k);
    }
    if (domain_[g].empty()) return false;
  }
  layers_of_group_.assign(groups, {});
  for (std::size_t i = 0; i < layers; ++i) {
    for (const LayerCost& cost : model_.layer_costs[i]) {
      const auto add = [&](std::size_t g) {
        if (g == LayerCost::kNone) return;
        std::vector<std::size_t>& of_group = layers_of_group_[g];
        if (of_group.empty() || of_group.back() != i) of_group.push_back(i);
      };
      for (const LayerCost::Unary& unary : cost.unary) add(unary.group);
      add(cost.p);
      add(cost.q);
    }
  }
  cuts_.assign(layers + 1, Cut{});
  for (std::size_t i = 0; i < layers; ++i) {
    Cut& cut = cuts_[i + 1];
    const std::vector<std::size_t>& open = model_.open_after[i];
    cut.count = open.size();
    for (std::size_t v = 0; v < open.size(); ++v) {
      cut.var[v] = open[v];
      cut.size[v] = domain_[open[v]].size();
    }
    cut.states = cut.size[0] * cut.size[1];
  }
  steps_.assign(layers, Step{});
  for (std::size_t i = 0; i < layers; ++i) {
    Step& step = steps_[i];
    const Cut& before = cuts_[i];
    for (std::size_t v = 0; v < before.count; ++v) step.group[step.slots++] = before.var[v];
    const std::size_t own = model_.group_of_layer[i];
    if (!model_.groups[own].pinned && model_.groups[own].layers.front() == i) {
      step.introduces = true;
      step.group[step.slots++] = own;
    }
    const auto slot_of = [&](std::size_t group) {
      for (std::size_t slot = 0; slot < step.slots; ++slot) {
        if (step.group[slot] == group) return static_cast<int>(slot);
      }
      return -1;
    };
    const Cut& after = cuts_[i + 1];
    for (std::size_t v = 0; v < after.count; ++v) step.after_slot[v] = slot_of(after.var[v]);
    step.cost.resize(model_.resources.size());
    for (std::size_t r = 0; r < model_.resources.size(); ++r) {
      const LayerCost& layer = model_.layer_costs[i][r];
      StepCost& cost = step.cost[r];
      cost.constant = layer.constant;
      for (const LayerCost::Unary& unary : layer.unary) {
        const int slot = slot_of(unary.group);
        for (std::int64_t k : domain_[unary.group]) cost.unary[slot].push_back(unary.cost[k]);
      }
      if (layer.p != LayerCost::kNone) {
        cost.coupling = layer.coupling;
        step.p = slot_of(layer.p);
        step.q = slot_of(layer.q);
      }
    }
    // A limited max resource filters edges unless even the dearest edge of the step fits.
    for (const std::size_t r : limited_max_) {
      const StepCost& cost = step.cost[r];
      std::int64_t dearest = cost.constant;
      for (std::size_t slot = 0; slot < step.slots; ++slot) {
        if (!cost.unary[slot].empty()) {
          dearest =
              saturating_add(dearest, *std::max_element(cost.unary[slot].begin(), cost.unary[slot].end()));
        }
      }
      if (cost.coupling != 0) {
        dearest = saturating_add(
            dearest, saturating_mul(saturating_mul(cost.coupling, domain_[step.group[step.p]].back()),
                                    domain_[step.group[step.q]].back()));
      }
      if (dearest > constraints_.limit[r]) step.filtered = true;
    }
  }
  return true;
}

std::int64_t GraphLevelSolver::edge_cost(std::size_t s, std::size_t resource,
                                         const std::array<std::size_t, 3>& index) const {
  const Step& step = steps_[s];
  const StepCost& cost = step.cost[resource];
  std::int64_t total = cost.constant;
  for (std::size_t slot = 0; slot < step.slots; ++slot) {
    if (!cost.unary[slot].empty()) total = saturating_add(total, cost.unary[slot][index[slot]]);
  }
  if (cost.coupling != 0) {
    total = saturating_add(total,
                           saturating_mul(saturating_mul(cost.coupling, slot_width(s, step.p, index[step.p])),
                                          slot_width(s, step.q, index[step.q])));
  }
  return total;
}

bool GraphLevelSolver::admissible(std::size_t s, const std::array<std::size_t, 3>& index) const {
  if (!steps_[s].filtered) return true;
  for (const std::size_t r : limited_max_) {
    if (edge_cost(s, r, index) > constraints_.limit[r]) return false;
  }
  return true;
}

// Per slot, the weight of its width (value when the slot is the new variable, minus priced unary costs).
void GraphLevelSolver::step_weights(std::size_t s, const std::vector<double>& prices, double value_weight,
                                    double& constant, double& product) const {
  const Step& step = steps_[s];
  constant = 0.0;
  product = 0.0;
  for (std::size_t slot = 0; slot < step.slots; ++slot) {
    std::vector<double>& weight = weights_[slot];
    const std::vector<std::int64_t>& widths = domain_[step.group[slot]];
    weight.assign(widths.size(), 0.0);
    if (step.introduces && slot + 1 == step.slots && value_weight != 0.0) {
      const std::vector<double>& value = model_.groups[step.group[slot]].value;
      for (std::size_t n = 0; n < widths.size(); ++n) weight[n] = value_weight * value[widths[n]];
    }
  }
  for (std::size_t t = 0; t < budgets_.size(); ++t) {
    const double price = prices[t];
    if (price == 0.0) continue;
    const StepCost& cost = step.cost[budgets_[t].resource];
    constant -= price * static_cast<double>(cost.constant);
    product += price * static_cast<double>(cost.coupling);
    for (std::size_t slot = 0; slot < step.slots; ++slot) {
      const std::vector<std::int64_t>& unary = cost.unary[slot];
      std::vector<double>& weight = weights_[slot];
      for (std::size_t n = 0; n < unary.size(); ++n) weight[n] -= price * static_cast<double>(unary[n]);
    }
  }
}

// One row of a filtered step's table: per width index j of slot `query` (or the single entry without one),
// the best line admitted there and its new width index; index holds the key's kept slots.
void GraphLevelSolver::filtered_envelope(std::size_t s, std::array<std::size_t, 3> index, int query,
                                         double* row, int* row_arg) const {
  const int last = static_cast<int>(steps_[s].slots) - 1;
  const std::size_t widths = line_value_.size();
  if (query < 0) {
    for (std::size_t n = 0; n < widths; ++n) {
      index[last] = n;
      if (line_value_[n] > row[0] && admissible(s, index)) {
        row[0] = line_value_[n];
        row_arg[0] = static_cast<int>(n);
      }
    }
    return;
  }
  // Per new width: how many of the query slot's widths it admits (a prefix, found by bisection).
  const std::vector<std::int64_t>& points = domain_[steps_[s].group[query]];
  line_order_.clear();
  line_admits_.resize(widths);
  for (std::size_t n = 0; n < widths; ++n) {
    if (line_value_[n] == kMinus) continue;
    index[last] = n;
    std::size_t admitted = 0, beyond = points.size();
    while (admitted < beyond) {
      const std::size_t middle = admitted + (beyond - admitted) / 2;
      index[query] = middle;
      if (admissible(s, index)) {
        admitted = middle + 1;
      } else {
        beyond = middle;
      }
    }
    if (admitted == 0) continue;
    line_admits_[n] = admitted;
    line_order_.push_back(n);
  }
  std::stable_sort(line_order_.begin(), line_order_.end(),
                   [&](std::size_t a, std::size_t b) { return line_admits_[a] > line_admits_[b]; });
  line_set_.reset(points);
  std::size_t inserted = 0;
  for (std::size_t j = points.size(); j-- > 0;) {
    for (; inserted < line_order_.size() && line_admits_[line_order_[inserted]] > j; ++inserted) {
      const std::size_t n = line_order_[inserted];
      line_set_.insert(line_slope_[n], line_value_[n], static_cast<int>(n));
    }
    const auto [best, id] = line_set_.query(j);
    if (id < 0) continue;
    row[j] = best;
    row_arg[j] = id;
  }
}

// out[u] = max over the run's paths from u of their weight + next[the state at cut `end`]: the costs of the
// run's layers sum to C + U(k_u) + A(k_v) - B k_u k_v, B >= 0 (prices and couplings are), so the best k_v
// per k_u is the upper envelope of the lines A(k_v) - B k_v x at x = k_u.
void GraphLevelSolver::backward_run(const Segment& run, const std::vector<double>& prices,
                                    double value_weight, const std::vector<double>& next,
                                    std::vector<double>& out, std::vector<int>& arg) const {
  const std::vector<std::int64_t>& v_widths = domain_[run.v];
  const std::size_t u_count = run.u == kNoGroup ? 1 : domain_[run.u].size();
  run_u_.assign(u_count, 0.0);
  run_v_.assign(v_widths.size(), 0.0);
  double constant = 0.0, product = 0.0;
  for (std::size_t s = run.first; s < run.end; ++s) {
    double step_constant = 0.0, step_product = 0.0;
    step_weights(s, prices, value_weight, step_constant, step_product);
    constant += step_constant;
    if (steps_[s].p >= 0) product += step_product;
    for (std::size_t slot = 0; slot < steps_[s].slots; ++slot) {
      std::vector<double>& total = steps_[s].group[slot] == run.v ? run_v_ : run_u_;
      const std::vector<double>& weight = weights_[slot];
      for (std::size_t n = 0; n < weight.size(); ++n) total[n] += weight[n];
    }
  }
  out.assign(u_count, kMinus);
  arg.assign(u_count, -1);
  const auto answer = [&](std::size_t a, double best, int best_arg) {
    const double to_go = next[run.keeps_u ? a : 0];
    if (to_go == kMinus || best_arg < 0) return;
    out[a] = constant + run_u_[a] + best + to_go;
    arg[a] = best_arg;
  };
  if (run.u == kNoGroup || product == 0.0) {
    const auto best = std::max_element(run_v_.begin(), run_v_.end());
    for (std::size_t a = 0; a < u_count; ++a) answer(a, *best, static_cast<int>(best - run_v_.begin()));
    return;
  }
  const std::vector<std::int64_t>& u_widths = domain_[run.u];
  line_slope_.resize(v_widths.size());
  for (std::size_t n = 0; n < v_widths.size(); ++n)
    line_slope_[n] = -product * static_cast<double>(v_widths[n]);
  if (sorted_upper_envelope(line_slope_, run_v_, u_widths, query_value_, query_arg_, scratch_)) {
    for (std::size_t a = 0; a < u_count; ++a) answer(a, query_value_[a], query_arg_[a]);
    return;
  }
  for (std::size_t a = 0; a < u_count; ++a) {
    double best = kMinus;
    int best_arg = -1;
    for (std::size_t n = 0; n < v_widths.size(); ++n) {
      const double value = run_v_[n] + line_slope_[n] * static_cast<double>(u_widths[a]);
      if (best_arg < 0 || value > best) {
        best = value;
        best_arg = static_cast<int>(n);
      }
    }
    answer(a, best, best_arg);
  }
}

std::int64_t GraphLevelSolver::run_cost(const Segment& run, std::size_t resource, std::size_t a,
                                        std::size_t n) const {
  std::int64_t total = 0;
  for (std::size_t s = run.first; s < run.end; ++s) {
    std::array<std::size_t, 3> index{0, 0, 0};
    for (std::size_t slot = 0; slot < steps_[s].slots; ++slot)
      index[slot] = steps_[s].group[slot] == run.v ? n : a;
    total = saturating_add(total, edge_cost(s, resource, index));
  }
  return total;
}

void GraphLevelSolver::find_segments() {
  segments_.clear();
  const std::size_t layers = steps_.size();
  const auto opens = [&](const Cut& cut, std::size_t group) {
    return group != kNoGroup && (cut.var[0] == group || cut.var[1] == group);
  };
  for (std::size_t i = 0; i < layers;) {
    Segment segment;
    segment.first = i;
    segment.end = i + 1;
    const Step& step = steps_[i];
    if (step.introduces && !step.filtered && cuts_[i].count <= 1) {
      const std::size_t u = cuts_[i].count == 1 ? cuts_[i].var[0] : kNoGroup;
      const std::size_t v = step.group[step.slots - 1];
      const std::size_t width = u == kNoGroup ? 1 : 2;
      std::size_t j = i + 1;
      bool run = true;
      for (; run && opens(cuts_[j], v); ++j) {
        run = cuts_[j].count == width && (u == kNoGroup || opens(cuts_[j], u)) && !steps_[j].introduces &&
              !steps_[j].filtered;
      }
      run = run && cuts_[j].count <= (u == kNoGroup ? 0 : 1) && (cuts_[j].count == 0 || opens(cuts_[j], u));
      if (run) {
        segment.end = j;
        segment.run = true;
        segment.u = u;
        segment.v = v;
        segment.keeps_u = cuts_[j].count == 1;
      }
    }
    segments_.push_back(segment);
    i = segment.end;
  }
}

// out[state] = max over the step's edges from `state` of (edge weight + next[after state]), where an edge's
// weight is value_weight * (the new variable's value) - prices . (the layer's costs under the budgets).
void GraphLevelSolver::backward_step(std::size_t s, const std::vector<double>& prices, double value_weight,
                                     const std::vector<double>& next, std::vector<double>& out,
                                     std::vector<int>& arg) const {
  const Step& step = steps_[s];
  const Cut& before = cuts_[s];
  double constant = 0.0, product = 0.0;
  step_weights(s, prices, value_weight, constant, product);
  out.assign(before.states, kMinus);
  arg.assign(before.states, -1);
  const std::size_t before_slots = step.slots - (step.introduces ? 1 : 0);
  const auto base_of = [&](const std::array<std::size_t, 3>& index) {
    double base = constant;
    for (std::size_t slot = 0; slot < before_slots; ++slot) base += weights_[slot][index[slot]];
    return base;
  };
  const auto product_of = [&](const std::array<std::size_t, 3>& index) {
    if (product == 0.0 || step.p < 0) return 0.0;
    return product * static_cast<double>(slot_width(s, step.p, index[step.p])) *
           static_cast<double>(slot_width(s, step.q, index[step.q]));
  };
  // The before slots' weights, a single zero for a slot the cut lacks: states in order, without dividing.
  const std::vector<double>& first_weight = before.count >= 1 ? weights_[0] : zero_weight_;
  const std::vector<double>& second_weight = before.count == 2 ? weights_[1] : zero_weight_;
  const std::size_t widths = new_count(s);
  if (!step.introduces) {
    // One edge per state.
    const bool paired = product != 0.0 && step.p >= 0;
    std::array<std::size_t, 3> index{0, 0, 0};
    std::size_t state = 0;
    for (std::size_t i0 = 0; i0 < before.size[0]; ++i0) {
      index[0] = i0;
      for (std::size_t i1 = 0; i1 < before.size[1]; ++i1, ++state) {
        index[1] = i1;
        const double to_go = next[after_state(s, index)];
        if (to_go == kMinus || (step.filtered && !admissible(s, index))) continue;
        double weight = constant + first_weight[i0] + second_weight[i1] + to_go;
        if (paired) {
          weight -= product * static_cast<double>(slot_width(s, step.p, index[step.p])) *
                    static_cast<double>(slot_width(s, step.q, index[step.q]));
        }
        out[state] = weight;
        arg[state] = 0;
      }
    }
    return;
  }
  // The step introduces slot `last`. The best new width depends on a before state only through its kept
  // slots (K) and the slot it drops (Q) if any: per assignment of K the new widths are lines in Q's width
  // (of slope 0 unless the product pairs the new width with Q), whose upper envelope answers every width of
  // Q at once. Where a max resource forbids edges, the widths of Q a new width admits form a prefix (a
  // layer's cost grows with the widths it reads and holds: coefficients are non-negative), and the
  // envelope is swept over Q's widths from the widest down, each line inserted once Q's width is within its
  // prefix.
  const int last = static_cast<int>(step.slots) - 1;
  std::array<int, 2> kept{-1, -1};
  std::size_t kept_count = 0, dropped_count = 0;
  int dropped = -1;
  for (int slot = 0; slot < static_cast<int>(before_slots); ++slot) {
    const bool stays = step.after_slot[0] == slot || step.after_slot[1] == slot;
    if (stays) {
      kept[kept_count++] = slot;
    } else {
      dropped = slot;
      ++dropped_count;
    }
  }
  if (step.filtered && dropped_count > 1) {
    for (std::size_t state = 0; state < before.states; ++state) {
      for (std::size_t n = 0; n < widths; ++n) {
        const std::array<std::size_t, 3> index = slot_indices(s, state, n);
        const double to_go = next[after_state(s, index)];
        if (to_go == kMinus || !admissible(s, index)) continue;
        const double weight = base_of(index) + (step.introduces ? weights_[step.slots - 1][n] : 0.0) -
                              product_of(index) + to_go;
        if (weight > out[state]) {
          out[state] = weight;
          arg[state] = static_cast<int>(n);
        }
      }
    }
    return;
  }
  const bool paired = product != 0.0 && step.p >= 0;
  const int partner = paired ? (step.p == last ? step.q : step.p) : -1;
  // Without a filter, a dropped slot that is not the partner only adds its own weight (base): no query.
  int query = -1;
  if (step.filtered) {
    query = dropped;
  } else if (paired && partner != kept[0] && partner != kept[1]) {
    query = partner;
  }
  const bool sloped = paired && partner == query;
  std::array<std::size_t, 2> kept_size{1, 1};
  for (std::size_t k = 0; k < kept_count; ++k) kept_size[k] = domain_[step.group[kept[k]]].size();
  const std::size_t query_size = query >= 0 ? domain_[step.group[query]].size() : 1;
  const std::size_t keys = kept_size[0] * kept_size[1];
  table_.assign(keys * query_size, kMinus);
  table_arg_.assign(keys * query_size, -1);
  const std::vector<std::int64_t>& new_widths = domain_[step.group[last]];
  const std::vector<double>& new_weight = weights_[last];
  line_value_.resize(widths);
  line_slope_.resize(widths);
  for (std::size_t key = 0; key < keys; ++key) {
    std::array<std::size_t, 3> index{0, 0, 0};
    if (kept_count >= 1) index[kept[0]] = key / kept_size[1];
    if (kept_count == 2) index[kept[1]] = key % kept_size[1];
    // The partner's width when it is kept: a constant of this key.
    const double kept_partner =
        paired && !sloped ? static_cast<double>(slot_width(s, partner, index[partner])) : 0.0;
    for (std::size_t n = 0; n < widths; ++n) {
      index[last] = n;
      const double to_go = next[after_state(s, index)];
      const double slope = paired ? -product * static_cast<double>(new_widths[n]) : 0.0;
      line_slope_[n] = sloped ? slope : 0.0;
      line_value_[n] = to_go == kMinus ? kMinus : new_weight[n] + to_go + slope * kept_partner;
    }
    double* const row = &table_[key * query_size];
    int* const row_arg = &table_arg_[key * query_size];
    if (step.filtered) {
      filtered_envelope(s, index, query, row, row_arg);
      continue;
    }
    if (query < 0) {
      for (std::size_t n = 0; n < widths; ++n) {
        if (line_value_[n] > row[0]) {
          row[0] = line_value_[n];
          row_arg[0] = static_cast<int>(n);
        }
      }
      continue;
    }
    const std::vector<std::int64_t>& points = domain_[step.group[query]];
    if (sorted_upper_envelope(line_slope_, line_value_, points, query_value_, query_arg_, scratch_)) {
      std::copy(query_value_.begin(), query_value_.end(), row);
      std::copy(query_arg_.begin(), query_arg_.end(), row_arg);
      continue;
    }
    for (std::size_t j = 0; j < points.size(); ++j) {
      for (std::size_t n = 0; n < widths; ++n) {
        if (line_value_[n] == kMinus) continue;
        const double value = line_value_[n] + line_slope_[n] * static_cast<double>(points[j]);
        if (value > row[j]) {
          row[j] = value;
          row_arg[j] = static_cast<int>(n);
        }
      }
    }
  }
  std::array<std::size_t, 3> index{0, 0, 0};
  std::size_t state = 0;
  for (std::size_t i0 = 0; i0 < before.size[0]; ++i0) {
    index[0] = i0;
    for (std::size_t i1 = 0; i1 < before.size[1]; ++i1, ++state) {
      index[1] = i1;
      std::size_t key = 0;
      if (kept_count >= 1) key = index[kept[0]];
      if (kept_count == 2) key = key * kept_size[1] + index[kept[1]];
      const std::size_t cell = key * query_size + (query >= 0 ? index[query] : 0);
      if (table_arg_[cell] < 0) continue;
      out[state] = constant + first_weight[i0] + second_weight[i1] + table_[cell];
      arg[state] = table_arg_[cell];
    }
  }
}

void GraphLevelSolver::relax(const std::vector<double>& prices, double value_weight,
                             std::vector<std::vector<double>>& to_go,
                             std::vector<std::vector<int>>& arg) const {
  const std::size_t layers = steps_.size();
  to_go.resize(layers + 1);
  arg.resize(layers);
  to_go[layers].assign(1, 0.0);
  for (std::size_t k = segments_.size(); k-- > 0;) {
    const Segment& segment = segments_[k];
    if (segment.run) {
      backward_run(segment, prices, value_weight, to_go[segment.end], to_go[segment.first],
                   arg[segment.first]);
    } else {
      backward_step(segment.first, prices, value_weight, to_go[segment.end], to_go[segment.first],
                    arg[segment.first]);
    }
  }
}

void GraphLevelSolver::relax_into(const std::vector<double>& lambda, Relaxation& relaxation) {
  relaxation.lambda = lambda;
  relax(lambda, 1.0, relaxation.to_go, arg_);
  double dual = relaxation.to_go[0][0] + pinned_value_;
  for (std::size_t t = 0; t < budgets_.size(); ++t) dual += lambda[t] * budgets_[t].capacity;
  relaxation.dual = dual;
  relaxation.path.clear();
  if (relaxation.to_go[0][0] == kMinus) return;
  std::vector<std::int64_t> path(model_.groups.size());
  for (std::size_t g = 0; g < path.size(); ++g) path[g] = model_.groups[g].units;
  std::size_t state = 0;
  for (const Segment& segment : segments_) {
    const std::size_t s = segment.first;
    const int n = arg_[s][state];
    if (n < 0) return;
    if (segment.run) {
      path[segment.v] = domain_[segment.v][static_cast<std::size_t>(n)];
      if (!segment.keeps_u) state = 0;
      continue;
    }
    const std::array<std::size_t, 3> index = slot_indices(s, state, static_cast<std::size_t>(n));
    if (steps_[s].introduces)
      path[steps_[s].group[steps_[s].slots - 1]] =
          slot_width(s, static_cast<int>(steps_[s].slots) - 1, index[steps_[s].slots - 1]);
    state = after_state(s, index);
  }
  relaxation.path = std::move(path);
}

bool GraphLevelSolver::consider(const std::vector<std::int64_t>& widths) {
  if (widths.size() != model_.groups.size()) return false;
  for (std::size_t g = 0; g < widths.size(); ++g) {
    if (!std::binary_search(domain_[g].begin(), domain_[g].end(), widths[g])) return false;
  }
  for (std::size_t r = 0; r < model_.resources.size(); ++r) {
    if (constraints_.limit[r] != kCostInfinity && model_.cost_of(widths, r) > constraints_.limit[r])
      return false;
  }
  const double value = model_.value_of(widths);
  if (value > incumbent_value_) {
    incumbent_value_ = value;
    incumbent_ = widths;
    if (progress_) progress_(incumbent_value_, upper_bound_);
  }
  return true;
}

// Repair (narrow the variable that sheds the most excess per importance lost) and improve (widen one
// variable, or widen one and narrow another) a plan, one admissible width at a time.
void GraphLevelSolver::improve(const std::vector<std::int64_t>& start) {
  if (start.size() != model_.groups.size()) return;
  std::vector<std::size_t> index(start.size());
  std::vector<std::size_t> movable;
  for (std::size_t g = 0; g < start.size(); ++g) {
    const auto found = std::lower_bound(domain_[g].begin(), domain_[g].end(), start[g]);
    if (found == domain_[g].end()) return;
    index[g] = static_cast<std::size_t>(found - domain_[g].begin());
    if (domain_[g].size() > 1) movable.push_back(g);
  }
  std::vector<std::int64_t> widths(start.size());
  // Per limited resource and layer, the cost at the walk's current widths (`base`): a move changes one or
  // two groups, and only the layers whose cost depends on them are evaluated again.
  std::vector<std::size_t> limited;
  for (std::size_t r = 0; r < model_.resources.size(); ++r) {
    if (constraints_.limit[r] != kCostInfinity) limited.push_back(r);
  }
  const std::size_t layer_count = model_.layer_costs.size();
  std::vector<std::int64_t> base_widths;
  std::vector<std::vector<std::int64_t>> base_cost(limited.size(), std::vector<std::int64_t>(layer_count));
  std::vector<std::int64_t> base_total(limited.size());
  std::vector<std::size_t> stamp(layer_count, 0), affected;
  std::size_t evaluation = 0;
  const auto evaluate = [&](double& value, double& excess, bool rebase) {
    for (std::size_t g = 0; g < widths.size(); ++g) widths[g] = domain_[g][index[g]];
    value = model_.value_of(widths);
    excess = 0.0;
    ++evaluation;
    affected.clear();
    if (!rebase) {
      for (std::size_t g = 0; g < widths.size(); ++g) {
        if (widths[g] == base_widths[g]) continue;
        for (const std::size_t layer : layers_of_group_[g]) {
          if (stamp[layer] == evaluation) continue;
          stamp[layer] = evaluation;
          affected.push_back(layer);
        }
      }
    }
    for (std::size_t i = 0; i < limited.size(); ++i) {
      const std::size_t r = limited[i];
      const bool sum = model_.resources[r].aggregation == Aggregation::sum;
      std::int64_t cost = 0;
      if (rebase) {
        for (std::size_t layer = 0; layer < layer_count; ++layer) {
          base_cost[i][layer] = model_.layer_costs[layer][r].at(widths);
          cost = sum ? saturating_add(cost, base_cost[i][layer]) : std::max(cost, base_cost[i][layer]);
        }
        base_total[i] = cost;
      } else if (sum) {
        // Saturated totals are recomputed whole: a difference of saturated sums is not the change.
        cost = base_total[i];
        for (const std::size_t layer : affected) {
          const std::int64_t now = model_.layer_costs[layer][r].at(widths);
          cost = saturating_add(cost - base_cost[i][layer], now);
        }
        if (base_total[i] >= kCostInfinity || cost >= kCostInfinity) cost = model_.cost_of(widths, r);
      } else {
        for (std::size_t layer = 0; layer < layer_count; ++layer) {
          const std::int64_t at =
              stamp[layer] == evaluation ? model_.layer_costs[layer][r].at(widths) : base_cost[i][layer];
          cost = std::max(cost, at);
        }
      }
      const std::int64_t limit = constraints_.limit[r];
      if (cost > limit)
        excess += static_cast<double>(cost - limit) / std::max(1.0, static_cast<double>(limit));
    }
    if (rebase) base_widths = widths;
  };
  double value = 0.0, excess = 0.0;
  evaluate(value, excess, true);
  while (excess > 0.0) {
    double best_ratio = -1.0;
    std::size_t best = kNoGroup;
    for (std::size_t g : movable) {
      if (index[g] == 0) continue;
      --index[g];
      double moved_value = 0.0, moved_excess = 0.0;
      evaluate(moved_value, moved_excess, false);
      ++index[g];
      const double shed = excess - moved_excess;
      const double ratio = shed / (value - moved_value + 1e-300);
      if (shed > 0.0 && ratio > best_ratio) {
        best_ratio = ratio;
        best = g;
      }
    }
    if (best == kNoGroup) return;
    --index[best];
    evaluate(value, excess, true);
  }
  // Each evaluation costs a pass over the layers: bound the walk.
  std::size_t evaluations = 0;
  const std::size_t budget = 20000;
  for (bool moved = true; moved && evaluations < budget && !deadline_.passed();) {
    moved = false;
    double best_value = value;
    std::size_t best_up = kNoGroup, best_down = kNoGroup;
    for (std::size_t up : movable) {
      if (index[up] + 1 >= domain_[up].size()) continue;
      ++index[up];
      for (std::size_t d = 0; d <= movable.size(); ++d) {
        const std::size_t down = d < movable.size() ? movable[d] : kNoGroup;
        if (down == up || (down != kNoGroup && index[down] == 0)) continue;
        if (down != kNoGroup) --index[down];
        double moved_value = 0.0, moved_excess = 0.0;
        evaluate(moved_value, moved_excess, false);
        ++evaluations;
        if (down != kNoGroup) ++index[down];
        if (moved_excess == 0.0 && moved_value > best_value) {
          best_value = moved_value;
          best_up = up;
          best_down = down;
        }
      }
      --index[up];
    }
    if (best_up == kNoGroup) break;
    ++index[best_up];
    if (best_down != kNoGroup) --index[best_down];
    evaluate(value, excess, true);
    moved = true;
  }
  for (std::size_t g = 0; g < widths.size(); ++g) widths[g] = domain_[g][index[g]];
  consider(widths);
}

// A bound that is not finite counts as none.
double GraphLevelSolver::tolerance() const {
  const double bound = std::isfinite(upper_bound_) ? std::abs(upper_bound_) : 0.0;
  return bound_tolerance(bound, budgets_, lambda_, envelope_, incumbent_value_);
}

// Minimises the dual along price b, bracketing its minimum by halving and quartering steps from the
// current price.
void GraphLevelSolver::line_search(std::size_t b) {
  using Search = MultiplierSearch<GraphLevelSolver>;
  const auto evaluate = [&](double t) { return Search::evaluate(*this, b, t); };
  if (best_.path.empty()) return;
  const DualPoint current = Search::point_of(*this, b, best_);
  DualPoint left = current, right = current;
  if (current.slope >= 0.0) {
    if (current.lambda == 0.0) return;
    for (double t = current.lambda / 2.0;; t /= 4.0) {
      if (t < current.lambda * 1e-12) t = 0.0;
      const std::optional<DualPoint> point = evaluate(t);
      if (!point) return;
      left = *point;
      if (left.slope < 0.0) break;
      if (t == 0.0 || deadline_.passed()) return;
      right = left;
    }
  } else {
    const double used = budgets_[b].capacity - current.slope;
    double t = current.lambda > 0.0 ? current.lambda * 2.0 : std::max(std::abs(current.dual) / used, 1e-300);
    for (int attempt = 0;; ++attempt) {
      const std::optional<DualPoint> point = evaluate(t);
      if (!point) return;
      right = *point;
      if (right.slope >= 0.0) break;
      left = right;
      if (attempt == 200 || deadline_.passed()) return;
      t *= 4.0;
    }
  }
  Search::minimise_between(*this, b, left, right);
}

void GraphLevelSolver::search_multipliers() {
  double importance = 1.0;
  for (const GraphGroup& group : model_.groups) importance += std::abs(group.value[group.units]);
  start_prices(constraints_.start_multipliers, model_.resources.size(), importance, budgets_, lambda_);
  relax_into(lambda_, best_);
  upper_bound_ = best_.dual;
  consider(best_.path);
  if (progress_) progress_(incumbent_value_, upper_bound_);
  if (best_.path.empty()) return;
  for (int round = 0; round < (budgets_.size() > 1 ? 2 : 1); ++round) {
    for (std::size_t b = 0; b < budgets_.size() && !deadline_.passed(); ++b) line_search(b);
  }
  if (budgets_.size() > 1) MultiplierSearch<GraphLevelSolver>::subgradient_search(*this);
}

void GraphLevelSolver::build_envelope() {
  // Every relaxation is in the spare storage (the constructor put them there).
  const auto next_entry = [&]() -> Relaxation& {
    if (space_.spare.empty()) return envelope_.emplace_back();
    envelope_.push_back(std::move(space_.spare.back()));
    space_.spare.pop_back();
    return envelope_.back();
  };
  next_entry() = best_;
  envelope_prices(lambda_, constraints_.wide_envelope, trial_lambda_, [&](const std::vector<double>& lambda) {
    Relaxation& relaxation = next_entry();
    relax_into(lambda, relaxation);
    consider(relaxation.path);
  });
}

GraphLevelSolver::SearchEnd GraphLevelSolver::label_search(double threshold,
                                                           std::size_t labels_per_node_cap) {
  const std::size_t dims = budgets_.size();
  const std::size_t prices = envelope_.size();
  const double need = threshold - tolerance();
  std::vector<double> room(dims), price_of_capacity(prices, 0.0);
  for (std::size_t t = 0; t < dims; ++t) room[t] = budgets_[t].capacity * (1.0 + 1e-12) + 1.0;
  for (std::size_t e = 0; e < prices; ++e) {
    for (std::size_t t = 0; t < dims; ++t)
      price_of_capacity[e] += envelope_[e].lambda[t] * budgets_[t].capacity;
  }
  const std::size_t segments = segments_.size();
  std::vector<Labels>& labels = space_.labels;
  labels.resize(std::max(labels.size(), segments + 1));
  for (std::size_t k = 0; k <= segments; ++k) {
    Labels& at = labels[k];
    at.value.clear();
    at.cost.clear();
    at.parent.clear();
    at.chosen.clear();
    at.state.clear();
  }
  labels[0].value.push_back(pinned_value_);
  labels[0].cost.assign(dims, 0);
  labels[0].parent.push_back(-1);
  labels[0].chosen.push_back(-1);
  labels[0].state.push_back(0);
  labels[0].state_begin = {0, 1};
  std::vector<Candidate>& candidates = space_.candidates;
  std::vector<std::int64_t>& candidate_cost = space_.candidate_cost;
  std::vector<std::int64_t> edge(dims), cost(dims);
  std::vector<double> best_reduced(prices);
  std::vector<std::size_t>& order = space_.order;
  std::vector<std::size_t>& bucket_begin = space_.bucket_begin;
  std::vector<std::size_t>& bucket_fill = space_.bucket_fill;
  ParetoFront& front = space_.front;
  std::size_t nodes_seen = 0, labels_seen = 0;
  for (std::size_t k = 0; k < segments; ++k) {
    if (deadline_.passed()) return SearchEnd::deadline;
    const Segment& segment = segments_[k];
    const std::size_t s = segment.first;
    const Labels& before = labels[k];
    const Cut& after_cut = cuts_[segment.end];
    candidates.clear();
    candidate_cost.clear();
    const std::size_t widths = new_count(s);
    const int last = static_cast<int>(steps_[s].slots) - 1;
    const std::vector<double>* value =
        steps_[s].introduces ? &model_.groups[steps_[s].group[last]].value : nullptr;
    for (std::size_t state = 0; state + 1 < before.state_begin.size(); ++state) {
      const std::size_t first = before.state_begin[state], end = before.state_begin[state + 1];
      if (first == end) continue;
      if ((state & 63) == 63 && deadline_.passed()) return SearchEnd::deadline;
      // The best reduced value of the state's labels under each relaxation: a pair test drops edges none of
      // them can pass.
      for (std::size_t e = 0; e < prices; ++e) {
        double best = kMinus;
        for (std::size_t label = first; label < end; ++label) {
          double reduced = before.value[label];
          for (std::size_t t = 0; t < dims; ++t)
            reduced -= envelope_[e].lambda[t] * static_cast<double>(before.cost[label * dims + t]);
          best = std::max(best, reduced);
        }
        best_reduced[e] = best;
      }
      for (std::size_t n = 0; n < widths; ++n) {
        std::size_t after = 0;
        if (segment.run) {
          after = segment.keeps_u ? state : 0;
          for (std::size_t t = 0; t < dims; ++t) edge[t] = run_cost(segment, budgets_[t].resource, state, n);
        } else {
          const std::array<std::size_t, 3> index = slot_indices(s, state, n);
          if (!admissible(s, index)) continue;
          after = after_state(s, index);
          for (std::size_t t = 0; t < dims; ++t) edge[t] = edge_cost(s, budgets_[t].resource, index);
        }
        const double gain = value ? (*value)[slot_width(s, last, n)] : 0.0;
        bool reachable = true;
        for (std::size_t e = 0; e < prices && reachable; ++e) {
          const double to_go = envelope_[e].to_go[segment.end][after];
          double bound = best_reduced[e] + gain + to_go + price_of_capacity[e];
          for (std::size_t t = 0; t < dims; ++t)
            bound -= envelope_[e].lambda[t] * static_cast<double>(edge[t]);
          reachable = to_go != kMinus && bound >= need;
        }
        if (!reachable) continue;
        for (std::size_t label = first; label < end; ++label) {
          const double label_value = before.value[label] + gain;
          bool survives = true;
          for (std::size_t t = 0; t < dims && survives; ++t) {
            cost[t] = saturating_add(before.cost[label * dims + t], edge[t]);
            survives = cost[t] <= budgets_[t].limit &&
                       static_cast<double>(cost[t]) + min_to_go_[t][segment.end][after] <= room[t];
          }
          for (std::size_t e = 0; e < prices && survives; ++e) {
            double bound = label_value + envelope_[e].to_go[segment.end][after];
            for (std::size_t t = 0; t < dims; ++t)
              bound += envelope_[e].lambda[t] * (budgets_[t].capacity - static_cast<double>(cost[t]));
            survives = bound >= need;
          }
          if (!survives) continue;
          candidates.push_back({after, label_value, candidate_cost.size(), static_cast<int>(label),
                                steps_[s].introduces ? static_cast<int>(n) : -1});
          candidate_cost.insert(candidate_cost.end(), cost.begin(), cost.end());
        }
      }
    }
    // Per state of the after cut: the candidates best first, then the Pareto front. The candidates are
    // bucketed by state (a counting sort) and each bucket sorted on its own: most hold a few.
    bucket_begin.assign(after_cut.states + 1, 0);
    for (const Candidate& candidate : candidates) ++bucket_begin[candidate.state + 1];
    for (std::size_t state = 0; state < after_cut.states; ++state)
      bucket_begin[state + 1] += bucket_begin[state];
    order.resize(candidates.size());
    bucket_fill.assign(bucket_begin.begin(), bucket_begin.end() - 1);
    for (std::size_t c = 0; c < candidates.size(); ++c) order[bucket_fill[candidates[c].state]++] = c;
    const auto better = [&](std::size_t a, std::size_t b) {
      const Candidate& x = candidates[a];
      const Candidate& y = candidates[b];
      if (x.value != y.value) return x.value > y.value;
      for (std::size_t t = 0; t < dims; ++t) {
        if (candidate_cost[x.cost + t] != candidate_cost[y.cost + t])
          return candidate_cost[x.cost + t] < candidate_cost[y.cost + t];
      }
      return a < b;
    };
    for (std::size_t state = 0; state < after_cut.states; ++state) {
      const auto bucket = order.begin() + static_cast<std::ptrdiff_t>(bucket_begin[state]);
      const auto bucket_end = order.begin() + static_cast<std::ptrdiff_t>(bucket_begin[state + 1]);
      if (bucket_end - bucket > 1) std::sort(bucket, bucket_end, better);
    }
    Labels& next = labels[k + 1];
    next.state_begin.assign(after_cut.states + 1, 0);
    std::size_t current = static_cast<std::size_t>(-1);
    for (std::size_t c : order) {
      const Candidate& candidate = candidates[c];
      if (candidate.state != current) {
        current = candidate.state;
        front.begin(dims, next.value.size());
        ++nodes_seen;
      }
      if (front.dominated(&candidate_cost[candidate.cost], next.cost, next.value.size())) continue;
      next.value.push_back(candidate.value);
      next.cost.insert(next.cost.end(), candidate_cost.begin() + static_cast<std::ptrdiff_t>(candidate.cost),
                       candidate_cost.begin() + static_cast<std::ptrdiff_t>(candidate.cost + dims));
      next.parent.push_back(candidate.parent);
      next.chosen.push_back(candidate.chosen);
      next.state.push_back(candidate.state);
      ++next.state_begin[candidate.state + 1];
      ++labels_seen;
    }
    for (std::size_t state = 0; state < after_cut.states; ++state)
      next.state_begin[state + 1] += next.state_begin[state];
    if (next.value.empty()) return SearchEnd::finished;  // no label reaches the threshold
    if (labels_per_node_cap > 0 && labels_seen > labels_per_node_cap * nodes_seen) return SearchEnd::capped;
  }
  const Labels& final_labels = labels[segments];
  int best = -1;
  for (std::size_t label = 0; label < final_labels.value.size(); ++label) {
    if (best < 0 || final_labels.value[label] > final_labels.value[static_cast<std::size_t>(best)])
      best = static_cast<int>(label);
  }
  if (best < 0) return SearchEnd::finished;
  std::vector<std::int64_t> path(model_.groups.size());
  for (std::size_t g = 0; g < path.size(); ++g) path[g] = domain_[g].back();
  for (std::size_t g = 0; g < path.size(); ++g) {
    if (model_.groups[g].pinned) path[g] = model_.groups[g].units;
  }
  int label = best;
  for (std::size_t k = segments; k-- > 0;) {
    const Labels& at = labels[k + 1];
    const int chosen = at.chosen[static_cast<std::size_t>(label)];
    const std::size_t s = segments_[k].first;
    if (chosen >= 0) {
      const int last = static_cast<int>(steps_[s].slots) - 1;
      path[steps_[s].group[last]] = slot_width(s, last, static_cast<std::size_t>(chosen));
    }
    label = at.parent[static_cast<std::size_t>(label)];
  }
  consider(path);
  return SearchEnd::finished;
}

LevelOutcome GraphLevelSolver::finish(LevelOutcome::Kind kind) const {
  LevelOutcome outcome;
  outcome.kind = kind;
  if (kind == LevelOutcome::Kind::unknown || kind == LevelOutcome::Kind::infeasible) return outcome;
  outcome.multipliers.assign(model_.resources.size(), 0.0);
  for (std::size_t b = 0; b < budgets_.size(); ++b) outcome.multipliers[budgets_[b].resource] = lambda_[b];
  outcome.dual_bound = upper_bound_;
  outcome.widths = incumbent_;
  outcome.value = incumbent_value_;
  outcome.upper_bound =
      kind == LevelOutcome::Kind::optimal ? incumbent_value_ : std::max(upper_bound_, incumbent_value_);
  return outcome;
}

LevelOutcome GraphLevelSolver::solve() {
  LevelOutcome infeasible;
  if (!build()) return infeasible;
  find_segments();
  min_to_go_.resize(budgets_.size());
  for (std::size_t b = 0; b < budgets_.size(); ++b) {
    std::vector<double> unit(budgets_.size(), 0.0);
    unit[b] = 1.0;
    relax(unit, 0.0, min_to_go_[b], arg_);
    for (std::vector<double>& cut : min_to_go_[b]) {
      for (double& to_go : cut) to_go = -to_go;
    }
    if (min_to_go_[b][0][0] > budgets_[b].capacity * (1.0 + 1e-12) + 1.0) return infeasible;
  }
  search_multipliers();
  if (best_.path.empty()) return infeasible;  // no path meets the max resources and the box
  improve(best_.path);
  if (std::isfinite(incumbent_value_)) improve(incumbent_);
  if (constraints_.start.size() == model_.groups.size()) improve(constraints_.start);
  const auto after_deadline = [&] {
    return finish(std::isfinite(incumbent_value_) ? LevelOutcome::Kind::feasible
                                                  : LevelOutcome::Kind::unknown);
  };
  if (std::isfinite(incumbent_value_) && incumbent_value_ >= upper_bound_ - tolerance())
    return finish(LevelOutcome::Kind::optimal);
  if (deadline_.passed()) return after_deadline();
  build_envelope();
  if (std::isfinite(incumbent_value_)) {
    const SearchEnd end = label_search(incumbent_value_, 4);
    if (end == SearchEnd::finished) return finish(LevelOutcome::Kind::optimal);
    if (end == SearchEnd::deadline) return after_deadline();
  }
  const std::vector<double> thresholds =
      label_search_thresholds(incumbent_value_, upper_bound_, budgets_.size());
  for (const double threshold : thresholds) {
    if (label_search(threshold) == SearchEnd::deadline) break;
    if (incumbent_value_ >= threshold - tolerance() || threshold == thresholds.back()) {
      return std::isfinite(incumbent_value_) ? finish(LevelOutcome::Kind::optimal) : infeasible;
    }
  }
  return after_deadline();
}

}  // namespace

LevelOutcome solve_level(const GraphModel& model, const LevelConstraints& constraints,
                         const Deadline& deadline, const LevelProgress& progress, GraphWorkspace* workspace) {
  if (workspace == nullptr) {
    GraphWorkspace own;
    return GraphLevelSolver(model, constraints, deadline, progress, own).solve();
  }
  return GraphLevelSolver(model, constraints, deadline, progress, *workspace).solve();
}

}  // namespace reds::detail
