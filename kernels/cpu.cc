#include "kernels/cpu.h"

#include <cpuid.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/file.h"

namespace trainbus::kernels {
namespace {

// "32K", "1024K", "32M" (the sysfs format) in bytes; 0 if unreadable.
size_t ParseCacheSize(std::string text) {
  absl::string_view s = absl::StripAsciiWhitespace(text);
  size_t scale = 1;
  if (absl::ConsumeSuffix(&s, "K")) scale = 1024;
  if (absl::ConsumeSuffix(&s, "M")) scale = 1024 * 1024;
  uint64_t v = 0;
  return absl::SimpleAtoi(s, &v) ? v * scale : 0;
}

// The cache of `level` and type Data/Unified from sysfs, in bytes; 0 if the
// kernel does not export it (containers, some hypervisors).
size_t SysfsCacheBytes(int level) {
  for (int index = 0; index < 8; ++index) {
    const std::string dir =
        absl::StrCat("/sys/devices/system/cpu/cpu0/cache/index", index, "/");
    const auto lvl = base::ReadFile(dir + "level");
    const auto type = base::ReadFile(dir + "type");
    if (!lvl.ok() || !type.ok()) break;
    int l = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*lvl), &l) || l != level) {
      continue;
    }
    if (absl::StartsWith(*type, "Instruction")) continue;
    const auto size = base::ReadFile(dir + "size");
    if (size.ok()) return ParseCacheSize(*size);
  }
  return 0;
}

// sysfs first: under KVM, sysconf (glibc's CPUID reading) can report the
// host's L3 (256 MiB for a 32 MiB guest cache has been seen).
size_t CacheBytes(int level, int sysconf_name, size_t fallback) {
  if (const size_t s = SysfsCacheBytes(level); s > 0) return s;
  const long v = sysconf(sysconf_name);
  return v > 0 ? static_cast<size_t>(v) : fallback;
}

void ReadCpuid(CpuInfo& cpu) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  cpu.vendor = vendor;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
  const int base_family = (eax >> 8) & 0xf;
  const int base_model = (eax >> 4) & 0xf;
  cpu.family = base_family == 0xf ? base_family + ((eax >> 20) & 0xff)
                                  : base_family;
  cpu.model = (base_family == 0x6 || base_family == 0xf)
                  ? base_model | (((eax >> 16) & 0xf) << 4)
                  : base_model;
}

CpuInfo Probe() {
  CpuInfo cpu;
  ReadCpuid(cpu);
  cpu.uarch = UarchFromCpuid(cpu.vendor, cpu.family, cpu.model);
  cpu.l1d_bytes = CacheBytes(1, _SC_LEVEL1_DCACHE_SIZE, cpu.l1d_bytes);
  cpu.l2_bytes = CacheBytes(2, _SC_LEVEL2_CACHE_SIZE, cpu.l2_bytes);
  cpu.l3_bytes = CacheBytes(3, _SC_LEVEL3_CACHE_SIZE, cpu.l3_bytes);
  return cpu;
}

Uarch AmdUarch(int family, int model) {
  if (family == 0x17) return Uarch::kZen2;
  if (family == 0x1a) return Uarch::kZen5;
  if (family != 0x19) return Uarch::kOther;
  if ((model >= 0x10 && model <= 0x1f) || (model >= 0x60 && model <= 0xaf)) {
    return Uarch::kZen4;
  }
  return Uarch::kZen3;
}

Uarch IntelUarch(int family, int model) {
  if (family != 6) return Uarch::kOther;
  switch (model) {
    case 0x55: return Uarch::kSkylakeServer;
    case 0x6a: case 0x6c: return Uarch::kIceLakeServer;
    case 0x8f: case 0xcf: case 0xad: case 0xae: return Uarch::kSapphireRapids;
    default: return Uarch::kOther;
  }
}

std::string KiB(size_t bytes) {
  return bytes >= (size_t{1} << 20) && bytes % (size_t{1} << 20) == 0
             ? absl::StrCat(bytes >> 20, " MiB")
             : absl::StrCat(bytes >> 10, " KiB");
}

}  // namespace

Uarch UarchFromCpuid(const std::string& vendor, int family, int model) {
  if (vendor == "AuthenticAMD" || vendor == "HygonGenuine") {
    return AmdUarch(family, model);
  }
  if (vendor == "GenuineIntel") return IntelUarch(family, model);
  return Uarch::kOther;
}

const char* UarchName(Uarch uarch) {
  switch (uarch) {
    case Uarch::kZen2: return "zen2";
    case Uarch::kZen3: return "zen3";
    case Uarch::kZen4: return "zen4";
    case Uarch::kZen5: return "zen5";
    case Uarch::kSkylakeServer: return "skylake_server";
    case Uarch::kIceLakeServer: return "icelake_server";
    case Uarch::kSapphireRapids: return "sapphire_rapids";
    case Uarch::kOther: break;
  }
  return "other";
}

const CpuInfo& HostCpu() {
  static const CpuInfo* cpu = new CpuInfo(Probe());
  return *cpu;
}

std::string CpuDescription(const CpuInfo& cpu) {
  return absl::StrCat(cpu.vendor.empty() ? "unknown" : cpu.vendor, " ",
                      UarchName(cpu.uarch), " (family ", cpu.family, " model ",
                      cpu.model, "), L1d ", KiB(cpu.l1d_bytes), ", L2 ",
                      KiB(cpu.l2_bytes), ", L3 ", KiB(cpu.l3_bytes));
}

}  // namespace trainbus::kernels
