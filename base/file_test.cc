#include "base/file.h"

#include <filesystem>
#include <string>

#include "base/test_dir.h"
#include "gtest/gtest.h"

namespace trainbus::base {
namespace {

namespace fs = std::filesystem;

TEST(FileTest, CreateDirectoriesMakesParentsAndTakesAnyCharacter) {
  const std::string root = NewTestDir("create");
  // A shell would run the command in the name; this creates a directory.
  const std::string dir = root + "/a/it's'; touch pwned; '/b";
  ASSERT_TRUE(CreateDirectories(dir).ok());
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_FALSE(fs::exists("pwned"));
  EXPECT_FALSE(fs::exists(root + "/a/pwned"));
  EXPECT_TRUE(CreateDirectories(dir).ok()) << "existing is fine";
}

TEST(FileTest, CreateDirectoriesRefusesAFileInTheWay) {
  const std::string root = NewTestDir("file_in_the_way");
  ASSERT_TRUE(WriteFileAtomically(root + "/plain", "x").ok());
  absl::Status s = CreateDirectories(root + "/plain");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a directory"), std::string::npos) << s;
  EXPECT_FALSE(CreateDirectories(root + "/plain/sub").ok());
  EXPECT_FALSE(CreateDirectories("").ok());
}

TEST(FileTest, CheckFileWritableCreatesTheParentAndLeavesNoProbe) {
  const std::string root = NewTestDir("check");
  ASSERT_TRUE(CheckFileWritable(root + "/deep/er/report.json").ok());
  EXPECT_TRUE(fs::is_directory(root + "/deep/er"));
  EXPECT_FALSE(fs::exists(root + "/deep/er/report.json"));
  EXPECT_TRUE(fs::is_empty(root + "/deep/er"));
}

TEST(FileTest, CheckFileWritableRefusesUnwritablePathsWithTheirName) {
  for (const std::string path : {"/proc/x/y", "/proc/self/report.json"}) {
    absl::Status s = CheckFileWritable(path);
    EXPECT_FALSE(s.ok()) << path;
    EXPECT_NE(s.message().find("/proc/"), std::string::npos) << s;
  }
  const std::string root = NewTestDir("is_dir");
  ASSERT_TRUE(CreateDirectories(root).ok());
  absl::Status s = CheckFileWritable(root);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("is a directory"), std::string::npos) << s;
  EXPECT_FALSE(CheckFileWritable("").ok());
}

TEST(FileTest, WriteFileAtomicallyReplacesTheWholeFileAndLeavesNoTemp) {
  const std::string root = NewTestDir("atomic");
  const std::string path = root + "/sub/report.json";
  ASSERT_TRUE(WriteFileAtomically(path, "first version, longer").ok());
  ASSERT_TRUE(WriteFileAtomically(path, std::string("se\0cond", 7)).ok());
  absl::StatusOr<std::string> back = ReadFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, std::string("se\0cond", 7));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(root + "/sub")) {
    ++files;
    EXPECT_EQ(e.path().filename(), "report.json");
  }
  EXPECT_EQ(files, 1u);
  EXPECT_FALSE(WriteFileAtomically("/proc/x/y", "z").ok());
  EXPECT_EQ(ReadFile(root + "/none").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace trainbus::base
