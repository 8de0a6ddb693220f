// Fused softmax + cross-entropy, numerically stable (log-sum-exp).
//
//   float loss = SoftmaxCrossEntropyForward(logits, labels, B, 10, probs);
//   SoftmaxCrossEntropyBackward(probs, labels, B, 10, 1.0f / B, dlogits);
//
// Forward gives the mean loss over the batch and the probabilities; backward
// gives dlogits = scale * (probs - target). The target is onehot(labels),
// or with label smoothing eps in [0, 1): (1 - eps) * onehot + eps / classes,
// and the loss is its cross-entropy, log-sum-exp - (1 - eps) z[label] -
// eps/classes * sum z. Labels must be in [0, classes); callers validate them.
#ifndef TRAINBUS_KERNELS_SOFTMAX_XENT_H_
#define TRAINBUS_KERNELS_SOFTMAX_XENT_H_

#include <cstddef>
#include <cstdint>

namespace trainbus::kernels {

// logits (batch, classes) -> probs (batch, classes); returns the mean loss
// (summed over rows in order). A non-finite logit gives a non-finite loss.
float SoftmaxCrossEntropyForward(const float* logits, const int32_t* labels,
                                 size_t batch, size_t classes, float* probs,
                                 float smoothing = 0.0f);
// dlogits (batch, classes) = scale * (probs - target); may alias probs.
void SoftmaxCrossEntropyBackward(const float* probs, const int32_t* labels,
                                 size_t batch, size_t classes, float scale,
                                 float* dlogits, float smoothing = 0.0f);
// probs = softmax(logits) row-wise; may alias.
void Softmax(const float* logits, size_t batch, size_t classes, float* probs);

float SoftmaxCrossEntropyForwardReference(const float* logits,
                                          const int32_t* labels, size_t batch,
                                          size_t classes, float* probs,
                                          float smoothing = 0.0f);
void SoftmaxCrossEntropyBackwardReference(const float* probs,
                                          const int32_t* labels, size_t batch,
                                          size_t classes, float scale,
                                          float* dlogits,
                                          float smoothing = 0.0f);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_SOFTMAX_XENT_H_
