#include "actors/model/eval_set.h"

namespace trainbus::actors {

void BytesToUnitFloats(const uint8_t* in, size_t n, float* out) {
  constexpr float kScale = 1.0f / 255.0f;
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) * kScale;
}

EvalSet EvalSet::FromBytes(const uint8_t* pixels, const uint8_t* labels,
                           size_t count, size_t input_size) {
  EvalSet set;
  set.count = count;
  set.input_size = input_size;
  set.x.resize(count * input_size);
  BytesToUnitFloats(pixels, count * input_size, set.x.data());
  set.labels.assign(labels, labels + count);
  return set;
}

}  // namespace trainbus::actors
