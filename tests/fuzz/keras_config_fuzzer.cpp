// libFuzzer target for the Keras reader above HDF5 (models/engine/src/keras_config.h): the JSON
// `model_config` and the shapes of the weights it names, as load_keras() reads them once libhdf5 has parsed
// the file. The input is the configuration's text, a NUL byte, then the weights as JSON:
// {"<layer>": {"<weight>": [dims...]}}, each filled with small positive numbers (a negative
// variance would make every batch normalization fail validation). Inputs whose weights
// would exceed kMaxWeights are skipped (in a file, every weight is backed by the file's bytes). Beyond "no
// crash, no undefined behaviour, no leak", it checks:
//   * a rejected configuration is invalid_argument, and no exception escapes;
//   * an accepted model is valid (validate()), and the native format holds it: saved and loaded, it saves
//     to the same bytes.
// Seeds: tests/fuzz/corpus/keras_config (the bundled pretrained models' configurations and shapes);
// dictionary: tests/fuzz/keras_config.dict.
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_promise.h"
#include "keras_config.h"
#include "native_format.h"

namespace {

using nlohmann::json;
using reds::engine::KerasWeight;
using reds::engine::detail::KerasLayerWeights;
using reds::fuzz::broken_promise;

constexpr std::size_t kMaxWeights = std::size_t{1} << 18;

// The layers' weights described by `shapes`, or nothing when it describes no weights the reader could
// get from a file (read_layer_weights: rank <= 8, dimensions >= 0) or too many of them.
std::optional<std::map<std::string, KerasLayerWeights>> weights_from(const json& shapes) {
  std::map<std::string, KerasLayerWeights> layers;
  if (!shapes.is_object()) return layers;
  std::size_t total = 0;
  for (const auto& [layer, weights] : shapes.items()) {
    if (!weights.is_object()) return std::nullopt;
    for (const auto& [name, dims] : weights.items()) {
      if (!dims.is_array() || dims.size() > 8) return std::nullopt;
      KerasWeight weight;
      std::size_t count = 1;
      for (const json& dim : dims) {
        if (!dim.is_number_unsigned() || dim.get<std::uint64_t>() > kMaxWeights) return std::nullopt;
        weight.dims.push_back(dim.get<std::int64_t>());
        count *= dim.get<std::size_t>();
        if (count > kMaxWeights) return std::nullopt;
      }
      total += count;
      if (total > kMaxWeights) return std::nullopt;
      weight.values.resize(count);
      for (std::size_t i = 0; i < count; ++i) weight.values[i] = 0.25f + static_cast<float>(i % 7) * 0.125f;
      layers[layer][name] = std::move(weight);
    }
  }
  return layers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view config = input.substr(0, nul);
  const json shapes =
      nul == std::string_view::npos ? json::object() : json::parse(input.substr(nul + 1), nullptr, false);
  std::optional<std::map<std::string, KerasLayerWeights>> layers = weights_from(shapes);
  if (!layers) return 0;
  const auto weights_of = [&](const std::string& layer) -> reds::Result<KerasLayerWeights> {
    const auto found = layers->find(layer);
    return found == layers->end() ? KerasLayerWeights{} : found->second;
  };

  const reds::Result<reds::engine::Model> model =
      reds::engine::detail::build_model_from_keras_config("fuzz.keras", config, weights_of);
  if (!model) {
    if (model.error().code != reds::ErrorCode::invalid_argument)
      broken_promise("a bad configuration is invalid_argument", model.error().message);
    if (model.error().message.empty()) broken_promise("every rejection says why", "");
    return 0;
  }
  if (auto error = reds::engine::validate(model.value()))
    broken_promise("an accepted model is valid", error->message);
  const std::string once = reds::engine::detail::encode_native(model.value());
  const reds::Result<reds::engine::Model> again = reds::engine::detail::decode_native("fuzz.reds", once);
  if (!again) broken_promise("the native format holds an accepted model", again.error().message);
  if (reds::engine::detail::encode_native(again.value()) != once)
    broken_promise("the native format holds an accepted model unchanged", std::string(config));
  return 0;
}
