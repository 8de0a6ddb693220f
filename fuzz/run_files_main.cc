// main() for a fuzz target built without libFuzzer: runs each file named on
// the command line through LLVMFuzzerTestOneInput once, to reproduce a
// crash with the normal toolchain:
//   bazel run //fuzz:filter_fuzzer -- $PWD/crash-1234
#include <cstdio>
#include <string>

#include "base/file.h"
#include "fuzz/fuzz_util.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::StatusOr<std::string> bytes = trainbus::base::ReadFile(argv[i]);
    if (!bytes.ok()) {
      std::fprintf(stderr, "%s\n", std::string(bytes.status().message()).c_str());
      return 1;
    }
    std::fprintf(stderr, "running %s (%zu bytes)\n", argv[i], bytes->size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes->data()),
                           bytes->size());
  }
  return 0;
}
