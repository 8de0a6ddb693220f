// UndefinedBehaviorSanitizer's default options under --config=ubsan,
// compiled into every binary (the runtime asks for them through this hook,
// and UBSAN_OPTIONS from the test environment is applied on top): the path
// of ubsan.supp in the runfiles, so no test needs it in UBSAN_OPTIONS
// (Bazel 4 does not expand %workspace% in --test_env). A binary a test
// starts inherits TEST_SRCDIR and reads the test's copy; one without
// runfiles gets no suppressions.
//
// The runtime may call this before libc has run its own initializers, so
// it uses only getenv, readlink and access, and copies by hand.
#include <stdlib.h>
#include <unistd.h>

namespace {

constexpr char kOption[] = "suppressions=";
constexpr char kFile[] = "/third_party/ubsan.supp";
char options[4096];

// Appends `s` at options[*at]; false if it does not fit.
bool Append(const char* s, size_t* at) {
  for (; *s != '\0'; ++s) {
    if (*at + 1 >= sizeof(options)) return false;
    options[(*at)++] = *s;
  }
  options[*at] = '\0';
  return true;
}

// "suppressions=<root>/third_party/ubsan.supp" if that file exists.
bool PointAt(const char* root, const char* workspace) {
  size_t at = 0;
  if (!Append(kOption, &at)) return false;
  const size_t path = at;
  if (!Append(root, &at) || !Append("/", &at) || !Append(workspace, &at) ||
      !Append(kFile, &at)) {
    return false;
  }
  return access(options + path, R_OK) == 0;
}

}  // namespace

extern "C" const char* __ubsan_default_options() {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  if (srcdir != nullptr && workspace != nullptr &&
      PointAt(srcdir, workspace)) {
    return options;
  }
  // Outside a test: the binary's own runfiles, <exe>.runfiles/trainbus.
  char exe[2048];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 16);
  if (n > 0) {
    exe[n] = '\0';
    size_t at = static_cast<size_t>(n);
    const char* suffix = ".runfiles";
    for (; *suffix != '\0'; ++suffix) exe[at++] = *suffix;
    exe[at] = '\0';
    if (PointAt(exe, "trainbus")) return options;
  }
  options[0] = '\0';
  return options;
}
