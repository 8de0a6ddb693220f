#include "kernels/gemm_config.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "kernels/cpu.h"

namespace trainbus::kernels {
namespace {

constexpr size_t kFloat = sizeof(float);

size_t RoundDown(size_t v, size_t step) {
  return std::max(step, v / step * step);
}

size_t Accumulators(GemmTile t) { return t.rows * t.vecs; }

// The largest tile (most accumulators, then most rows) that fits `unit`.
GemmTile LargestTile(VectorUnit unit) {
  GemmTile best = kGemmTiles[0];
  for (GemmTile t : TilesFor(unit)) {
    if (Accumulators(t) > Accumulators(best) ||
        (Accumulators(t) == Accumulators(best) && t.rows > best.rows)) {
      best = t;
    }
  }
  return best;
}

// Blocking from the cache sizes alone (BLIS's analytical model, roughly):
// the kc x nr B panel fills half of L1 (the rest holds the A sliver and the C
// tile), the mc x kc A block half of L2, and a kc x nc B block a quarter of
// L3 (which other cores share).
GemmConfig FromCaches(const CpuInfo& cpu, VectorUnit unit) {
  GemmConfig c;
  // 16 accumulators (8 x 2 vectors) hide the FMA latency with 2 B loads and 8
  // broadcasts per 16 FMAs; with 16 registers, 12 (6 x 2) is all that fits.
  c.tile = unit.registers >= 32 ? GemmTile{8, 2} : GemmTile{6, 2};
  c.blocked_tile = LargestTile(unit);
  const auto panel_kc = [&](GemmTile t) {
    const size_t nr = t.vecs * unit.lanes;
    return std::clamp<size_t>(RoundDown(cpu.l1d_bytes / 2 / (nr * kFloat), 32),
                              64, 512);
  };
  c.tiled_kc = panel_kc(c.tile);
  c.tiled_pack_bytes = cpu.l2_bytes / 2;
  c.kc = panel_kc(c.blocked_tile);
  const size_t mr = c.blocked_tile.rows;
  c.mc = std::clamp<size_t>(RoundDown(cpu.l2_bytes / 2 / (c.kc * kFloat), mr),
                            mr, 64 * mr);
  const size_t nr = c.blocked_tile.vecs * unit.lanes;
  c.nc = std::clamp<size_t>(RoundDown(cpu.l3_bytes / 4 / (c.kc * kFloat), nr),
                            nr, 4096);
  c.source = "from cache sizes";
  return c;
}

}  // namespace

std::vector<GemmTile> TilesFor(VectorUnit unit) {
  std::vector<GemmTile> out;
  for (GemmTile t : kGemmTiles) {
    if (Accumulators(t) + t.vecs + 1 <= unit.registers) out.push_back(t);
  }
  return out;
}

GemmConfig ChooseGemmConfig(const CpuInfo& cpu, VectorUnit unit) {
  GemmConfig c = FromCaches(cpu, unit);
  // Measured entries override the model where a session measured them.
  if (cpu.uarch == Uarch::kSapphireRapids && unit.registers >= 32) {
    // 48 KiB L1d: a 384 x 32 panel (all of L1) beat 256 and 512 at 1024^3;
    // 196-row blocks (14 slivers) were as good as 98 or 392.
    c.tile = {8, 2};
    c.blocked_tile = {14, 2};
    c.tiled_kc = 256;
    c.kc = 384;
    c.mc = 196;
    c.nc = 2048;
    c.source = "measured on sapphire_rapids";
  }
  return c;
}

std::vector<GemmConfig> GemmTestConfigs(const CpuInfo& cpu, VectorUnit unit) {
  std::vector<GemmConfig> out = {ChooseGemmConfig(cpu, unit)};
  for (GemmTile t : TilesFor(unit)) {
    // Short blocks so that small test shapes cross k-, m- and n-block edges.
    GemmConfig c;
    c.tile = t;
    c.blocked_tile = t;
    c.tiled_kc = 40;
    c.tiled_pack_bytes = 2 * 40 * t.vecs * unit.lanes * kFloat;  // 2 panels
    c.kc = 72;
    c.mc = 2 * t.rows + 1;  // rounded down to whole slivers by the kernel
    c.nc = 3 * t.vecs * unit.lanes;
    c.jit_max_rows = 24;
    c.parallel_macs = 1;  // every threaded path runs threaded
    c.source = "test";
    out.push_back(c);
  }
  return out;
}

std::string DescribeGemmConfig(const GemmConfig& c) {
  return absl::StrCat("tile ", c.tile.rows, "x", c.tile.vecs, "v kc ",
                      c.tiled_kc, " pack ", c.tiled_pack_bytes >> 10, " KiB (m <= ",
                      c.jit_max_rows, "), blocked ",
                      c.blocked_tile.rows, "x", c.blocked_tile.vecs, "v kc ",
                      c.kc, " mc ", c.mc, " nc ", c.nc, ", 1 thread below ",
                      c.parallel_macs, " MACs (", c.source, ")");
}

}  // namespace trainbus::kernels
