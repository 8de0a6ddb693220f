// A stateless 64-bit hash for reproducible choices: the same input gives the
// same output on every machine, run and replay (std::hash promises neither).
#ifndef TRAINBUS_BASE_HASH_H_
#define TRAINBUS_BASE_HASH_H_

#include <cstdint>

namespace trainbus::base {

// The SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijection with full
// avalanche.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// One step of SplitMix64 as a hash: the golden-ratio increment, then the
// finaliser. Nearby inputs (sequence numbers, seeds and epochs) give
// unrelated outputs.
inline uint64_t SplitMix64(uint64_t x) {
  return Mix64(x + 0x9e3779b97f4a7c15ULL);
}

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_HASH_H_
