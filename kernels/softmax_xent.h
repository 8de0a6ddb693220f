// Fused softmax + cross-entropy, numerically stable (log-sum-exp).
//
//   float loss = SoftmaxCrossEntropyForward(logits, labels, B, 10, probs);
//   SoftmaxCrossEntropyBackward(probs, labels, B, 10, 1.0f / B, dlogits);
//
// Forward gives the mean loss over the batch and the probabilities; backward
// gives dlogits = scale * (probs - onehot(labels)). Labels must be in
// [0, classes); callers validate them.
#ifndef TRAINBUS_KERNELS_SOFTMAX_XENT_H_
#define TRAINBUS_KERNELS_SOFTMAX_XENT_H_

#include <cstddef>
#include <cstdint>

namespace trainbus::kernels {

// logits (batch, classes) -> probs (batch, classes); returns the mean loss
// (summed over rows in order). A non-finite logit gives a non-finite loss.
float SoftmaxCrossEntropyForward(const float* logits, const int32_t* labels,
                                 size_t batch, size_t classes, float* probs);
// dlogits (batch, classes) = scale * (probs - onehot); may alias probs.
void SoftmaxCrossEntropyBackward(const float* probs, const int32_t* labels,
                                 size_t batch, size_t classes, float scale,
                                 float* dlogits);
// probs = softmax(logits) row-wise; may alias.
void Softmax(const float* logits, size_t batch, size_t classes, float* probs);

float SoftmaxCrossEntropyForwardReference(const float* logits,
                                          const int32_t* labels, size_t batch,
                                          size_t classes, float* probs);
void SoftmaxCrossEntropyBackwardReference(const float* probs,
                                          const int32_t* labels, size_t batch,
                                          size_t classes, float scale,
                                          float* dlogits);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_SOFTMAX_XENT_H_
