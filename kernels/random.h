// Portable, seeded random numbers for initialisation, dropout masks and
// augmentation. std:: distributions differ between standard libraries, so
// seeded results would too; these are the same everywhere.
//
//   SplitMix64 rng{seed};
//   double u = rng.Uniform();              // in (0, 1)
//   uint64_t h = Mix64(seed ^ index);      // stateless, for parallel use
#ifndef TRAINBUS_KERNELS_RANDOM_H_
#define TRAINBUS_KERNELS_RANDOM_H_

#include <cstdint>

#include "base/hash.h"

namespace trainbus::kernels {

using base::Mix64;  // the splitmix64 finaliser

// Uniform in (0, 1) from 53 bits of h; never exactly 0 or 1.
inline double UnitInterval(uint64_t h) {
  return (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
}

// splitmix64: a tiny, well-mixed sequential generator.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next() { return Mix64(state += 0x9E3779B97F4A7C15ull); }
  double Uniform() { return UnitInterval(Next()); }
};

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_RANDOM_H_
