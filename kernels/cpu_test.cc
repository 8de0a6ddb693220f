#include "kernels/cpu.h"

#include <string>

#include "gtest/gtest.h"

namespace trainbus::kernels {
namespace {

TEST(CpuTest, NamesTheMicroarchitecturesTuningDistinguishes) {
  EXPECT_EQ(UarchFromCpuid("AuthenticAMD", 0x19, 0x01), Uarch::kZen3);  // Milan
  EXPECT_EQ(UarchFromCpuid("AuthenticAMD", 0x19, 0x11), Uarch::kZen4);  // Genoa
  EXPECT_EQ(UarchFromCpuid("AuthenticAMD", 0x19, 0x61), Uarch::kZen4);  // Raphael
  EXPECT_EQ(UarchFromCpuid("AuthenticAMD", 0x17, 0x31), Uarch::kZen2);
  EXPECT_EQ(UarchFromCpuid("AuthenticAMD", 0x1a, 0x02), Uarch::kZen5);
  EXPECT_EQ(UarchFromCpuid("GenuineIntel", 6, 0x8f), Uarch::kSapphireRapids);
  EXPECT_EQ(UarchFromCpuid("GenuineIntel", 6, 0x55), Uarch::kSkylakeServer);
  EXPECT_EQ(UarchFromCpuid("GenuineIntel", 6, 0x6a), Uarch::kIceLakeServer);
  EXPECT_EQ(UarchFromCpuid("GenuineIntel", 6, 0x9e), Uarch::kOther);
  EXPECT_EQ(UarchFromCpuid("", 0, 0), Uarch::kOther);
  EXPECT_STREQ(UarchName(Uarch::kZen4), "zen4");
  EXPECT_STREQ(UarchName(Uarch::kOther), "other");
}

TEST(CpuTest, HostCpuHasPlausibleCachesAndIsCached) {
  const CpuInfo& cpu = HostCpu();
  EXPECT_EQ(&cpu, &HostCpu());
  EXPECT_GE(cpu.l1d_bytes, 8u * 1024);
  EXPECT_LE(cpu.l1d_bytes, 1024u * 1024);
  EXPECT_GT(cpu.l2_bytes, cpu.l1d_bytes);
  EXPECT_GE(cpu.l3_bytes, cpu.l2_bytes);
#if defined(__x86_64__)
  EXPECT_FALSE(cpu.vendor.empty());
  EXPECT_GT(cpu.family, 0);
#endif
  const std::string s = CpuDescription(cpu);
  EXPECT_NE(s.find("L1d "), std::string::npos) << s;
  EXPECT_NE(s.find(UarchName(cpu.uarch)), std::string::npos) << s;
}

}  // namespace
}  // namespace trainbus::kernels
