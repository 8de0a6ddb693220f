// data::LoadIdxPair (raw or gzip IDX images + labels) on any pair of files.
// Input: the images file's length (2 bytes, little-endian, capped at what
// is there), the images file, then the labels file.
#include <algorithm>
#include <string>

#include "data/idx.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace f = trainbus::fuzz;
  if (size < 2) return 0;
  const absl::string_view rest = f::AsText(data + 2, size - 2);
  const size_t split = std::min<size_t>(data[0] | data[1] << 8, rest.size());
  static const std::string images = f::ScratchDir() + "/images-idx3-ubyte";
  static const std::string labels = f::ScratchDir() + "/labels-idx1-ubyte";
  f::WriteOrDie(images, rest.substr(0, split));
  f::WriteOrDie(labels, rest.substr(split));
  (void)trainbus::data::LoadIdxPair(images, labels);
  return 0;
}
