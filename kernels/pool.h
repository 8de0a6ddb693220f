// 2x2 max-pooling with stride 2, forward and backward.
//
//   // in (planes, h, w) -> out (planes, h/2, w/2); planes = C * B
//   MaxPool2x2Forward(in, planes, h, w, out, argmax);
//   MaxPool2x2Backward(dout, argmax, planes, h, w, din);
//
// argmax (planes, h/2, w/2) holds the winning position 0..3 in each window
// (row-major, first maximum wins). An odd last row or column is dropped, and
// its gradient is zero.
#ifndef TRAINBUS_KERNELS_POOL_H_
#define TRAINBUS_KERNELS_POOL_H_

#include <cstddef>
#include <cstdint>

namespace trainbus::kernels {

void MaxPool2x2Forward(const float* in, size_t planes, size_t h, size_t w,
                       float* out, uint8_t* argmax);
// din (planes, h, w) is overwritten.
void MaxPool2x2Backward(const float* dout, const uint8_t* argmax,
                        size_t planes, size_t h, size_t w, float* din);

void MaxPool2x2ForwardReference(const float* in, size_t planes, size_t h,
                                size_t w, float* out, uint8_t* argmax);
void MaxPool2x2BackwardReference(const float* dout, const uint8_t* argmax,
                                 size_t planes, size_t h, size_t w,
                                 float* din);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_POOL_H_
