// Batch normalisation over channel rows: x (C, n), one row per channel (the
// conv layers' channel-major (C, B, H, W) is already this shape; dense layers
// transpose (B, F) to (F, B) first). Statistics are per row.
//
//   BatchNormStatistics(x, C, n, 1e-5f, mean, var, inv_std);   // training
//   BatchNormForward(x, C, n, mean, inv_std, gamma, beta, /*relu=*/true, y);
//   ...
//   BatchNormBackward(x, y, dy, C, n, mean, inv_std, gamma, true, dx,
//                     dgamma, dbeta);
//
// In inference, pass the running mean and 1 / sqrt(running_var + eps) to
// BatchNormForward instead of the batch's.
#ifndef TRAINBUS_KERNELS_BATCHNORM_H_
#define TRAINBUS_KERNELS_BATCHNORM_H_

#include <cstddef>

namespace trainbus::kernels {

// mean[c], var[c] (biased: divided by n) and inv_std[c] = 1 / sqrt(var + eps)
// of each row of x (C, n). n >= 1.
void BatchNormStatistics(const float* x, size_t channels, size_t n, float eps,
                         float* mean, float* var, float* inv_std);
// y (C, n) = gamma[c] * (x - mean[c]) * inv_std[c] + beta[c], then
// max(y, 0) if relu. y must not alias x (backward reads both).
void BatchNormForward(const float* x, size_t channels, size_t n,
                      const float* mean, const float* inv_std,
                      const float* gamma, const float* beta, bool relu,
                      float* y);
// The training-mode backward of BatchNormForward with the batch's own
// statistics (mean and inv_std depend on x). dy (C, n) is the gradient of
// y; with relu it is taken as zero where y <= 0. Overwrites dgamma, dbeta
// (C) and, unless null, dx (C, n); dx may alias dy.
void BatchNormBackward(const float* x, const float* y, const float* dy,
                       size_t channels, size_t n, const float* mean,
                       const float* inv_std, const float* gamma, bool relu,
                       float* dx, float* dgamma, float* dbeta);

// running = (1 - momentum) * running + momentum * batch, for the mean and
// for the variance (batch var made unbiased: * n / (n - 1), as PyTorch).
void BatchNormUpdateRunning(const float* mean, const float* var,
                            size_t channels, size_t n, float momentum,
                            float* running_mean, float* running_var);

// Plain loops in double, for tests.
void BatchNormStatisticsReference(const float* x, size_t channels, size_t n,
                                  float eps, float* mean, float* var,
                                  float* inv_std);
void BatchNormForwardReference(const float* x, size_t channels, size_t n,
                               const float* mean, const float* inv_std,
                               const float* gamma, const float* beta,
                               bool relu, float* y);
void BatchNormBackwardReference(const float* x, const float* y,
                                const float* dy, size_t channels, size_t n,
                                const float* mean, const float* inv_std,
                                const float* gamma, bool relu, float* dx,
                                float* dgamma, float* dbeta);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_BATCHNORM_H_
