#include "kernels/scratch.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace trainbus::kernels {
namespace {

struct Block {
  float* data;
  size_t capacity;
};

struct Pool {
  std::mutex mu;
  std::vector<Block> free;  // small: one entry per concurrent caller
};

Pool& GetPool() {
  static Pool* pool = new Pool();  // never destroyed: safe at exit
  return *pool;
}

float* AllocateFloats(size_t n) {
  const size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<float*>(p);
}

}  // namespace

ScratchBuffer::ScratchBuffer(size_t floats) : data_(nullptr), capacity_(0) {
  Pool& pool = GetPool();
  {
    std::lock_guard<std::mutex> lock(pool.mu);
    // Best fit: the smallest free block that is large enough.
    size_t best = pool.free.size();
    for (size_t i = 0; i < pool.free.size(); ++i) {
      if (pool.free[i].capacity >= floats &&
          (best == pool.free.size() ||
           pool.free[i].capacity < pool.free[best].capacity)) {
        best = i;
      }
    }
    if (best != pool.free.size()) {
      data_ = pool.free[best].data;
      capacity_ = pool.free[best].capacity;
      pool.free[best] = pool.free.back();
      pool.free.pop_back();
      return;
    }
  }
  capacity_ = floats < 1024 ? 1024 : floats;
  data_ = AllocateFloats(capacity_);
}

ScratchBuffer::~ScratchBuffer() {
  Pool& pool = GetPool();
  std::lock_guard<std::mutex> lock(pool.mu);
  pool.free.push_back(Block{data_, capacity_});
}

AlignedFloats::AlignedFloats(size_t n) : data_(AllocateFloats(n)), size_(n) {
  std::memset(data_, 0, n * sizeof(float));
}

AlignedFloats::~AlignedFloats() { std::free(data_); }

AlignedFloats::AlignedFloats(AlignedFloats&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

AlignedFloats& AlignedFloats::operator=(AlignedFloats&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

}  // namespace trainbus::kernels
