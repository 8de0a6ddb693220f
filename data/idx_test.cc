#include "data/idx.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// count images of rows x cols; pixel values and labels follow the index so a
// mix-up between samples shows.
Dataset MakeDataset(size_t count, uint32_t rows, uint32_t cols) {
  Dataset d;
  d.count = count;
  d.rows = rows;
  d.cols = cols;
  for (size_t i = 0; i < count * rows * cols; ++i) {
    d.pixels.push_back(static_cast<uint8_t>(i * 7 + 3));
  }
  for (size_t i = 0; i < count; ++i) d.labels.push_back(i % 10);
  return d;
}

void ExpectSame(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.count, b.count);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_EQ(a.labels, b.labels);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::NewTestDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    images_ = dir_ + "/images";
    labels_ = dir_ + "/labels";
  }
  std::string dir_, images_, labels_;
};

TEST_F(IdxTest, RawRoundTrip) {
  Dataset d = MakeDataset(5, 4, 3);
  ASSERT_TRUE(WriteIdxPair(images_, labels_, d).ok());
  // 16-byte header + 60 pixels; 8-byte header + 5 labels.
  EXPECT_EQ(ReadAll(images_).size(), 16u + 60u);
  EXPECT_EQ(ReadAll(labels_).size(), 8u + 5u);
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(*got, d);
  EXPECT_EQ(got->image(2)[0], d.pixels[2 * 12]);
}

TEST_F(IdxTest, GzipIsDetectedByContentNotName) {
  Dataset d = MakeDataset(7, 5, 2);
  // Compressed files without ".gz" and a raw file that claims to be ".gz".
  ASSERT_TRUE(WriteIdxPair(images_, labels_ + ".gz", d).ok());
  ASSERT_TRUE(
      WriteIdx(images_, {7, 5, 2}, d.pixels, IdxCompression::kGzip).ok());
  EXPECT_EQ(static_cast<uint8_t>(ReadAll(images_)[0]), 0x1f);
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_ + ".gz");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSame(*got, d);
}

TEST_F(IdxTest, TruncatedRawFile) {
  ASSERT_TRUE(WriteIdxPair(images_, labels_, MakeDataset(5, 4, 3)).ok());
  ASSERT_EQ(truncate(images_.c_str(), 16 + 59), 0);
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr(images_), HasSubstr("truncated"),
                    HasSubstr("5 x 4 x 3 = 60"), HasSubstr("only 59")));
}

TEST_F(IdxTest, TruncatedGzipFile) {
  Dataset d = MakeDataset(200, 28, 28);
  ASSERT_TRUE(WriteIdxPair(images_, labels_, d, IdxCompression::kGzip).ok());
  std::string bytes = ReadAll(images_);
  WriteAll(images_, bytes.substr(0, bytes.size() / 2));
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(got.status().message()), HasSubstr(images_));
}

TEST_F(IdxTest, CorruptGzipData) {
  Dataset d = MakeDataset(50, 28, 28);
  ASSERT_TRUE(WriteIdxPair(images_, labels_, d, IdxCompression::kGzip).ok());
  std::string bytes = ReadAll(images_);
  for (size_t i = 20; i < bytes.size() - 8; i += 3) bytes[i] ^= 0x5a;
  WriteAll(images_, bytes);
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), HasSubstr(images_));
}

// Every cut inside the 8-byte trailer (CRC-32, then length) leaves all the
// data bytes readable; the file must still be refused.
TEST_F(IdxTest, GzipWithoutItsTrailerIsTruncated) {
  Dataset d = MakeDataset(20, 28, 28);
  ASSERT_TRUE(WriteIdxPair(images_, labels_, d, IdxCompression::kGzip).ok());
  const std::string bytes = ReadAll(images_);
  for (size_t cut = 1; cut <= 8; ++cut) {
    WriteAll(images_, bytes.substr(0, bytes.size() - cut));
    absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
    ASSERT_FALSE(got.ok()) << "accepted with " << cut << " trailer bytes cut";
    EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(got.status().message()),
                AllOf(HasSubstr(images_), HasSubstr("truncated"),
                      HasSubstr("8-byte trailer"),
                      HasSubstr(absl::StrCat(16 + 20 * 784))));
  }
}

TEST_F(IdxTest, GzipCrcMismatchSaysSoAndWhere) {
  Dataset d = MakeDataset(20, 28, 28);
  ASSERT_TRUE(WriteIdxPair(images_, labels_, d, IdxCompression::kGzip).ok());
  std::string bytes = ReadAll(images_);
  bytes[bytes.size() - 8] ^= 0x01;  // first byte of the CRC-32
  WriteAll(images_, bytes);
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr(images_), HasSubstr("gzip CRC-32 mismatch"),
                    HasSubstr(absl::StrCat("bytes ", bytes.size() - 8, "..",
                                           bytes.size() - 5, " of the ",
                                           bytes.size(), "-byte file")),
                    ::testing::Not(HasSubstr("after 0 bytes"))));
}

TEST_F(IdxTest, GzipLengthMismatch) {
  Dataset d = MakeDataset(20, 28, 28);
  ASSERT_TRUE(WriteIdxPair(images_, labels_, d, IdxCompression::kGzip).ok());
  std::string bytes = ReadAll(images_);
  bytes[bytes.size() - 4] ^= 0x01;  // lowest byte of the length
  WriteAll(images_, bytes);
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("gzip length mismatch"));
}

TEST_F(IdxTest, TruncatedHeader) {
  ASSERT_TRUE(WriteIdxPair(images_, labels_, MakeDataset(5, 4, 3)).ok());
  ASSERT_EQ(truncate(images_.c_str(), 10), 0);
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr("truncated inside its header"), HasSubstr("16")));
}

TEST_F(IdxTest, TrailingBytes) {
  ASSERT_TRUE(WriteIdxPair(images_, labels_, MakeDataset(5, 4, 3)).ok());
  WriteAll(images_, ReadAll(images_) + "xyz");
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("has 3 bytes after the 60"));
}

TEST_F(IdxTest, WrongMagic) {
  ASSERT_TRUE(WriteIdxPair(images_, labels_, MakeDataset(5, 4, 3)).ok());
  WriteAll(dir_ + "/text", "hello world, not an idx file");
  absl::StatusOr<Dataset> got = LoadIdxPair(dir_ + "/text", labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      got.status().message(),
      AllOf(HasSubstr("/text"), HasSubstr("0x68656c6c"),
            HasSubstr("expected 0x00000803"), HasSubstr("not an IDX file")));

  // Swapped paths get a hint.
  got = LoadIdxPair(labels_, images_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr("0x00000801"), HasSubstr("swapped")));
}

TEST_F(IdxTest, CountMismatch) {
  Dataset d = MakeDataset(5, 4, 3);
  ASSERT_TRUE(WriteIdx(images_, {5, 4, 3}, d.pixels).ok());
  ASSERT_TRUE(WriteIdx(labels_, {4}, {0, 1, 2, 3}).ok());
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(
      got.status().message(),
      AllOf(HasSubstr("count mismatch"), HasSubstr("has 5 images"),
            HasSubstr("has 4 labels"), HasSubstr(images_), HasSubstr(labels_)));
}

TEST_F(IdxTest, ZeroDimension) {
  ASSERT_TRUE(WriteIdx(images_, {5, 0, 3}, {}).ok());
  ASSERT_TRUE(WriteIdx(labels_, {5}, {0, 1, 2, 3, 4}).ok());
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("0 x 3 pixels"));
}

TEST_F(IdxTest, NoImages) {
  ASSERT_TRUE(WriteIdx(images_, {0, 4, 3}, {}).ok());
  ASSERT_TRUE(WriteIdx(labels_, {0}, {}).ok());
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("no images"));
}

TEST_F(IdxTest, ImplausibleHeaderIsRejectedBeforeAllocating) {
  ASSERT_TRUE(WriteIdx(images_, {1, 1, 1}, {9}).ok());
  std::string bytes = ReadAll(images_);
  for (int i = 4; i < 16; ++i) bytes[i] = '\xff';  // 4G x 4G x 4G
  WriteAll(images_, bytes);
  ASSERT_TRUE(WriteIdx(labels_, {1}, {0}).ok());
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("header is corrupt"));
}

TEST_F(IdxTest, LabelOutOfRange) {
  Dataset d = MakeDataset(5, 4, 3);
  d.labels[3] = 10;
  ASSERT_TRUE(WriteIdxPair(images_, labels_, d).ok());
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr("label 10 at index 3"), HasSubstr("[0, 10)"),
                    HasSubstr(labels_)));
  // The same file is fine for an 11-class problem.
  EXPECT_TRUE(LoadIdxPair(images_, labels_, 11).ok());
}

TEST_F(IdxTest, EmptyFile) {
  ASSERT_TRUE(WriteIdxPair(images_, labels_, MakeDataset(5, 4, 3)).ok());
  WriteAll(images_, "");
  absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr(images_), HasSubstr("empty")));
}

TEST_F(IdxTest, MissingFile) {
  absl::StatusOr<Dataset> got = LoadIdxPair(dir_ + "/nope", labels_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr(dir_ + "/nope"), HasSubstr("No such file")));
}

TEST_F(IdxTest, MnistDirRoundTripAndMissingFiles) {
  Dataset train = MakeDataset(12, 28, 28), test = MakeDataset(4, 28, 28);
  ASSERT_TRUE(WriteMnistDir(dir_, train, test, IdxCompression::kGzip).ok());
  absl::StatusOr<MnistSplits> got = LoadMnistDir(dir_ + "/");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->dir, dir_);
  ExpectSame(got->train, train);
  ExpectSame(got->test, test);

  ASSERT_EQ(unlink((dir_ + "/t10k-labels-idx1-ubyte.gz").c_str()), 0);
  got = LoadMnistDir(dir_);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(
      got.status().message(),
      AllOf(HasSubstr(dir_), HasSubstr("lacks t10k-labels-idx1-ubyte[.gz]"),
            HasSubstr("train-images-idx3-ubyte[.gz]"), HasSubstr("--data_dir"),
            HasSubstr("tools/setup.sh"), HasSubstr("dataset-fashion-mnist")));

  got = LoadMnistDir(dir_ + "/does-not-exist");
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr("does-not-exist"), HasSubstr("--data_dir")));
}

TEST_F(IdxTest, MnistDirSplitsWithDifferentDimensions) {
  ASSERT_TRUE(
      WriteMnistDir(dir_, MakeDataset(3, 28, 28), MakeDataset(3, 32, 32)).ok());
  absl::StatusOr<MnistSplits> got = LoadMnistDir(dir_);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(std::string(got.status().message()),
              AllOf(HasSubstr("dimension mismatch"), HasSubstr("28 x 28"),
                    HasSubstr("32 x 32")));
}

TEST_F(IdxTest, RandomHeaderDamageNeverCrashes) {
  Dataset d = MakeDataset(6, 5, 4);
  ASSERT_TRUE(WriteIdxPair(images_, labels_, d).ok());
  const std::string good = ReadAll(images_);
  std::mt19937 rng(8);
  int reported = 0;
  for (int trial = 0; trial < 150; ++trial) {
    std::string bad = good;
    bad[rng() % 16] = static_cast<char>(rng());
    WriteAll(images_, bad);
    absl::StatusOr<Dataset> got = LoadIdxPair(images_, labels_);
    if (got.ok()) {
      EXPECT_EQ(got->pixels.size(), got->count * got->image_size());
    } else {
      ++reported;
      EXPECT_THAT(std::string(got.status().message()), HasSubstr(images_));
    }
  }
  EXPECT_GT(reported, 100);
}

TEST(SliceTest, SliceAndHistogram) {
  Dataset d = MakeDataset(25, 2, 2);
  Dataset head = Slice(d, 3);
  EXPECT_EQ(head.count, 3u);
  EXPECT_EQ(head.pixels.size(), 12u);
  EXPECT_EQ(head.labels, (std::vector<uint8_t>{0, 1, 2}));
  EXPECT_EQ(Slice(d, 100).count, 25u);

  Dataset mid = SliceRange(d, 20, 10);
  EXPECT_EQ(mid.count, 5u);
  EXPECT_EQ(mid.image(0)[0], d.image(20)[0]);
  EXPECT_EQ(SliceRange(d, 30, 1).count, 0u);

  std::vector<size_t> hist = LabelHistogram(d);
  EXPECT_EQ(hist, (std::vector<size_t>{3, 3, 3, 3, 3, 2, 2, 2, 2, 2}));
}

TEST(WriteIdxTest, RejectsSizeMismatch) {
  absl::Status s = WriteIdx(base::NewTestDir("w") + "/x", {2, 2}, {1, 2, 3});
  EXPECT_THAT(s.message(), HasSubstr("need 4 bytes but data has 3"));
}

// The installed dataset (Debian package dataset-fashion-mnist). setup.sh
// installs it, so a missing dataset is a failure, not a skip.
TEST(FashionMnistTest, LoadsInstalledDataset) {
  absl::StatusOr<MnistSplits> got = LoadMnistDir(kDefaultMnistDir);
  ASSERT_TRUE(got.ok()) << got.status()
                        << "\nrun tools/setup.sh to install the dataset";
  EXPECT_EQ(got->train.count, 60000u);
  EXPECT_EQ(got->test.count, 10000u);
  EXPECT_EQ(got->train.rows, 28u);
  EXPECT_EQ(got->train.cols, 28u);
  // Fashion-MNIST is balanced: 6000 / 1000 per class.
  EXPECT_EQ(LabelHistogram(got->train), std::vector<size_t>(10, 6000));
  EXPECT_EQ(LabelHistogram(got->test), std::vector<size_t>(10, 1000));
}

}  // namespace
}  // namespace trainbus::data
