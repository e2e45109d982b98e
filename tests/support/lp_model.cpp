#include "support/lp_model.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "reds/contract.h"
#include "reds/plan.h"

extern char** environ;

namespace reds::test {
namespace {

__extension__ using Wide = __int128;  // row activities, exact whatever the coefficients

// Integers up to 2^53 are exact doubles: larger row coefficients would reach CBC rounded.
constexpr std::int64_t kExactInDouble = std::int64_t{1} << 53;

// The shortest text that reads back as the same double.
std::string exact_text(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

// Writes "name: + c1 v1 - c2 v2 ..." a few terms per line: LP readers limit line lengths.
class TermWriter {
 public:
  explicit TermWriter(std::ostream& out) : out_(out) {}
  void add(const std::string& coefficient_text, bool negative, const std::string& variable) {
    if (count_ > 0 && count_ % 8 == 0) out_ << "\n  ";
    out_ << (negative ? " - " : " + ") << coefficient_text << ' ' << variable;
    ++count_;
  }

 private:
  std::ostream& out_;
  std::size_t count_ = 0;
};

// Runs `arguments` (arguments[0] searched on PATH) with standard output and error into `log`; returns the
// exit status. Throws when the program cannot be started.
int run_program(const std::vector<std::string>& arguments, const std::filesystem::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, STDIN_FILENO);
  std::vector<char*> argv;
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  pid_t child = 0;
  const int failure = posix_spawnp(&child, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (failure == ENOENT) {
    throw std::runtime_error("`" + arguments[0] +
                             "` is not on PATH: install Debian's coinor-cbc (scripts/install-deps does)");
  }
  if (failure != 0) throw std::runtime_error("cannot start " + arguments[0] + ": " + std::strerror(failure));
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  if (!WIFEXITED(status)) return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return WEXITSTATUS(status);
}

[[noreturn]] void cbc_failed(const std::filesystem::path& directory, const std::string& why) {
  throw std::runtime_error("cbc on " + (directory / "level.lp").string() + ": " + why +
                           " (its log: " + (directory / "cbc.log").string() + ")");
}

}  // namespace

LevelMip::LevelMip(const PlanRequest& request, std::size_t level, const Nesting& nesting)
    : layer_count_(request.network.layers.size()), inputs_(request.network.inputs) {
  const Network& network = request.network;

  // The level's limits, resolved per precise rule 1.
  const std::map<std::string, std::int64_t> full = full_network_cost(network);
  std::vector<std::pair<std::string, std::int64_t>> limits;
  for (const auto& [resource, limit] : request.levels.at(level).limits) {
    const std::int64_t resolved =
        limit.kind == Limit::Kind::max ? limit.maximum : resolve_fraction(limit.fraction, full.at(resource));
    limits.emplace_back(resource, resolved);
  }

  source_ = width_source(network);
  input_of_.resize(layer_count_, kNetworkInputs);
  for (std::size_t l = 0; l < layer_count_; ++l) {
    const Layer& layer = network.layers[l];
    if (layer.input && !layer.tied) {
      input_of_[l] = *layer_index(network, *layer.input);
    } else if (l > 0) {
      input_of_[l] = l - 1;
    }
  }

  add_choices(network);
  add_pairs(network, limits);
  for (std::size_t l = 0; l < layer_count_; ++l) add_layer_rows(nesting, l);
  for (std::size_t r = 0; r < limits.size(); ++r)
    add_budget_rows(network, limits[r].first, limits[r].second, r);

  // A zero coefficient is no term; a row left without terms reads 0 <= limit (limits are >= 0): always met.
  for (Row& row : rows_) std::erase_if(row.coefficients, [](const auto& term) { return term.second == 0; });
  std::erase_if(rows_,
                [](const Row& row) { return row.coefficients.empty() && row.sense == '<' && row.rhs >= 0; });
}

// The variables x[l][k], with objective S_g(k) on the first layer of each width group. A layer that keeps
// another's width takes that layer's choices (add_layer_rows makes its x equal).
void LevelMip::add_choices(const Network& network) {
  choices_ = layer_width_choices(network);
  for (std::size_t l = 0; l < layer_count_; ++l) {
    if (source_[l] != l) choices_[l] = choices_[source_[l]];
  }

  // S of a width group: its importances summed unit by unit in layer order, the k largest of them.
  std::vector<std::vector<double>> summed(layer_count_);
  for (std::size_t l = 0; l < layer_count_; ++l) {
    const std::vector<double>& importance = network.layers[l].importance;
    std::vector<double>& group = summed[source_[l]];
    if (group.empty()) {
      group = importance;
      continue;
    }
    for (std::size_t unit = 0; unit < group.size(); ++unit) group[unit] += importance[unit];
  }
  std::vector<std::vector<double>> group_value(layer_count_);
  for (std::size_t first = 0; first < layer_count_; ++first) {
    if (source_[first] != first) continue;
    std::sort(summed[first].begin(), summed[first].end(), std::greater<>());
    group_value[first].assign(summed[first].size() + 1, 0.0);
    for (std::size_t k = 1; k <= summed[first].size(); ++k)
      group_value[first][k] = group_value[first][k - 1] + summed[first][k - 1];
  }

  choice_of_.resize(layer_count_);
  for (std::size_t l = 0; l < layer_count_; ++l) {
    for (std::int64_t width : choices_[l]) {
      choice_of_[l][width] = variables_.size();
      const double value = group_value[l].empty() ? 0.0 : group_value[l][static_cast<std::size_t>(width)];
      // Appended rather than "x" + std::to_string(l), which g++ 12 -O3 reports as an overlapping memcpy
      // (-Wrestrict, a false positive).
      std::string name = "x";
      name += std::to_string(l) + "_" + std::to_string(width);
      variables_.push_back({std::move(name), l, width, 0, value});
    }
  }
}

// The variables y[l][k][k'], for the layers where a limited resource couples the width with the input width
// (of a layer; the network's inputs are a constant).
void LevelMip::add_pairs(const Network& network,
                         const std::vector<std::pair<std::string, std::int64_t>>& limits) {
  pair_of_.resize(layer_count_);
  for (std::size_t l = 0; l < layer_count_; ++l) {
    if (input_of_[l] == kNetworkInputs) continue;
    const bool coupled = std::any_of(limits.begin(), limits.end(), [&](const auto& limit) {
      const auto terms = network.layers[l].cost.find(limit.first);
      return terms != network.layers[l].cost.end() && terms->second.unit_input > 0;
    });
    if (!coupled) continue;
    for (std::int64_t width : choices_[l]) {
      for (std::int64_t width_in : choices_[input_of_[l]]) {
        pair_of_[l][{width, width_in}] = variables_.size();
        std::string name = "y";  // appended, as x above
        name += std::to_string(l) + "_" + std::to_string(width) + "_" + std::to_string(width_in);
        variables_.push_back({std::move(name), l, width, width_in, 0.0});
      }
    }
  }
}

// Layer l's own rows: one width chosen, equal to the width of the layer whose width it keeps (a tied layer's
// or a stream member's), the pair variables' links to the choices, the nesting bounds.
void LevelMip::add_layer_rows(const Nesting& nesting, std::size_t l) {
  const std::string layer = std::to_string(l);
  Row choose{"choose" + layer, {}, '=', 1};
  for (std::int64_t width : choices_[l]) choose.coefficients[choice(l, width)] = 1;
  rows_.push_back(std::move(choose));
  if (source_[l] != l) {
    for (std::int64_t width : choices_[l]) {
      rows_.push_back({"tie" + layer + "_" + std::to_string(width),
                       {{choice(l, width), 1}, {choice(source_[l], width), -1}},
                       '=',
                       0});
    }
  }
  if (!pair_of_[l].empty()) {
    const std::size_t input = input_of_[l];
    for (std::int64_t width : choices_[l]) {
      Row out{"pair_out" + layer + "_" + std::to_string(width), {{choice(l, width), -1}}, '=', 0};
      for (std::int64_t width_in : choices_[input]) out.coefficients[pair_of_[l].at({width, width_in})] = 1;
      rows_.push_back(std::move(out));
    }
    for (std::int64_t width_in : choices_[input]) {
      Row in{"pair_in" + layer + "_" + std::to_string(width_in), {{choice(input, width_in), -1}}, '=', 0};
      for (std::int64_t width : choices_[l]) in.coefficients[pair_of_[l].at({width, width_in})] = 1;
      rows_.push_back(std::move(in));
    }
  }
  // The width is sum_k k x[l][k].
  const auto width_row = [&](const char* name, char sense, std::int64_t bound) {
    Row row{name + layer, {}, sense, bound};
    for (std::int64_t width : choices_[l]) row.coefficients[choice(l, width)] = width;
    rows_.push_back(std::move(row));
  };
  if (nesting.at_least) width_row("at_least", '>', nesting.at_least->at(l));
  if (nesting.at_most) width_row("at_most", '<', nesting.at_most->at(l));
}

// The rows of the r-th limited resource: its total (sum) or every layer's cost (max) within the limit.
void LevelMip::add_budget_rows(const Network& network, const std::string& resource, std::int64_t limit,
                               std::size_t r) {
  const bool summed = aggregation_of(network, resource) == Aggregation::sum;
  comments_.push_back((summed ? "sum" : "max") + std::to_string(r) + ": " + resource +
                      " <= " + std::to_string(limit) + (summed ? " over the layers" : " in every layer"));
  Row total{"sum" + std::to_string(r), {}, '<', limit};
  for (std::size_t l = 0; l < layer_count_; ++l) {
    const auto terms = network.layers[l].cost.find(resource);
    if (terms == network.layers[l].cost.end()) continue;
    if (summed) {
      add_cost(network, terms->second, l, total);
      continue;
    }
    Row layer{"max" + std::to_string(r) + "_" + std::to_string(l), {}, '<', limit};
    add_cost(network, terms->second, l, layer);
    rows_.push_back(std::move(layer));
  }
  if (summed) rows_.push_back(std::move(total));
}

std::size_t LevelMip::choice(std::size_t layer, std::int64_t width) const {
  return choice_of_[layer].at(width);
}

// Adds c_l to `row`. The constant parts go onto x[l][k] (exactly one of which is 1): fixed, the input terms
// of a layer reading the network's inputs and the table entry of each width; each held term goes onto the
// named layer's x.
void LevelMip::add_cost(const Network& network, const CostTerms& terms, std::size_t layer, Row& row) const {
  const std::size_t input = input_of_[layer];
  for (std::int64_t width : choices_[layer]) {
    std::int64_t own = terms.fixed + terms.unit * width;
    if (!terms.table.empty()) own += terms.table[static_cast<std::size_t>(width - 1)];
    if (input == kNetworkInputs) own += terms.input * inputs_ + terms.unit_input * width * inputs_;
    row.coefficients[choice(layer, width)] += own;
  }
  for (const auto& [name, coefficient] : terms.held) {
    const std::size_t held = *layer_index(network, name);
    for (std::int64_t width : choices_[held]) row.coefficients[choice(held, width)] += coefficient * width;
  }
  if (input == kNetworkInputs) return;
  for (std::int64_t width_in : choices_[input]) {
    row.coefficients[choice(input, width_in)] += terms.input * width_in;
  }
  if (terms.unit_input == 0) return;
  for (const auto& [widths, variable] : pair_of_[layer]) {
    row.coefficients[variable] += terms.unit_input * widths.first * widths.second;
  }
}

std::string LevelMip::lp_format() const {
  std::ostringstream out;
  out << "\\ One plan level (plan contract v1): x<l>_<k> = layer l keeps k units, y<l>_<k>_<k'> = x<l>_<k> "
         "x<l-1>_<k'>\n";
  for (const std::string& comment : comments_) out << "\\ " << comment << '\n';

  out << "Minimize\n value:";
  TermWriter objective(out);
  for (const Variable& variable : variables_) {
    if (variable.width_in == 0)
      objective.add(exact_text(variable.objective), variable.objective > 0, variable.name);
  }

  out << "\nSubject To\n";
  for (const Row& row : rows_) {
    out << ' ' << row.name << ':';
    TermWriter terms(out);
    for (const auto& [variable, coefficient] : row.coefficients) {
      if (coefficient >= kExactInDouble || coefficient <= -kExactInDouble) {
        throw std::domain_error("LP model: coefficient " + std::to_string(coefficient) + " of row " +
                                row.name + " is not exact as a double");
      }
      terms.add(std::to_string(coefficient < 0 ? -coefficient : coefficient), coefficient < 0,
                variables_[variable].name);
    }
    out << (row.sense == '<' ? " <= " : row.sense == '>' ? " >= " : " = ") << row.rhs << '\n';
  }

  // y stays continuous: binary x force it to the product. Its default bounds [0, inf) suffice.
  out << "Binaries\n";
  std::size_t written = 0;
  for (const Variable& variable : variables_) {
    if (variable.width_in != 0) continue;
    out << (written % 10 == 0 ? (written == 0 ? " " : "\n ") : " ") << variable.name;
    ++written;
  }
  out << "\nEnd\n";
  return out.str();
}

bool LevelMip::satisfied_by(const Widths& widths) const {
  if (widths.size() != layer_count_) return false;
  std::vector<std::int64_t> value(variables_.size(), 0);
  for (std::size_t l = 0; l < layer_count_; ++l) {
    const auto x = choice_of_[l].find(widths[l]);
    if (x == choice_of_[l].end()) return false;
    value[x->second] = 1;
    if (pair_of_[l].empty()) continue;
    const auto y = pair_of_[l].find({widths[l], widths[input_of_[l]]});
    if (y == pair_of_[l].end()) return false;
    value[y->second] = 1;
  }
  return std::all_of(rows_.begin(), rows_.end(), [&](const Row& row) {
    Wide activity = 0;
    for (const auto& [variable, coefficient] : row.coefficients)
      activity += Wide{coefficient} * value[variable];
    return row.sense == '<'   ? activity <= row.rhs
           : row.sense == '>' ? activity >= row.rhs
                              : activity == row.rhs;
  });
}

double LevelMip::importance(const Widths& widths) const {
  double value = 0.0;
  for (std::size_t l = 0; l < layer_count_; ++l) value += variables_[choice(l, widths.at(l))].objective;
  return value;
}

std::optional<Widths> LevelMip::widths_of(const std::map<std::string, double>& values) const {
  Widths widths(layer_count_, 0);
  for (std::size_t l = 0; l < layer_count_; ++l) {
    for (const auto& [width, variable] : choice_of_[l]) {
      const auto found = values.find(variables_[variable].name);
      if (found == values.end() || found->second <= 0.5) continue;
      if (widths[l] != 0) return std::nullopt;
      widths[l] = width;
    }
    if (widths[l] == 0) return std::nullopt;
  }
  return widths;
}

MipSolution solve_with_cbc(const LevelMip& mip) {
  std::string directory_template = (std::filesystem::temp_directory_path() / "reds_cbc_XXXXXX").string();
  if (mkdtemp(directory_template.data()) == nullptr) {
    throw std::runtime_error(std::string("cannot create a directory for cbc: ") + std::strerror(errno));
  }
  const std::filesystem::path directory = directory_template;
  const std::filesystem::path model = directory / "level.lp";
  const std::filesystem::path solution = directory / "solution.txt";
  const std::filesystem::path log = directory / "cbc.log";
  {
    std::ofstream out(model);
    out << mip.lp_format();
    if (!out) throw std::runtime_error("cannot write " + model.string());
  }

  // No gap is tolerated, and a new solution need only be better by a hair (CBC's default, 1e-5 absolute,
  // would end the search up to 1e-5 short of the optimum). CBC 2.10.8's MIP preprocessing (CglPreProcess)
  // declared a worse plan optimal on a 3-layer level (crosscheck_request(1511), top_down), so it is off;
  // LP presolve stays. The time limit turns a hang into a failure.
  const int exit_status =
      run_program({"cbc", model.string(), "-preprocess", "off", "-ratioGap", "0", "-allowableGap", "0",
                   "-increment", "1e-12", "-sec", "60", "solve", "solu", solution.string()},
                  log);
  if (exit_status != 0) cbc_failed(directory, "exit status " + std::to_string(exit_status));

  std::ifstream in(solution);
  std::string header;
  if (!std::getline(in, header)) cbc_failed(directory, "no solution file");
  MipSolution answer;
  const std::string marker = " - objective value ";
  const std::size_t at = header.find(marker);
  if (at == std::string::npos) cbc_failed(directory, "unexpected solution header: " + header);
  const std::string status = header.substr(0, at);
  answer.reported_objective = -std::stod(header.substr(at + marker.size()));
  if (status == "Infeasible" || status == "Integer infeasible") {
    answer.status = MipStatus::infeasible;
    std::filesystem::remove_all(directory);
    return answer;
  }
  if (status != "Optimal") cbc_failed(directory, "status \"" + status + "\"");

  std::map<std::string, double> values;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::size_t index = 0;
    std::string name;
    double value = 0.0;
    if (!(fields >> index >> name >> value)) cbc_failed(directory, "unreadable solution line: " + line);
    values[name] = value;
  }
  const std::optional<Widths> widths = mip.widths_of(values);
  if (!widths) cbc_failed(directory, "the solution does not choose one width per layer");
  answer.status = MipStatus::optimal;
  answer.widths = *widths;
  std::filesystem::remove_all(directory);
  return answer;
}

}  // namespace reds::test
