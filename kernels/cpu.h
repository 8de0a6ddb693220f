// What the kernels know about the CPU they run on: vendor, family/model, the
// microarchitecture that implies, and the cache sizes as the OS reports them.
// Kernels pick their blocking and tiles from it at run time (gemm_config.h),
// never from compile-time macros.
//
//   const CpuInfo& cpu = HostCpu();     // probed once, then cached
//   size_t l2 = cpu.l2_bytes;           // per core
//   std::string s = CpuDescription(cpu);  // "AMD zen3 (family 25 model 1),
//                                         //  L1d 32 KiB, L2 512 KiB, ..."
#ifndef TRAINBUS_KERNELS_CPU_H_
#define TRAINBUS_KERNELS_CPU_H_

#include <cstddef>
#include <string>

namespace trainbus::kernels {

// Microarchitectures whose tuning differs. kOther: anything else (the
// choice then rests on the cache sizes and the vector target alone).
enum class Uarch {
  kOther,
  kZen2,            // AMD family 0x17
  kZen3,            // AMD family 0x19, models 0x00-0x0f, 0x20-0x5f
  kZen4,            // AMD family 0x19, models 0x10-0x1f, 0x60-0xaf
  kZen5,            // AMD family 0x1a
  kSkylakeServer,   // Intel Skylake-SP / Cascade Lake / Cooper Lake
  kIceLakeServer,   // Intel Ice Lake-SP
  kSapphireRapids,  // Intel Sapphire / Emerald / Granite Rapids
};

struct CpuInfo {
  std::string vendor;  // CPUID vendor string, e.g. "AuthenticAMD"
  int family = 0;      // display family (base + extended)
  int model = 0;       // display model (with the extended model bits)
  Uarch uarch = Uarch::kOther;
  // Per core for L1d and L2, the whole (shared) cache for L3. Read from
  // /sys/devices/system/cpu/cpu0/cache, else sysconf, else typical sizes.
  size_t l1d_bytes = 32 * 1024;
  size_t l2_bytes = 512 * 1024;
  size_t l3_bytes = 8 * 1024 * 1024;
};

// The machine's CPU, probed on first call (thread-safe) and cached.
const CpuInfo& HostCpu();

// The microarchitecture of a CPUID vendor/family/model triple.
Uarch UarchFromCpuid(const std::string& vendor, int family, int model);

// "zen4", "sapphire_rapids", ..., "other".
const char* UarchName(Uarch uarch);

// One line for benchmark labels and run manifests.
std::string CpuDescription(const CpuInfo& cpu);

}  // namespace trainbus::kernels

#endif  // TRAINBUS_KERNELS_CPU_H_
