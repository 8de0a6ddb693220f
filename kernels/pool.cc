// 2x2 max-pool. Memory-bound and tiny next to the convolutions (well under
// 1% of CNN step time), so this is plain C++ that the compiler vectorises,
// with TBB over planes for big batches; no Highway dispatch needed.
#include "kernels/pool.h"

#include <algorithm>
#include <cstring>

#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/parallel_for.h"

namespace trainbus::kernels {
namespace {

constexpr size_t kParallelFloats = size_t{1} << 16;

void ForwardPlanes(const float* in, size_t p0, size_t p1, size_t h, size_t w,
                   float* out, uint8_t* argmax) {
  const size_t oh = h / 2, ow = w / 2;
  for (size_t p = p0; p < p1; ++p) {
    const float* plane = in + p * h * w;
    float* o = out + p * oh * ow;
    uint8_t* a = argmax + p * oh * ow;
    for (size_t y = 0; y < oh; ++y) {
      const float* r0 = plane + 2 * y * w;
      const float* r1 = r0 + w;
      for (size_t x = 0; x < ow; ++x) {
        const float v0 = r0[2 * x], v1 = r0[2 * x + 1];
        const float v2 = r1[2 * x], v3 = r1[2 * x + 1];
        // Strict '>' keeps the first maximum, like the reference. Max and
        // integer arithmetic instead of branches: which input wins is
        // data-dependent and a branch would mispredict half the time.
        const int t1 = v1 > v0;
        const int t3 = v3 > v2;
        const float m01 = std::max(v0, v1);
        const float m23 = std::max(v2, v3);
        const int t = m23 > m01;
        o[y * ow + x] = std::max(m01, m23);
        a[y * ow + x] = static_cast<uint8_t>(t1 + t * (2 + t3 - t1));
      }
    }
  }
}

void BackwardPlanes(const float* dout, const uint8_t* argmax, size_t p0,
                    size_t p1, size_t h, size_t w, float* din) {
  const size_t oh = h / 2, ow = w / 2;
  for (size_t p = p0; p < p1; ++p) {
    float* plane = din + p * h * w;
    std::memset(plane, 0, h * w * sizeof(float));
    const float* g = dout + p * oh * ow;
    const uint8_t* a = argmax + p * oh * ow;
    for (size_t y = 0; y < oh; ++y) {
      for (size_t x = 0; x < ow; ++x) {
        const uint8_t at = a[y * ow + x];
        plane[(2 * y + (at >> 1)) * w + 2 * x + (at & 1)] = g[y * ow + x];
      }
    }
  }
}

template <class Body>
void OverPlanes(size_t planes, size_t plane_size, const Body& body) {
  if (planes * plane_size < kParallelFloats || planes < 2) {
    return body(0, planes);
  }
  const size_t grain = std::max<size_t>(1, 16384 / std::max<size_t>(plane_size, 1));
  tbb::parallel_for(tbb::blocked_range<size_t>(0, planes, grain),
                    [&](const tbb::blocked_range<size_t>& r) {
                      body(r.begin(), r.end());
                    });
}

}  // namespace

void MaxPool2x2Forward(const float* in, size_t planes, size_t h, size_t w,
                       float* out, uint8_t* argmax) {
  OverPlanes(planes, h * w, [&](size_t p0, size_t p1) {
    ForwardPlanes(in, p0, p1, h, w, out, argmax);
  });
}

void MaxPool2x2Backward(const float* dout, const uint8_t* argmax,
                        size_t planes, size_t h, size_t w, float* din) {
  OverPlanes(planes, h * w, [&](size_t p0, size_t p1) {
    BackwardPlanes(dout, argmax, p0, p1, h, w, din);
  });
}

void MaxPool2x2ForwardReference(const float* in, size_t planes, size_t h,
                                size_t w, float* out, uint8_t* argmax) {
  const size_t oh = h / 2, ow = w / 2;
  for (size_t p = 0; p < planes; ++p) {
    for (size_t y = 0; y < oh; ++y) {
      for (size_t x = 0; x < ow; ++x) {
        size_t best = 0;
        float best_v = in[p * h * w + 2 * y * w + 2 * x];
        for (size_t q = 1; q < 4; ++q) {
          const float v = in[p * h * w + (2 * y + q / 2) * w + 2 * x + q % 2];
          if (v > best_v) best_v = v, best = q;
        }
        out[(p * oh + y) * ow + x] = best_v;
        argmax[(p * oh + y) * ow + x] = static_cast<uint8_t>(best);
      }
    }
  }
}

void MaxPool2x2BackwardReference(const float* dout, const uint8_t* argmax,
                                 size_t planes, size_t h, size_t w,
                                 float* din) {
  const size_t oh = h / 2, ow = w / 2;
  for (size_t i = 0; i < planes * h * w; ++i) din[i] = 0.0f;
  for (size_t p = 0; p < planes; ++p) {
    for (size_t y = 0; y < oh; ++y) {
      for (size_t x = 0; x < ow; ++x) {
        const size_t q = argmax[(p * oh + y) * ow + x];
        din[p * h * w + (2 * y + q / 2) * w + 2 * x + q % 2] +=
            dout[(p * oh + y) * ow + x];
      }
    }
  }
}

}  // namespace trainbus::kernels
