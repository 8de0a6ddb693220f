#include "bus/log/crc32c.h"

#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace trainbus::bus {
namespace {

TEST(Crc32cTest, KnownVectors) {
  const char* check = "123456789";
  EXPECT_EQ(Crc32c(reinterpret_cast<const uint8_t*>(check), 9), 0xE3069283u);
  EXPECT_EQ(Crc32cExtendPortable(0, reinterpret_cast<const uint8_t*>(check), 9),
            0xE3069283u);
  std::vector<uint8_t> zeros(32, 0);
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
}

TEST(Crc32cTest, FastPathMatchesPortableAtOddLengthsAndOffsets) {
  std::mt19937 rng(42);
  std::vector<uint8_t> data(4096 + 16);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t size : {0, 1, 7, 8, 9, 15, 63, 784, 1000, 4096}) {
      EXPECT_EQ(Crc32c(data.data() + offset, size),
                Crc32cExtendPortable(0, data.data() + offset, size))
          << "offset " << offset << " size " << size;
    }
  }
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
  const uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t split : {0, 1, 13, 500, 999, 1000}) {
    uint32_t part = Crc32c(data.data(), split);
    EXPECT_EQ(Crc32cExtend(part, data.data() + split, data.size() - split), whole);
  }
}

TEST(Crc32cTest, DetectsSingleBitFlips) {
  std::vector<uint8_t> data(784, 0x5A);
  const uint32_t good = Crc32c(data.data(), data.size());
  for (size_t i = 0; i < data.size(); i += 37) {
    for (int bit = 0; bit < 8; ++bit) {
      data[i] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_NE(Crc32c(data.data(), data.size()), good);
      data[i] ^= static_cast<uint8_t>(1u << bit);
    }
  }
}

}  // namespace
}  // namespace trainbus::bus
