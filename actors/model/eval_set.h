// Held-out data in the form models consume: float pixels in [0, 1].
// Built once and shared, read-only, by every model actor.
#ifndef TRAINBUS_ACTORS_MODEL_EVAL_SET_H_
#define TRAINBUS_ACTORS_MODEL_EVAL_SET_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trainbus::actors {

struct EvalSet {
  size_t count = 0;
  size_t input_size = 0;            // e.g. 784
  std::vector<float> x;             // count * input_size
  std::vector<int32_t> labels;      // count

  // From uint8 pixels (count * input_size) and uint8 labels.
  static EvalSet FromBytes(const uint8_t* pixels, const uint8_t* labels,
                           size_t count, size_t input_size);
};

// Scales uint8 intensities to [0, 1].
void BytesToUnitFloats(const uint8_t* in, size_t n, float* out);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_MODEL_EVAL_SET_H_
