#include "run_command.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <optional>
#include <ostream>
#include <sstream>

#include "reds/engine/dataset.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/model.h"
#include "reds/engine/session.h"

namespace reds::cli {

namespace po = boost::program_options;

namespace {

// "level 2/3 [##########..........] 51%" rewritten in place on a terminal's standard error.
class ProgressBar {
 public:
  ProgressBar(std::ostream& err, bool enabled) : err_(err), enabled_(enabled) {}

  void show(std::size_t level, std::size_t levels, std::int64_t done, std::int64_t total) {
    if (!enabled_) return;
    constexpr int kWidth = 30;
    const auto filled = static_cast<int>(kWidth * done / std::max<std::int64_t>(total, 1));
    err_ << "\rlevel " << level << '/' << levels << " [" << std::string(static_cast<std::size_t>(filled), '#')
         << std::string(static_cast<std::size_t>(kWidth - filled), '.') << "] "
         << 100 * done / std::max<std::int64_t>(total, 1) << '%' << std::flush;
  }
  void clear() {
    if (enabled_) err_ << '\r' << std::string(60, ' ') << '\r' << std::flush;
  }

 private:
  std::ostream& err_;
  bool enabled_;
};

std::string describe(const engine::LevelEvaluation& evaluation) {
  std::ostringstream line;
  line << "level " << evaluation.level + 1 << "  accuracy " << std::fixed << std::setprecision(2)
       << 100.0 * evaluation.accuracy << " % (" << evaluation.correct << '/' << evaluation.total << ")  macs "
       << evaluation.info.macs << "  latency " << std::setprecision(1) << evaluation.latency_us
       << " us (median, batch 1)  widths";
  for (const auto& [name, width] : evaluation.info.widths) line << ' ' << name << '=' << width;
  return line.str();
}

}  // namespace

int run_run(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds run", "reds run MODEL --data DIR [--level I | --all-levels] [--json]",
      "Runs MODEL (a Keras HDF5 file or a native .reds model) over the test images in DIR\n"
      "(IDX files t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, gzipped or not, e.g.\n"
      "/usr/share/datasets/fashion-mnist) and prints each level's accuracy, MACs and median\n"
      "batch-1 latency. Levels come from the model's embedded plan, smallest first, numbered\n"
      "from 1; a model without a plan has one level, the full network. All levels by default.\n"
      "A progress bar goes to standard error when it is a terminal.");
  command_line.add_options()                                                                   //
      ("data", po::value<std::string>()->value_name("DIR"), "directory of the test set")       //
      ("level", po::value<std::size_t>()->value_name("I"), "run level I only (1 = smallest)")  //
      ("all-levels", "run every level (the default)")                                          //
      ("json",
       "one JSON object per line and level: level, widths, macs, correct, total, accuracy, latency_us");
  command_line.add_positional("model", 1, po::value<std::string>());
  const std::optional<po::variables_map> options = command_line.parse(args, streams.err);
  if (!options) return kExitUsageError;
  if (options->count("help")) {
    command_line.print_help(streams.out);
    return kExitSuccess;
  }
  if (!options->count("model")) return command_line.usage_error(streams.err, "missing the MODEL file");
  if (!options->count("data")) return command_line.usage_error(streams.err, "missing --data DIR");
  if (options->count("level") && options->count("all-levels"))
    return command_line.usage_error(streams.err, "give --level or --all-levels, not both");

  const Result<engine::Model> model = engine::load_model((*options)["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  Result<engine::Session> session = engine::Session::create(model.value());
  if (!session) return command_line.report(streams.err, session.error());
  const Result<engine::ImageSet> images = engine::load_test_set((*options)["data"].as<std::string>());
  if (!images) return command_line.report(streams.err, images.error());

  const std::size_t levels = session->level_count();
  std::size_t first = 0, last = levels;
  if (options->count("level")) {
    const std::size_t level = (*options)["level"].as<std::size_t>();
    if (level < 1 || level > levels)
      return command_line.report(
          streams.err, invalid_argument("--level " + std::to_string(level) + ": the model has " +
                                        std::to_string(levels) + (levels == 1 ? " level" : " levels")));
    first = level - 1;
    last = level;
  }

  ProgressBar progress(streams.err, &streams.err == &std::cerr && isatty(STDERR_FILENO));
  for (std::size_t level = first; level < last; ++level) {
    const Result<engine::LevelEvaluation> evaluation = engine::evaluate(
        session.value(), level, images.value(),
        [&](std::int64_t done, std::int64_t total) { progress.show(level + 1, levels, done, total); });
    progress.clear();
    if (!evaluation) return command_line.report(streams.err, evaluation.error());
    streams.out << (options->count("json") ? engine::to_json(evaluation.value())
                                           : describe(evaluation.value()))
                << '\n'
                << std::flush;
  }
  if (streams.out) return kExitSuccess;
  command_line.print_error(streams.err, "cannot write to standard output");
  return kExitFailure;
}

}  // namespace reds::cli
