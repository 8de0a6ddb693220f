#include "base/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"

namespace trainbus::base {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoError(absl::string_view what, const std::string& path,
                        int err) {
  const std::string text = absl::StrCat(
      what, " '", path, "': ", std::strerror(err), "; choose a writable path");
  if (err == EACCES || err == EPERM || err == EROFS) {
    return absl::PermissionDeniedError(text);
  }
  if (err == ENOENT || err == ENOTDIR) return absl::NotFoundError(text);
  return absl::InternalError(text);
}

// The directory a file path lives in ("." for a bare name).
std::string ParentOf(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Creates a unique file from `templ` (ending in XXXXXX); returns its fd.
int MakeTemp(std::string* templ) {
  std::vector<char> name(templ->begin(), templ->end());
  name.push_back('\0');
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd >= 0) templ->assign(name.data());
  return fd;
}

}  // namespace

absl::Status CreateDirectories(const std::string& dir) {
  if (dir.empty()) {
    return absl::InvalidArgumentError("an empty directory name");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec.value() == ENOTDIR || ec.value() == EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create directory '", dir,
        "': it, or a part of its path, is not a directory; choose another "
        "path"));
  }
  if (ec) return ErrnoError("cannot create directory", dir, ec.value());
  if (!fs::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", dir, "' exists and is not a directory; choose another path"));
  }
  return absl::OkStatus();
}

absl::Status CheckDirectoryWritable(const std::string& dir) {
  if (absl::Status s = CreateDirectories(dir); !s.ok()) return s;
  std::string probe = absl::StrCat(dir, "/.trainbus-probe-XXXXXX");
  const int fd = MakeTemp(&probe);
  if (fd < 0) return ErrnoError("cannot write in directory", dir, errno);
  ::close(fd);
  ::unlink(probe.c_str());
  return absl::OkStatus();
}

absl::Status CheckFileWritable(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("an empty file name");
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", path, "' is a directory; give a file name to write"));
  }
  return CheckDirectoryWritable(ParentOf(path));
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  if (absl::Status s = CheckFileWritable(path); !s.ok()) return s;
  std::string temp = absl::StrCat(path, ".tmp-XXXXXX");
  const int fd = MakeTemp(&temp);
  if (fd < 0) return ErrnoError("cannot create a file next to", path, errno);
  const bool written = WriteAll(fd, contents) && ::fsync(fd) == 0;
  const int write_errno = errno;
  const bool closed = ::close(fd) == 0;
  if (!written || !closed) {
    ::unlink(temp.c_str());
    return ErrnoError("cannot write", path, written ? errno : write_errno);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return ErrnoError("cannot replace", path, err);
  }
  // The rename itself survives a crash only once the directory is synced.
  const int dir = ::open(ParentOf(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(
        err == ENOENT ? absl::StatusCode::kNotFound
                      : absl::StatusCode::kPermissionDenied,
        absl::StrCat("cannot read '", path, "': ", std::strerror(err)));
  }
  std::string out;
  char chunk[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(
          absl::StrCat("cannot read '", path, "': ", std::strerror(err)));
    }
    if (n == 0) break;
    out.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace trainbus::base
