#include "plan_summary.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

#include "commands.h"

namespace reds::cli {

namespace {

std::string formatted(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// Cells of a table whose columns are padded to their widest cell; numbers are right-aligned.
struct Table {
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> right_aligned;

  std::string text() const {
    std::vector<std::size_t> widths;
    for (const auto& row : rows)
      for (std::size_t c = 0; c < row.size(); ++c) {
        if (widths.size() <= c) widths.push_back(0);
        widths[c] = std::max(widths[c], row[c].size());
      }
    std::string text;
    for (const auto& row : rows) {
      std::string line;
      for (std::size_t c = 0; c < row.size(); ++c) {
        const std::string padding(widths[c] - row[c].size(), ' ');
        const bool right = c < right_aligned.size() && right_aligned[c];
        line += right ? padding + row[c] : row[c] + padding;
      }
      line.erase(line.find_last_not_of(' ') + 1);
      text += (text.empty() ? "" : "\n") + line;
    }
    return text;
  }
};

}  // namespace

std::string plan_summary(const PlanResult& plan) {
  // The resources any level limits, in name order (the contract's maps are ordered by name).
  std::set<std::string> resources;
  for (const LevelPlan& level : plan.levels)
    for (const auto& [resource, limit] : level.limits) resources.insert(resource);

  std::string header =
      "plan     " + std::string(to_string(plan.status)) + "  " + to_string(plan.strategy) + "  full";
  for (const std::string& resource : resources) {
    const auto full = plan.full_cost.find(resource);
    if (full != plan.full_cost.end()) header += ' ' + resource + ' ' + thousands(full->second);
  }
  header += "  importance " + formatted("%.6g", plan.full_importance) + "  solved in " +
            formatted("%.3g", plan.solve_seconds) + " s";

  Table table;
  for (std::size_t j = 0; j < plan.levels.size(); ++j) {
    const LevelPlan& level = plan.levels[j];
    const bool feasible = level.status != PlanStatus::infeasible;
    std::vector<std::string> row = {"level " + std::to_string(j + 1) + "  ",
                                    std::string(to_string(level.status)) + "  "};
    table.right_aligned.assign(2, false);
    for (const std::string& resource : resources) {
      const auto limit = level.limits.find(resource);
      const auto cost = level.cost.find(resource);
      const bool limited = limit != level.limits.end();
      const bool costed = feasible && cost != level.cost.end();
      row.push_back(resource + ' ');
      row.push_back(costed ? thousands(cost->second) : "-");
      row.push_back(limited ? thousands(limit->second).insert(0, 1, '/') : std::string());
      row.push_back(costed && limited && limit->second > 0
                        ? " (" +
                              formatted("%.1f", 100.0 * static_cast<double>(cost->second) /
                                                    static_cast<double>(limit->second)) +
                              "%)  "
                        : "  ");
      table.right_aligned.insert(table.right_aligned.end(), {false, true, false, true});
    }
    row.push_back("importance ");
    row.push_back(feasible ? formatted("%.6g", level.importance) : "-");
    row.push_back("  gap ");
    row.push_back(feasible ? formatted("%.3g", level.gap) : "-");
    row.push_back("  widths");
    table.right_aligned.insert(table.right_aligned.end(), {false, true, false, false, false});
    for (std::size_t l = 0; l < plan.layer_names.size(); ++l) {
      row.push_back(feasible && l < level.widths.size()
                        ? ' ' + plan.layer_names[l] + '=' + std::to_string(level.widths[l])
                        : (l == 0 ? " -" : ""));
      table.right_aligned.push_back(false);
    }
    table.rows.push_back(std::move(row));
  }
  return header + "\n" + table.text();
}

}  // namespace reds::cli
