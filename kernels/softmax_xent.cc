// Softmax + cross-entropy. Per row: max, exp(z - max) and its sum, then
// loss = log(sum) + max - z[label]. Rows are short (10 classes here), so a
// row is one or two vectors; we vectorise across the row and keep the exp
// from Highway's contrib math (accurate to a few ulp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/softmax_xent.cc"
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"
#include "kernels/softmax_xent.h"

HWY_BEFORE_NAMESPACE();
namespace trainbus::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// probs row = softmax(z row); returns log(sum exp(z - max)) + max.
static float SoftmaxRow(const float* HWY_RESTRICT z, size_t n,
                        float* HWY_RESTRICT p) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  float mx = -INFINITY;
  size_t j = 0;
  if (n >= N) {
    auto vmax = hn::LoadU(d, z);
    for (j = N; j + N <= n; j += N) vmax = hn::Max(vmax, hn::LoadU(d, z + j));
    mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
  }
  for (; j < n; ++j) mx = std::max(mx, z[j]);
  // An all -inf or NaN row: propagate NaN so the caller sees a bad loss.
  if (!std::isfinite(mx)) {
    for (j = 0; j < n; ++j) p[j] = NAN;
    return NAN;
  }
  const auto vmx = hn::Set(d, mx);
  auto vsum = hn::Zero(d);
  j = 0;
  for (; j + N <= n; j += N) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, z + j), vmx));
    vsum = hn::Add(vsum, e);
    hn::StoreU(e, d, p + j);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; j < n; ++j) {
    p[j] = std::exp(z[j] - mx);
    sum += p[j];
  }
  const float inv = 1.0f / sum;
  const auto vinv = hn::Set(d, inv);
  j = 0;
  for (; j + N <= n; j += N) hn::StoreU(hn::Mul(hn::LoadU(d, p + j), vinv), d, p + j);
  for (; j < n; ++j) p[j] *= inv;
  return std::log(sum) + mx;
}

float ForwardImpl(const float* logits, const int32_t* labels, size_t batch,
                  size_t classes, float* probs, float smoothing) {
  double total = 0.0;
  const double keep = 1.0 - double{smoothing};
  const double spread = double{smoothing} / static_cast<double>(classes);
  for (size_t i = 0; i < batch; ++i) {
    const float* z = logits + i * classes;
    const float lse = SoftmaxRow(z, classes, probs + i * classes);
    if (smoothing == 0.0f) {
      total += static_cast<double>(lse) - z[labels[i]];
      continue;
    }
    double zsum = 0.0;
    for (size_t j = 0; j < classes; ++j) zsum += z[j];
    total += static_cast<double>(lse) - keep * z[labels[i]] - spread * zsum;
  }
  return static_cast<float>(total / static_cast<double>(batch));
}

void SoftmaxImpl(const float* logits, size_t batch, size_t classes,
                 float* probs) {
  for (size_t i = 0; i < batch; ++i) {
    SoftmaxRow(logits + i * classes, classes, probs + i * classes);
  }
}

void BackwardImpl(const float* probs, const int32_t* labels, size_t batch,
                  size_t classes, float scale, float* dlogits,
                  float smoothing) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vs = hn::Set(d, scale);
  // target = spread everywhere, plus keep on the label (0 and 1 unsmoothed).
  const float spread = smoothing / static_cast<float>(classes);
  const float keep = 1.0f - smoothing;
  const auto vspread = hn::Set(d, spread);
  const size_t total = batch * classes;
  size_t j = 0;
  for (; j + N <= total; j += N) {
    hn::StoreU(hn::Mul(hn::Sub(hn::LoadU(d, probs + j), vspread), vs), d,
               dlogits + j);
  }
  for (; j < total; ++j) dlogits[j] = (probs[j] - spread) * scale;
  for (size_t i = 0; i < batch; ++i) {
    const size_t at = i * classes + static_cast<size_t>(labels[i]);
    dlogits[at] = (probs[at] - (spread + keep)) * scale;
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace trainbus::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace trainbus::kernels {

HWY_EXPORT(ForwardImpl);
HWY_EXPORT(SoftmaxImpl);
HWY_EXPORT(BackwardImpl);

float SoftmaxCrossEntropyForward(const float* logits, const int32_t* labels,
                                 size_t batch, size_t classes, float* probs,
                                 float smoothing) {
  if (batch == 0) return 0.0f;
  return HWY_DYNAMIC_DISPATCH(ForwardImpl)(logits, labels, batch, classes,
                                           probs, smoothing);
}

void SoftmaxCrossEntropyBackward(const float* probs, const int32_t* labels,
                                 size_t batch, size_t classes, float scale,
                                 float* dlogits, float smoothing) {
  HWY_DYNAMIC_DISPATCH(BackwardImpl)(probs, labels, batch, classes, scale,
                                     dlogits, smoothing);
}

void Softmax(const float* logits, size_t batch, size_t classes, float* probs) {
  HWY_DYNAMIC_DISPATCH(SoftmaxImpl)(logits, batch, classes, probs);
}

float SoftmaxCrossEntropyForwardReference(const float* logits,
                                          const int32_t* labels, size_t batch,
                                          size_t classes, float* probs,
                                          float smoothing) {
  double total = 0.0;
  for (size_t i = 0; i < batch; ++i) {
    const float* z = logits + i * classes;
    double mx = z[0];
    for (size_t j = 1; j < classes; ++j) mx = std::max<double>(mx, z[j]);
    double sum = 0.0;
    for (size_t j = 0; j < classes; ++j) sum += std::exp(z[j] - mx);
    for (size_t j = 0; j < classes; ++j) {
      probs[i * classes + j] = static_cast<float>(std::exp(z[j] - mx) / sum);
    }
    // Cross-entropy against the smoothed target, class by class.
    for (size_t j = 0; j < classes; ++j) {
      const double target =
          (static_cast<int32_t>(j) == labels[i] ? 1.0 - smoothing : 0.0) +
          double{smoothing} / classes;
      total += target * (std::log(sum) + mx - z[j]);
    }
  }
  return batch == 0 ? 0.0f : static_cast<float>(total / batch);
}

void SoftmaxCrossEntropyBackwardReference(const float* probs,
                                          const int32_t* labels, size_t batch,
                                          size_t classes, float scale,
                                          float* dlogits, float smoothing) {
  for (size_t i = 0; i < batch; ++i) {
    for (size_t j = 0; j < classes; ++j) {
      const double target =
          (static_cast<int32_t>(j) == labels[i] ? 1.0 - smoothing : 0.0) +
          double{smoothing} / classes;
      dlogits[i * classes + j] =
          static_cast<float>((probs[i * classes + j] - target) * scale);
    }
  }
}

}  // namespace trainbus::kernels
#endif  // HWY_ONCE
