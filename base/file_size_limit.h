// A full disk for tests, without root: the file size limit (RLIMIT_FSIZE)
// makes writes past it fail with EFBIG, as a full filesystem fails them with
// ENOSPC, and SIGXFSZ (which would kill the process) is ignored meanwhile.
//
//   {
//     base::FileSizeLimit full(64 * 1024);  // no file grows past 64 KiB
//     ... the write under test fails ...
//   }                                        // limit and signal restored
//
// The limit is the process's: use it only in a test that writes nothing
// else (the test framework writes its results after it is restored).
#ifndef TRAINBUS_BASE_FILE_SIZE_LIMIT_H_
#define TRAINBUS_BASE_FILE_SIZE_LIMIT_H_

#include <sys/resource.h>

#include <csignal>
#include <cstdint>

namespace trainbus::base {

class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_limit_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = old_limit_;
    limit.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &limit) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_limit_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

  // Whether the limit is in force (setrlimit can refuse a value above the
  // hard limit).
  bool ok() const { return ok_; }

 private:
  struct rlimit old_limit_ {};
  void (*old_handler_)(int) = SIG_DFL;
  bool ok_ = false;
};

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_FILE_SIZE_LIMIT_H_
