#include "actors/model/eval_set.h"

#include <utility>

#include "absl/strings/str_join.h"

namespace trainbus::actors {
namespace {

std::vector<uint32_t> WithoutLeadingOnes(const std::vector<uint32_t>& shape) {
  size_t first = 0;
  while (first + 1 < shape.size() && shape[first] == 1) ++first;
  return std::vector<uint32_t>(shape.begin() + first, shape.end());
}

}  // namespace

// Blocks of 16 with a fixed trip count and no aliasing, so that -O2's
// vectorizer (the "very cheap" cost model) turns each block into a few
// vector instructions; a model actor converts every training sample here.
void BytesToUnitFloats(const uint8_t* __restrict in, size_t n,
                       float* __restrict out) {
  constexpr float kScale = 1.0f / 255.0f;
  constexpr size_t kBlock = 16;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (size_t j = 0; j < kBlock; ++j) {
      out[i + j] = static_cast<float>(in[i + j]) * kScale;
    }
  }
  for (; i < n; ++i) out[i] = static_cast<float>(in[i]) * kScale;
}

size_t ShapeSize(const std::vector<uint32_t>& shape) {
  size_t n = 1;
  for (uint32_t d : shape) n *= d;
  return n;
}

std::string FormatShape(const std::vector<uint32_t>& shape) {
  return shape.empty() ? "(none)" : absl::StrJoin(shape, "x");
}

bool ShapeFits(const std::vector<uint32_t>& shape, uint32_t channels,
               uint32_t height, uint32_t width) {
  if (shape.empty()) return false;
  return WithoutLeadingOnes(shape) ==
         WithoutLeadingOnes({channels, height, width});
}

EvalSet EvalSet::FromBytes(const uint8_t* pixels, const uint8_t* labels,
                           size_t count, std::vector<uint32_t> shape) {
  EvalSet set;
  set.count = count;
  set.input_size = ShapeSize(shape);
  set.shape = std::move(shape);
  set.x.resize(count * set.input_size);
  BytesToUnitFloats(pixels, count * set.input_size, set.x.data());
  set.labels.assign(labels, labels + count);
  return set;
}

}  // namespace trainbus::actors
