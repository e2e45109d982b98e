// Where tests find files of the source tree (pretrained models, examples, scripts): REDS_SOURCE_DIR, the
// checkout's root, set for every test program by tests/CMakeLists.txt. (__FILE__ is not used: compiler
// caches and build tools may make it relative to the build directory.)
#pragma once

#include <filesystem>
#include <string_view>

namespace reds::test {

inline std::filesystem::path source_path(std::string_view relative) {
  return std::filesystem::path(REDS_SOURCE_DIR) / relative;
}

}  // namespace reds::test
