// Reusable, 64-byte aligned float scratch buffers for kernels.
//
// Kernels such as Gemm need packing space on every call. Allocating it per
// call would put malloc on the training hot path, and a thread_local buffer
// is unsafe under TBB work stealing (a waiting thread may run another task
// that calls Gemm again). A small global free list gives each caller its own
// buffer and, after warm-up, never allocates:
//
//   trainbus::kernels::ScratchBuffer packed(m * k);
//   float* p = packed.data();   // returned to the pool at scope exit
#ifndef TRAINBUS_KERNELS_SCRATCH_H_
#define TRAINBUS_KERNELS_SCRATCH_H_

#include <cstddef>

namespace trainbus::kernels {

class ScratchBuffer {
 public:
  // At least `floats` floats, uninitialised, 64-byte aligned.
  explicit ScratchBuffer(size_t floats);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;

  float* data() const { return data_; }

 private:
  float* data_;
  size_t capacity_;
};

// Owning 64-byte aligned float array (zero-initialised); movable, not
// copyable. Used for weights, gradients and activations.
class AlignedFloats {
 public:
  AlignedFloats() = default;
  explicit AlignedFloats(size_t n);
  ~AlignedFloats();
  AlignedFloats(AlignedFloats&& other) noexcept;
  AlignedFloats& operator=(AlignedFloats&& other) noexcept;
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return size_; }
  float& operator[](size_t i) { return data_[i]; }
  const float& operator[](size_t i) const { return data_[i]; }

 private:
  float* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_SCRATCH_H_
