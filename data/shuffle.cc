#include "data/shuffle.h"

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <utility>

#include "base/hash.h"

namespace trainbus::data {
namespace {

// Uniform in [0, bound), bound > 0, by Lemire's multiply-and-reject method.
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t bound) {
  unsigned __int128 m = static_cast<unsigned __int128>(rng()) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(rng()) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

}  // namespace

std::vector<size_t> EpochShuffler::Permutation(size_t n, uint64_t seed,
                                               uint64_t epoch) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  // Hashed so that nearby (seed, epoch) pairs seed unrelated generators.
  std::mt19937_64 rng(base::SplitMix64(seed ^ base::SplitMix64(epoch)));
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(UniformBelow(rng, i));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

EpochShuffler::EpochShuffler(size_t n, uint64_t seed) : n_(n), seed_(seed) {
  if (n == 0) {
    std::fprintf(stderr,
                 "EpochShuffler: n is 0; there is nothing to shuffle, check "
                 "that the dataset is not empty before shuffling it\n");
    std::abort();
  }
  order_ = Permutation(n_, seed_, 0);
}

EpochShuffler::Draw EpochShuffler::Next() {
  if (built_epoch_ != epoch_) {
    order_ = Permutation(n_, seed_, epoch_);
    built_epoch_ = epoch_;
  }
  Draw d{epoch_, position_, order_[position_]};
  if (++position_ == n_) {
    position_ = 0;
    ++epoch_;
  }
  return d;
}

void EpochShuffler::Seek(uint64_t epoch, size_t position) {
  epoch_ = epoch + position / n_;
  position_ = position % n_;
}

}  // namespace trainbus::data
