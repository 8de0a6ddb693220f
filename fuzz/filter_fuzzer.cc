// The registry's filter and sort parsers (registry/filter.h) on any text.
#include "fuzz/fuzz_util.h"
#include "registry/filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text = trainbus::fuzz::AsText(data, size);
  (void)trainbus::registry::ParseFilter(text);
  (void)trainbus::registry::ParseSort(text);
  return 0;
}
