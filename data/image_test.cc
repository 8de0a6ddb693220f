#include "data/image.h"

#include <png.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// A smooth gradient with a bright square: compresses well and survives JPEG
// with small errors.
Image Synthetic(uint32_t w, uint32_t h) {
  Image img(w, h);
  for (uint32_t y = 0; y < h; ++y) {
    for (uint32_t x = 0; x < w; ++x) {
      img.at(x, y) =
          static_cast<uint8_t>((x * 255) / (w - 1) / 2 + (y * 127) / (h - 1));
    }
  }
  for (uint32_t y = h / 4; y < h / 2; ++y) {
    for (uint32_t x = w / 4; x < w / 2; ++x) img.at(x, y) = 240;
  }
  return img;
}

int MaxAbsDiff(const Image& a, const Image& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  int worst = 0;
  for (size_t i = 0; i < a.pixels.size() && i < b.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(int{a.pixels[i]} - int{b.pixels[i]}));
  }
  return worst;
}

std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

TEST(DetectImageFormatTest, ByMagic) {
  EXPECT_EQ(DetectImageFormat(*EncodePng(Synthetic(8, 8))), ImageFormat::kPng);
  EXPECT_EQ(DetectImageFormat(*EncodeJpeg(Synthetic(8, 8))),
            ImageFormat::kJpeg);
  EXPECT_EQ(DetectImageFormat(EncodePgm(Synthetic(8, 8))), ImageFormat::kPgm);
  EXPECT_EQ(DetectImageFormat(EncodePgm(Synthetic(8, 8), true)),
            ImageFormat::kPgm);
  EXPECT_EQ(DetectImageFormat(Bytes("GIF89a")), ImageFormat::kUnknown);
  EXPECT_EQ(DetectImageFormat({}), ImageFormat::kUnknown);
  EXPECT_EQ(ImageFormatName(ImageFormat::kJpeg), "JPEG");
}

TEST(DecodeImageTest, UnknownFormat) {
  absl::StatusOr<Image> got = DecodeImage(Bytes("GIF89a\x01\x00\x01\x00"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      got.status().message(),
      AllOf(HasSubstr("unknown image format"), HasSubstr("47 49 46 38"),
            HasSubstr("looks like GIF"), HasSubstr("PNG, JPEG and PGM")));
  got = DecodeImage(Bytes("P6\n2 2\n255\n"));
  EXPECT_THAT(got.status().message(), HasSubstr("PPM"));
  got = DecodeImage({});
  EXPECT_THAT(got.status().message(), HasSubstr("empty image"));
}

TEST(PngTest, GrayRoundTripIsExact) {
  Image img = Synthetic(37, 23);
  absl::StatusOr<std::vector<uint8_t>> png = EncodePng(img);
  ASSERT_TRUE(png.ok()) << png.status();
  absl::StatusOr<Image> got = DecodeImage(*png);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels, img.pixels);
  EXPECT_EQ(got->width, 37u);
  EXPECT_EQ(got->height, 23u);
}

TEST(PngTest, RgbBecomesLuma) {
  // red, green, blue, white, gray 100
  const std::vector<uint8_t> rgb = {255, 0,   0,   0,   255, 0,   0,  0,
                                    255, 255, 255, 255, 100, 100, 100};
  absl::StatusOr<std::vector<uint8_t>> png = EncodePng(5, 1, 3, rgb);
  ASSERT_TRUE(png.ok()) << png.status();
  absl::StatusOr<Image> got = DecodeImage(*png);
  ASSERT_TRUE(got.ok()) << got.status();
  // (77 R + 150 G + 29 B + 128) >> 8
  EXPECT_EQ(got->pixels, (std::vector<uint8_t>{77, 149, 29, 255, 100}));
  EXPECT_EQ(ToGray(5, 1, 3, rgb).pixels, got->pixels);
}

TEST(PngTest, AlphaIsCompositedOntoAContrastingBackground) {
  // Dark opaque content on a transparent field -> white behind it.
  std::vector<uint8_t> ga = {20, 255, 0, 0, 0, 128};
  absl::StatusOr<Image> got = DecodeImage(*EncodePng(3, 1, 2, ga));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels, (std::vector<uint8_t>{20, 255, 127}));
  // Light content -> black behind it.
  std::vector<uint8_t> rgba = {230, 230, 230, 255, 9, 9, 9, 0};
  got = DecodeImage(*EncodePng(2, 1, 4, rgba));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels, (std::vector<uint8_t>{230, 0}));
}

// Palette and 16-bit files, written with libpng's simplified API directly.
std::vector<uint8_t> WritePng(png_image* png, const void* data,
                              const void* colormap, bool to_8bit) {
  png_alloc_size_t size = 0;
  EXPECT_TRUE(
      png_image_write_get_memory_size(*png, size, to_8bit, data, 0, colormap))
      << png->message;
  std::vector<uint8_t> out(size);
  EXPECT_TRUE(png_image_write_to_memory(png, out.data(), &size, to_8bit, data,
                                        0, colormap))
      << png->message;
  out.resize(size);
  return out;
}

// A libpng "simplified API" image header of one row.
png_image OneRowPng(uint32_t width, uint32_t format) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = width;
  png.height = 1;
  png.format = format;
  return png;
}

TEST(PngTest, PaletteImage) {
  png_image png = OneRowPng(4, PNG_FORMAT_RGB_COLORMAP);
  png.colormap_entries = 3;
  const uint8_t colormap[] = {0, 0, 0, 255, 255, 255, 0, 0, 255};
  const uint8_t indices[] = {2, 1, 0, 1};
  absl::StatusOr<Image> got =
      DecodeImage(WritePng(&png, indices, colormap, false));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels, (std::vector<uint8_t>{29, 255, 0, 255}));
}

TEST(PngTest, SixteenBitImage) {
  // 16-bit linear gray, with gAMA 1.0.
  png_image png = OneRowPng(3, PNG_FORMAT_LINEAR_Y);
  const uint16_t linear[] = {0, 65535, 14025};  // 14025/65535 ~ sRGB 128
  absl::StatusOr<Image> got =
      DecodeImage(WritePng(&png, linear, nullptr, false));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels[0], 0);
  EXPECT_EQ(got->pixels[1], 255);
  EXPECT_NEAR(got->pixels[2], 128, 2);
}

TEST(PngTest, TruncatedAndCorruptGiveStatus) {
  std::vector<uint8_t> png = *EncodePng(Synthetic(64, 64));
  for (size_t cut = 0; cut < png.size(); ++cut) {
    absl::StatusOr<Image> got =
        DecodeImage(absl::MakeConstSpan(png.data(), cut));
    // The last 12 bytes are the IEND chunk, which libpng does not need.
    if (cut < png.size() - 12) {
      EXPECT_FALSE(got.ok()) << "cut at " << cut << " of " << png.size();
    }
  }
  absl::StatusOr<Image> got =
      DecodeImage(absl::MakeConstSpan(png.data(), png.size() / 2));
  EXPECT_THAT(got.status().message(),
              AllOf(HasSubstr("PNG"), HasSubstr("libpng")));

  std::vector<uint8_t> bad = png;
  for (size_t i = 60; i < bad.size() - 20; i += 7) bad[i] ^= 0xa5;
  got = DecodeImage(bad);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("damaged"));

  bad = png;
  bad[16] = 0xff;  // width = 0xff0000xx: far beyond the pixel limit
  EXPECT_FALSE(DecodeImage(bad).ok());

  // Random damage anywhere (header, chunk lengths, CRCs, IDAT) must never
  // crash; libpng checks CRCs, so nearly all of it is reported.
  std::mt19937 rng(11);
  int reported = 0;
  for (int trial = 0; trial < 300; ++trial) {
    bad = png;
    for (int k = 0; k < 4; ++k) bad[8 + rng() % (bad.size() - 8)] = rng();
    reported += !DecodeImage(bad).ok();
  }
  EXPECT_GT(reported, 250);
}

TEST(JpegTest, GrayRoundTripIsClose) {
  Image img = Synthetic(40, 32);
  absl::StatusOr<std::vector<uint8_t>> jpg = EncodeJpeg(img, 100);
  ASSERT_TRUE(jpg.ok()) << jpg.status();
  absl::StatusOr<Image> got = DecodeImage(*jpg);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_LE(MaxAbsDiff(*got, img), 4);
}

TEST(JpegTest, RgbBecomesLuma) {
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 16 * 16; ++i) rgb.insert(rgb.end(), {200, 40, 90});
  absl::StatusOr<std::vector<uint8_t>> jpg = EncodeJpeg(16, 16, 3, rgb, 100);
  ASSERT_TRUE(jpg.ok()) << jpg.status();
  absl::StatusOr<Image> got = DecodeImage(*jpg);
  ASSERT_TRUE(got.ok()) << got.status();
  const int luma = (77 * 200 + 150 * 40 + 29 * 90 + 128) >> 8;  // 94
  for (uint8_t p : got->pixels) EXPECT_NEAR(p, luma, 2);
}

TEST(JpegTest, ScaledDecode) {
  Image img(640, 480);
  for (uint32_t y = 0; y < 480; ++y) {
    for (uint32_t x = 0; x < 640; ++x) {
      img.at(x, y) = static_cast<uint8_t>(((x / 80 + y / 80) % 2) ? 220 : 30);
    }
  }
  std::vector<uint8_t> jpg = *EncodeJpeg(img, 95);
  DecodeOptions o;
  o.jpeg_min_long_side = 224;  // 1/2 -> 320 long; 1/4 -> 160 < 224
  absl::StatusOr<Image> got = DecodeImage(jpg, o);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->width, 320u);
  EXPECT_EQ(got->height, 240u);
  o.jpeg_min_long_side = 80;  // 1/8
  got = DecodeImage(jpg, o);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->width, 80u);
  ASSERT_EQ(got->height, 60u);
  // Each output pixel is the mean of an 8x8 block: the squares survive.
  EXPECT_NEAR(got->at(5, 5), 30, 4);
  EXPECT_NEAR(got->at(15, 5), 220, 4);
  o.jpeg_min_long_side = 1000;  // larger than the image: full size
  got = DecodeImage(jpg, o);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->width, 640u);
}

TEST(JpegTest, TruncatedAndCorruptGiveStatus) {
  std::vector<uint8_t> jpg = *EncodeJpeg(Synthetic(64, 64), 90);
  for (size_t cut = 0; cut < jpg.size(); ++cut) {
    absl::StatusOr<Image> got =
        DecodeImage(absl::MakeConstSpan(jpg.data(), cut));
    EXPECT_FALSE(got.ok()) << "cut at " << cut << " of " << jpg.size();
  }
  absl::StatusOr<Image> got =
      DecodeImage(absl::MakeConstSpan(jpg.data(), jpg.size() / 2));
  EXPECT_THAT(got.status().message(),
              AllOf(HasSubstr("JPEG"), HasSubstr("Premature end")));

  // Random damage must never crash or exit; most of it is reported.
  std::mt19937 rng(5);
  int reported = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint8_t> bad = jpg;
    for (int k = 0; k < 8; ++k) bad[3 + rng() % (bad.size() - 3)] = rng();
    reported += !DecodeImage(bad).ok();
  }
  EXPECT_GT(reported, 50);

  std::vector<uint8_t> garbage = {0xff, 0xd8, 0xff, 0x00, 0x01, 0x02};
  got = DecodeImage(garbage);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("libjpeg"));
}

TEST(PgmTest, BinaryAndPlainRoundTrip) {
  Image img = Synthetic(13, 9);
  for (bool plain : {false, true}) {
    absl::StatusOr<Image> got = DecodeImage(EncodePgm(img, plain));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->pixels, img.pixels) << "plain " << plain;
  }
}

TEST(PgmTest, CommentsMaxvalAndSixteenBit) {
  absl::StatusOr<Image> got = DecodeImage(
      Bytes("P2 # a comment\n3 # width\n1\n# maxval next\n15\n0 15 7\n"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels, (std::vector<uint8_t>{0, 255, 119}));

  std::string p5 = "P5\n2 1\n65535\n";
  p5 += std::string("\xff\xff\x80\x00", 4);
  got = DecodeImage(Bytes(p5));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixels, (std::vector<uint8_t>{255, 128}));
}

TEST(PgmTest, BadInputGivesStatus) {
  struct Case {
    std::string bytes, message;
  };
  const Case cases[] = {
      {"P5\n4 4\n255\nabc", "truncated"},
      {"P5\n4 4\n", "ends before its maxval"},
      {"P5\n4 x\n255\n", "'x' at byte 5"},
      {"P5\n0 4\n255\n", "0 x 4 pixels"},
      {"P5\n100000 100000\n255\n", "accepted are 1 to"},
      {"P5\n1 1\n0\n\x01", "maxval is 0"},
      {"P2\n2 1\n10\n3 11\n", "sample 1 is 11, above maxval 10"},
      {"P2\n2 1\n10\n3\n", "ends before its sample"},
      {"P5\n1 1\n100\n\x65", "sample 0 is 101"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Image> got = DecodeImage(Bytes(c.bytes));
    ASSERT_FALSE(got.ok()) << c.bytes;
    EXPECT_THAT(got.status().message(), HasSubstr(c.message)) << c.bytes;
  }
}

TEST(PgmTest, RandomDamageNeverCrashes) {
  for (bool plain : {false, true}) {
    std::vector<uint8_t> pgm = EncodePgm(Synthetic(9, 7), plain);
    std::mt19937 rng(plain ? 3 : 4);
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> bad = pgm;
      for (int k = 0; k < 3; ++k) bad[2 + rng() % (bad.size() - 2)] = rng();
      bad.resize(rng() % (bad.size() + 1));
      absl::StatusOr<Image> got = DecodeImage(bad);
      if (got.ok()) {
        EXPECT_EQ(got->pixels.size(), size_t{got->width} * got->height);
      }
    }
  }
}

TEST(EncodeTest, RejectsBadShapes) {
  EXPECT_FALSE(EncodePng(2, 2, 3, std::vector<uint8_t>(11)).ok());
  EXPECT_FALSE(EncodePng(2, 2, 5, std::vector<uint8_t>(20)).ok());
  EXPECT_FALSE(EncodeJpeg(2, 2, 2, std::vector<uint8_t>(8)).ok());
  EXPECT_FALSE(EncodeJpeg(Image(0, 0)).ok());
}

}  // namespace
}  // namespace trainbus::data
