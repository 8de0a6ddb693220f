// topology::ParseManifest (a run's manifest.json, as `trainbus reproduce`
// reads it back from the registry or a report directory) on any text. An
// accepted manifest must write back to JSON that parses to the same JSON.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_util.h"
#include "topology/manifest.h"

namespace topology = trainbus::topology;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<topology::RunManifest> manifest =
      topology::ParseManifest(trainbus::fuzz::AsText(data, size));
  if (!manifest.ok()) return 0;
  const std::string json = topology::ManifestToJson(*manifest);
  absl::StatusOr<topology::RunManifest> again = topology::ParseManifest(json);
  if (!again.ok() || topology::ManifestToJson(*again) != json) {
    std::fprintf(stderr, "an accepted manifest writes as '%s', which %s\n",
                 json.c_str(),
                 again.ok() ? "writes differently once parsed"
                            : std::string(again.status().message()).c_str());
    std::abort();
  }
  return 0;
}
