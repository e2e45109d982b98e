#include "reds/engine/latency.h"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "level_shapes.h"
#include "reds/contract.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"
#include "reds/splitmix64.h"

namespace reds::engine {

namespace {

constexpr std::size_t kTerms = 4;  // fixed, unit, input, unit_input
constexpr std::size_t kImagePoolBytes = std::size_t{64} << 20;

std::array<double, kTerms> terms_of(const LatencySample& sample) {
  const auto k = static_cast<double>(sample.width), k_in = static_cast<double>(sample.input_width);
  return {1.0, k, k_in, k * k_in};
}

double evaluate(const CostTerms& cost, std::int64_t input_width, std::int64_t width) {
  double value = static_cast<double>(cost.fixed + cost.unit * width + cost.input * input_width +
                                     cost.unit_input * width * input_width);
  if (!cost.table.empty()) value += static_cast<double>(cost.table[static_cast<std::size_t>(width - 1)]);
  return value;
}

struct Errors {
  double rms = 0.0;
  double max = 0.0;
};

Errors relative_errors(std::span<const LatencySample> samples, const CostTerms& cost) {
  Errors errors;
  if (samples.empty()) return errors;
  for (const LatencySample& sample : samples) {
    const double error =
        (evaluate(cost, sample.input_width, sample.width) - sample.picoseconds) / sample.picoseconds;
    errors.rms += error * error;
    errors.max = std::max(errors.max, std::abs(error));
  }
  errors.rms = std::sqrt(errors.rms / static_cast<double>(samples.size()));
  return errors;
}

// Least squares of the relative error over the terms in `mask`; nothing when their columns are dependent
// on these samples. Columns are scaled to a largest entry of 1 so that the normal equations stay well
// conditioned whatever the widths.
std::optional<std::array<double, kTerms>> solve_terms(std::span<const LatencySample> samples, unsigned mask) {
  std::vector<std::size_t> used;
  for (std::size_t term = 0; term < kTerms; ++term)
    if (mask & (1u << term)) used.push_back(term);
  const std::size_t n = used.size();
  std::array<double, kTerms> scale{};
  for (const LatencySample& sample : samples) {
    const auto row = terms_of(sample);
    for (std::size_t a = 0; a < n; ++a) scale[a] = std::max(scale[a], std::abs(row[used[a]]));
  }
  std::array<std::array<double, kTerms + 1>, kTerms> normal{};
  for (const LatencySample& sample : samples) {
    const auto row = terms_of(sample);
    std::array<double, kTerms> x{};
    for (std::size_t a = 0; a < n; ++a) x[a] = row[used[a]] / scale[a] / sample.picoseconds;
    for (std::size_t a = 0; a < n; ++a) {
      for (std::size_t b = 0; b < n; ++b) normal[a][b] += x[a] * x[b];
      normal[a][n] += x[a];  // the target: measured / measured
    }
  }
  double largest = 0.0;
  for (std::size_t a = 0; a < n; ++a) largest = std::max(largest, normal[a][a]);
  for (std::size_t column = 0; column < n; ++column) {
    std::size_t pivot = column;
    for (std::size_t row = column + 1; row < n; ++row)
      if (std::abs(normal[row][column]) > std::abs(normal[pivot][column])) pivot = row;
    if (!(std::abs(normal[pivot][column]) > 1e-10 * largest)) return std::nullopt;
    std::swap(normal[pivot], normal[column]);
    for (std::size_t row = 0; row < n; ++row) {
      if (row == column) continue;
      const double factor = normal[row][column] / normal[column][column];
      for (std::size_t entry = column; entry <= n; ++entry)
        normal[row][entry] -= factor * normal[column][entry];
    }
  }
  std::array<double, kTerms> coefficients{};
  for (std::size_t a = 0; a < n; ++a) coefficients[used[a]] = normal[a][n] / normal[a][a] / scale[a];
  return coefficients;
}

CostTerms rounded(const std::array<double, kTerms>& coefficients) {
  const auto picoseconds = [](double value) { return std::max<std::int64_t>(std::llround(value), 0); };
  CostTerms cost;
  cost.fixed = picoseconds(coefficients[0]);
  cost.unit = picoseconds(coefficients[1]);
  cost.input = picoseconds(coefficients[2]);
  cost.unit_input = picoseconds(coefficients[3]);
  return cost;
}

// The non-negative least-squares bilinear form: every subset of the terms solved exactly (4 terms, 15
// subsets), the best with no negative coefficient kept; fewer terms win ties.
CostTerms bilinear_fit(std::span<const LatencySample> samples, bool tied) {
  const unsigned allowed = tied ? 0b1011u : 0b1111u;  // a tied layer's k_in is k: no separate input term
  std::vector<unsigned> masks;
  for (unsigned mask = 1; mask < 16; ++mask)
    if ((mask & allowed) == mask) masks.push_back(mask);
  std::stable_sort(masks.begin(), masks.end(),
                   [](unsigned a, unsigned b) { return std::popcount(a) < std::popcount(b); });
  CostTerms best;
  double best_error = std::numeric_limits<double>::infinity();
  for (const unsigned mask : masks) {
    const auto coefficients = solve_terms(samples, mask);
    if (!coefficients ||
        std::any_of(coefficients->begin(), coefficients->end(), [](double value) { return value < 0.0; }))
      continue;
    const CostTerms cost = rounded(*coefficients);
    const double error = relative_errors(samples, cost).rms;
    if (error < best_error * (1.0 - 1e-9)) best = cost, best_error = error;
  }
  return best;
}

// The bilinear fit's k_in terms and a table over k for the rest: the mean of the measured times less
// those terms at every width measured, linearly interpolated between them (flat beyond).
CostTerms table_fit(std::span<const LatencySample> samples, const CostTerms& bilinear, std::int64_t units) {
  CostTerms cost;
  cost.input = bilinear.input;
  cost.unit_input = bilinear.unit_input;
  std::map<std::int64_t, std::pair<double, int>> rest;  // width -> sum, count
  for (const LatencySample& sample : samples) {
    auto& [sum, count] = rest[sample.width];
    sum += sample.picoseconds - evaluate(cost, sample.input_width, sample.width);
    ++count;
  }
  std::vector<std::pair<double, double>> points;  // width, mean
  for (const auto& [width, entry] : rest)
    points.emplace_back(static_cast<double>(width), entry.first / entry.second);
  cost.table.resize(static_cast<std::size_t>(units));
  for (std::int64_t width = 1; width <= units; ++width) {
    const auto k = static_cast<double>(width);
    const auto after = std::lower_bound(points.begin(), points.end(), std::make_pair(k, -HUGE_VAL));
    double value = 0.0;
    if (after == points.begin())
      value = points.front().second;
    else if (after == points.end())
      value = points.back().second;
    else {
      const auto& [k1, v1] = *(after - 1);
      const auto& [k2, v2] = *after;
      value = v1 + (v2 - v1) * (k - k1) / (k2 - k1);
    }
    cost.table[static_cast<std::size_t>(width - 1)] = std::max<std::int64_t>(std::llround(value), 0);
  }
  return cost;
}

std::int64_t median_of(std::vector<std::int64_t> values) {
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

std::optional<Error> check_options(const ProfileOptions& options) {
  if (options.grid < 1 || options.grid > 64)
    return invalid_argument("the grid must have 1 to 64 widths, got " + std::to_string(options.grid));
  if (options.rounds < 1)
    return invalid_argument("give at least one round, got " + std::to_string(options.rounds));
  if (options.warmup < 0) return invalid_argument("warm-up runs cannot be negative");
  return std::nullopt;
}

// The grid widths of every width group (the full width for a pinned one).
std::vector<std::vector<std::int64_t>> grid_widths(const Network& network, const WidthVariables& variables,
                                                   std::int64_t grid) {
  std::vector<std::vector<std::int64_t>> widths;
  for (const WidthGroup& group : variables.groups) {
    const reds::Layer& first = network.layers[group.layers.front()];
    if (group.pinned) {
      widths.push_back({first.units});
      continue;
    }
    std::vector<std::int64_t> allowed;
    for (std::int64_t width = first.min_units; width < first.units; ++width)
      if (width % first.block == 0) allowed.push_back(width);
    allowed.push_back(first.units);
    std::vector<std::int64_t> points;
    for (std::int64_t point = 0; point < grid; ++point) {
      const std::size_t at =
          grid == 1 ? allowed.size() - 1
                    : static_cast<std::size_t>(
                          std::llround(static_cast<double>(point) * static_cast<double>(allowed.size() - 1) /
                                       static_cast<double>(grid - 1)));
      points.push_back(allowed[at]);
    }
    widths.push_back(std::move(points));
  }
  return widths;
}

// Greedy colours of the width variables, different for the input and output variables of every layer.
std::vector<std::int64_t> colours(const WidthVariables& variables) {
  std::vector<std::set<std::size_t>> neighbours(variables.groups.size());
  for (std::size_t layer = 0; layer < variables.group_of_layer.size(); ++layer) {
    const std::size_t input = variables.input_of_layer[layer];
    if (input == WidthVariables::kNetworkInputs) continue;
    const std::size_t a = variables.group_of_layer[input], b = variables.group_of_layer[layer];
    if (a == b) continue;
    neighbours[a].insert(b);
    neighbours[b].insert(a);
  }
  std::vector<std::int64_t> colour(variables.groups.size(), -1);
  for (std::size_t group = 0; group < colour.size(); ++group) {
    std::set<std::int64_t> taken;
    for (const std::size_t other : neighbours[group]) taken.insert(colour[other]);
    std::int64_t free = 0;
    while (taken.contains(free)) ++free;
    colour[group] = free;
  }
  return colour;
}

}  // namespace

LatencyFit fit_latency(std::span<const LatencySample> samples, std::int64_t units, bool tied) {
  LatencyFit fit;
  if (samples.empty()) return fit;
  fit.cost = bilinear_fit(samples, tied);
  Errors errors = relative_errors(samples, fit.cost);
  fit.bilinear_rms_error = errors.rms;
  if (errors.rms > kTableThreshold) {
    CostTerms table = table_fit(samples, fit.cost, units);
    const Errors table_errors = relative_errors(samples, table);
    if (table_errors.rms < errors.rms) fit.cost = std::move(table), errors = table_errors;
  }
  fit.rms_error = errors.rms;
  fit.max_error = errors.max;
  return fit;
}

Result<LatencyProfile> profile_latency(const Model& model, const ProfileOptions& options,
                                       const ProfileProgress& progress) {
  if (auto error = check_options(options)) return *error;
  RequestOptions request_options;
  request_options.block = options.block;
  request_options.min_width_fraction = options.min_width_fraction;
  Result<PlanRequest> request = plan_request(model, request_options);
  if (!request) return request.error();
  const Network& network = request->network;
  const WidthVariables variables = width_variables(network);

  LatencyProfile profile;
  profile.model = network.name;
  profile.input = model.input;
  profile.options = options;
  for (std::size_t layer = 0; layer < network.layers.size(); ++layer) {
    const reds::Layer& entry = network.layers[layer];
    const std::size_t input = variables.input_of_layer[layer];
    profile.layers.push_back(
        {entry.name,
         entry.units,
         input == WidthVariables::kNetworkInputs ? network.inputs : network.layers[input].units,
         entry.tied,
         {},
         {}});
  }

  // The configurations, as nested chains (one session each, see above).
  const std::vector<std::vector<std::int64_t>> grid = grid_widths(network, variables, options.grid);
  const std::vector<std::int64_t> colour = colours(variables);
  std::vector<std::vector<std::int64_t>> configurations;
  std::vector<std::pair<std::size_t, std::size_t>> chain_level;  // per configuration: its session, level
  std::vector<std::vector<std::vector<std::int64_t>>> chains;
  std::set<std::vector<std::vector<std::int64_t>>> seen;
  const std::int64_t highest_colour =
      std::max<std::int64_t>(*std::max_element(colour.begin(), colour.end()), 1);
  for (std::int64_t shifted = 1; shifted <= highest_colour; ++shifted) {
    for (std::int64_t shift = 1 - options.grid; shift < options.grid; ++shift) {
      std::vector<std::vector<std::int64_t>> chain;
      for (std::int64_t step = 0; step < options.grid; ++step) {
        std::vector<std::int64_t> widths;
        for (std::size_t layer = 0; layer < network.layers.size(); ++layer) {
          const std::size_t group = variables.group_of_layer[layer];
          const std::vector<std::int64_t>& points = grid[group];
          const std::int64_t point =
              std::clamp<std::int64_t>(step + (colour[group] == shifted ? shift : 0), 0, options.grid - 1);
          widths.push_back(points[static_cast<std::size_t>(point) % points.size()]);
        }
        chain.push_back(std::move(widths));
      }
      // The unshifted chain comes once; a network with one width variable has no other.
      if (!seen.insert(chain).second) continue;
      for (std::size_t level = 0; level < chain.size(); ++level) {
        configurations.push_back(chain[level]);
        chain_level.emplace_back(chains.size(), level);
      }
      chains.push_back(std::move(chain));
    }
  }

  // Every model layer's request layer: its own, or the one whose width the map it reads carries.
  const std::size_t none = network.layers.size();
  std::map<std::string, std::size_t> request_index;
  for (std::size_t layer = 0; layer < network.layers.size(); ++layer)
    request_index[network.layers[layer].name] = layer;
  std::vector<std::size_t> owner(model.layers.size(), none);
  for (std::size_t index = 0; index < model.layers.size(); ++index) {
    if (detail::is_unit_layer(model.layers[index].kind)) {
      owner[index] = request_index.at(model.layers[index].name);
    } else {
      const std::size_t tensor = layer_inputs(model, index)[0];
      owner[index] = tensor == 0 ? none : owner[tensor - 1];
    }
  }

  std::vector<std::string> names;
  for (const reds::Layer& entry : network.layers) names.push_back(entry.name);
  Model configured = model;
  std::vector<Session> sessions;
  for (const std::vector<std::vector<std::int64_t>>& chain : chains) {
    configured.plan = EmbeddedPlan{"", names, chain, {}};
    Result<Session> session = Session::create(configured);
    if (!session) return session.error();
    sessions.push_back(std::move(session).value());
  }
  // Images taken in turn from a pool larger than the caches: every run reads its input from memory, as
  // `reds run` reads a test set (a cached input would make every run some microseconds faster).
  const auto image_size = static_cast<std::size_t>(model.input.size());
  const std::size_t pool = std::max<std::size_t>(kImagePoolBytes / sizeof(float) / image_size, 1);
  std::vector<float> images(pool * image_size);
  SplitMix64 random(1);
  for (float& pixel : images) pixel = static_cast<float>(random.uniform());
  std::size_t next_image = 0;
  const auto image = [&] {
    next_image = (next_image + 1) % pool;
    return std::span<const float>(images).subspan(next_image * image_size, image_size);
  };

  // times[configuration][layer] per round (nanoseconds; `none` is the calls no layer owns), whole[...].
  const std::size_t count = configurations.size();
  std::vector<std::vector<std::vector<std::int64_t>>> times(
      count, std::vector<std::vector<std::int64_t>>(network.layers.size() + 1));
  std::vector<std::vector<std::int64_t>> whole(count);
  std::vector<std::int64_t> call_nanoseconds;
  for (std::int64_t round = 0; round < options.rounds; ++round) {
    for (std::size_t visit = 0; visit < count; ++visit) {
      const std::size_t configuration = (visit + static_cast<std::size_t>(round)) % count;
      Session& session = sessions[chain_level[configuration].first];
      session.set_level(chain_level[configuration].second);
      for (std::int64_t run = 0; run < options.warmup; ++run) session.run(image());
      const std::span<const KernelCall> calls = session.level_calls(session.level());
      call_nanoseconds.assign(calls.size(), 0);
      session.run_timed(image(), call_nanoseconds);
      std::vector<std::int64_t> sums(network.layers.size() + 1, 0);
      for (std::size_t call = 0; call < calls.size(); ++call)
        sums[owner[calls[call].layer]] += call_nanoseconds[call];
      for (std::size_t layer = 0; layer <= network.layers.size(); ++layer)
        times[configuration][layer].push_back(sums[layer]);
      const auto start = std::chrono::steady_clock::now();
      session.run(image());
      const auto stop = std::chrono::steady_clock::now();
      whole[configuration].push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count());
    }
    if (progress) progress(round + 1, options.rounds);
  }

  constexpr double kPicosecondsPerNanosecond = 1000.0;
  for (std::size_t configuration = 0; configuration < count; ++configuration) {
    const std::vector<std::int64_t>& widths = configurations[configuration];
    for (std::size_t layer = 0; layer < network.layers.size(); ++layer) {
      const std::size_t input = variables.input_of_layer[layer];
      const std::int64_t input_width =
          input == WidthVariables::kNetworkInputs ? network.inputs : widths[input];
      // A median of 0 ns (a layer faster than the clock) is kept at 1 ps: the fit divides by it.
      const double picoseconds = std::max(
          static_cast<double>(median_of(times[configuration][layer])) * kPicosecondsPerNanosecond, 1.0);
      profile.layers[layer].samples.push_back({input_width, widths[layer], picoseconds});
    }
  }
  for (LayerLatency& layer : profile.layers) layer.fit = fit_latency(layer.samples, layer.units, layer.tied);

  // The overhead: what the whole runs take beyond the fitted layers, the median over the configurations.
  PlanRequest priced = request.value();
  if (auto error = add_latency(priced, profile)) return *error;
  std::vector<std::int64_t> beyond;
  for (std::size_t configuration = 0; configuration < count; ++configuration) {
    const std::int64_t predicted =
        network_cost(priced.network, configurations[configuration]).at(kLatencyResource);
    beyond.push_back(static_cast<std::int64_t>(static_cast<double>(median_of(whole[configuration])) *
                                               kPicosecondsPerNanosecond) -
                     predicted);
  }
  std::int64_t overhead = median_of(beyond);
  profile.overhead_picoseconds = static_cast<double>(overhead);
  // A negative overhead (the clock reads counted in the layers' times) comes off the fixed terms.
  for (LayerLatency& layer : profile.layers) {
    const std::int64_t change = std::max(overhead, -layer.fit.cost.fixed);
    layer.fit.cost.fixed += change;
    overhead -= change;
    if (overhead == 0) break;
  }

  priced = request.value();
  if (auto error = add_latency(priced, profile)) return *error;
  double squares = 0.0;
  for (std::size_t configuration = 0; configuration < count; ++configuration) {
    NetworkSample sample;
    sample.widths = configurations[configuration];
    sample.measured_picoseconds =
        static_cast<double>(median_of(whole[configuration])) * kPicosecondsPerNanosecond;
    sample.predicted_picoseconds =
        static_cast<double>(network_cost(priced.network, sample.widths).at(kLatencyResource));
    const double error =
        (sample.predicted_picoseconds - sample.measured_picoseconds) / sample.measured_picoseconds;
    squares += error * error;
    profile.network_max_error = std::max(profile.network_max_error, std::abs(error));
    profile.networks.push_back(std::move(sample));
  }
  profile.network_rms_error = std::sqrt(squares / static_cast<double>(count));
  return profile;
}

namespace {

nlohmann::ordered_json cost_json(const CostTerms& cost) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  json["fixed"] = cost.fixed;
  json["unit"] = cost.unit;
  json["input"] = cost.input;
  json["unit_input"] = cost.unit_input;
  if (!cost.table.empty()) json["table"] = cost.table;
  return json;
}

}  // namespace

std::string to_json(const LatencyProfile& profile, int indent) {
  nlohmann::ordered_json json;
  json["format"] = "reds latency profile";
  json["version"] = 1;
  json["model"] = profile.model;
  json["input"] = {profile.input.height, profile.input.width, profile.input.channels};
  json["unit"] = "picoseconds";
  nlohmann::ordered_json measurement;
  measurement["grid"] = profile.options.grid;
  measurement["rounds"] = profile.options.rounds;
  measurement["warmup"] = profile.options.warmup;
  measurement["block"] = profile.options.block;
  measurement["min_width_fraction"] = profile.options.min_width_fraction;
  measurement["statistic"] = "median";
  measurement["configurations"] = profile.networks.size();
  json["measurement"] = std::move(measurement);
  json["overhead"] = std::llround(profile.overhead_picoseconds);
  json["network_error"] = {{"rms", profile.network_rms_error}, {"max", profile.network_max_error}};
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const LayerLatency& layer : profile.layers) {
    nlohmann::ordered_json entry;
    entry["name"] = layer.name;
    entry["units"] = layer.units;
    entry["input_units"] = layer.input_units;
    entry["tied"] = layer.tied;
    entry["cost"] = cost_json(layer.fit.cost);
    entry["error"] = {{"rms", layer.fit.rms_error},
                      {"max", layer.fit.max_error},
                      {"bilinear_rms", layer.fit.bilinear_rms_error}};
    nlohmann::ordered_json samples = nlohmann::ordered_json::array();
    for (const LatencySample& sample : layer.samples)
      samples.push_back({sample.input_width, sample.width, std::llround(sample.picoseconds)});
    entry["samples"] = std::move(samples);
    layers.push_back(std::move(entry));
  }
  json["layers"] = std::move(layers);
  nlohmann::ordered_json networks = nlohmann::ordered_json::array();
  for (const NetworkSample& sample : profile.networks)
    networks.push_back({{"widths", sample.widths},
                        {"measured", std::llround(sample.measured_picoseconds)},
                        {"predicted", std::llround(sample.predicted_picoseconds)}});
  json["networks"] = std::move(networks);
  return json.dump(indent);
}

Result<LatencyProfile> parse_latency_profile(const std::string& text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return invalid_argument("the latency profile is not valid JSON");
  const auto fail = [](const std::string& message, const std::string& path) {
    return invalid_argument("latency profile: " + message, path);
  };
  // Type-checked reads: nlohmann's value() throws on a value of another type.
  const auto is_string = [](const nlohmann::json& object, const char* key, const char* expected) {
    return object.contains(key) && object[key].is_string() && object[key].get<std::string>() == expected;
  };
  if (!json.is_object() || !is_string(json, "format", "reds latency profile"))
    return fail("not a latency profile (\"format\": \"reds latency profile\" missing)", "/format");
  if (!json.contains("version") || json["version"] != 1)
    return fail("unsupported version; this reader knows version 1", "/version");
  if (!is_string(json, "unit", "picoseconds")) return fail("the unit must be \"picoseconds\"", "/unit");
  if (!json.contains("layers") || !json["layers"].is_array() || json["layers"].empty())
    return fail("\"layers\" must be a non-empty array", "/layers");
  const auto integer = [](const nlohmann::json& value) {
    return value.is_number_integer() && value.get<std::int64_t>() >= 0 &&
           value.get<std::int64_t>() < (std::int64_t{1} << 53);
  };
  LatencyProfile profile;
  if (json.contains("model") && json["model"].is_string()) profile.model = json["model"];
  if (json.contains("measurement")) {
    const nlohmann::json& measurement = json["measurement"];
    if (!measurement.is_object()) return fail("\"measurement\" must be an object", "/measurement");
    for (const auto& [field, target] : {std::pair<const char*, std::int64_t*>{"grid", &profile.options.grid},
                                        {"rounds", &profile.options.rounds},
                                        {"warmup", &profile.options.warmup},
                                        {"block", &profile.options.block}}) {
      if (!measurement.contains(field)) continue;
      if (!integer(measurement[field]) || (measurement[field] == 0 && std::string(field) != "warmup"))
        return fail(std::string("\"") + field + "\" must be a positive integer",
                    std::string("/measurement/") + field);
      *target = measurement[field];
    }
  }
  for (std::size_t index = 0; index < json["layers"].size(); ++index) {
    const nlohmann::json& entry = json["layers"][index];
    const std::string path = "/layers/" + std::to_string(index);
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string())
      return fail("a layer needs a \"name\"", path + "/name");
    for (const char* field : {"units", "input_units"})
      if (!entry.contains(field) || !integer(entry[field]) || entry[field].get<std::int64_t>() < 1)
        return fail(std::string("\"") + field + "\" must be a positive integer", path + "/" + field);
    if (!entry.contains("cost") || !entry["cost"].is_object())
      return fail("a layer needs a \"cost\" object", path + "/cost");
    LayerLatency layer;
    layer.name = entry["name"];
    layer.units = entry["units"];
    layer.input_units = entry["input_units"];
    if (entry.contains("tied") && !entry["tied"].is_boolean())
      return fail("\"tied\" must be true or false", path + "/tied");
    layer.tied = entry.contains("tied") && entry["tied"].get<bool>();
    const nlohmann::json& cost = entry["cost"];
    for (const auto& [field, target] : {std::pair<const char*, std::int64_t*>{"fixed", &layer.fit.cost.fixed},
                                        {"unit", &layer.fit.cost.unit},
                                        {"input", &layer.fit.cost.input},
                                        {"unit_input", &layer.fit.cost.unit_input}}) {
      if (!cost.contains(field)) continue;
      if (!integer(cost[field]))
        return fail("a cost term is a non-negative integer below 2^53", path + "/cost/" + field);
      *target = cost[field];
    }
    if (cost.contains("table")) {
      const nlohmann::json& table = cost["table"];
      if (!table.is_array() || static_cast<std::int64_t>(table.size()) != layer.units ||
          !std::all_of(table.begin(), table.end(), integer))
        return fail("the table holds one non-negative integer per unit", path + "/cost/table");
      for (const nlohmann::json& value : table) layer.fit.cost.table.push_back(value);
    }
    profile.layers.push_back(std::move(layer));
  }
  return profile;
}

std::optional<Error> add_latency(PlanRequest& request, const LatencyProfile& profile) {
  Network& network = request.network;
  const WidthVariables variables = width_variables(network);
  std::map<std::string, const LayerLatency*> by_name;
  for (const LayerLatency& layer : profile.layers) by_name[layer.name] = &layer;
  for (std::size_t index = 0; index < network.layers.size(); ++index) {
    reds::Layer& layer = network.layers[index];
    const auto found = by_name.find(layer.name);
    if (found == by_name.end())
      return invalid_argument("the latency profile has no layer '" + layer.name +
                              "': it was measured on another model");
    const std::size_t input = variables.input_of_layer[index];
    const std::int64_t input_units =
        input == WidthVariables::kNetworkInputs ? network.inputs : network.layers[input].units;
    if (found->second->units != layer.units || found->second->input_units != input_units)
      return invalid_argument("the latency profile's layer '" + layer.name + "' has " +
                              std::to_string(found->second->units) + " units reading " +
                              std::to_string(found->second->input_units) + ", the model's " +
                              std::to_string(layer.units) + " reading " + std::to_string(input_units) +
                              ": it was measured on another model");
    layer.cost[kLatencyResource] = found->second->fit.cost;
  }
  // A budget on a resource no layer costs is no request (the contract refuses it); a measured layer takes
  // at least a picosecond, so an all-zero profile was not measured.
  const auto costs_nothing = [](const reds::Layer& layer) {
    const CostTerms& cost = layer.cost.at(kLatencyResource);
    return cost.fixed == 0 && cost.unit == 0 && cost.input == 0 && cost.unit_input == 0 &&
           std::all_of(cost.table.begin(), cost.table.end(), [](std::int64_t value) { return value == 0; });
  };
  if (std::all_of(network.layers.begin(), network.layers.end(), costs_nothing))
    return invalid_argument("the latency profile prices every layer of the model at 0 picoseconds");
  network.resources[kLatencyResource] = Aggregation::sum;
  return std::nullopt;
}

}  // namespace reds::engine
