#include "run_command.h"

#include <iomanip>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>

#include "input_normalization_options.h"
#include "reds/engine/dataset.h"
#include "reds/engine/evaluation.h"
#include "reds/engine/model.h"
#include "reds/engine/session.h"

namespace reds::cli {

namespace po = boost::program_options;

namespace {

std::string describe(const engine::LevelEvaluation& evaluation) {
  std::ostringstream line;
  line << "level " << evaluation.level + 1 << "  accuracy " << std::fixed << std::setprecision(2)
       << 100.0 * evaluation.accuracy << " % (" << evaluation.correct << '/' << evaluation.total << ")  macs "
       << evaluation.info.macs << "  latency " << std::setprecision(1) << evaluation.latency_us
       << " us (median, batch 1)  widths";
  for (const auto& [name, width] : evaluation.info.widths) line << ' ' << name << '=' << width;
  return line.str();
}

// The evaluation's JSON line with "outputs": every image's output vector at the session's level, each float
// written so that it reads back to the same float (a reference for other implementations of the model).
std::string json_with_outputs(const engine::LevelEvaluation& evaluation, engine::Session& session,
                              const engine::ImageSet& images) {
  nlohmann::ordered_json line = nlohmann::ordered_json::parse(engine::to_json(evaluation));
  nlohmann::ordered_json outputs = nlohmann::ordered_json::array();
  for (std::int64_t index = 0; index < images.count; ++index) {
    const std::span<const float> output = session.run(images.image(index));
    outputs.push_back(std::vector<float>(output.begin(), output.end()));
  }
  line["outputs"] = std::move(outputs);
  return line.dump();
}

}  // namespace

int run_run(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds run", "reds run MODEL --data DIR [--level I | --all-levels] [--json [--outputs]] [-o FILE]",
      "Runs MODEL (a Keras HDF5, ONNX or native .reds model) over the test images in DIR\n"
      "(IDX files t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, gzipped or not, e.g.\n"
      "/usr/share/datasets/fashion-mnist; colour images N x H x W x C as t10k-images-idx4-ubyte)\n"
      "and prints each level's accuracy, MACs and median batch-1 latency. The images must have\n"
      "the model's input shape; every byte x enters as (x * scale - mean) / std (--input-*).\n"
      "Levels come from the model's embedded plan, smallest first, numbered from 1; a model\n"
      "without a plan has one level, the full network. All levels by default.\n"
      "A progress bar goes to standard error when it is a terminal.");
  command_line.add_options()                                                              //
      ("data", po::value<std::string>()->value_name("DIR"), "directory of the test set")  //
      ("level", number_option("I"), "run level I only (1 = smallest)")                    //
      ("all-levels", "run every level (the default)")                                     //
      ("json",
       "one JSON object per line and level: level, widths, macs, correct, total, accuracy, latency_us")  //
      ("outputs", "with --json: also \"outputs\", every image's output vector at the level")             //
      ("output,o", po::value<std::string>()->value_name("FILE"), kOutputHelp);
  add_input_normalization_options(command_line);
  command_line.add_positional("model", 1, po::value<std::string>(), "missing the MODEL file");
  command_line.require("data", "missing --data DIR");
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;
  if (options.count("level") && options.count("all-levels"))
    return command_line.usage_error(streams.err, "give --level or --all-levels, not both");
  if (options.count("outputs") && !options.count("json"))
    return command_line.usage_error(streams.err, "--outputs needs --json");
  std::optional<std::int64_t> only_level;
  if (options.count("level")) {
    const Result<std::int64_t> level = integer_value(options, "level", 1);
    if (!level) return command_line.report(streams.err, level.error());
    only_level = *level;
  }

  const Result<engine::Model> model = engine::load_model(options["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  Result<engine::Session> session = engine::Session::create(model.value());
  if (!session) return command_line.report(streams.err, session.error());
  const Result<engine::InputNormalization> normalization = input_normalization(options, model.value());
  if (!normalization) return command_line.report(streams.err, normalization.error());
  const std::string data = options["data"].as<std::string>();
  const Result<engine::ImageSet> images = engine::load_test_set(data, normalization.value());
  if (!images) return command_line.report(streams.err, images.error());
  if (auto error = engine::check_image_shape(images.value(), model->input))
    return command_line.report(streams.err, invalid_argument("--data " + data + ": " + error->message));

  const std::size_t levels = session->level_count();
  std::size_t first = 0, last = levels;
  if (only_level) {
    if (*only_level > static_cast<std::int64_t>(levels))
      return command_line.report(streams.err, value_error("level", options["level"].as<std::string>(),
                                                          "the model has " + std::to_string(levels) +
                                                              (levels == 1 ? " level" : " levels")));
    first = static_cast<std::size_t>(*only_level - 1);
    last = first + 1;
  }

  // Written level by level on standard output, so that a long run shows its results as they come; all at
  // once to an -o file, which must not hold a partial answer.
  const bool to_file = options.count("output") > 0;
  std::string lines;
  ProgressBar progress(streams.err, is_terminal(streams.err));
  for (std::size_t level = first; level < last; ++level) {
    const std::string label = "level " + std::to_string(level + 1) + "/" + std::to_string(levels);
    const Result<engine::LevelEvaluation> evaluation =
        engine::evaluate(session.value(), level, images.value(),
                         [&](std::int64_t done, std::int64_t total) { progress.show(label, done, total); });
    progress.clear();
    if (!evaluation) return command_line.report(streams.err, evaluation.error());
    const std::string line = options.count("outputs")
                                 ? json_with_outputs(evaluation.value(), session.value(), images.value())
                             : options.count("json") ? engine::to_json(evaluation.value())
                                                     : describe(evaluation.value());
    if (to_file) {
      lines += (lines.empty() ? "" : "\n") + line;
    } else {
      streams.out << line << '\n' << std::flush;
    }
  }
  if (to_file) return write_output(command_line, streams, options, lines);
  if (streams.out) return kExitSuccess;
  command_line.print_error(streams.err, "cannot write to standard output");
  return kExitFailure;
}

}  // namespace reds::cli
