#include "data/mnist28.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data/image.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::data {
namespace {

using ::testing::HasSubstr;

MnistOptions PlainResize() {
  MnistOptions o;
  o.invert = Inversion::kNever;
  o.trim = false;
  o.stretch_contrast = false;
  return o;
}

uint8_t Pattern(uint32_t x, uint32_t y) {
  return static_cast<uint8_t>((x * 37 + y * 101) % 251);
}

TEST(ResizeAreaTest, HalvingAveragesTwoByTwoBlocks) {
  Image big(56, 56);
  for (uint32_t y = 0; y < 56; ++y) {
    for (uint32_t x = 0; x < 56; ++x) big.at(x, y) = Pattern(x / 2, y / 2);
  }
  absl::StatusOr<Image> small = ToMnist28(big, PlainResize());
  ASSERT_TRUE(small.ok()) << small.status();
  ASSERT_EQ(small->width, 28u);
  ASSERT_EQ(small->height, 28u);
  for (uint32_t y = 0; y < 28; ++y) {
    for (uint32_t x = 0; x < 28; ++x) {
      ASSERT_EQ(small->at(x, y), Pattern(x, y)) << x << "," << y;
    }
  }
  // A checkerboard of single pixels averages to flat gray.
  Image board(56, 56);
  for (uint32_t y = 0; y < 56; ++y) {
    for (uint32_t x = 0; x < 56; ++x) board.at(x, y) = (x + y) % 2 ? 200 : 0;
  }
  Image flat = ResizeArea(board, 28, 28);
  for (uint8_t p : flat.pixels) ASSERT_EQ(p, 100);
}

TEST(ResizeAreaTest, UpscalingAndFractionalScales) {
  Image tiny(14, 14);
  for (uint32_t y = 0; y < 14; ++y) {
    for (uint32_t x = 0; x < 14; ++x) tiny.at(x, y) = Pattern(x, y);
  }
  Image up = ResizeArea(tiny, 28, 28);
  for (uint32_t y = 0; y < 28; ++y) {
    for (uint32_t x = 0; x < 28; ++x)
      ASSERT_EQ(up.at(x, y), Pattern(x / 2, y / 2));
  }
  // 3 -> 2: the middle source pixel is split between both outputs.
  Image row(3, 1);
  row.pixels = {0, 90, 180};
  Image two = ResizeArea(row, 2, 1);
  EXPECT_EQ(two.pixels, (std::vector<uint8_t>{30, 150}));
}

TEST(ToMnist28Test, KeepsAspectRatioAndCentres) {
  // 56x28 of 2x2 blocks whose outer ring of blocks is 200 (the border).
  auto block = [](uint32_t bx, uint32_t by) -> uint8_t {
    return (bx == 0 || by == 0 || bx == 27 || by == 13) ? 200 : Pattern(bx, by);
  };
  Image wide(56, 28);
  for (uint32_t y = 0; y < 28; ++y) {
    for (uint32_t x = 0; x < 56; ++x) wide.at(x, y) = block(x / 2, y / 2);
  }
  absl::StatusOr<Image> got = ToMnist28(wide, PlainResize());
  ASSERT_TRUE(got.ok()) << got.status();
  // Content 28 x 14 in rows 7..20; padding with the border value.
  for (uint32_t y = 0; y < 28; ++y) {
    for (uint32_t x = 0; x < 28; ++x) {
      const uint8_t want = (y >= 7 && y < 21) ? block(x, y - 7) : 200;
      ASSERT_EQ(got->at(x, y), want) << x << "," << y;
    }
  }

  // 10x40 with box 20 -> 5x20 at (11, 4); a 200 core inside a 0 frame.
  Image tall(10, 40, 0);
  for (uint32_t y = 2; y < 38; ++y) {
    for (uint32_t x = 2; x < 8; ++x) tall.at(x, y) = 200;
  }
  MnistOptions o = PlainResize();
  o.box = 20;
  got = ToMnist28(tall, o);
  ASSERT_TRUE(got.ok()) << got.status();
  uint32_t sum = 0;
  for (uint8_t p : got->pixels) sum += p;
  EXPECT_EQ(sum, 3u * 18u * 200u);
  EXPECT_EQ(got->at(12, 5), 200);
  EXPECT_EQ(got->at(14, 22), 200);
  EXPECT_EQ(got->at(11, 5), 0);
  EXPECT_EQ(got->at(15, 5), 0);
  EXPECT_EQ(got->at(12, 4), 0);
  EXPECT_EQ(got->at(12, 23), 0);
}

TEST(ToMnist28Test, LightBackgroundIsInvertedTrimmedAndStretched) {
  // A product photo: white background, a dark 30x60 garment off-centre.
  Image photo(200, 150, 250);
  for (uint32_t y = 40; y < 100; ++y) {
    for (uint32_t x = 20; x < 50; ++x) photo.at(x, y) = 60;
  }
  absl::StatusOr<Image> got = ToMnist28(photo);
  ASSERT_TRUE(got.ok()) << got.status();
  // Trimmed to the garment: 30x60 -> 14x28, columns 7..20, full height.
  for (uint32_t y = 0; y < 28; ++y) {
    EXPECT_EQ(got->at(6, y), 0) << y;
    EXPECT_EQ(got->at(7, y), 255) << y;
    EXPECT_EQ(got->at(20, y), 255) << y;
    EXPECT_EQ(got->at(21, y), 0) << y;
  }
  // Without inversion the dark garment stays dark on a light background.
  MnistOptions keep;
  keep.invert = Inversion::kNever;
  keep.stretch_contrast = false;
  got = ToMnist28(photo, keep);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at(0, 0), 250);
  EXPECT_EQ(got->at(14, 14), 60);
}

TEST(ToMnist28Test, DarkBackgroundIsKept) {
  Image fashion(28, 28, 0);
  for (uint32_t y = 2; y < 26; ++y) {
    for (uint32_t x = 6; x < 22; ++x)
      fashion.at(x, y) = static_cast<uint8_t>(100 + y);
  }
  MnistOptions o;
  o.trim = false;
  o.stretch_contrast = false;
  absl::StatusOr<Image> got = ToMnist28(fashion, o);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->pixels, fashion.pixels);  // 28x28 in, same 28x28 out
  o.invert = Inversion::kAlways;
  got = ToMnist28(fashion, o);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at(0, 0), 255);
}

TEST(ToMnist28Test, TwentyEightSquareDarkImagePassesThrough) {
  // Off-centre, faint edges, not full contrast: trimming or stretching would
  // change it, but it already is a sample.
  Image sample(28, 28, 0);
  for (uint32_t y = 3; y < 27; ++y) {
    for (uint32_t x = 2; x < 20; ++x)
      sample.at(x, y) = static_cast<uint8_t>(10 * x);
  }
  absl::StatusOr<Image> got = ToMnist28(sample);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels, sample.pixels);
}

TEST(ToMnist28Test, FlatAndTinyImages) {
  absl::StatusOr<Image> got = ToMnist28(Image(1, 1, 90));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels.size(), 784u);
  got = ToMnist28(Image(640, 480, 255));  // blank white page
  ASSERT_TRUE(got.ok()) << got.status();
  for (uint8_t p : got->pixels) ASSERT_EQ(p, 0);
}

TEST(ToMnist28Test, RejectsEmptyImageAndBadBox) {
  absl::StatusOr<Image> got = ToMnist28(Image());
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("non-empty"));
  MnistOptions o;
  o.box = 29;
  EXPECT_THAT(ToMnist28(Image(4, 4), o).status().message(), HasSubstr("box"));
}

TEST(DecodeToMnist28Test, FromPngAndJpeg) {
  Image photo(90, 120, 255);
  for (uint32_t y = 10; y < 110; ++y) {
    for (uint32_t x = 30; x < 60; ++x) photo.at(x, y) = 0;
  }
  for (const auto& bytes : {*EncodePng(photo), *EncodeJpeg(photo, 95)}) {
    absl::StatusOr<Image> got = DecodeToMnist28(bytes);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_LE(got->at(0, 14), 10);
    EXPECT_GE(got->at(14, 14), 245);
  }
  EXPECT_FALSE(DecodeToMnist28(std::vector<uint8_t>{1, 2, 3}).ok());

  // A large JPEG decoded at reduced scale gives nearly the same sample.
  Image big(1200, 1600, 250);
  for (uint32_t y = 203; y < 1397; ++y) {
    for (uint32_t x = 301; x < 899; ++x) {
      big.at(x, y) =
          static_cast<uint8_t>(20 + (x + 2 * y) / 25 + (x / 37) % 2 * 40);
    }
  }
  std::vector<uint8_t> jpg = *EncodeJpeg(big, 90);
  MnistOptions full;
  full.decode_min_long_side = 0;
  absl::StatusOr<Image> a = DecodeToMnist28(jpg, full);
  absl::StatusOr<Image> b = DecodeToMnist28(jpg);  // 1/4 scale: 400 long
  ASSERT_TRUE(a.ok() && b.ok());
  int worst = 0, total = 0;
  for (size_t i = 0; i < 784; ++i) {
    const int d = std::abs(int{a->pixels[i]} - int{b->pixels[i]});
    worst = std::max(worst, d);
    total += d;
  }
  // Measured: worst 14, mean 3 gray levels (the trim box moves by a fraction
  // of a pixel, and the scaled IDCT is close to, not exactly, a box filter).
  EXPECT_LE(worst, 24);
  EXPECT_LE(total, 784 * 5);
}

}  // namespace
}  // namespace trainbus::data
