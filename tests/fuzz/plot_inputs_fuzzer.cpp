// libFuzzer target for `reds plot`'s inputs: a plan response (`reds plot plan -`) or the lines of
// `reds run --json` (`reds plot levels -`), given on standard input to the command itself, so that reading
// and drawing are both exercised. The input's first byte picks the figure (even: plan, odd: levels); the
// rest is the file. Beyond "no crash, no undefined behaviour, no leak, no hang", it checks what the
// command promises:
//   * bad input is exit status 2 with one line on standard error, nothing on standard output;
//   * drawn input is exit status 0 and an SVG document whose coordinates are all finite numbers.
// Seeds: tests/fuzz/corpus/plot_inputs; dictionary: tests/fuzz/plot_inputs.dict.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz_promise.h"
#include "plot_command.h"

namespace {

using reds::fuzz::broken_promise;

// The value of every coordinate attribute (x="..", cy="..", points="x,y x,y", ...) is a finite number.
void check_coordinates(const std::string& svg) {
  static constexpr const char* kAttributes[] = {" x=\"",     " y=\"",      " x1=\"", " y1=\"",
                                                " x2=\"",    " y2=\"",     " cx=\"", " cy=\"",
                                                " width=\"", " height=\"", " r=\"",  " points=\""};
  for (const char* attribute : kAttributes) {
    const std::string_view name(attribute);
    for (std::size_t at = svg.find(name); at != std::string::npos; at = svg.find(name, at + 1)) {
      const std::size_t begin = at + name.size();
      const std::size_t end = svg.find('"', begin);
      std::string value = svg.substr(begin, end - begin);
      for (char& c : value)
        if (c == ',') c = ' ';
      std::istringstream numbers(value);
      for (std::string word; numbers >> word;) {
        char* stop = nullptr;
        const double number = std::strtod(word.c_str(), &stop);
        if (*stop != '\0' || !std::isfinite(number))
          broken_promise("every coordinate is a finite number", std::string(name) + value);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool plan = data[0] % 2 == 0;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  std::ostringstream out, err;
  const int status = reds::cli::run_plot({plan ? "plan" : "levels", "-"}, {in, out, err});
  if (status == 2) {
    const std::string message = err.str();
    if (!out.str().empty()) broken_promise("bad input writes nothing on standard output", out.str());
    if (message.empty() || message.find('\n') != message.size() - 1)
      broken_promise("bad input is one line on standard error", message);
    return 0;
  }
  if (status != 0) broken_promise("exit status 0 or 2", std::to_string(status) + "\n" + err.str());
  const std::string svg = out.str();
  if (svg.rfind("<?xml", 0) != 0 || svg.find("</svg>") == std::string::npos)
    broken_promise("drawn input is an SVG document", svg.substr(0, 200));
  check_coordinates(svg);
  return 0;
}
