// reds/engine/evaluation.h: accuracy and batch-1 latency of a level on a labelled image set.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "reds/engine/dataset.h"
#include "reds/engine/session.h"
#include "reds/status.h"

namespace reds::engine {

struct LevelEvaluation {
  std::size_t level = 0;  // 0-based, as Session numbers levels
  LevelInfo info;
  std::int64_t correct = 0;  // images whose largest output (the first, on ties) is their label
  std::int64_t total = 0;
  double accuracy = 0.0;    // correct / total
  double latency_us = 0.0;  // median over the images of one run(), in microseconds
};

// Called now and then with the images done so far and the total.
using EvaluationProgress = std::function<void(std::int64_t done, std::int64_t total)>;

// Runs every image through `level` (the session is left at that level). invalid_argument when the level
// does not exist, the images do not have the model's input shape, or a label is not an output index.
Result<LevelEvaluation> evaluate(Session& session, std::size_t level, const ImageSet& images,
                                 const EvaluationProgress& progress = {});

// One line of JSON: {"level": level + 1, "widths": {layer: width, ...}, "macs", "correct", "total",
// "accuracy", "latency_us"}; levels are numbered from 1 here, as the command line numbers them.
std::string to_json(const LevelEvaluation& evaluation);

}  // namespace reds::engine
