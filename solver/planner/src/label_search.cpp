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
#include <vector>

#include "level_solver_state.h"
#include "reds/detail/saturating.h"

namespace reds::detail {

LevelSolver::SearchEnd LevelSolver::label_search(double threshold, std::size_t labels_per_node_cap) {
  const double need = threshold - tolerance();
  price_capacities();
  LabelSpace& space = label_space_;
  space.stage_labels.resize(stages_.size());
  for (std::size_t s = 0; s < stages_.size(); ++s)
    space.stage_labels[s].clear(stages_[s].width.size(), budgets_.size());
  std::size_t nodes_seen = 0, labels_seen = 0;
  for (std::size_t s = 0; s < stages_.size(); ++s) {
    if (deadline_.passed()) return SearchEnd::deadline;
    Labels& labels = space.stage_labels[s];
    labels.node_begin.push_back(0);
    if (!collect_labelled(s)) break;  // no label can reach the threshold
    for (std::size_t i = 0; i < stages_[s].width.size(); ++i) {
      if (i % 64 == 63 && deadline_.passed()) return SearchEnd::deadline;
      const std::size_t first_kept = labels.value.size();
      // Most nodes: nothing reaches the threshold through them.
      if (const std::size_t reachable = filter_reachable(s, i, need); reachable > 0) {
        extend_candidates(s, i, reachable, need);
        keep_pareto_front(i, labels);
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

void LevelSolver::price_capacities() {
  LabelSpace& space = label_space_;
  space.price_of_capacity.assign(envelope_.size(), 0.0);
  for (std::size_t e = 0; e < envelope_.size(); ++e) {
    for (std::size_t t = 0; t < budgets_.size(); ++t)
      space.price_of_capacity[e] += envelope_[e].lambda[t] * budgets_[t].capacity;
  }
}

bool LevelSolver::survives(std::size_t s, std::size_t i, double value, const std::int64_t* cost,
                           double need) const {
  const std::size_t dims = budgets_.size();
  for (std::size_t t = 0; t < dims; ++t) {
    const double total = static_cast<double>(cost[t]) + min_to_go_[t][s][i];
    if (cost[t] > budgets_[t].limit || total > budgets_[t].capacity * (1.0 + 1e-12) + 1.0) return false;
  }
  for (const Relaxation& relaxation : envelope_) {
    double bound = value + relaxation.to_go[s][i];
    for (std::size_t t = 0; t < dims; ++t) {
      bound += relaxation.lambda[t] * (budgets_[t].capacity - static_cast<double>(cost[t]));
    }
    if (bound < need) return false;
  }
  return true;
}

bool LevelSolver::collect_labelled(std::size_t s) {
  LabelSpace& space = label_space_;
  const std::size_t dims = budgets_.size();
  const std::size_t prices = envelope_.size();
  const std::vector<std::int64_t>& previous = predecessor_widths(s);
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
    for (std::size_t label = 0; label < before.value.size(); ++label) {
      for (std::size_t e = 0; e < prices; ++e) {
        double reduced = before.value[label];
        for (std::size_t t = 0; t < dims; ++t) {
          reduced -= envelope_[e].lambda[t] * static_cast<double>(before.cost[label * dims + t]);
        }
        double& best = space.best_reduced[before.node[label] * prices + e];
        best = std::max(best, reduced);
      }
    }
  }
  // The labelled nodes' widths and best reduced values side by side, per relaxation, for the pair test.
  const std::size_t labelled_count = labelled.size();
  space.labelled_width.resize(labelled_count);
  space.labelled_reduced.resize(labelled_count * prices);
  space.reachable.resize(labelled_count);
  for (std::size_t p = 0; p < labelled_count; ++p) {
    space.labelled_width[p] = static_cast<double>(previous[labelled[p]]);
    if (s == 0) continue;
    for (std::size_t e = 0; e < prices; ++e) {
      space.labelled_reduced[e * labelled_count + p] = space.best_reduced[labelled[p] * prices + e];
    }
  }
  return true;
}

std::size_t LevelSolver::filter_reachable(std::size_t s, std::size_t i, double need) {
  LabelSpace& space = label_space_;
  const Stage& stage = stages_[s];
  const std::int64_t k = stage.width[i];
  const double gain = stage.group->value[k];
  // Per relaxation: the part of the pair bound that depends on i only, and the slope in k_in.
  space.node_price.resize(envelope_.size());
  space.node_slope.resize(envelope_.size());
  for (std::size_t e = 0; e < envelope_.size(); ++e) {
    double price = 0.0, slope = 0.0;
    for (std::size_t t = 0; t < budgets_.size(); ++t) {
      const GroupResourceCost& c = stage.group->cost[budgets_[t].resource];
      const double lambda = envelope_[e].lambda[t];
      price += lambda * static_cast<double>(saturating_add(c.own[k], c.tied[k]));
      slope +=
          lambda * (static_cast<double>(c.coupling) * static_cast<double>(k) + static_cast<double>(c.input));
    }
    space.node_price[e] = gain - price + envelope_[e].to_go[s][i] + space.price_of_capacity[e];
    space.node_slope[e] = slope;
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
  for (std::size_t e = 0; s > 0 && e < envelope_.size(); ++e) {
    const double node_need = need - space.node_price[e];
    const double slope = space.node_slope[e];
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

void LevelSolver::extend_candidates(std::size_t s, std::size_t i, std::size_t reachable_count, double need) {
  LabelSpace& space = label_space_;
  const std::size_t dims = budgets_.size();
  const Stage& stage = stages_[s];
  const std::int64_t k = stage.width[i];
  const double gain = stage.group->value[k];
  const std::vector<std::int64_t>& previous = predecessor_widths(s);
  space.edge.resize(dims);
  space.cost.resize(dims);
  std::int64_t* const edge = space.edge.data();
  std::int64_t* const cost = space.cost.data();
  space.cand_value.clear();
  space.cand_cost.clear();
  space.cand_parent.clear();
  for (std::size_t q = 0; q < reachable_count; ++q) {
    const int j = space.labelled[space.reachable[q]];
    const std::int64_t k_in = previous[j];
    for (std::size_t t = 0; t < dims; ++t) edge[t] = stage.group->cost[budgets_[t].resource].edge(k_in, k);
    if (s == 0) {
      if (survives(s, i, gain, edge, need)) {
        space.cand_value.push_back(gain);
        space.cand_cost.insert(space.cand_cost.end(), edge, edge + dims);
        space.cand_parent.push_back(-1);
      }
      continue;
    }
    const Labels& before = space.stage_labels[s - 1];
    for (std::size_t label = before.node_begin[j]; label < before.node_begin[j + 1]; ++label) {
      const double value = before.value[label] + gain;
      for (std::size_t t = 0; t < dims; ++t) cost[t] = saturating_add(before.cost[label * dims + t], edge[t]);
      if (!survives(s, i, value, cost, need)) continue;
      space.cand_value.push_back(value);
      space.cand_cost.insert(space.cand_cost.end(), cost, cost + dims);
      space.cand_parent.push_back(static_cast<int>(label));
    }
  }
}

void LevelSolver::keep_pareto_front(std::size_t i, Labels& labels) {
  LabelSpace& space = label_space_;
  const std::size_t dims = budgets_.size();
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
    labels.cost.insert(labels.cost.end(), candidate_cost, candidate_cost + dims);
    labels.parent.push_back(space.cand_parent[c]);
    labels.node.push_back(static_cast<int>(i));
  }
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
