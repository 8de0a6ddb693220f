#include "fuzz/fuzz_util.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace trainbus::fuzz {
namespace {

[[noreturn]] void Die(const char* what, const std::string& path) {
  std::fprintf(stderr, "fuzz: %s %s: %s\n", what, path.c_str(),
               std::strerror(errno));
  std::abort();
}

}  // namespace

const std::string& ScratchDir() {
  static const std::string* dir = [] {
    const char* root = std::getenv("TEST_TMPDIR");
    if (root == nullptr || *root == '\0') root = std::getenv("TMPDIR");
    if (root == nullptr || *root == '\0') root = "/tmp";
    auto* d = new std::string(std::string(root) + "/trainbus-fuzz.XXXXXX");
    if (::mkdtemp(d->data()) == nullptr) Die("cannot create", *d);
    return d;
  }();
  return *dir;
}

void WriteOrDie(const std::string& path, absl::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) Die("cannot open", path);
  if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    Die("cannot write", path);
  }
  if (std::fclose(f) != 0) Die("cannot close", path);
}

void RemoveFlatDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) {
      continue;
    }
    ::unlink((dir + "/" + e->d_name).c_str());
  }
  ::closedir(d);
  ::rmdir(dir.c_str());
}

}  // namespace trainbus::fuzz
