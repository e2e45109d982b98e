// libFuzzer target for the knapsack text format (reds::knapsack::parse_instances, D. Pisinger's instance
// files). Beyond "no crash, no undefined behaviour, no exception", it checks what the format promises:
//   * a rejected text is invalid_argument that names its line ("line L: ...");
//   * an accepted text's instances have one x per item, and written back with format_instance they read
//     back to the same instances (the text is canonical after one round: format(parse(format(x))) is
//     format(x)).
// Seeds: tests/fuzz/corpus/knapsack_format; dictionary: tests/fuzz/knapsack_format.dict.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_promise.h"
#include "reds/knapsack_format.h"

namespace {

using reds::fuzz::broken_promise;
using reds::knapsack::TextInstance;

std::string format_all(const std::vector<TextInstance>& instances) {
  std::string text;
  for (const TextInstance& instance : instances) text += reds::knapsack::format_instance(instance);
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const reds::Result<std::vector<TextInstance>> instances = reds::knapsack::parse_instances(text);
  if (!instances) {
    const reds::Error& error = instances.error();
    if (error.code != reds::ErrorCode::invalid_argument)
      broken_promise("a malformed text is invalid_argument", error.message);
    if (error.message.rfind("line ", 0) != 0) broken_promise("every rejection names its line", error.message);
    return 0;
  }
  for (const TextInstance& instance : instances.value())
    if (instance.solution.size() != instance.problem.items.size())
      broken_promise("every item has its x", instance.name);

  const std::string once = format_all(instances.value());
  const reds::Result<std::vector<TextInstance>> again = reds::knapsack::parse_instances(once);
  if (!again) broken_promise("written instances read back", once + "\n" + again.error().message);
  if (again->size() != instances->size()) broken_promise("written instances read back as many", once);
  if (format_all(again.value()) != once) broken_promise("the written text reads back to itself", once);
  return 0;
}
