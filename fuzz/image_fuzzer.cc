// One codec of data/image.h, then the 28x28 conversion (data/mnist28.h), on
// any bytes. Built once per codec: TB_FUZZ_DECODE names the decoder.
#include <cstdio>
#include <cstdlib>

#include "absl/types/span.h"
#include "data/image.h"
#include "data/mnist28.h"
#include "fuzz/fuzz_util.h"

namespace trainbus::data {
namespace {

absl::StatusOr<Image> DecodeForFuzz(absl::Span<const uint8_t> bytes) {
  DecodeOptions options;
  // Half the inputs take libjpeg's scaled decode, as DecodeToMnist28 does.
  options.jpeg_min_long_side = bytes.size() % 2 == 1 ? 8 * kMnistSide : 0;
  (void)options;
  return TB_FUZZ_DECODE;
}

}  // namespace
}  // namespace trainbus::data

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace d = trainbus::data;
  absl::StatusOr<d::Image> image = d::DecodeForFuzz(absl::MakeConstSpan(data, size));
  if (!image.ok()) return 0;
  if (image->pixels.size() != size_t{image->width} * image->height) {
    std::fprintf(stderr, "decoded %ux%u image holds %zu pixels\n", image->width,
                 image->height, image->pixels.size());
    std::abort();
  }
  absl::StatusOr<d::Image> sample = d::ToMnist28(*image);
  if (sample.ok() && sample->pixels.size() != d::kMnistSide * d::kMnistSide) {
    std::fprintf(stderr, "28x28 sample holds %zu pixels\n", sample->pixels.size());
    std::abort();
  }
  return 0;
}
