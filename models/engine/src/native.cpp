// The native model file, version 1 to 4. All integers little-endian:
//
//   8 bytes   magic "REDSMODL"
//   u32       format version: 4 when the embedded plan has per-level statistics, else 3 when the model
//             states its input normalisation, else 2 when a layer has "inputs" or is an add,
//             zero_padding2d or max_pool2d layer (model.h), else 1, so that every file stays readable by
//             the readers of the oldest version that can hold it
//   u64       n, then n bytes of JSON: {"name", "input": {height, width, channels, flat}, "layers": [...],
//             "plan": the embedded plan's JSON text (absent without a plan), "input_normalization":
//             {"scale", "mean": [...], "deviation": [...]} (version 3, absent when not stated),
//             "input_name" and "output_name" (the source file's tensor names, absent when unknown),
//             "level_maps" (version 4, absent without per-level statistics): [{"level", "layer",
//             "channels"}, ...], the level and layer numbers of every ChannelMap that is not the identity,
//             level after level, layers in order}; every layer lists its geometry, "inputs" (version 2,
//             when not the chain's default) and "kernel" / "bias": how many of the floats below are its
//             weights
//   u64       m, then m float32: every layer's kernel then bias, in layer order, then the scales then
//             the biases of every entry of "level_maps", in its order
//   u32       CRC-32 (zlib's) of every byte before it
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "native_format.h"
#include "reds/engine/model.h"
#include "reds/json.h"

namespace reds::engine {

namespace {

using nlohmann::json;

constexpr char kMagic[8] = {'R', 'E', 'D', 'S', 'M', 'O', 'D', 'L'};
constexpr std::size_t kHeaderBytes = sizeof kMagic + 4;

const char* kind_tag(LayerKind kind) {
  switch (kind) {
    case LayerKind::conv2d:
      return "conv2d";
    case LayerKind::depthwise_conv2d:
      return "depthwise_conv2d";
    case LayerKind::dense:
      return "dense";
    case LayerKind::rectifier:
      return "rectifier";
    case LayerKind::average_pool2d:
      return "average_pool2d";
    case LayerKind::max_pool2d:
      return "max_pool2d";
    case LayerKind::global_average_pool2d:
      return "global_average_pool2d";
    case LayerKind::flatten:
      return "flatten";
    case LayerKind::softmax:
      return "softmax";
    case LayerKind::add:
      return "add";
    case LayerKind::zero_padding2d:
      return "zero_padding2d";
  }
  return "";
}

std::optional<LayerKind> kind_of(const std::string& tag) {
  for (LayerKind kind :
       {LayerKind::conv2d, LayerKind::depthwise_conv2d, LayerKind::dense, LayerKind::rectifier,
        LayerKind::average_pool2d, LayerKind::global_average_pool2d, LayerKind::flatten, LayerKind::softmax,
        LayerKind::add, LayerKind::zero_padding2d, LayerKind::max_pool2d})
    if (tag == kind_tag(kind)) return kind;
  return std::nullopt;
}

bool has_window(LayerKind kind) {
  return kind == LayerKind::conv2d || kind == LayerKind::depthwise_conv2d ||
         kind == LayerKind::average_pool2d || kind == LayerKind::max_pool2d;
}

json layer_json(const Layer& layer) {
  json entry = {{"name", layer.name}, {"kind", kind_tag(layer.kind)}};
  if (has_window(layer.kind)) {
    entry["kernel_size"] = {layer.kernel_height, layer.kernel_width};
    entry["strides"] = {layer.stride_height, layer.stride_width};
    entry["dilation"] = {layer.dilation_height, layer.dilation_width};
    entry["padding"] = layer.padding == Padding::same ? "same" : "valid";
  }
  if (layer.kind == LayerKind::conv2d || layer.kind == LayerKind::dense) entry["units"] = layer.units;
  if (layer.kind == LayerKind::conv2d) entry["groups"] = layer.groups;
  if (layer.kind == LayerKind::depthwise_conv2d) entry["depth_multiplier"] = layer.depth_multiplier;
  if (layer.kind == LayerKind::rectifier) {
    entry["negative_slope"] = layer.rectifier.negative_slope;
    entry["threshold"] = layer.rectifier.threshold;
    entry["max_value"] =
        std::isinf(layer.rectifier.max_value) ? json(nullptr) : json(layer.rectifier.max_value);
  }
  if (layer.kind == LayerKind::zero_padding2d)
    entry["padding"] = {{layer.pad_top, layer.pad_bottom}, {layer.pad_left, layer.pad_right}};
  if (!layer.inputs.empty()) entry["inputs"] = layer.inputs;
  entry["kernel"] = layer.kernel.size();
  entry["bias"] = layer.bias.size();
  return entry;
}

void put_u32(std::string& bytes, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) bytes.push_back(static_cast<char>((value >> shift) & 0xff));
}
void put_u64(std::string& bytes, std::uint64_t value) {
  for (int shift = 0; shift < 64; shift += 8) bytes.push_back(static_cast<char>((value >> shift) & 0xff));
}
std::uint64_t get_le(std::string_view bytes, std::size_t at, int size) {
  std::uint64_t value = 0;
  for (int i = size - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  return value;
}

std::uint32_t crc_of(std::string_view bytes, std::size_t length) {
  return static_cast<std::uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), length));
}

}  // namespace

std::string detail::encode_native(const Model& model) {
  json architecture = {{"name", model.name},
                       {"input",
                        {{"height", model.input.height},
                         {"width", model.input.width},
                         {"channels", model.input.channels},
                         {"flat", model.input.flat}}},
                       {"layers", json::array()}};
  std::uint64_t floats = 0;
  for (const Layer& layer : model.layers) {
    architecture["layers"].push_back(layer_json(layer));
    floats += layer.kernel.size() + layer.bias.size();
  }
  if (model.plan) architecture["plan"] = model.plan->json;
  // Per-level statistics: their entries here, their values after the layers' weights.
  std::vector<const ChannelMap*> maps;
  if (model.plan && !model.plan->level_maps.empty()) {
    json entries = json::array();
    for (std::size_t level = 0; level < model.plan->level_maps.size(); ++level)
      for (std::size_t layer = 0; layer < model.plan->level_maps[level].size(); ++layer) {
        const ChannelMap& map = model.plan->level_maps[level][layer];
        if (map.scale.empty()) continue;
        entries.push_back({{"level", level}, {"layer", layer}, {"channels", map.scale.size()}});
        maps.push_back(&map);
        floats += map.scale.size() + map.bias.size();
      }
    if (!entries.empty()) architecture["level_maps"] = std::move(entries);
  }
  if (model.input_normalization)
    architecture["input_normalization"] = {{"scale", model.input_normalization->scale},
                                           {"mean", model.input_normalization->mean},
                                           {"deviation", model.input_normalization->deviation}};
  // Written only when known, so that files of models without them stay as they were.
  if (!model.input_name.empty()) architecture["input_name"] = model.input_name;
  if (!model.output_name.empty()) architecture["output_name"] = model.output_name;
  const std::string text = architecture.dump();

  const bool graph = std::any_of(model.layers.begin(), model.layers.end(), [](const Layer& layer) {
    return !layer.inputs.empty() || layer.kind == LayerKind::add || layer.kind == LayerKind::zero_padding2d ||
           layer.kind == LayerKind::max_pool2d;
  });
  std::string bytes(kMagic, sizeof kMagic);
  put_u32(bytes, !maps.empty() ? 4 : model.input_normalization ? 3 : graph ? 2 : 1);
  put_u64(bytes, text.size());
  bytes += text;
  put_u64(bytes, floats);
  for (const Layer& layer : model.layers)
    for (const std::vector<float>* values : {&layer.kernel, &layer.bias})
      for (const float value : *values) put_u32(bytes, std::bit_cast<std::uint32_t>(value));
  for (const ChannelMap* map : maps)
    for (const std::vector<float>* values : {&map->scale, &map->bias})
      for (const float value : *values) put_u32(bytes, std::bit_cast<std::uint32_t>(value));
  put_u32(bytes, crc_of(bytes, bytes.size()));
  return bytes;
}

namespace {

std::pair<std::int64_t, std::int64_t> pair_of(const json& entry, const char* key) {
  const json& value = entry.at(key);
  if (!value.is_array() || value.size() != 2)
    throw std::invalid_argument(std::string(key) + " must be two integers");
  return {value[0].get<std::int64_t>(), value[1].get<std::int64_t>()};
}

// Element `at` of a JSON array of two-integer arrays.
std::pair<std::int64_t, std::int64_t> padding_pair(const json& pairs, std::size_t at) {
  if (!pairs.is_array() || pairs.size() != 2 || !pairs[at].is_array() || pairs[at].size() != 2)
    throw std::invalid_argument("padding must be two pairs of integers");
  return {pairs[at][0].get<std::int64_t>(), pairs[at][1].get<std::int64_t>()};
}

// The layers of the architecture JSON, their weights taken from `floats` (read position `next`).
Result<Model> decode(const json& architecture, std::uint32_t version, std::string_view bytes,
                     std::size_t floats_at, std::uint64_t floats) {
  Model model;
  model.name = architecture.at("name").get<std::string>();
  model.input_name = architecture.value("input_name", std::string());
  model.output_name = architecture.value("output_name", std::string());
  const json& input = architecture.at("input");
  model.input = Shape{input.at("height").get<std::int64_t>(), input.at("width").get<std::int64_t>(),
                      input.at("channels").get<std::int64_t>(), input.at("flat").get<bool>()};
  std::uint64_t next = 0;
  const auto take = [&](std::uint64_t count, std::vector<float>& values) {
    if (count > floats - next)
      throw std::invalid_argument("the layers need more weights than the file holds");
    values.resize(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] =
          std::bit_cast<float>(static_cast<std::uint32_t>(get_le(bytes, floats_at + 4 * (next + i), 4)));
    next += count;
  };
  for (const json& entry : architecture.at("layers")) {
    Layer layer;
    layer.name = entry.at("name").get<std::string>();
    const std::optional<LayerKind> kind = kind_of(entry.at("kind").get<std::string>());
    if (!kind)
      return invalid_argument("layer '" + layer.name + "' has an unknown kind '" +
                              entry.at("kind").get<std::string>() + "'");
    layer.kind = *kind;
    if (has_window(layer.kind)) {
      std::tie(layer.kernel_height, layer.kernel_width) = pair_of(entry, "kernel_size");
      std::tie(layer.stride_height, layer.stride_width) = pair_of(entry, "strides");
      std::tie(layer.dilation_height, layer.dilation_width) = pair_of(entry, "dilation");
      const std::string padding = entry.at("padding").get<std::string>();
      if (padding != "same" && padding != "valid")
        return invalid_argument("layer '" + layer.name + "' has padding '" + padding + "'");
      layer.padding = padding == "same" ? Padding::same : Padding::valid;
    }
    layer.units = entry.value("units", std::int64_t{0});
    layer.groups = entry.value("groups", std::int64_t{1});
    layer.depth_multiplier = entry.value("depth_multiplier", std::int64_t{1});
    if (layer.kind == LayerKind::rectifier) {
      layer.rectifier.negative_slope = entry.at("negative_slope").get<float>();
      layer.rectifier.threshold = entry.at("threshold").get<float>();
      const json& max_value = entry.at("max_value");
      layer.rectifier.max_value =
          max_value.is_null() ? std::numeric_limits<float>::infinity() : max_value.get<float>();
    }
    if (layer.kind == LayerKind::zero_padding2d) {
      std::tie(layer.pad_top, layer.pad_bottom) = padding_pair(entry.at("padding"), 0);
      std::tie(layer.pad_left, layer.pad_right) = padding_pair(entry.at("padding"), 1);
    }
    if (entry.contains("inputs")) {
      if (version < 2) return invalid_argument("layer '" + layer.name + "' lists inputs in a version 1 file");
      layer.inputs = entry.at("inputs").get<std::vector<std::size_t>>();
    }
    take(entry.at("kernel").get<std::uint64_t>(), layer.kernel);
    take(entry.at("bias").get<std::uint64_t>(), layer.bias);
    model.layers.push_back(std::move(layer));
  }
  struct MapEntry {
    std::size_t level = 0, layer = 0;
    ChannelMap map;
  };
  std::vector<MapEntry> map_entries;
  if (architecture.contains("level_maps")) {
    if (version < 4)
      return invalid_argument("per-level statistics in a version " + std::to_string(version) + " file");
    for (const json& entry : architecture.at("level_maps")) {
      MapEntry read{entry.at("level").get<std::size_t>(), entry.at("layer").get<std::size_t>(), {}};
      const auto channels = entry.at("channels").get<std::uint64_t>();
      take(channels, read.map.scale);
      take(channels, read.map.bias);
      map_entries.push_back(std::move(read));
    }
  }
  if (next != floats)
    return invalid_argument("the file holds " + std::to_string(floats) + " weights, its layers use " +
                            std::to_string(next));
  if (architecture.contains("input_normalization")) {
    if (version < 3)
      return invalid_argument("an input normalisation in a version " + std::to_string(version) + " file");
    const json& normalization = architecture.at("input_normalization");
    model.input_normalization = InputNormalization{normalization.at("scale").get<double>(),
                                                   normalization.at("mean").get<std::vector<double>>(),
                                                   normalization.at("deviation").get<std::vector<double>>()};
  }
  if (architecture.contains("plan")) {
    const std::string text = architecture["plan"].get<std::string>();
    const Result<PlanResult> plan = parse_plan_result(text);
    if (!plan) return invalid_argument("the embedded plan: " + plan.error().message, plan.error().path);
    if (auto error = attach_plan(model, plan.value()))
      return invalid_argument("the embedded plan: " + error->message, error->path);
    model.plan->json = text;  // verbatim: fields the contract does not list (applied_order) stay
  }
  if (!map_entries.empty()) {
    if (!model.plan) return invalid_argument("per-level statistics without an embedded plan");
    std::vector<std::vector<ChannelMap>>& maps = model.plan->level_maps;
    maps.assign(model.plan->widths.size(), std::vector<ChannelMap>(model.layers.size()));
    for (MapEntry& entry : map_entries) {
      if (entry.level >= maps.size() || entry.layer >= model.layers.size())
        return invalid_argument("per-level statistics of level " + std::to_string(entry.level + 1) +
                                ", layer " + std::to_string(entry.layer) + ", which the model has not");
      if (!maps[entry.level][entry.layer].scale.empty())
        return invalid_argument("per-level statistics listed twice for level " +
                                std::to_string(entry.level + 1) + ", layer " + std::to_string(entry.layer));
      maps[entry.level][entry.layer] = std::move(entry.map);
    }
  }
  if (auto error = validate(model)) return *error;
  return model;
}

Result<std::string> read_file(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return invalid_argument("cannot read '" + path + "': " + std::strerror(errno));
  std::string bytes;
  char buffer[1 << 16];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) bytes.append(buffer, count);
  if (std::ferror(file.get())) return invalid_argument("cannot read '" + path + "': " + std::strerror(errno));
  return bytes;
}

}  // namespace

Result<Model> load_native(const std::string& path) {
  const Result<std::string> read = read_file(path);
  if (!read) return read.error();
  return detail::decode_native(path, read.value());
}

Result<Model> detail::decode_native(const std::string& path, std::string_view bytes) {
  const auto broken = [&](const std::string& why) { return invalid_argument("'" + path + "': " + why); };
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return broken("not a REDS model file (no REDSMODL magic)");
  const auto version = static_cast<std::uint32_t>(get_le(bytes, sizeof kMagic, 4));
  if (version < 1 || version > kNativeFormatVersion)
    return broken("format version " + std::to_string(version) + "; this reds reads versions 1 to " +
                  std::to_string(kNativeFormatVersion));
  std::size_t at = kHeaderBytes;
  if (bytes.size() - at < 8) return broken("truncated");
  const std::uint64_t text_size = get_le(bytes, at, 8);
  at += 8;
  if (text_size > bytes.size() - at) return broken("truncated architecture");
  const std::string_view text(bytes.data() + at, static_cast<std::size_t>(text_size));
  at += static_cast<std::size_t>(text_size);
  if (bytes.size() - at < 8) return broken("truncated");
  const std::uint64_t floats = get_le(bytes, at, 8);
  at += 8;
  if (floats > (bytes.size() - at) / 4 || bytes.size() - at - 4 * floats != 4)
    return broken("its size does not match the " + std::to_string(floats) + " weights it announces");
  const std::size_t floats_at = at;
  at += static_cast<std::size_t>(4 * floats);
  if (static_cast<std::uint32_t>(get_le(bytes, at, 4)) != crc_of(bytes, at))
    return broken("checksum mismatch (corrupt file)");

  const json architecture = json::parse(text, nullptr, false);
  if (architecture.is_discarded() || !architecture.is_object()) return broken("its architecture is not JSON");
  try {
    Result<Model> model = decode(architecture, version, bytes, floats_at, floats);
    if (!model) return broken(model.error().message);
    return model;
  } catch (const std::exception& error) {
    return broken(std::string("malformed architecture: ") + error.what());
  }
}

std::optional<Error> save_native(const Model& model, const std::string& path) {
  if (auto error = validate(model)) return error;
  const std::string bytes = detail::encode_native(model);
  const std::string temporary = path + ".partial";
  {
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(temporary.c_str(), "wb"),
                                                               &std::fclose);
    if (!file) return invalid_argument("cannot write '" + temporary + "': " + std::strerror(errno));
    if (std::fwrite(bytes.data(), 1, bytes.size(), file.get()) != bytes.size() ||
        std::fflush(file.get()) != 0) {
      const std::string reason = std::strerror(errno);
      std::remove(temporary.c_str());
      return invalid_argument("cannot write '" + temporary + "': " + reason);
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::remove(temporary.c_str());
    return invalid_argument("cannot write '" + path + "': " + error.message());
  }
  return std::nullopt;
}

}  // namespace reds::engine
