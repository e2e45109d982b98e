// Reads the ONNX golden vectors of Debian's libonnx-testdata without libprotobuf: a model.onnx (its
// nodes, their integer, float and string attributes, its initializers and its opset) and
// test_data_set_0/{input,output}_N.pb (one TensorProto each). Only float32 tensors are read (TensorProto
// data_type 1: raw_data or float_data, little-endian, row-major: NCHW for images, OIHW for convolution
// weights).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace reds::engine::testing {

struct OnnxTensor {
  std::string name;
  std::vector<std::int64_t> dims;
  std::vector<float> values;
};

struct OnnxNode {
  std::string op_type;
  std::vector<std::string> inputs;
  std::map<std::string, std::vector<std::int64_t>> ints;  // "i" and "ints" attributes
  std::map<std::string, float> floats;                    // "f" attributes
  std::map<std::string, std::string> strings;             // "s" attributes
};

struct OnnxModel {
  std::vector<OnnxNode> nodes;
  std::map<std::string, OnnxTensor> initializers;
};

// A cursor over protobuf bytes.
struct WireReader {
  std::string_view bytes;
  std::size_t at = 0;

  bool done() const { return at >= bytes.size(); }
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; at < bytes.size() && shift < 64; shift += 7) {
      const auto byte = static_cast<unsigned char>(bytes[at++]);
      value |= std::uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return value;
    }
    throw std::runtime_error("truncated protobuf varint");
  }
  std::string_view take(std::uint64_t size) {
    if (size > bytes.size() - at) throw std::runtime_error("truncated protobuf field");
    const std::string_view taken = bytes.substr(at, size);
    at += size;
    return taken;
  }
};

// One protobuf message: calls on_field(field, wire type, number, bytes) for each field; `number` holds a
// varint or the bits of a fixed 32/64-bit field, `bytes` a length-delimited field.
template <class OnField>
void for_each_field(std::string_view message, OnField on_field) {
  WireReader reader{message};
  while (!reader.done()) {
    const std::uint64_t key = reader.varint();
    const int wire = static_cast<int>(key & 7);
    std::uint64_t number = 0;
    std::string_view bytes;
    if (wire == 0) {
      number = reader.varint();
    } else if (wire == 1 || wire == 5) {
      const std::string_view fixed = reader.take(wire == 1 ? 8 : 4);
      std::memcpy(&number, fixed.data(), fixed.size());
    } else if (wire == 2) {
      bytes = reader.take(reader.varint());
    } else {
      throw std::runtime_error("unsupported protobuf wire type " + std::to_string(wire));
    }
    on_field(static_cast<int>(key >> 3), wire, number, bytes);
  }
}

// Repeated int64 fields come packed (one length-delimited run of varints) or one per field.
inline void append_int64s(int wire, std::uint64_t number, std::string_view bytes,
                          std::vector<std::int64_t>& out) {
  if (wire == 0) {
    out.push_back(static_cast<std::int64_t>(number));
    return;
  }
  WireReader packed{bytes};
  while (!packed.done()) out.push_back(static_cast<std::int64_t>(packed.varint()));
}

inline OnnxTensor parse_tensor(std::string_view message) {
  OnnxTensor tensor;
  std::int64_t data_type = 0;
  for_each_field(message, [&](int field, int wire, std::uint64_t value, std::string_view bytes) {
    if (field == 1) append_int64s(wire, value, bytes, tensor.dims);
    if (field == 2) data_type = static_cast<std::int64_t>(value);
    if (field == 8) tensor.name = std::string(bytes);
    if (field == 9 || (field == 4 && wire == 2)) {  // raw_data, or packed float_data
      tensor.values.resize(bytes.size() / 4);
      std::memcpy(tensor.values.data(), bytes.data(), tensor.values.size() * 4);
    }
    if (field == 4 && wire == 5) {
      float single = 0.0f;
      std::memcpy(&single, &value, 4);
      tensor.values.push_back(single);
    }
  });
  if (data_type != 1) throw std::runtime_error("tensor '" + tensor.name + "' is not float32");
  std::int64_t count = 1;
  for (const std::int64_t dim : tensor.dims) count *= dim;
  if (count != static_cast<std::int64_t>(tensor.values.size()))
    throw std::runtime_error("tensor '" + tensor.name + "' has " + std::to_string(tensor.values.size()) +
                             " values");
  return tensor;
}

inline OnnxNode parse_node(std::string_view message) {
  OnnxNode node;
  for_each_field(message, [&](int field, int, std::uint64_t, std::string_view bytes) {
    if (field == 1) node.inputs.emplace_back(bytes);
    if (field == 4) node.op_type = std::string(bytes);
    if (field != 5) return;
    std::string name;
    std::vector<std::int64_t> ints;
    bool is_float = false;
    float single = 0.0f;
    for_each_field(bytes, [&](int attribute_field, int wire, std::uint64_t value, std::string_view data) {
      if (attribute_field == 1) name = std::string(data);
      if (attribute_field == 2) {
        std::memcpy(&single, &value, 4);
        is_float = true;
      }
      if (attribute_field == 3 || attribute_field == 8) append_int64s(wire, value, data, ints);
      if (attribute_field == 4) node.strings[name] = std::string(data);
    });
    if (is_float) node.floats[name] = single;
    if (!ints.empty()) node.ints[name] = ints;
  });
  return node;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

inline OnnxTensor read_onnx_tensor(const std::string& path) { return parse_tensor(read_bytes(path)); }

inline OnnxModel read_onnx_model(const std::string& path) {
  OnnxModel model;
  const std::string bytes = read_bytes(path);
  for_each_field(bytes, [&](int field, int, std::uint64_t, std::string_view graph) {
    if (field != 7) return;  // ModelProto.graph
    for_each_field(graph, [&](int graph_field, int, std::uint64_t, std::string_view data) {
      if (graph_field == 1) model.nodes.push_back(parse_node(data));
      if (graph_field == 5) {
        OnnxTensor tensor = parse_tensor(data);
        model.initializers[tensor.name] = std::move(tensor);
      }
    });
  });
  return model;
}

// The version of the default operator set a model.onnx imports (ModelProto.opset_import, field 8: domain
// 1, version 2); 0 when it imports none.
inline std::int64_t read_onnx_opset(const std::string& path) {
  std::int64_t opset = 0;
  const std::string bytes = read_bytes(path);
  for_each_field(bytes, [&](int field, int, std::uint64_t, std::string_view message) {
    if (field != 8) return;
    std::string_view domain;
    std::int64_t version = 0;
    for_each_field(message, [&](int opset_field, int, std::uint64_t number, std::string_view text) {
      if (opset_field == 1) domain = text;
      if (opset_field == 2) version = static_cast<std::int64_t>(number);
    });
    if (domain.empty() || domain == "ai.onnx") opset = version;
  });
  return opset;
}

}  // namespace reds::engine::testing
