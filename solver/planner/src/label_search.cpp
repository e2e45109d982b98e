// The label search: a label-setting dynamic program over the stages that keeps, per node, the Pareto
// front of labels (value, cost per budget) that can still reach a threshold.
//
// A label survives only if its cheapest completion fits every budget and every relaxation of the envelope
// bounds its completion at the threshold or above. Before labels are extended through a node, a cheaper
// test on whole previous nodes (their best reduced value against the node's price under each relaxation)
// drops the previous nodes none of whose labels can pass.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "level_solver_state.h"
#include "reds/detail/saturating.h"

namespace reds::detail {
namespace {

// What the steps of one label search read of the level solve, copied out of the solver once per search.
// The steps keep storing into the label space's vectors; read through the solver object, the budgets, the
// envelope and their sizes would be reloaded after each such store (the compiler cannot tell that the
// stores leave them alone), and every step begins by copying what it reads of this into locals likewise.
struct SearchInputs {
  const Stage* stages;
  std::span<const std::int64_t> source_width;
  const Budget* budgets;
  std::size_t dims;  // budgets
  const Relaxation* envelope;
  std::size_t prices;                                 // relaxations in the envelope
  const std::vector<std::vector<double>>* min_to_go;  // per budget: per stage and node
  const double* room;                                 // per budget: the most a label may cost to go on
  const double* price_of_capacity;                    // per relaxation: lambda . capacity
  double need;                                        // the threshold less the tolerance

  std::span<const std::int64_t> predecessor_widths(std::size_t s) const {
    return s == 0 ? source_width : std::span<const std::int64_t>(stages[s - 1].width);
  }
};

// Appends a label's `dims` costs one by one: for the few resources of a level a call of memmove (what
// a range insert becomes) costs more than the copy.
void append_costs(std::vector<std::int64_t>& costs, const std::int64_t* cost, std::size_t dims) {
  for (std::size_t t = 0; t < dims; ++t) costs.push_back(cost[t]);
}

// Per budget the room (capacity with a hair of slack for rounding) and per relaxation lambda . capacity.
void price_capacities(const std::vector<Budget>& budgets, const std::vector<Relaxation>& envelope,
                      LabelSpace& space) {
  space.room.resize(budgets.size());
  for (std::size_t t = 0; t < budgets.size(); ++t) space.room[t] = budgets[t].capacity * (1.0 + 1e-12) + 1.0;
  space.price_of_capacity.assign(envelope.size(), 0.0);
  for (std::size_t e = 0; e < envelope.size(); ++e) {
    for (std::size_t t = 0; t < budgets.size(); ++t)
      space.price_of_capacity[e] += envelope[e].lambda[t] * budgets[t].capacity;
  }
}

// Whether a label at a node of value `value` and cost `cost` can still reach the threshold: its cheapest
// completion (`min_to_go`, per budget) fits every budget and every relaxation's bound on its completion
// (`to_go`, per relaxation) reaches `need`.
inline bool survives(const SearchInputs& in, const double* min_to_go, const double* to_go, double value,
                     const std::int64_t* cost) {
  const Budget* const budgets = in.budgets;
  const double* const room = in.room;
  const Relaxation* const envelope = in.envelope;
  const std::size_t dims = in.dims, prices = in.prices;
  const double need = in.need;
  for (std::size_t t = 0; t < dims; ++t) {
    const double total = static_cast<double>(cost[t]) + min_to_go[t];
    if (cost[t] > budgets[t].limit || total > room[t]) return false;
  }
  for (std::size_t e = 0; e < prices; ++e) {
    const double* const lambda = envelope[e].lambda.data();
    double bound = value + to_go[e];
    for (std::size_t t = 0; t < dims; ++t)
      bound += lambda[t] * (budgets[t].capacity - static_cast<double>(cost[t]));
    if (bound < need) return false;
  }
  return true;
}

// The nodes of stage s - 1 that kept labels and their best reduced values; false when there are none.
bool collect_labelled(const SearchInputs& in, LabelSpace& space, std::size_t s) {
  const std::size_t dims = in.dims, prices = in.prices;
  const Relaxation* const envelope = in.envelope;
  const std::span<const std::int64_t> previous = in.predecessor_widths(s);
  std::vector<int>& labelled = space.labelled;
  labelled.clear();
  if (s == 0) labelled.push_back(0);
  if (s > 0) {
    const Labels& before = space.stage_labels[s - 1];
    for (std::size_t j = 0; j + 1 < before.node_begin.size(); ++j) {
      if (before.node_begin[j] < before.node_begin[j + 1]) labelled.push_back(static_cast<int>(j));
    }
    if (labelled.empty()) return false;
    space.best_reduced.assign(previous.size() * prices, kMinusInfinity);
    double* const best_reduced = space.best_reduced.data();
    const double* const value = before.value.data();
    const std::int64_t* const cost = before.cost.data();
    const int* const node = before.node.data();
    const std::size_t label_count = before.value.size();
    for (std::size_t label = 0; label < label_count; ++label) {
      for (std::size_t e = 0; e < prices; ++e) {
        const double* const lambda = envelope[e].lambda.data();
        double reduced = value[label];
        for (std::size_t t = 0; t < dims; ++t)
          reduced -= lambda[t] * static_cast<double>(cost[label * dims + t]);
        double& best = best_reduced[node[label] * prices + e];
        best = std::max(best, reduced);
      }
    }
  }
  // The labelled nodes' widths and best reduced values side by side, per relaxation, for the pair test.
  const std::size_t labelled_count = labelled.size();
  space.labelled_width.resize(labelled_count);
  space.labelled_reduced.resize(labelled_count * prices);
  space.reachable.resize(labelled_count);
  const double* const best_reduced = space.best_reduced.data();
  double* const labelled_reduced = space.labelled_reduced.data();
  for (std::size_t p = 0; p < labelled_count; ++p) {
    space.labelled_width[p] = static_cast<double>(previous[labelled[p]]);
    if (s == 0) continue;
    for (std::size_t e = 0; e < prices; ++e)
      labelled_reduced[e * labelled_count + p] = best_reduced[labelled[p] * prices + e];
  }
  return true;
}

// The labelled previous nodes through which node i of stage s can reach `need`, into the label space's
// `reachable`; returns their count.
std::size_t filter_reachable(const SearchInputs& in, LabelSpace& space, std::size_t s, std::size_t i) {
  const Budget* const budgets = in.budgets;
  const Relaxation* const envelope = in.envelope;
  const std::size_t dims = in.dims, prices = in.prices;
  const double* const price_of_capacity = in.price_of_capacity;
  const Stage& stage = in.stages[s];
  const Group& group = *stage.group;
  const std::int64_t k = stage.width[i];
  const double gain = group.value[k];
  // Per relaxation: the part of the pair bound that depends on i only, and the slope in k_in.
  double* const node_price = space.node_price.data();
  double* const node_slope = space.node_slope.data();
  for (std::size_t e = 0; e < prices; ++e) {
    const double* const lambda = envelope[e].lambda.data();
    double price = 0.0, slope = 0.0;
    for (std::size_t t = 0; t < dims; ++t) {
      const GroupResourceCost& c = group.cost[budgets[t].resource];
      price += lambda[t] * static_cast<double>(saturating_add(c.own[k], c.tied[k]));
      slope += lambda[t] *
               (static_cast<double>(c.coupling) * static_cast<double>(k) + static_cast<double>(c.input));
    }
    node_price[e] = gain - price + envelope[e].to_go[s][i] + price_of_capacity[e];
    node_slope[e] = slope;
  }
  // Only previous nodes that kept labels can extend (at the first stage: the source), and only those
  // whose best label's bound through this node, best reduced value + node price - node slope * k_in,
  // reaches the threshold under every relaxation: a branch-free filter, one relaxation at a time.
  const std::vector<int>& labelled = space.labelled;
  const std::size_t labelled_count = labelled.size();
  const std::size_t admitted = static_cast<std::size_t>(
      std::upper_bound(labelled.begin(), labelled.end(), stage.last_predecessor[i]) - labelled.begin());
  int* const reachable = space.reachable.data();
  const double* const labelled_width = space.labelled_width.data();
  std::size_t reachable_count = 0;
  for (std::size_t p = 0; p < admitted; ++p) reachable[reachable_count++] = static_cast<int>(p);
  for (std::size_t e = 0; s > 0 && e < prices; ++e) {
    const double node_need = in.need - node_price[e];
    const double slope = node_slope[e];
    const double* reduced = &space.labelled_reduced[e * labelled_count];
    std::size_t kept = 0;
    for (std::size_t q = 0; q < reachable_count; ++q) {
      const int p = reachable[q];
      reachable[kept] = p;
      kept += reduced[p] - slope * labelled_width[p] >= node_need ? 1 : 0;
    }
    reachable_count = kept;
  }
  return reachable_count;
}

// The surviving extensions through node i of stage s of the labels of the first `reachable_count` nodes
// of `reachable`, into the label space's candidates. `in` is a copy, so that what survives() reads of it
// stays in registers across the stores into the candidates.
void extend_candidates(const SearchInputs in, LabelSpace& space, std::size_t s, std::size_t i,
                       std::size_t reachable_count) {
  const Budget* const budgets = in.budgets;
  const std::size_t dims = in.dims, prices = in.prices;
  const Stage& stage = in.stages[s];
  const Group& group = *stage.group;
  const std::int64_t k = stage.width[i];
  const double gain = group.value[k];
  const std::span<const std::int64_t> previous = in.predecessor_widths(s);
  // The node's cheapest completions and relaxed values to go, side by side.
  space.node_min_to_go.resize(dims);
  space.node_to_go.resize(prices);
  for (std::size_t t = 0; t < dims; ++t) space.node_min_to_go[t] = in.min_to_go[t][s][i];
  for (std::size_t e = 0; e < prices; ++e) space.node_to_go[e] = in.envelope[e].to_go[s][i];
  const double* const min_to_go = space.node_min_to_go.data();
  const double* const to_go = space.node_to_go.data();
  std::int64_t* const edge = space.edge.data();
  std::int64_t* const cost = space.cost.data();
  const int* const labelled = space.labelled.data();
  const int* const reachable = space.reachable.data();
  std::vector<double>& cand_value = space.cand_value;
  std::vector<std::int64_t>& cand_cost = space.cand_cost;
  std::vector<int>& cand_parent = space.cand_parent;
  cand_value.clear();
  cand_cost.clear();
  cand_parent.clear();
  if (s == 0) {
    for (std::size_t t = 0; t < dims; ++t) edge[t] = group.cost[budgets[t].resource].edge(previous[0], k);
    if (survives(in, min_to_go, to_go, gain, edge)) {
      cand_value.push_back(gain);
      append_costs(cand_cost, edge, dims);
      cand_parent.push_back(-1);
    }
    return;
  }
  const Labels& before = space.stage_labels[s - 1];
  const double* const before_value = before.value.data();
  const std::int64_t* const before_cost = before.cost.data();
  const std::size_t* const node_begin = before.node_begin.data();
  for (std::size_t q = 0; q < reachable_count; ++q) {
    const int j = labelled[reachable[q]];
    const std::int64_t k_in = previous[j];
    for (std::size_t t = 0; t < dims; ++t) edge[t] = group.cost[budgets[t].resource].edge(k_in, k);
    for (std::size_t label = node_begin[j]; label < node_begin[j + 1]; ++label) {
      const double value = before_value[label] + gain;
      for (std::size_t t = 0; t < dims; ++t) cost[t] = saturating_add(before_cost[label * dims + t], edge[t]);
      if (!survives(in, min_to_go, to_go, value, cost)) continue;
      cand_value.push_back(value);
      append_costs(cand_cost, cost, dims);
      cand_parent.push_back(static_cast<int>(label));
    }
  }
}

// The candidates that no other has at least the value of at no more cost, onto `labels` as node i's.
void keep_pareto_front(std::size_t dims, LabelSpace& space, std::size_t i, Labels& labels) {
  const std::vector<double>& cand_value = space.cand_value;
  const std::vector<std::int64_t>& cand_cost = space.cand_cost;
  std::vector<std::size_t>& candidate_order = space.candidate_order;
  candidate_order.resize(cand_value.size());
  std::iota(candidate_order.begin(), candidate_order.end(), 0);
  const auto before_in_order = [&](std::size_t a, std::size_t b) {
    if (cand_value[a] != cand_value[b]) return cand_value[a] > cand_value[b];
    for (std::size_t t = 0; t < dims; ++t) {
      if (cand_cost[a * dims + t] != cand_cost[b * dims + t]) {
        return cand_cost[a * dims + t] < cand_cost[b * dims + t];
      }
    }
    return a < b;
  };
  // Candidates from one previous node come in order already (its labels are).
  if (!std::is_sorted(candidate_order.begin(), candidate_order.end(), before_in_order)) {
    std::sort(candidate_order.begin(), candidate_order.end(), before_in_order);
  }
  space.front.begin(dims, labels.value.size());
  for (std::size_t c : candidate_order) {
    const std::int64_t* candidate_cost = &cand_cost[c * dims];
    if (space.front.dominated(candidate_cost, labels.cost, labels.value.size())) continue;
    labels.value.push_back(cand_value[c]);
    append_costs(labels.cost, candidate_cost, dims);
    labels.parent.push_back(space.cand_parent[c]);
    labels.node.push_back(static_cast<int>(i));
  }
}

}  // namespace

LevelSolver::SearchEnd LevelSolver::label_search(double threshold, std::size_t labels_per_node_cap) {
  LabelSpace& space = label_space_;
  price_capacities(budgets_, envelope_, space);
  const SearchInputs in{stages_.data(),         source_width_,     budgets_.data(),
                        budgets_.size(),        envelope_.data(),  envelope_.size(),
                        min_to_go_.data(),      space.room.data(), space.price_of_capacity.data(),
                        threshold - tolerance()};
  const std::size_t stage_count = stages_.size();
  space.stage_labels.resize(stage_count);
  for (std::size_t s = 0; s < stage_count; ++s) space.stage_labels[s].clear(stages_[s].width.size(), in.dims);
  space.edge.resize(in.dims);
  space.cost.resize(in.dims);
  space.node_price.resize(in.prices);
  space.node_slope.resize(in.prices);
  std::size_t nodes_seen = 0, labels_seen = 0;
  for (std::size_t s = 0; s < stage_count; ++s) {
    if (deadline_.passed()) return SearchEnd::deadline;
    Labels& labels = space.stage_labels[s];
    labels.node_begin.push_back(0);
    if (!collect_labelled(in, space, s)) break;  // no label can reach the threshold
    const std::size_t nodes = in.stages[s].width.size();
    for (std::size_t i = 0; i < nodes; ++i) {
      if (i % 64 == 63 && deadline_.passed()) return SearchEnd::deadline;
      const std::size_t first_kept = labels.value.size();
      // Most nodes: nothing reaches the threshold through them.
      if (const std::size_t reachable = filter_reachable(in, space, s, i); reachable > 0) {
        extend_candidates(in, space, s, i, reachable);
        keep_pareto_front(in.dims, space, i, labels);
      }
      labels.node_begin.push_back(labels.value.size());
      ++nodes_seen;
      labels_seen += labels.value.size() - first_kept;
      if (labels_per_node_cap > 0 && labels_seen > labels_per_node_cap * nodes_seen) return SearchEnd::capped;
    }
  }
  consider_best_label();
  return SearchEnd::finished;
}

void LevelSolver::consider_best_label() {
  LabelSpace& space = label_space_;
  const Labels& last = space.stage_labels.back();
  int best = -1;
  for (std::size_t label = 0; label < last.value.size(); ++label) {
    if (best < 0 || last.value[label] > last.value[best]) best = static_cast<int>(label);
  }
  if (best < 0) return;
  std::vector<std::int64_t>& path = space.path;
  path.resize(stages_.size());
  int label = best;
  for (std::size_t s = stages_.size(); s-- > 0;) {
    path[s] = stages_[s].width[space.stage_labels[s].node[label]];
    label = space.stage_labels[s].parent[label];
  }
  consider(path);
}

}  // namespace reds::detail
