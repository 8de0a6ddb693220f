// A stateless 64-bit hash for reproducible choices: the same input gives the
// same output on every machine, run and replay (std::hash promises neither).
#ifndef TRAINBUS_BASE_HASH_H_
#define TRAINBUS_BASE_HASH_H_

#include <cstdint>

namespace trainbus::base {

// One step of SplitMix64 (Steele, Lea, Flood 2014) as a hash: the golden-ratio
// increment then the finaliser. Nearby inputs (sequence numbers, seeds and
// epochs) give unrelated outputs.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_HASH_H_
