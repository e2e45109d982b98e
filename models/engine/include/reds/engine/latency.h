// reds/engine/latency.h: a model's latency on this machine as a resource of the plan contract.
//
// profile_latency() times every unit layer of a model in the engine that runs it: a Session (session.h)
// per width configuration, each with that configuration as its one level, every kernel call timed
// (Session::run_timed) and charged to the request layer (planning.h) whose kept width its map carries: a
// convolution with its fused rectifier, the pools, padding, additions and softmax after it. Calls before
// the first unit layer and the session's own work (copying the input in) are the network's overhead,
// charged to the first layer's `fixed` term.
//
// Which widths: every width variable of the request (a prunable layer with its tied depthwise layers, or a
// stream) takes `grid` widths from its minimum to its full width, multiples of `block` (the engine
// computes units in vectors of 8: a width between two multiples costs about the next one). The variables
// get colours 0, 1, ..., different for every layer's input and output variables (two for a chain, three
// where a shortcut closes a triangle of variables). For every colour c >= 1 and shift d in 1 - grid ..
// grid - 1, a chain of `grid` configurations gives at step t the variables of colour c grid point
// clamp(t + d) and all others grid point t: a plan's levels in miniature, widths never shrinking along the
// chain, timed in one Session whose plan has the chain as its levels. So every configuration runs in the
// nested weight layout at a level's position, as a plan's levels run (a level reads the strips of the levels
// below it, which takes time: some 5-8 % on DS-CNN S's widest levels), and every layer, whatever its two
// colours, is timed at every pair (k_in, k) of grid points: (1 + (colours - 1) * (2 * grid - 2)) * grid
// configurations.
//
// Noise: the configurations are measured in `rounds` interleaved rounds (so that a slow spell of the
// machine hits all of them alike), each visit `warmup` untimed runs (caches and branch predictors as in a
// steady stream of images), then one run with every call timed and one timed as a whole; a layer's time
// is its median over the rounds, as is the whole network's. Each run takes the next image of a 64 MB pool
// of random images, so that it reads its input from memory as `reds run` does from a test set (an input
// in the cache makes DS-CNN S 1-2 us faster).
//
// The fit (fit_latency): per layer, the contract's cost form in picoseconds,
//   fixed + unit * k + input * k_in + unit_input * k * k_in,
// with non-negative coefficients minimising the relative squared error over the layer's samples; where
// that form misses by more than kTableThreshold (relative RMS), a table over the layer's own width k
// (the measured times less the fitted k_in terms, interpolated between grid widths) replaces fixed and
// unit when it fits better. Picoseconds, so that a coefficient as small as a fraction of a nanosecond (a
// 1x1 convolution on a 3x3 map) stays an exact integer.
//
//   reds::Result<reds::engine::LatencyProfile> profile = reds::engine::profile_latency(model);
//   reds::Result<reds::PlanRequest> request = reds::engine::plan_request(model);
//   reds::engine::add_latency(request.value(), profile.value());   // resource "latency", picoseconds
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "reds/engine/model.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds::engine {

// The contract resource add_latency() defines, in picoseconds per image.
inline constexpr const char* kLatencyResource = "latency";
inline constexpr std::int64_t kPicosecondsPerMicrosecond = 1'000'000;
// A relative RMS error above which a layer's fit tries a per-width table.
inline constexpr double kTableThreshold = 0.03;

// One measured time of a layer: its input width, its own width and the median time.
struct LatencySample {
  std::int64_t input_width = 0;
  std::int64_t width = 0;
  double picoseconds = 0.0;
};

struct LatencyFit {
  CostTerms cost;          // latency in picoseconds; `table` empty for the bilinear form
  double rms_error = 0.0;  // relative: sqrt(mean(((predicted - measured) / measured)^2)) over the samples
  double max_error = 0.0;  // relative, the largest over the samples
  double bilinear_rms_error = 0.0;  // the bilinear form's, also when a table replaced it
};

// Fits the cost form above to a layer's samples (any number, widths in 1..units, times > 0); tied layers
// (input width = own width) get no `input` term. Exact on times that follow the form with integer
// coefficients.
LatencyFit fit_latency(std::span<const LatencySample> samples, std::int64_t units, bool tied);

struct LayerLatency {
  std::string name;  // the request layer (planning.h), named as in the model
  std::int64_t units = 0;
  std::int64_t input_units = 0;  // the full width of the layer its k_in comes from (the model's inputs)
  bool tied = false;
  LatencyFit fit;
  std::vector<LatencySample> samples;
};

struct ProfileOptions {
  std::int64_t grid = 5;             // widths per variable
  std::int64_t rounds = 31;          // timed runs per configuration, interleaved; the median is kept
  std::int64_t warmup = 3;           // untimed runs before every timed one
  std::int64_t block = 8;            // widths timed are multiples of it (or the full width)
  double min_width_fraction = 0.25;  // and at least ceil(fraction * units), as RequestOptions
};

// A configuration's whole-network time, measured and as the fitted costs predict it.
struct NetworkSample {
  std::vector<std::int64_t> widths;  // per request layer
  double measured_picoseconds = 0.0;
  double predicted_picoseconds = 0.0;
};

struct LatencyProfile {
  std::string model;
  Shape input;
  ProfileOptions options;
  std::vector<LayerLatency> layers;     // the request's layers, in its order
  double overhead_picoseconds = 0.0;    // the network's overhead, included in the first layer's fixed term
  std::vector<NetworkSample> networks;  // every configuration
  double network_rms_error = 0.0;       // relative, over the configurations
  double network_max_error = 0.0;
};

// Called after every round with the rounds done and the total.
using ProfileProgress = std::function<void(std::int64_t done, std::int64_t total)>;

// invalid_argument for a model plan_request() refuses, or options out of range (grid 1..64, rounds and
// block >= 1, warmup >= 0, fraction in [0, 1]).
Result<LatencyProfile> profile_latency(const Model& model, const ProfileOptions& options = {},
                                       const ProfileProgress& progress = {});

// The profile as JSON (docs/latency.md) and back; parse errors are invalid_argument with a JSON Pointer.
std::string to_json(const LatencyProfile& profile, int indent = 2);
Result<LatencyProfile> parse_latency_profile(const std::string& json);

// Adds the resource `latency` (sum, picoseconds) to a request with the profile's cost of every layer.
// invalid_argument when the profile does not describe the request's network (a layer missing, or with
// other units or input width).
std::optional<Error> add_latency(PlanRequest& request, const LatencyProfile& profile);

}  // namespace reds::engine
