// libFuzzer harness: fuzz/targets.h, json_fields().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  recur::fuzz::json_fields(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
