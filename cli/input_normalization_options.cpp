#include "input_normalization_options.h"

#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <utility>

namespace reds::cli {

namespace po = boost::program_options;

namespace {

constexpr const char* kScale = "input-scale";
constexpr const char* kMean = "input-mean";
constexpr const char* kDeviation = "input-std";

// "0.5", "1/255": a finite positive number or ratio of two, the whole text.
std::optional<double> positive_ratio(const std::string& text) {
  const auto number = [](std::string_view word) -> std::optional<double> {
    double value = 0;
    const auto [stop, error] = std::from_chars(word.data(), word.data() + word.size(), value);
    if (word.empty() || error != std::errc() || stop != word.data() + word.size()) return std::nullopt;
    if (!std::isfinite(value) || !(value > 0)) return std::nullopt;
    return value;
  };
  const std::size_t slash = text.find('/');
  const std::optional<double> numerator = number(std::string_view(text).substr(0, slash));
  if (slash == std::string::npos || !numerator) return numerator;
  const std::optional<double> denominator = number(std::string_view(text).substr(slash + 1));
  if (!denominator) return std::nullopt;
  const double ratio = *numerator / *denominator;
  return std::isfinite(ratio) && ratio > 0 ? std::optional<double>(ratio) : std::nullopt;
}

}  // namespace

void add_input_normalization_options(CommandLine& command_line) {
  command_line.add_options()  //
      (kScale, po::value<std::string>()->value_name("S"),
       "multiply every image byte (0..255) by S: a number or a fraction such as 1/255 (default: what the "
       "model states, else 1/255; 1 for models trained on raw pixels such as MLPerf Tiny's ResNet-8)")  //
      (kMean, po::value<std::string>()->value_name("LIST"),
       "then subtract a mean per channel, or one for all (e.g. 0.485,0.456,0.406 for torchvision's "
       "ImageNet models; default: the model's, else 0)")  //
      (kDeviation, po::value<std::string>()->value_name("LIST"),
       "then divide by a standard deviation per channel, or one for all (e.g. 0.229,0.224,0.225; "
       "default: the model's, else 1)");
}

bool has_input_normalization_options(const po::variables_map& options) {
  return options.count(kScale) || options.count(kMean) || options.count(kDeviation);
}

Result<engine::InputNormalization> input_normalization(const po::variables_map& options,
                                                       const engine::Model& model) {
  engine::InputNormalization normalization = model.input_normalization.value_or(engine::InputNormalization{});
  if (options.count(kScale)) {
    const std::string text = options[kScale].as<std::string>();
    const std::optional<double> scale = positive_ratio(text);
    if (!scale) return value_error(kScale, text, "give a positive number or a fraction such as 1/255");
    normalization.scale = *scale;
  }
  if (options.count(kMean)) {
    Result<std::vector<double>> mean = numbers_value(options, kMean, false);
    if (!mean) return mean.error();
    normalization.mean = std::move(mean).value();
  }
  if (options.count(kDeviation)) {
    Result<std::vector<double>> deviation = numbers_value(options, kDeviation, true);
    if (!deviation) return deviation.error();
    normalization.deviation = std::move(deviation).value();
  }
  for (const auto& [option, values] :
       {std::pair{kMean, &normalization.mean}, std::pair{kDeviation, &normalization.deviation}})
    if (options.count(option) && values->size() > 1 &&
        static_cast<std::int64_t>(values->size()) != model.input.channels)
      return value_error(option, options[option].as<std::string>(),
                         std::to_string(values->size()) + " values for the model's " +
                             std::to_string(model.input.channels) +
                             " input channels: give one per channel, or one for all");
  if (auto error = engine::check_normalization(normalization, model.input.channels)) return *error;
  return normalization;
}

}  // namespace reds::cli
