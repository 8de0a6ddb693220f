// Held-out data in the form models consume: float pixels in [0, 1], with the
// shape of one sample. Built once and shared, read-only, by every model
// actor; SpawnModelActor refuses a set whose shape or labels do not fit the
// model (CheckModelInput).
//
//   auto eval = std::make_shared<EvalSet>(EvalSet::FromBytes(
//       test.pixels.data(), test.labels.data(), test.count,
//       {test.rows, test.cols}));
#ifndef TRAINBUS_ACTORS_MODEL_EVAL_SET_H_
#define TRAINBUS_ACTORS_MODEL_EVAL_SET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace trainbus::actors {

struct EvalSet {
  size_t count = 0;
  size_t input_size = 0;            // product of shape, e.g. 784
  std::vector<uint32_t> shape;      // one sample, as a bus Sample: {28, 28}
  std::vector<float> x;             // count * input_size
  std::vector<int32_t> labels;      // count

  // From uint8 pixels (count samples of `shape`) and uint8 labels.
  static EvalSet FromBytes(const uint8_t* pixels, const uint8_t* labels,
                           size_t count, std::vector<uint32_t> shape);
};

// Scales uint8 intensities to [0, 1].
void BytesToUnitFloats(const uint8_t* in, size_t n, float* out);

// The number of elements of a shape (1 for an empty one).
size_t ShapeSize(const std::vector<uint32_t>& shape);

// "28x28", "3x32x32"; "(none)" for an empty shape.
std::string FormatShape(const std::vector<uint32_t>& shape);

// Whether data of `shape` fits a model input of channels x height x width.
// The rule: the two agree once leading 1s are dropped from both, so {28, 28},
// {1, 28, 28} and 1x28x28 fit each other, while {784}, {4, 14, 14} and
// {28, 28, 1} do not fit 1x28x28 even though they hold 784 values: a flat or
// differently laid-out tensor is a different input, and a model that wants
// one declares it (input=1x1x784). An empty shape fits nothing.
bool ShapeFits(const std::vector<uint32_t>& shape, uint32_t channels,
               uint32_t height, uint32_t width);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_MODEL_EVAL_SET_H_
