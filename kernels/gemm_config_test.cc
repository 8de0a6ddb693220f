#include "kernels/gemm_config.h"

#include <string>

#include "gtest/gtest.h"
#include "kernels/cpu.h"

namespace trainbus::kernels {
namespace {

CpuInfo Cpu(Uarch uarch, size_t l1d, size_t l2, size_t l3) {
  CpuInfo cpu;
  cpu.uarch = uarch;
  cpu.l1d_bytes = l1d;
  cpu.l2_bytes = l2;
  cpu.l3_bytes = l3;
  return cpu;
}

constexpr VectorUnit kAvx2{8, 16};
constexpr VectorUnit kAvx512{16, 32};

TEST(GemmConfigTest, TilesFitTheRegisters) {
  for (VectorUnit unit : {kAvx2, kAvx512, VectorUnit{4, 16}}) {
    for (GemmTile t : TilesFor(unit)) {
      EXPECT_LE(t.rows * t.vecs + t.vecs + 1, unit.registers);
    }
  }
  EXPECT_EQ(TilesFor(kAvx2).size(), 2u);  // 6x2 and 4x3
  EXPECT_EQ(TilesFor(kAvx512).size(), std::size(kGemmTiles));
}

TEST(GemmConfigTest, BlockingFollowsTheCaches) {
  // Zen 3 with AVX2: a 256 x 16 panel is half of the 32 KiB L1d.
  const GemmConfig zen3 =
      ChooseGemmConfig(Cpu(Uarch::kZen3, 32 << 10, 512 << 10, 32 << 20), kAvx2);
  EXPECT_EQ(zen3.tile, (GemmTile{6, 2}));
  EXPECT_EQ(zen3.tiled_kc, 256u);
  // Zen 4 with AVX-512: 32-wide panels in the same 32 KiB L1d are half as
  // deep, and its 1 MiB L2 holds twice the rows.
  const GemmConfig zen4 =
      ChooseGemmConfig(Cpu(Uarch::kZen4, 32 << 10, 1 << 20, 32 << 20), kAvx512);
  EXPECT_EQ(zen4.tile, (GemmTile{8, 2}));
  EXPECT_EQ(zen4.tiled_kc, 128u);
  EXPECT_EQ(zen4.mc % zen4.blocked_tile.rows, 0u);
  EXPECT_GT(zen4.mc * zen4.kc, zen3.mc * zen3.kc);
  // Sapphire Rapids keeps the blocking measured there.
  const GemmConfig spr = ChooseGemmConfig(
      Cpu(Uarch::kSapphireRapids, 48 << 10, 2 << 20, 105 << 20), kAvx512);
  EXPECT_EQ(spr.kc, 384u);
  EXPECT_EQ(spr.blocked_tile, (GemmTile{14, 2}));
  EXPECT_NE(DescribeGemmConfig(spr).find("sapphire_rapids"), std::string::npos);
}

TEST(GemmConfigTest, TestConfigsCoverEveryTile) {
  const CpuInfo cpu = Cpu(Uarch::kOther, 48 << 10, 2 << 20, 8 << 20);
  for (VectorUnit unit : {kAvx2, kAvx512}) {
    const auto configs = GemmTestConfigs(cpu, unit);
    ASSERT_EQ(configs.size(), TilesFor(unit).size() + 1);
    for (GemmTile t : TilesFor(unit)) {
      bool found = false;
      for (const GemmConfig& c : configs) found |= c.tile == t && c.blocked_tile == t;
      EXPECT_TRUE(found) << t.rows << "x" << t.vecs;
    }
  }
}

}  // namespace
}  // namespace trainbus::kernels
