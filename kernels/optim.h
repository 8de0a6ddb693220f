// Optimizer steps (SGD, SGD with momentum, Adam) over flat parameter arrays,
// and seeded weight initialisation (He / Xavier).
//
//   SgdStep(w, g, n, /*lr=*/0.01f, /*weight_decay=*/0.0f);
//   AdamStep(w, g, m, v, n, AdamParams{.lr = 1e-3f}, /*step=*/t);  // t >= 1
//
// Element-wise, so the result is independent of how threads split the array.
#ifndef TRAINBUS_KERNELS_OPTIM_H_
#define TRAINBUS_KERNELS_OPTIM_H_

#include <cstddef>
#include <cstdint>

namespace trainbus::kernels {

// w -= lr * (g + wd * w)
void SgdStep(float* w, const float* g, size_t n, float lr, float weight_decay);
// v = momentum * v + (g + wd * w); w -= lr * v      (PyTorch's form)
void MomentumStep(float* w, const float* g, float* velocity, size_t n,
                  float lr, float momentum, float weight_decay);

struct AdamParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.0f;  // L2, added to the gradient (torch.optim.Adam)
};
// g' = g + wd w; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
// w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
void AdamStep(float* w, const float* g, float* m, float* v, size_t n,
              const AdamParams& p, uint64_t step);

// Plain SGD on a dense layer at batch 1, fused with its weight gradient:
// w (rows, cols) -= lr * outer(dout (rows), x (cols)), skipping rows whose
// dout is 0 (ReLU zeros). Saves writing and re-reading the gradient.
void SgdOuterProductStep(float* w, size_t rows, size_t cols, const float* dout,
                         const float* x, float lr);

// Weight averaging (an exponential moving average of the iterates):
// avg += alpha * (w - avg), alpha = 1 - decay. Averaged weights generalise
// better than the last noisy SGD iterate (Polyak-Ruppert averaging).
void AverageStep(float* avg, const float* w, size_t n, float alpha);

void AverageStepReference(float* avg, const float* w, size_t n, float alpha);
void SgdStepReference(float* w, const float* g, size_t n, float lr,
                      float weight_decay);
void SgdOuterProductStepReference(float* w, size_t rows, size_t cols,
                                  const float* dout, const float* x, float lr);
void MomentumStepReference(float* w, const float* g, float* velocity, size_t n,
                           float lr, float momentum, float weight_decay);
void AdamStepReference(float* w, const float* g, float* m, float* v, size_t n,
                       const AdamParams& p, uint64_t step);

// He (Kaiming) normal: N(0, 2 / fan_in). For layers followed by ReLU.
void HeNormalInit(float* w, size_t n, size_t fan_in, uint64_t seed);
// Xavier (Glorot) uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).
void XavierUniformInit(float* w, size_t n, size_t fan_in, size_t fan_out,
                       uint64_t seed);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_OPTIM_H_
