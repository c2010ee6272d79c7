// libFuzzer harness: fuzz/targets.h, webhook_signatures().
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  recur::fuzz::webhook_signatures(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
