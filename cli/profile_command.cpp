#include "profile_command.h"

#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "reds/engine/latency.h"
#include "reds/engine/model.h"

namespace reds::cli {

namespace po = boost::program_options;

namespace {

std::string percent(double fraction) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << 100.0 * fraction << " %";
  return text.str();
}

std::string microseconds(double picoseconds) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << picoseconds / 1e6 << " us";
  return text.str();
}

// The 1-minute load average, the noise's first suspect; empty where /proc/loadavg is not there.
std::string load_average() {
  std::ifstream file("/proc/loadavg");
  std::string load;
  if (!(file >> load)) return {};
  return "load average " + load + " on " + std::to_string(std::thread::hardware_concurrency()) + " cores";
}

// What the profile says to a person: how well the form fits, per layer and for the whole network, and
// where the time goes at full width.
std::string summary(const engine::LatencyProfile& profile) {
  const engine::NetworkSample* full = nullptr;
  for (const engine::NetworkSample& sample : profile.networks)
    if (!full || sample.measured_picoseconds > full->measured_picoseconds) full = &sample;
  std::ostringstream text;
  text << "profiled '" << profile.model << "': " << profile.networks.size() << " width configurations x "
       << profile.options.rounds << " rounds (median); whole network predicted within "
       << percent(profile.network_rms_error) << " rms, " << percent(profile.network_max_error) << " max";
  if (const std::string load = load_average(); !load.empty()) text << " (" << load << ")";
  text << "\n";
  std::vector<std::pair<std::string, std::string>> rows;
  for (std::size_t index = 0; index < profile.layers.size(); ++index) {
    const engine::LayerLatency& layer = profile.layers[index];
    const std::int64_t width = full ? full->widths[index] : layer.units;
    double at_widest = 0.0;
    for (const engine::LatencySample& sample : layer.samples)
      if (sample.width == width) at_widest = std::max(at_widest, sample.picoseconds);
    std::ostringstream line;
    line << (layer.fit.cost.table.empty() ? "bilinear" : "table   ") << "  fit error " << std::setw(6)
         << percent(layer.fit.rms_error) << " rms " << std::setw(7) << percent(layer.fit.max_error)
         << " max  " << std::setw(9) << microseconds(at_widest) << " at width " << width;
    rows.emplace_back(layer.name, line.str());
  }
  text << two_columns(rows, "  ");
  return text.str();
}

}  // namespace

int run_profile(const std::vector<std::string>& args, Streams streams) {
  const engine::ProfileOptions defaults;
  CommandLine command_line(
      "reds profile", "reds profile MODEL [OPTIONS] [-o PROFILE.json]",
      "Times every unit layer of MODEL (a Keras HDF5, ONNX or native .reds model) in the engine\n"
      "'reds run' uses, on this machine, one image at a time, at --grid widths per layer between\n"
      "its minimum and its full width (multiples of --block): every pair of input and output widths\n"
      "of every layer, in (2 * --grid - 1) chains of --grid nested levels, each chain run as the levels\n"
      "of a plan are. The configurations are timed in --rounds interleaved rounds after --warmup\n"
      "untimed runs each; a layer's time is its median. Fits the plan contract's cost form to every layer "
      "(picoseconds: fixed + unit*k +\n"
      "input*k_in + unit_input*k*k_in, or a table over k where that misses by more than 3 %) and\n"
      "writes the profile; a summary of the fit's errors goes to standard error.\n"
      "'reds request MODEL --profile PROFILE.json --latency-us 40,80' then plans levels under time\n"
      "budgets. Time it on a quiet machine: the profile is as good as the timings it holds.");
  std::ostringstream fraction;
  fraction << defaults.min_width_fraction;
  command_line.add_options()                                                   //
      ("output,o", po::value<std::string>()->value_name("FILE"), kOutputHelp)  //
      ("grid", number_option("N", std::to_string(defaults.grid)),
       "widths timed per layer")  //
      ("rounds", number_option("N", std::to_string(defaults.rounds)),
       "timed runs of every configuration, interleaved; the median is kept")                       //
      ("warmup", number_option("N", std::to_string(defaults.warmup)), "untimed runs before each")  //
      ("block", number_option("N", std::to_string(defaults.block)),
       "widths timed are multiples of N (or the full width); use the block of your plans")  //
      ("min-width-fraction", number_option("F", fraction.str()),
       "the smallest width timed is ceil(F * units), as 'reds request' plans")  //
      ("compact", "write the profile on one line instead of indented");
  command_line.add_positional("model", 1, po::value<std::string>(), "missing the MODEL file");
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;

  engine::ProfileOptions profile_options;
  const Result<std::int64_t> grid = integer_value(options, "grid", 1, 64);
  if (!grid) return command_line.report(streams.err, grid.error());
  const Result<std::int64_t> rounds = integer_value(options, "rounds", 1);
  if (!rounds) return command_line.report(streams.err, rounds.error());
  const Result<std::int64_t> warmup = integer_value(options, "warmup", 0);
  if (!warmup) return command_line.report(streams.err, warmup.error());
  const Result<std::int64_t> block = integer_value(options, "block", 1);
  if (!block) return command_line.report(streams.err, block.error());
  const Result<double> min_fraction = number_value(options, "min-width-fraction", 0.0, 1.0);
  if (!min_fraction) return command_line.report(streams.err, min_fraction.error());
  profile_options.grid = *grid;
  profile_options.rounds = *rounds;
  profile_options.warmup = *warmup;
  profile_options.block = *block;
  profile_options.min_width_fraction = *min_fraction;

  const Result<engine::Model> model = engine::load_model(options["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  ProgressBar progress(streams.err, is_terminal(streams.err));
  const Result<engine::LatencyProfile> profile =
      engine::profile_latency(model.value(), profile_options, [&](std::int64_t done, std::int64_t total) {
        progress.show("timing, round " + std::to_string(done) + "/" + std::to_string(total), done, total);
      });
  progress.clear();
  if (!profile) return command_line.report(streams.err, profile.error());
  const int status = write_output(command_line, streams, options,
                                  engine::to_json(profile.value(), options.count("compact") ? -1 : 2));
  if (status == kExitSuccess) streams.err << summary(profile.value()) << "\n";
  return status;
}

}  // namespace reds::cli
