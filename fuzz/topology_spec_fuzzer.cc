// topology::ParseSpec (YAML or JSON, then validation) on any text.
#include "fuzz/fuzz_util.h"
#include "topology/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)trainbus::topology::ParseSpec(trainbus::fuzz::AsText(data, size));
  return 0;
}
