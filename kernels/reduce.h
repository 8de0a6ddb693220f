// Row-wise argmax and classification accuracy.
//
//   ArgmaxRows(probs, B, 10, predicted);        // predicted (B)
//   size_t ok = CountCorrect(probs, labels, B, 10);
//
// Ties go to the lowest index, as in numpy.argmax and torch.argmax on CPU.
#ifndef TRAINBUS_KERNELS_REDUCE_H_
#define TRAINBUS_KERNELS_REDUCE_H_

#include <cstddef>
#include <cstdint>

namespace trainbus::kernels {

// x (rows, n) -> out (rows): index of the first maximum per row.
void ArgmaxRows(const float* x, size_t rows, size_t n, int32_t* out);
// Number of rows whose argmax equals the label.
size_t CountCorrect(const float* x, const int32_t* labels, size_t rows,
                    size_t n);

void ArgmaxRowsReference(const float* x, size_t rows, size_t n, int32_t* out);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_REDUCE_H_
