#include "apply_command.h"

#include <iomanip>
#include <optional>
#include <sstream>

#include "reds/engine/model.h"
#include "reds/engine/planning.h"
#include "reds/engine/session.h"

namespace reds::cli {

namespace po = boost::program_options;

int run_apply(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds apply", "reds apply MODEL PLAN|- -o OUT",
      "Permutes the units of MODEL (a Keras HDF5 file or a native .reds model) into the order of\n"
      "PLAN (the response of 'reds plan' to 'reds request MODEL', or '-' for standard input), so\n"
      "that every level of the plan keeps a prefix of every layer while the full network computes\n"
      "the same function, and writes a native model with the plan embedded to OUT ('reds run'\n"
      "runs its levels). Prints one line per level: its MACs, their share of the full network's,\n"
      "and its widths.");
  command_line.add_options()  //
      ("output,o", po::value<std::string>()->value_name("OUT"), "the native model file to write");
  command_line.add_positional("model", 1, po::value<std::string>());
  command_line.add_positional("plan", 1, po::value<std::string>());
  const std::optional<po::variables_map> options = command_line.parse(args, streams.err);
  if (!options) return kExitUsageError;
  if (options->count("help")) {
    command_line.print_help(streams.out);
    return kExitSuccess;
  }
  if (!options->count("model")) return command_line.usage_error(streams.err, "missing the MODEL file");
  if (!options->count("plan"))
    return command_line.usage_error(streams.err, "missing the PLAN file (or '-' for standard input)");
  if (!options->count("output")) return command_line.usage_error(streams.err, "missing -o OUT");

  const Result<engine::Model> model = engine::load_model((*options)["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  const Result<std::string> plan = read_input((*options)["plan"].as<std::string>(), streams.in);
  if (!plan) return command_line.report(streams.err, plan.error());
  const Result<engine::Model> planned = engine::apply_plan(model.value(), plan.value());
  if (!planned) return command_line.report(streams.err, planned.error());
  const Result<engine::Session> session = engine::Session::create(planned.value());
  if (!session) return command_line.report(streams.err, session.error());
  if (auto error = engine::save_native(planned.value(), (*options)["output"].as<std::string>()))
    return command_line.report(streams.err, *error);

  engine::Model unplanned = planned.value();
  unplanned.plan.reset();
  const Result<engine::Session> full = engine::Session::create(unplanned);
  const double full_macs = full ? static_cast<double>(full->level_info(0).macs) : 0.0;
  std::ostringstream summary;
  for (std::size_t level = 0; level < session->level_count(); ++level) {
    const engine::LevelInfo& info = session->level_info(level);
    summary << (level == 0 ? "" : "\n") << "level " << level + 1 << "  macs " << info.macs << " ("
            << std::fixed << std::setprecision(1) << 100.0 * static_cast<double>(info.macs) / full_macs
            << " %)  widths";
    for (const auto& [name, width] : info.widths) summary << ' ' << name << '=' << width;
  }
  return print_output(command_line, streams, summary.str());
}

}  // namespace reds::cli
