// Seeded, epoch-by-epoch shuffling of sample indices.
//
// Each epoch visits every index in [0, n) exactly once, in an order that is a
// pure function of (seed, epoch): the same seed replays the same stream, and a
// consumer can resume at any (epoch, position) without replaying the past.
//
//   trainbus::data::EpochShuffler order(train.count, /*seed=*/42);
//   for (int i = 0; i < 3 * train.count; ++i) {
//     trainbus::data::EpochShuffler::Draw d = order.Next();
//     Publish(train.image(d.index), train.labels[d.index], d.epoch);
//   }
//
// The permutation is Fisher-Yates driven by std::mt19937_64 with a bounded
// draw written here (std::uniform_int_distribution differs between standard
// libraries), so the order is the same on every platform.
#ifndef TRAINBUS_DATA_SHUFFLE_H_
#define TRAINBUS_DATA_SHUFFLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace trainbus::data {

class EpochShuffler {
 public:
  struct Draw {
    uint64_t epoch = 0;   // 0-based
    size_t position = 0;  // 0..n-1 within the epoch
    size_t index = 0;     // the sample to use
  };

  // `n` must be positive (an empty dataset has nothing to shuffle; the
  // constructor aborts with a message rather than loop forever).
  EpochShuffler(size_t n, uint64_t seed);

  // The next index; starts a new permutation after every n draws.
  Draw Next();

  // Continue from `position` within `epoch` (for resume and replay).
  void Seek(uint64_t epoch, size_t position);

  size_t size() const { return n_; }
  uint64_t seed() const { return seed_; }
  // The epoch and position that the next call to Next() returns.
  uint64_t epoch() const { return epoch_; }
  size_t position() const { return position_; }

  // The order of `epoch` for n items and `seed`: a permutation of [0, n).
  static std::vector<size_t> Permutation(size_t n, uint64_t seed,
                                         uint64_t epoch);

 private:
  size_t n_;
  uint64_t seed_;
  uint64_t epoch_ = 0;
  size_t position_ = 0;
  uint64_t built_epoch_ = 0;
  std::vector<size_t> order_;  // the permutation of built_epoch_
};

}  // namespace trainbus::data

#endif  // TRAINBUS_DATA_SHUFFLE_H_
