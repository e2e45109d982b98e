// --input-scale, --input-mean and --input-std: how the commands that feed images to a model (run, request
// --data, finetune, apply) normalise every byte, (x * scale - mean[c]) / std[c] (reds/engine/model.h's
// InputNormalization). What the model states is the default, and the engine's (byte / 255) when it states
// nothing; each option given replaces its part.
#pragma once

#include <boost/program_options.hpp>

#include "commands.h"
#include "reds/engine/model.h"
#include "reds/status.h"

namespace reds::cli {

void add_input_normalization_options(CommandLine& command_line);

// True when the command line gives any of the options.
bool has_input_normalization_options(const boost::program_options::variables_map& options);

// The normalisation to feed `model` with: its own (or the default), the options given replacing their part,
// checked against the model's input channels. Errors name the option as typed.
Result<engine::InputNormalization> input_normalization(const boost::program_options::variables_map& options,
                                                       const engine::Model& model);

}  // namespace reds::cli
