#include "reds/engine/evaluation.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

namespace reds::engine {

Result<LevelEvaluation> evaluate(Session& session, std::size_t level, const ImageSet& images,
                                 const EvaluationProgress& progress) {
  if (!session.set_level(level))
    return invalid_argument("level " + std::to_string(level + 1) + " does not exist; the model has " +
                            std::to_string(session.level_count()));
  if (auto error = check_image_shape(images, session.input_shape())) return *error;
  for (const std::int64_t label : images.labels)
    if (label >= session.output_size())
      return invalid_argument("label " + std::to_string(label) + " is not one of the model's " +
                              std::to_string(session.output_size()) + " outputs");

  LevelEvaluation evaluation;
  evaluation.level = level;
  evaluation.info = session.level_info(level);
  evaluation.total = images.count;
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(images.count));
  const std::int64_t report_every = std::max<std::int64_t>(images.count / 100, 1);
  for (std::int64_t index = 0; index < images.count; ++index) {
    const auto start = std::chrono::steady_clock::now();
    const std::span<const float> outputs = session.run(images.image(index));
    const auto stop = std::chrono::steady_clock::now();
    latencies.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
    const auto predicted = std::max_element(outputs.begin(), outputs.end()) - outputs.begin();
    if (predicted == images.labels[static_cast<std::size_t>(index)]) ++evaluation.correct;
    if (progress && ((index + 1) % report_every == 0 || index + 1 == images.count))
      progress(index + 1, images.count);
  }
  evaluation.accuracy =
      images.count == 0 ? 0.0 : static_cast<double>(evaluation.correct) / static_cast<double>(images.count);
  if (!latencies.empty()) {
    const auto middle = latencies.begin() + static_cast<std::ptrdiff_t>(latencies.size() / 2);
    std::nth_element(latencies.begin(), middle, latencies.end());
    evaluation.latency_us = *middle;
  }
  return evaluation;
}

std::string to_json(const LevelEvaluation& evaluation) {
  nlohmann::ordered_json widths = nlohmann::ordered_json::object();
  for (const auto& [name, width] : evaluation.info.widths) widths[name] = width;
  nlohmann::ordered_json line;
  line["level"] = evaluation.level + 1;
  line["widths"] = std::move(widths);
  line["macs"] = evaluation.info.macs;
  line["correct"] = evaluation.correct;
  line["total"] = evaluation.total;
  line["accuracy"] = evaluation.accuracy;
  line["latency_us"] = evaluation.latency_us;
  return line.dump();
}

}  // namespace reds::engine
