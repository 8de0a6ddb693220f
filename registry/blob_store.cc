#include "registry/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace trainbus::registry {
namespace {

absl::Status ErrnoError(absl::string_view what, absl::string_view path) {
  int err = errno;
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, " '", path, "': ", std::strerror(err),
        "; the disk holding the registry is full (or the file size limit is "
        "reached), so nothing was recorded; free space, or move the "
        "registry (--registry_dir) to a larger disk"));
  }
  return absl::InternalError(
      absl::StrCat(what, " '", path, "': ", std::strerror(err),
                   "; check the registry directory's permissions and space"));
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

absl::Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot open directory", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError("cannot fsync directory", dir);
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create directory '", path, "': ", ec.message(),
                     "; pass a writable --registry_dir"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string BlobStore::Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                         EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx.get(), data.data(), data.size());
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

bool BlobStore::IsSha256Hex(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<BlobStore> BlobStore::Open(std::string dir,
                                          FaultHook fault_hook,
                                          bool read_only) {
  if (read_only) return BlobStore(std::move(dir), std::move(fault_hook));
  TB_RETURN_IF_ERROR(MakeDirs(dir));
  BlobStore store(std::move(dir), std::move(fault_hook));
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(store.dir_.c_str()),
                                        ::closedir);
  if (!d) return ErrnoError("cannot list blob directory", store.dir_);
  std::vector<std::string> temps;
  while (dirent* entry = ::readdir(d.get())) {
    if (absl::StartsWith(entry->d_name, kTempPrefix)) {
      temps.push_back(entry->d_name);
    }
  }
  for (const std::string& name : temps) {
    std::string path = absl::StrCat(store.dir_, "/", name);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) continue;  // another process removed it
    // A live writer holds LOCK_EX on its temporary file until the rename.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
    if (::unlink(path.c_str()) == 0) ++store.removed_temp_files_;
  }
  return store;
}

std::string BlobStore::PathFor(absl::string_view sha256) const {
  return absl::StrCat(dir_, "/", sha256);
}

bool BlobStore::Contains(absl::string_view sha256) const {
  struct stat st;
  return ::stat(PathFor(sha256).c_str(), &st) == 0;
}

absl::StatusOr<std::string> BlobStore::Put(absl::string_view data) const {
  std::string sha = Sha256Hex(data);
  struct stat st;
  std::string path = PathFor(sha);
  if (::stat(path.c_str(), &st) == 0 &&
      st.st_size == static_cast<off_t>(data.size())) {
    return sha;
  }
  TB_RETURN_IF_ERROR(WriteNew(sha, data));
  return sha;
}

absl::Status BlobStore::WriteNew(absl::string_view sha256,
                                 absl::string_view data) const {
  std::string final_path = PathFor(sha256);
  std::string temp_path;
  int raw_fd = -1;
  // The opener's cleanup can, in a tiny window, unlink a temporary file
  // between our mkstemp and flock; check that the locked file is still the
  // one under the name, and retry otherwise.
  for (int tries = 0; tries < 8; ++tries) {
    temp_path = absl::StrCat(dir_, "/", kTempPrefix, "XXXXXX");
    raw_fd = ::mkostemp(temp_path.data(), O_CLOEXEC);
    if (raw_fd < 0) return ErrnoError("cannot create temporary blob", temp_path);
    if (::flock(raw_fd, LOCK_EX) != 0) {
      ::close(raw_fd);
      return ErrnoError("cannot lock temporary blob", temp_path);
    }
    struct stat by_fd, by_name;
    if (::fstat(raw_fd, &by_fd) == 0 &&
        ::stat(temp_path.c_str(), &by_name) == 0 &&
        by_fd.st_ino == by_name.st_ino && by_fd.st_dev == by_name.st_dev) {
      break;
    }
    ::close(raw_fd);
    raw_fd = -1;
  }
  if (raw_fd < 0) {
    return absl::InternalError(absl::StrCat(
        "cannot create a stable temporary blob in '", dir_, "'; retry"));
  }
  Fd fd(raw_fd);
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status s = ErrnoError("cannot write temporary blob", temp_path);
      ::unlink(temp_path.c_str());
      return s;
    }
    written += static_cast<size_t>(n);
  }
  if (fault_hook_ && fault_hook_(FaultPoint::kAfterTempWrite)) {
    return absl::AbortedError("simulated crash after writing the temporary blob");
  }
  if (::fsync(fd.get()) != 0) {
    absl::Status s = ErrnoError("cannot fsync temporary blob", temp_path);
    ::unlink(temp_path.c_str());
    return s;
  }
  if (fault_hook_ && fault_hook_(FaultPoint::kAfterTempFsync)) {
    return absl::AbortedError("simulated crash after fsyncing the temporary blob");
  }
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    absl::Status s = ErrnoError("cannot rename temporary blob", temp_path);
    ::unlink(temp_path.c_str());
    return s;
  }
  return FsyncDir(dir_);
}

absl::StatusOr<std::string> BlobStore::ReadRaw(absl::string_view sha256) const {
  if (!IsSha256Hex(sha256)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", sha256, "' is not a blob name (64 lowercase hex digits)"));
  }
  std::string path = PathFor(sha256);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(
          "blob '", path,
          "' is missing; restore the blob directory from backup or delete "
          "the record that refers to it"));
    }
    return ErrnoError("cannot open blob", path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoError("cannot stat blob", path);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read blob", path);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

absl::Status BlobStore::CheckHash(absl::string_view sha256,
                                  absl::string_view data) const {
  std::string actual = Sha256Hex(data);
  if (actual != sha256) {
    return absl::DataLossError(absl::StrCat(
        "blob '", PathFor(sha256), "' is corrupt: its sha256 is ", actual,
        "; restore it from backup or delete the record that refers to it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlobStore::Get(absl::string_view sha256) const {
  TB_ASSIGN_OR_RETURN(std::string data, ReadRaw(sha256));
  TB_RETURN_IF_ERROR(CheckHash(sha256, data));
  return data;
}

absl::Status BlobStore::Check(absl::string_view sha256,
                              int64_t expected_size) const {
  TB_ASSIGN_OR_RETURN(std::string data, ReadRaw(sha256));
  const int64_t size = static_cast<int64_t>(data.size());
  if (size != expected_size) {
    return absl::DataLossError(absl::StrCat(
        "blob '", PathFor(sha256), "' is ",
        size < expected_size ? "truncated" : "too long", ": it holds ", size,
        " bytes, the record says ", expected_size,
        "; restore it from backup or delete the record that refers to it"));
  }
  return CheckHash(sha256, data);
}

absl::Status BlobStore::Remove(absl::string_view sha256) const {
  std::string path = PathFor(sha256);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("cannot remove blob", path);
  }
  return absl::OkStatus();
}

}  // namespace trainbus::registry
