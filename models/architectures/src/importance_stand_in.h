// importance_stand_in.h: deterministic importance for networks that have no trained weights at hand.
//
// The paper scores a unit by gradient saliency, sum |w * dL/dw| over its weights (reds-paper section 3),
// which needs a trained model and data. The bundled architectures carry a stand-in instead: importance of
// unit i of layer `layer` is a Pareto(alpha = 2) draw, 1 / sqrt(u), with u in (0, 1] taken from one
// splitmix64 output keyed by hash(seed, layer, i). Like saliency it is positive and heavy-tailed: most units
// matter about the same and a few matter much more. Every value is >= 1.
//
// The value depends only on (seed, layer name, unit index): not on the layer's size, the other layers or
// the platform. splitmix64 is plain integer arithmetic and sqrt and division are correctly rounded in
// IEEE 754, so the numbers are bit-identical everywhere (std:: distributions are implementation-defined,
// hence not used).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reds::models {

std::vector<double> importance_stand_in(std::uint64_t seed, const std::string& layer, std::int64_t units);

}  // namespace reds::models
