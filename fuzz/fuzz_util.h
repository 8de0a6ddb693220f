// What the fuzz targets share: the entry point's declaration and a scratch
// directory for the parsers that read files.
#ifndef TRAINBUS_FUZZ_FUZZ_UTIL_H_
#define TRAINBUS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace trainbus::fuzz {

// A directory of this process, made on first use under $TEST_TMPDIR,
// $TMPDIR or /tmp; aborts if it cannot be made.
const std::string& ScratchDir();

// Writes `bytes` to `path` (truncating); aborts on failure, since a target
// that cannot write its input tests nothing.
void WriteOrDie(const std::string& path, absl::string_view bytes);

// Deletes the files in `dir` and `dir` itself (one level, as the targets
// make them).
void RemoveFlatDir(const std::string& dir);

// The value, or the error printed and an abort: for a target's setup and
// make_seeds, where a failure means the harness itself is broken.
template <typename T>
T OrDie(absl::StatusOr<T> value) {
  if (!value.ok()) {
    std::fprintf(stderr, "fuzz: %s\n",
                 std::string(value.status().message()).c_str());
    std::abort();
  }
  return *std::move(value);
}

inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace trainbus::fuzz

#endif  // TRAINBUS_FUZZ_FUZZ_UTIL_H_
