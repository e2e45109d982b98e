#include "export_command.h"

#include <filesystem>
#include <optional>
#include <sstream>

#include "reds/engine/model.h"
#include "reds/engine/onnx.h"
#include "reds/engine/session.h"

namespace reds::cli {

namespace po = boost::program_options;

namespace {

// "level 2  macs 1234  widths conv1=8 ..." for the summary printed after writing.
std::string describe(const engine::LevelInfo& info, const std::string& what, const std::string& path) {
  std::ostringstream line;
  line << what << "  macs " << info.macs << "  widths";
  for (const auto& [name, width] : info.widths) line << ' ' << name << '=' << width;
  line << "  -> " << path;
  return line.str();
}

}  // namespace

int run_export(const std::vector<std::string>& args, Streams streams) {
  CommandLine command_line(
      "reds export", "reds export MODEL [--level I | --all-levels] -o OUT",
      "Writes levels of MODEL (a Keras HDF5 file, an ONNX file or a native .reds model) as\n"
      "standalone ONNX models (opset 13) that any ONNX runtime runs: each keeps exactly its\n"
      "level's units, weights sliced from the nested layout, and the input and output names of\n"
      "the model it came from. Each file passes ONNX's checker and shape inference.\n"
      "  --level I       level I of the embedded plan (1 = smallest) to the file OUT\n"
      "  --all-levels    every level to OUT/level1.onnx, OUT/level2.onnx, ... and the full\n"
      "                  network to OUT/full.onnx (OUT is created if needed)\n"
      "  neither         the full network to the file OUT\n"
      "Prints one line per file written: its MACs and widths.");
  command_line.add_options()                                               //
      ("level", number_option("I"), "export level I only (1 = smallest)")  //
      ("all-levels", "export every level and the full network into OUT")   //
      ("output,o", po::value<std::string>()->value_name("OUT"),
       "the ONNX file (the directory with --all-levels)");
  command_line.add_positional("model", 1, po::value<std::string>(), "missing the MODEL file");
  command_line.require("output", "missing -o OUT");
  const CommandLine::Parsed parsed = command_line.parse(args, streams);
  if (!parsed.options) return parsed.exit_status;
  const po::variables_map& options = *parsed.options;
  if (options.count("level") && options.count("all-levels"))
    return command_line.usage_error(streams.err, "give --level or --all-levels, not both");

  const Result<engine::Model> model = engine::load_model(options["model"].as<std::string>());
  if (!model) return command_line.report(streams.err, model.error());
  const Result<engine::Session> session = engine::Session::create(model.value());
  if (!session) return command_line.report(streams.err, session.error());
  const std::size_t planned = model->plan ? model->plan->widths.size() : 0;
  engine::Model unplanned = model.value();
  unplanned.plan.reset();
  const Result<engine::Session> full = engine::Session::create(unplanned);
  if (!full) return command_line.report(streams.err, full.error());

  const std::string output = options["output"].as<std::string>();
  // (level or nullopt for the full network, path)
  std::vector<std::pair<std::optional<std::size_t>, std::string>> files;
  if (options.count("all-levels")) {
    std::error_code error;
    std::filesystem::create_directories(output, error);
    if (error) {
      command_line.print_error(streams.err, "cannot create '" + output + "': " + error.message());
      return kExitUsageError;
    }
    for (std::size_t level = 0; level < planned; ++level)
      files.emplace_back(
          level, (std::filesystem::path(output) / ("level" + std::to_string(level + 1) + ".onnx")).string());
    files.emplace_back(std::nullopt, (std::filesystem::path(output) / "full.onnx").string());
  } else if (options.count("level")) {
    const Result<std::int64_t> level = integer_value(options, "level", 1);
    if (!level) return command_line.report(streams.err, level.error());
    if (static_cast<std::size_t>(*level) > planned)
      return command_line.report(
          streams.err, value_error("level", options["level"].as<std::string>(),
                                   "the model has " + std::to_string(planned) + " planned level" +
                                       (planned == 1 ? "" : "s") +
                                       (planned == 0 ? " (no embedded plan: 'reds apply' embeds one)" : "")));
    files.emplace_back(static_cast<std::size_t>(*level - 1), output);
  } else {
    files.emplace_back(std::nullopt, output);
  }

  std::ostringstream summary;
  for (const auto& [level, path] : files) {
    if (auto error = engine::save_onnx(model.value(), level, path))
      return command_line.report(streams.err, *error);
    const engine::LevelInfo& info = level ? session->level_info(*level) : full->level_info(0);
    summary << (summary.tellp() > 0 ? "\n" : "")
            << describe(info, level ? "level " + std::to_string(*level + 1) : std::string("full"), path);
  }
  return print_output(command_line, streams, summary.str());
}

}  // namespace reds::cli
