// What every fuzz target of tests/fuzz does when an input breaks a promise of the parser it tests: say
// which promise, with the detail, and abort, so that libFuzzer keeps the input and CI fails.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace reds::fuzz {

[[noreturn]] inline void broken_promise(const char* promise, const std::string& detail) {
  std::fprintf(stderr, "broken promise: %s\n%s\n", promise, detail.c_str());
  std::abort();
}

}  // namespace reds::fuzz
