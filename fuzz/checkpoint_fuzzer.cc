// nn::LoadModel on any checkpoint bytes. The checksum at the end would stop
// nearly every mutation at the first check, so an input whose first byte is
// odd gets the right checksum appended to the rest; an even one is passed
// as it is (to reach the checksum and magic checks themselves). What loads
// must save to a checkpoint that loads again.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz/fuzz_util.h"
#include "kernels/nn/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(trainbus::fuzz::AsText(data + 1, size - 1));
  if (data[0] % 2 == 1) {
    // FNV-1a 64, as kernels/nn/checkpoint.cc seals a checkpoint.
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ull;
    bytes.append(reinterpret_cast<const char*>(&h), sizeof(h));
  }
  absl::StatusOr<std::unique_ptr<trainbus::nn::Model>> model =
      trainbus::nn::LoadModel(bytes);
  if (model.ok() && !trainbus::nn::LoadModel((*model)->SaveCheckpoint()).ok()) {
    std::fprintf(stderr, "a loaded checkpoint saves to one that does not load\n");
    std::abort();
  }
  return 0;
}
