// nn::ParseModelSpec on any text. An accepted spec must survive a round trip
// through FormatModelSpec (the checkpoint and the registry store the
// formatted text and parse it back) and have a cost.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_util.h"
#include "kernels/nn/model.h"

namespace nn = trainbus::nn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text = trainbus::fuzz::AsText(data, size);
  absl::StatusOr<nn::ModelSpec> spec =
      nn::ParseModelSpec(std::string_view(text.data(), text.size()));
  if (!spec.ok()) return 0;
  const std::string formatted = nn::FormatModelSpec(*spec);
  absl::StatusOr<nn::ModelSpec> again = nn::ParseModelSpec(formatted);
  if (!again.ok() || nn::FormatModelSpec(*again) != formatted) {
    std::fprintf(stderr, "spec '%s' formats as '%s', which does not parse back\n",
                 std::string(text).c_str(), formatted.c_str());
    std::abort();
  }
  (void)nn::EstimateModelCost(*spec);
  return 0;
}
