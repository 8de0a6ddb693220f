#include "registry/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "base/file_size_limit.h"
#include "registry/test_util.h"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  return names;
}

TEST(BlobStoreTest, Sha256OfKnownInput) {
  EXPECT_EQ(BlobStore::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(BlobStore::IsSha256Hex(BlobStore::Sha256Hex("")));
  EXPECT_FALSE(BlobStore::IsSha256Hex("../etc/passwd"));
}

TEST(BlobStoreTest, PutGetDedup) {
  std::string dir = testing::NewTempDir("blobs");
  absl::StatusOr<BlobStore> blobs = BlobStore::Open(dir);
  ASSERT_TRUE(blobs.ok()) << blobs.status();
  absl::StatusOr<std::string> sha = blobs->Put("hello weights");
  ASSERT_TRUE(sha.ok()) << sha.status();
  EXPECT_EQ(*sha, BlobStore::Sha256Hex("hello weights"));
  absl::StatusOr<std::string> again = blobs->Put("hello weights");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *sha);
  EXPECT_EQ(ListDir(dir).size(), 1u);
  absl::StatusOr<std::string> bytes = blobs->Get(*sha);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, "hello weights");
  TB_EXPECT_OK(blobs->Remove(*sha));
  EXPECT_EQ(blobs->Get(*sha).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(blobs->Get("nothex").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A full disk, simulated by the file size limit (EFBIG; SIGXFSZ ignored):
// a clear error naming the file and the fix, and no file left behind.
TEST(BlobStoreTest, AFullDiskIsAClearErrorAndLeavesNoFile) {
  std::string dir = testing::NewTempDir("blobs");
  absl::StatusOr<BlobStore> blobs = BlobStore::Open(dir);
  ASSERT_TRUE(blobs.ok());
  absl::StatusOr<std::string> sha;
  {
    base::FileSizeLimit full(4096);
    ASSERT_TRUE(full.ok());
    sha = blobs->Put(std::string(10000, 'w'));
  }
  ASSERT_FALSE(sha.ok());
  EXPECT_EQ(sha.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(sha.status().message().find(dir), absl::string_view::npos);
  EXPECT_NE(sha.status().message().find("the disk holding the registry is full"),
            absl::string_view::npos)
      << sha.status();
  EXPECT_TRUE(ListDir(dir).empty());
}

TEST(BlobStoreTest, CorruptBlobIsDataLossNamingTheFile) {
  std::string dir = testing::NewTempDir("blobs");
  absl::StatusOr<BlobStore> blobs = BlobStore::Open(dir);
  ASSERT_TRUE(blobs.ok());
  absl::StatusOr<std::string> sha = blobs->Put(std::string(1000, 'w'));
  ASSERT_TRUE(sha.ok());
  {
    std::fstream f(blobs->PathFor(*sha),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(500);
    f.put('X');
  }
  absl::StatusOr<std::string> bytes = blobs->Get(*sha);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bytes.status().message().find(blobs->PathFor(*sha)),
            absl::string_view::npos);
  EXPECT_NE(bytes.status().message().find("corrupt"), absl::string_view::npos);
}

class CrashTest : public ::testing::TestWithParam<BlobStore::FaultPoint> {};

TEST_P(CrashTest, CrashLeavesNoVisibleBlobAndOpenCleansUp) {
  std::string dir = testing::NewTempDir("blobs");
  BlobStore::FaultPoint point = GetParam();
  {
    absl::StatusOr<BlobStore> blobs = BlobStore::Open(
        dir, [point](BlobStore::FaultPoint p) { return p == point; });
    ASSERT_TRUE(blobs.ok());
    absl::StatusOr<std::string> sha = blobs->Put("partial");
    EXPECT_EQ(sha.status().code(), absl::StatusCode::kAborted);
    std::string final_name = BlobStore::Sha256Hex("partial");
    EXPECT_FALSE(blobs->Contains(final_name));
    EXPECT_EQ(blobs->Get(final_name).status().code(),
              absl::StatusCode::kNotFound);
    std::vector<std::string> names = ListDir(dir);
    ASSERT_EQ(names.size(), 1u);  // only the temporary file
    EXPECT_EQ(names[0].rfind(std::string(BlobStore::kTempPrefix), 0), 0u);
  }
  absl::StatusOr<BlobStore> reopened = BlobStore::Open(dir);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->removed_temp_files(), 1);
  EXPECT_TRUE(ListDir(dir).empty());
  // And the write succeeds now.
  absl::StatusOr<std::string> sha = reopened->Put("partial");
  ASSERT_TRUE(sha.ok());
  EXPECT_EQ(*reopened->Get(*sha), "partial");
}

INSTANTIATE_TEST_SUITE_P(Points, CrashTest,
                         ::testing::Values(
                             BlobStore::FaultPoint::kAfterTempWrite,
                             BlobStore::FaultPoint::kAfterTempFsync));

TEST(BlobStoreTest, OpenKeepsTemporaryFilesOfLiveWriters) {
  std::string dir = testing::NewTempDir("blobs");
  ASSERT_TRUE(BlobStore::Open(dir).ok());
  std::string temp = dir + "/" + std::string(BlobStore::kTempPrefix) + "live";
  int fd = ::open(temp.c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // as a writer in another process would
  absl::StatusOr<BlobStore> other = BlobStore::Open(dir);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->removed_temp_files(), 0);
  EXPECT_EQ(::access(temp.c_str(), F_OK), 0);
  ::close(fd);
  absl::StatusOr<BlobStore> after = BlobStore::Open(dir);
  EXPECT_EQ(after->removed_temp_files(), 1);
}

}  // namespace
}  // namespace trainbus::registry
