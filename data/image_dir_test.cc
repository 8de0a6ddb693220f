#include "data/image_dir.h"

#include <sys/stat.h>

#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/image.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::data {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;

void Write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A new, empty directory under the test's temporary directory.
std::string MakeDir(const std::string& name) {
  std::string dir = absl::StrCat(::testing::TempDir(), name, "-XXXXXX");
  EXPECT_NE(mkdtemp(dir.data()), nullptr) << dir << ": " << strerror(errno);
  return dir;
}

Image Garment() {
  Image img(40, 50, 255);
  for (uint32_t y = 5; y < 45; ++y) {
    for (uint32_t x = 10; x < 30; ++x) img.at(x, y) = 30;
  }
  return img;
}

TEST(ImageDirTest, GoodAndBadFilesInNameOrder) {
  const std::string dir = MakeDir("images");
  Write(dir + "/b.png", *EncodePng(Garment()));
  Write(dir + "/a.JPG", *EncodeJpeg(Garment()));
  Write(dir + "/c.pgm", EncodePgm(Garment()));
  Write(dir + "/d.jpeg", {0xff, 0xd8, 0xff, 0xe0, 0, 0});  // truncated JPEG
  Write(dir + "/e.png", std::vector<uint8_t>{'n', 'o', 'p', 'e'});
  std::vector<uint8_t> half_png = *EncodePng(Garment());
  half_png.resize(half_png.size() / 2);
  Write(dir + "/f.png", half_png);
  Write(dir + "/notes.txt", {'h', 'i'});    // ignored
  mkdir((dir + "/sub.png").c_str(), 0755);  // ignored

  absl::StatusOr<std::vector<ImageDirEntry>> entries = LoadImageDir(dir);
  ASSERT_TRUE(entries.ok()) << entries.status();
  std::vector<std::string> names;
  for (const ImageDirEntry& e : *entries) {
    names.push_back(e.path.substr(e.path.rfind('/') + 1));
  }
  EXPECT_THAT(names, ElementsAre("a.JPG", "b.png", "c.pgm", "d.jpeg", "e.png",
                                 "f.png"));
  for (int i = 0; i < 3; ++i) {
    const ImageDirEntry& e = (*entries)[i];
    ASSERT_TRUE(e.image.ok()) << e.image.status();
    EXPECT_EQ(e.image->width, 28u);
    EXPECT_EQ(e.image->pixels.size(), 784u);
    EXPECT_LE(e.image->at(0, 14), 10) << e.path;    // background black
    EXPECT_GE(e.image->at(14, 14), 245) << e.path;  // garment light
  }
  for (int i = 3; i < 6; ++i) {
    const ImageDirEntry& e = (*entries)[i];
    ASSERT_FALSE(e.image.ok()) << e.path;
    EXPECT_THAT(e.image.status().message(), HasSubstr(e.path));
  }
  EXPECT_THAT((*entries)[3].image.status().message(), HasSubstr("JPEG"));
  EXPECT_THAT((*entries)[4].image.status().message(),
              HasSubstr("unknown image format"));
  EXPECT_THAT((*entries)[5].image.status().message(), HasSubstr("PNG"));
}

TEST(ImageDirTest, ReaderIsLazyAndReportsTheEnd) {
  const std::string dir = MakeDir("lazy");
  Write(dir + "/1.pgm", EncodePgm(Garment()));
  absl::StatusOr<ImageDirReader> reader = ImageDirReader::Open(dir);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->size(), 1u);
  // Deleted after listing: reported as that file's error, not a crash.
  ASSERT_EQ(std::remove((dir + "/1.pgm").c_str()), 0);
  ImageDirEntry e = reader->Next();
  EXPECT_THAT(e.path, EndsWith("/1.pgm"));
  ASSERT_FALSE(e.image.ok());
  EXPECT_THAT(e.image.status().message(),
              AllOf(HasSubstr("1.pgm"), HasSubstr("No such file")));
  EXPECT_TRUE(reader->done());
  e = reader->Next();
  EXPECT_EQ(e.image.status().code(), absl::StatusCode::kOutOfRange);
}

TEST(ImageDirTest, MissingDirectory) {
  absl::StatusOr<ImageDirReader> reader =
      ImageDirReader::Open(MakeDir("x") + "/absent");
  ASSERT_FALSE(reader.ok());
  EXPECT_THAT(reader.status().message(),
              AllOf(HasSubstr("absent"), HasSubstr("existing directory")));
}

TEST(ImageDirTest, EmptyDirectoryIsEmptyNotAnError) {
  absl::StatusOr<std::vector<std::string>> files =
      ListImageFiles(MakeDir("empty"));
  ASSERT_TRUE(files.ok());
  EXPECT_TRUE(files->empty());
}

}  // namespace
}  // namespace trainbus::data
