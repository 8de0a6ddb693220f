// Replays every file of one fuzz target's corpus (the directory given as the
// first argument) through its LLVMFuzzerTestOneInput. A crash, a sanitizer
// report or a hang fails the test; the log names the file that did it.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "base/file.h"
#include "fuzz/fuzz_util.h"
#include "gtest/gtest.h"

namespace {

const char* g_corpus_dir = nullptr;

std::vector<std::string> CorpusFiles(const std::string& dir) {
  std::vector<std::string> files;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return files;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') files.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

TEST(CorpusTest, EveryFileRunsCleanly) {
  ASSERT_NE(g_corpus_dir, nullptr) << "usage: corpus_test CORPUS_DIR";
  const std::vector<std::string> files = CorpusFiles(g_corpus_dir);
  ASSERT_FALSE(files.empty())
      << g_corpus_dir << " holds no corpus files; add seeds (see FUZZING.md)";
  for (const std::string& path : files) {
    absl::StatusOr<std::string> bytes = trainbus::base::ReadFile(path);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    // Printed before the call: a crash ends the process without gtest's help.
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(),
                 bytes->size());
    EXPECT_EQ(LLVMFuzzerTestOneInput(
                  reinterpret_cast<const uint8_t*>(bytes->data()),
                  bytes->size()),
              0)
        << path;
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) g_corpus_dir = argv[1];
  return RUN_ALL_TESTS();
}
