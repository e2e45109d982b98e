// Names of the contract's enumerations, and the default aggregation of resources.
#include "reds/network.h"

#include <optional>
#include <string>

#include "reds/contract.h"
#include "reds/status.h"

namespace reds {

Aggregation aggregation_of(const Network& network, const std::string& resource) {
  const auto listed = network.resources.find(resource);
  if (listed != network.resources.end()) return listed->second;
  // Peak activation memory is the largest single layer's, not a sum over layers (contract, "resources").
  return resource == "activation" ? Aggregation::max : Aggregation::sum;
}

const char* to_string(Strategy strategy) {
  switch (strategy) {
    case Strategy::independent:
      return "independent";
    case Strategy::bottom_up:
      return "bottom_up";
    case Strategy::top_down:
      return "top_down";
    case Strategy::joint:
      return "joint";
  }
  return "unknown";
}

std::optional<Strategy> strategy_from_string(const std::string& name) {
  for (Strategy strategy :
       {Strategy::independent, Strategy::bottom_up, Strategy::top_down, Strategy::joint}) {
    if (name == to_string(strategy)) return strategy;
  }
  return std::nullopt;
}

const char* to_string(Objective objective) {
  switch (objective) {
    case Objective::sum:
      return "sum";
    case Objective::normalized:
      return "normalized";
    case Objective::product:
      return "product";
  }
  return "unknown";
}

std::optional<Objective> objective_from_string(const std::string& name) {
  for (Objective objective : {Objective::sum, Objective::normalized, Objective::product}) {
    if (name == to_string(objective)) return objective;
  }
  return std::nullopt;
}

const char* to_string(PlanStatus status) {
  switch (status) {
    case PlanStatus::optimal:
      return "optimal";
    case PlanStatus::feasible:
      return "feasible";
    case PlanStatus::infeasible:
      return "infeasible";
  }
  return "unknown";
}

}  // namespace reds
