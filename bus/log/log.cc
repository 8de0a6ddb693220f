#include "bus/log/log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "bus/log/format.h"

namespace trainbus::bus {
namespace log_internal {

namespace fmt = ::trainbus::bus::log_format;

struct SegmentMeta {
  uint64_t base_offset = 0;
  std::string path;
  uint64_t size = 0;  // committed bytes (whole records only)
  // Header time; every record of the previous segment is older.
  absl::Time created = absl::InfiniteFuture();
};

// State the writer publishes to readers.
struct Shared {
  explicit Shared(std::string d) : dir(std::move(d)) {}
  const std::string dir;
  mutable absl::Mutex mu;
  std::deque<SegmentMeta> segments ABSL_GUARDED_BY(mu);  // never empty
  uint64_t next_offset ABSL_GUARDED_BY(mu) = 0;
};

std::string ErrnoText(int err) { return std::strerror(err); }

// What to do about a failed write, by its errno.
std::string WriteFailureHint(int err) {
  if (err == ENOSPC || err == EDQUOT) {
    return "; the disk holding the log is full: free space, or give the "
           "resource a log dir on a larger disk (log: {dir: ...}), and "
           "reopen it";
  }
  if (err == EFBIG) {
    return "; the file size limit (ulimit -f) is reached: raise it, or lower "
           "the log's segment_bytes";
  }
  return "; check free disk space";
}

// A segment opened for reading through a sliding buffer; reads never go past
// the `limit` the caller passes (the committed size).
class SegmentFile {
 public:
  static absl::StatusOr<std::unique_ptr<SegmentFile>> Open(
      const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == ENOENT) {
        return absl::NotFoundError(absl::StrCat("segment ", path, " is gone"));
      }
      return absl::UnavailableError(absl::StrCat(
          "cannot open log segment ", path, ": ", ErrnoText(err),
          "; check the file's permissions"));
    }
    return std::unique_ptr<SegmentFile>(new SegmentFile(path, fd));
  }
  ~SegmentFile() { ::close(fd_); }

  const std::string& path() const { return path_; }

  // Makes bytes [pos, pos + want) available, clipped to `limit`; *available
  // says how many were (fewer at the end of the data).
  absl::Status Fill(uint64_t pos, size_t want, uint64_t limit,
                    const uint8_t** data, size_t* available) {
    if (pos >= limit) {
      *data = nullptr;
      *available = 0;
      return absl::OkStatus();
    }
    const uint64_t clipped = std::min<uint64_t>(want, limit - pos);
    if (pos < buf_pos_ || pos + clipped > buf_pos_ + buf_len_) {
      const uint64_t to_read =
          std::min<uint64_t>(std::max<uint64_t>(clipped, kChunk), limit - pos);
      if (buf_.size() < to_read) buf_.resize(to_read);
      buf_pos_ = pos;
      buf_len_ = 0;
      while (buf_len_ < to_read) {
        const ssize_t n = ::pread(fd_, buf_.data() + buf_len_,
                                  to_read - buf_len_, pos + buf_len_);
        if (n < 0) {
          if (errno == EINTR) continue;
          return absl::UnavailableError(
              absl::StrCat("read of log segment ", path_,
                           " failed: ", ErrnoText(errno)));
        }
        if (n == 0) break;  // shorter than the log believes: caller decides
        buf_len_ += static_cast<size_t>(n);
      }
    }
    *data = buf_.data() + (pos - buf_pos_);
    *available = static_cast<size_t>(
        std::min<uint64_t>(clipped, buf_pos_ + buf_len_ - pos));
    return absl::OkStatus();
  }

  // Parses the record at `pos`; on kOk *payload points at its bytes.
  absl::StatusOr<fmt::ParseStatus> ReadRecord(uint64_t pos, uint64_t limit,
                                              uint32_t max_record_bytes,
                                              fmt::RecordHeader* header,
                                              const uint8_t** payload) {
    const uint8_t* data = nullptr;
    size_t available = 0;
    TB_RETURN_IF_ERROR(Fill(pos, fmt::kRecordHeaderBytes, limit, &data, &available));
    if (available < fmt::kRecordHeaderBytes) return fmt::ParseStatus::kIncomplete;
    const uint32_t length = fmt::PeekRecordLength(data);
    if (length > max_record_bytes) return fmt::ParseStatus::kCorrupt;
    TB_RETURN_IF_ERROR(Fill(pos, fmt::kRecordHeaderBytes + size_t{length},
                            limit, &data, &available));
    const fmt::ParseStatus parsed =
        fmt::ParseRecord(data, available, max_record_bytes, header);
    if (parsed == fmt::ParseStatus::kOk) *payload = data + fmt::kRecordHeaderBytes;
    return parsed;
  }

  struct Found {
    uint64_t pos;
    uint64_t offset;
  };
  // The first valid record at a position in [from, limit) whose offset lies
  // in [min_offset, max_offset].
  absl::StatusOr<std::optional<Found>> FindNextRecord(uint64_t from,
                                                      uint64_t limit,
                                                      uint32_t max_record_bytes,
                                                      uint64_t min_offset,
                                                      uint64_t max_offset) {
    for (uint64_t q = from; q + fmt::kRecordHeaderBytes <= limit; ++q) {
      const uint8_t* data = nullptr;
      size_t available = 0;
      TB_RETURN_IF_ERROR(Fill(q, fmt::kRecordHeaderBytes, limit, &data, &available));
      if (available < fmt::kRecordHeaderBytes) break;
      // Cheap filters first; the CRC decides.
      const uint32_t length = fmt::PeekRecordLength(data);
      const uint64_t offset = fmt::PeekRecordOffset(data);
      if (length > max_record_bytes || offset < min_offset ||
          offset > max_offset ||
          q + fmt::kRecordHeaderBytes + length > limit) {
        continue;
      }
      fmt::RecordHeader header;
      const uint8_t* payload = nullptr;
      TB_ASSIGN_OR_RETURN(
          const fmt::ParseStatus parsed,
          ReadRecord(q, limit, max_record_bytes, &header, &payload));
      if (parsed == fmt::ParseStatus::kOk) return Found{q, header.offset};
    }
    return std::nullopt;
  }

 private:
  static constexpr uint64_t kChunk = 256 << 10;
  SegmentFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  const int fd_;
  std::vector<uint8_t> buf_;
  uint64_t buf_pos_ = 0;
  size_t buf_len_ = 0;
};

namespace {

absl::Status WriteAll(int fd, struct iovec* iov, int count,
                      const std::string& path) {
  while (count > 0) {
    const ssize_t n = ::writev(fd, iov, count);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("write to log segment ", path, " failed: ",
                       ErrnoText(err), WriteFailureHint(err)));
    }
    size_t done = static_cast<size_t>(n);
    while (count > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
  return absl::OkStatus();
}

absl::Status SyncFd(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "fdatasync of ", path, " failed: ", ErrnoText(errno),
        "; records since the last sync may not be on disk"));
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open log directory ", dir, ": ", ErrnoText(errno)));
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("fsync of log directory ", dir, " failed: ", ErrnoText(err)));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace log_internal

namespace fmt = ::trainbus::bus::log_format;
using log_internal::SegmentFile;
using log_internal::SegmentMeta;

namespace {

// "; records up to offset N are stored", for a failed append's error.
std::string StoredSoFar(uint64_t next_offset) {
  if (next_offset == 0) return "; no record was stored";
  return absl::StrCat("; records up to offset ", next_offset - 1, " are stored");
}

// Offsets stop below UINT64_MAX, so "the offset after the last record" never
// wraps to 0 (found by //fuzz:log_fuzzer on a segment named for 2^64-1).
absl::Status OffsetsLeft(uint64_t next_offset, uint64_t records) {
  if (next_offset <= UINT64_MAX - records) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the log's offsets are used up (next offset ", next_offset, ", ", records,
      " records to append); start a new log directory"));
}

}  // namespace

std::string RecoveryReport::ToString() const {
  std::string out = absl::StrFormat("%d segment(s)", segments);
  if (truncated_bytes > 0) {
    absl::StrAppendFormat(&out, "; cut a torn tail of %d bytes at byte %d of %s",
                          truncated_bytes, truncated_at, truncated_segment);
  }
  if (corrupt_regions > 0) {
    absl::StrAppendFormat(&out, "; %d damaged region(s) in the last segment",
                          corrupt_regions);
  }
  return out;
}

Log::Log(std::string dir, LogOptions options)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      shared_(std::make_shared<log_internal::Shared>(dir_)) {}

Log::~Log() {
  absl::MutexLock lock(&write_mu_);
  if (active_fd_ >= 0) {
    if (options_.fsync.kind != FsyncPolicy::Kind::kNever) SyncLocked().IgnoreError();
    ::close(active_fd_);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

absl::Time Log::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(std::string dir,
                                               LogOptions options) {
  if (dir.empty()) {
    return absl::InvalidArgumentError("log directory is empty; pass a path");
  }
  if (options.segment_bytes < fmt::kSegmentHeaderBytes + fmt::kRecordHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment_bytes ", options.segment_bytes, " is too small; use at least ",
        fmt::kSegmentHeaderBytes + fmt::kRecordHeaderBytes));
  }
  if (options.fsync.kind == FsyncPolicy::Kind::kEveryN &&
      options.fsync.every_n == 0) {
    return absl::InvalidArgumentError(
        "FsyncPolicy::EveryN(0) syncs never; use EveryN(n >= 1) or Never()");
  }
  std::unique_ptr<Log> log(new Log(std::move(dir), std::move(options)));
  TB_RETURN_IF_ERROR(log->Recover());
  return log;
}

absl::Status Log::Recover() {
  absl::MutexLock lock(&write_mu_);
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create log directory ", dir_, ": ", ec.message()));
  }
  const std::string lock_path = dir_ + "/LOCK";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", lock_path, ": ", log_internal::ErrnoText(errno)));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "log directory ", dir_,
        " is already open by another Log (this or another process); close "
        "that one first"));
  }

  std::vector<uint64_t> bases;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    std::optional<uint64_t> base =
        fmt::ParseSegmentFileName(entry.path().filename().string());
    if (base && entry.is_regular_file(ec)) bases.push_back(*base);
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot list log directory ", dir_, ": ", ec.message()));
  }
  std::sort(bases.begin(), bases.end());
  last_sync_ = Now();
  if (bases.empty()) {
    recovery_.segments = 1;
    return CreateSegment(0);
  }
  recovery_.segments = bases.size();

  std::deque<SegmentMeta> segments;
  for (size_t i = 0; i < bases.size(); ++i) {
    SegmentMeta meta;
    meta.base_offset = bases[i];
    meta.path = dir_ + "/" + fmt::SegmentFileName(bases[i]);
    struct stat st;
    if (::stat(meta.path.c_str(), &st) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot stat ", meta.path, ": ", log_internal::ErrnoText(errno)));
    }
    meta.size = static_cast<uint64_t>(st.st_size);
    if (meta.size >= fmt::kSegmentHeaderBytes) {
      TB_ASSIGN_OR_RETURN(std::unique_ptr<SegmentFile> file,
                          SegmentFile::Open(meta.path));
      const uint8_t* data = nullptr;
      size_t available = 0;
      TB_RETURN_IF_ERROR(file->Fill(0, fmt::kSegmentHeaderBytes, meta.size,
                                    &data, &available));
      std::optional<fmt::SegmentHeader> header;
      if (available == fmt::kSegmentHeaderBytes) header = fmt::ParseSegmentHeader(data);
      if (header && header->base_offset == meta.base_offset) {
        meta.created = absl::FromUnixNanos(header->created_ns);
      } else if (i + 1 == bases.size()) {
        return absl::DataLossError(absl::StrCat(
            "log segment ", meta.path,
            " has a damaged header (not a trainbus log segment?); move it out of ",
            dir_, " to continue, which loses the records from offset ",
            meta.base_offset, " on"));
      }
    }
    segments.push_back(std::move(meta));
  }

  // Scan the last segment: find its end, cut a torn tail.
  SegmentMeta& last = segments.back();
  uint64_t next_offset = last.base_offset;
  if (last.size < fmt::kSegmentHeaderBytes) {
    // Created but its header never made it to disk: start it again.
    recovery_.truncated_bytes = last.size;
    recovery_.truncated_at = 0;
    recovery_.truncated_segment = last.path;
    const std::string path = last.path;
    const uint64_t base = last.base_offset;
    segments.pop_back();
    if (::unlink(path.c_str()) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot remove torn segment ", path, ": ", log_internal::ErrnoText(errno)));
    }
    {
      absl::MutexLock state_lock(&shared_->mu);
      shared_->segments = std::move(segments);
      shared_->next_offset = base;
    }
    TB_RETURN_IF_ERROR(CreateSegment(base));
    return ApplyRetentionLocked();
  }

  {
    TB_ASSIGN_OR_RETURN(std::unique_ptr<SegmentFile> file,
                        SegmentFile::Open(last.path));
    uint64_t pos = fmt::kSegmentHeaderBytes;
    std::optional<uint64_t> last_offset;
    while (pos < last.size) {
      fmt::RecordHeader header;
      const uint8_t* payload = nullptr;
      TB_ASSIGN_OR_RETURN(
          const fmt::ParseStatus parsed,
          file->ReadRecord(pos, last.size, options_.max_record_bytes, &header,
                           &payload));
      const uint64_t min_offset = last_offset ? *last_offset + 1 : last.base_offset;
      if (parsed == fmt::ParseStatus::kOk && header.offset >= min_offset &&
          header.offset < UINT64_MAX) {
        last_offset = header.offset;
        pos += fmt::kRecordHeaderBytes + header.length;
        continue;
      }
      // Damage. If a valid record follows, it is in the middle: leave it to
      // the readers. Otherwise it is a torn tail: cut it.
      TB_ASSIGN_OR_RETURN(
          const std::optional<SegmentFile::Found> found,
          file->FindNextRecord(pos + 1, last.size, options_.max_record_bytes,
                               min_offset, UINT64_MAX));
      if (found.has_value()) {
        ++recovery_.corrupt_regions;
        pos = found->pos;
        continue;
      }
      recovery_.truncated_bytes = last.size - pos;
      recovery_.truncated_at = pos;
      recovery_.truncated_segment = last.path;
      if (::truncate(last.path.c_str(), static_cast<off_t>(pos)) != 0) {
        return absl::UnavailableError(absl::StrCat(
            "cannot cut the torn tail of ", last.path, " at byte ", pos, ": ",
            log_internal::ErrnoText(errno)));
      }
      last.size = pos;
      break;
    }
    if (last_offset) next_offset = *last_offset + 1;
  }

  active_fd_ = ::open(last.path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (active_fd_ < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open ", last.path, " for appending: ", log_internal::ErrnoText(errno)));
  }
  if (recovery_.truncated_bytes > 0) {
    TB_RETURN_IF_ERROR(log_internal::SyncFd(active_fd_, last.path));
  }
  active_path_ = last.path;
  active_size_ = last.size;
  write_next_offset_ = next_offset;
  {
    absl::MutexLock state_lock(&shared_->mu);
    shared_->segments = std::move(segments);
    shared_->next_offset = next_offset;
  }
  return ApplyRetentionLocked();
}

absl::Status Log::CreateSegment(uint64_t base_offset) {
  const std::string path = dir_ + "/" + fmt::SegmentFileName(base_offset);
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return absl::UnavailableError(absl::StrCat(
        "cannot create log segment ", path, ": ", log_internal::ErrnoText(err),
        err == EEXIST ? "; a stray file has this name, move it away"
                      : log_internal::WriteFailureHint(err)));
  }
  const absl::Time created = Now();
  uint8_t header[fmt::kSegmentHeaderBytes];
  fmt::EncodeSegmentHeader({base_offset, absl::ToUnixNanos(created)}, header);
  struct iovec iov = {header, sizeof(header)};
  absl::Status s = log_internal::WriteAll(fd, &iov, 1, path);
  if (s.ok() && options_.fsync.kind != FsyncPolicy::Kind::kNever) {
    s = log_internal::SyncFd(fd, path);
    if (s.ok()) s = log_internal::SyncDir(dir_);
  }
  if (!s.ok()) {
    ::close(fd);
    ::unlink(path.c_str());
    return s;
  }
  active_fd_ = fd;
  active_path_ = path;
  active_size_ = fmt::kSegmentHeaderBytes;
  write_next_offset_ = base_offset;
  SegmentMeta meta;
  meta.base_offset = base_offset;
  meta.path = path;
  meta.size = fmt::kSegmentHeaderBytes;
  meta.created = created;
  absl::MutexLock state_lock(&shared_->mu);
  shared_->segments.push_back(std::move(meta));
  shared_->next_offset = base_offset;
  return absl::OkStatus();
}

absl::Status Log::RotateIfNeeded(uint64_t bytes) {
  if (active_size_ <= fmt::kSegmentHeaderBytes ||
      active_size_ + bytes <= options_.segment_bytes) {
    return absl::OkStatus();
  }
  if (options_.fsync.kind != FsyncPolicy::Kind::kNever && unsynced_records_ > 0) {
    TB_RETURN_IF_ERROR(SyncLocked());
  }
  ::close(active_fd_);
  active_fd_ = -1;
  absl::Status s = CreateSegment(write_next_offset_);
  if (!s.ok()) {
    broken_ = absl::UnavailableError(absl::StrCat(
        "log ", dir_, " could not start a new segment (", s.message(),
        "); fix the cause and reopen the log"));
    return broken_;
  }
  return ApplyRetentionLocked();
}

absl::Status Log::WriteRun(struct iovec* iov, int iov_count, uint64_t bytes,
                           uint64_t records) {
  absl::Status s = log_internal::WriteAll(active_fd_, iov, iov_count, active_path_);
  if (!s.ok()) {
    // Take back a partial write so the segment ends on a whole record.
    if (::ftruncate(active_fd_, static_cast<off_t>(active_size_)) != 0) {
      broken_ = absl::DataLossError(absl::StrCat(
          "log ", dir_, " holds a partial record after a failed write (", s.message(),
          ") and could not cut it; reopen the log to recover"));
      return broken_;
    }
    return absl::Status(s.code(),
                        absl::StrCat(s.message(), StoredSoFar(write_next_offset_)));
  }
  active_size_ += bytes;
  write_next_offset_ += records;
  unsynced_records_ += records;
  absl::MutexLock state_lock(&shared_->mu);
  shared_->segments.back().size = active_size_;
  shared_->next_offset = write_next_offset_;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Log::Append(absl::Span<const uint8_t> payload) {
  if (payload.size() > options_.max_record_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record of ", payload.size(), " bytes exceeds max_record_bytes (",
        options_.max_record_bytes, "); raise LogOptions::max_record_bytes or split it"));
  }
  absl::MutexLock lock(&write_mu_);
  TB_RETURN_IF_ERROR(broken_);
  TB_RETURN_IF_ERROR(OffsetsLeft(write_next_offset_, 1));
  const uint64_t bytes = fmt::kRecordHeaderBytes + payload.size();
  TB_RETURN_IF_ERROR(RotateIfNeeded(bytes));
  const uint64_t offset = write_next_offset_;
  uint8_t header[fmt::kRecordHeaderBytes];
  fmt::EncodeRecordHeader(offset, absl::ToUnixNanos(Now()), payload, header);
  struct iovec iov[2] = {{header, sizeof(header)},
                         {const_cast<uint8_t*>(payload.data()), payload.size()}};
  TB_RETURN_IF_ERROR(WriteRun(iov, payload.empty() ? 1 : 2, bytes, 1));
  TB_RETURN_IF_ERROR(AfterAppend());
  return offset;
}

absl::StatusOr<uint64_t> Log::AppendBatch(
    absl::Span<const absl::Span<const uint8_t>> payloads) {
  for (const auto& payload : payloads) {
    if (payload.size() > options_.max_record_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a record of ", payload.size(), " bytes exceeds max_record_bytes (",
          options_.max_record_bytes,
          "); nothing of the batch was written; raise the limit or split it"));
    }
  }
  absl::MutexLock lock(&write_mu_);
  TB_RETURN_IF_ERROR(broken_);
  const uint64_t first = write_next_offset_;
  if (payloads.empty()) return first;
  TB_RETURN_IF_ERROR(OffsetsLeft(first, payloads.size()));
  const int64_t time_ns = absl::ToUnixNanos(Now());
  size_t i = 0;
  while (i < payloads.size()) {
    TB_RETURN_IF_ERROR(RotateIfNeeded(fmt::kRecordHeaderBytes + payloads[i].size()));
    // One contiguous run of the records that fit in this segment.
    scratch_.clear();
    size_t j = i;
    while (j < payloads.size() &&
           (j == i || active_size_ + scratch_.size() + fmt::kRecordHeaderBytes +
                              payloads[j].size() <=
                          options_.segment_bytes)) {
      const size_t at = scratch_.size();
      scratch_.resize(at + fmt::kRecordHeaderBytes + payloads[j].size());
      fmt::EncodeRecordHeader(write_next_offset_ + (j - i), time_ns, payloads[j],
                              scratch_.data() + at);
      if (!payloads[j].empty()) {
        std::memcpy(scratch_.data() + at + fmt::kRecordHeaderBytes,
                    payloads[j].data(), payloads[j].size());
      }
      ++j;
    }
    struct iovec iov = {scratch_.data(), scratch_.size()};
    TB_RETURN_IF_ERROR(WriteRun(&iov, 1, scratch_.size(), j - i));
    i = j;
  }
  TB_RETURN_IF_ERROR(AfterAppend());
  return first;
}

absl::Status Log::AfterAppend() {
  switch (options_.fsync.kind) {
    case FsyncPolicy::Kind::kNever:
      return absl::OkStatus();
    case FsyncPolicy::Kind::kEveryAppend:
      return SyncLocked();
    case FsyncPolicy::Kind::kEveryN:
      if (unsynced_records_ >= options_.fsync.every_n) return SyncLocked();
      return absl::OkStatus();
    case FsyncPolicy::Kind::kInterval:
      if (Now() - last_sync_ >= options_.fsync.interval) return SyncLocked();
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status Log::SyncLocked() {
  if (unsynced_records_ == 0) return absl::OkStatus();
  TB_RETURN_IF_ERROR(log_internal::SyncFd(active_fd_, active_path_));
  unsynced_records_ = 0;
  last_sync_ = Now();
  return absl::OkStatus();
}

absl::Status Log::Sync() {
  absl::MutexLock lock(&write_mu_);
  TB_RETURN_IF_ERROR(broken_);
  return SyncLocked();
}

absl::Status Log::ApplyRetention() {
  absl::MutexLock lock(&write_mu_);
  return ApplyRetentionLocked();
}

absl::Status Log::ApplyRetentionLocked() {
  const RetentionPolicy& policy = options_.retention;
  const bool by_age = policy.max_age != absl::InfiniteDuration();
  if (policy.max_bytes == 0 && !by_age) return absl::OkStatus();
  const absl::Time now = Now();
  std::vector<std::string> doomed;
  {
    absl::MutexLock state_lock(&shared_->mu);
    uint64_t total = 0;
    for (const SegmentMeta& meta : shared_->segments) total += meta.size;
    while (shared_->segments.size() > 1) {
      const SegmentMeta& oldest = shared_->segments[0];
      const SegmentMeta& following = shared_->segments[1];
      const bool too_big = policy.max_bytes > 0 && total > policy.max_bytes;
      const bool too_old = by_age && following.created != absl::InfiniteFuture() &&
                           following.created + policy.max_age <= now;
      if (!too_big && !too_old) break;
      total -= oldest.size;
      doomed.push_back(oldest.path);
      shared_->segments.pop_front();
    }
  }
  for (const std::string& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return absl::UnavailableError(absl::StrCat(
          "retention could not delete ", path, ": ", log_internal::ErrnoText(errno),
          "; delete it by hand (it is no longer part of the log)"));
    }
  }
  return absl::OkStatus();
}

uint64_t Log::earliest_offset() const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->segments.front().base_offset;
}

uint64_t Log::next_offset() const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->next_offset;
}

uint64_t Log::size_bytes() const {
  absl::MutexLock lock(&shared_->mu);
  uint64_t total = 0;
  for (const SegmentMeta& meta : shared_->segments) total += meta.size;
  return total;
}

size_t Log::segment_count() const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->segments.size();
}

absl::StatusOr<std::unique_ptr<LogReader>> Log::OpenReader(StartAt start) const {
  std::unique_ptr<LogReader> reader(
      new LogReader(shared_, options_.on_corruption, options_.max_record_bytes));
  SegmentMeta segment;
  uint64_t next = 0;
  {
    absl::MutexLock lock(&shared_->mu);
    const uint64_t earliest = shared_->segments.front().base_offset;
    next = shared_->next_offset;
    if (start.kind == StartAt::Kind::kOffset) {
      if (start.offset < earliest) {
        return absl::OutOfRangeError(absl::StrCat(
            "log ", dir_, ": offset ", start.offset,
            " was deleted by retention; earliest is ", earliest,
            "; restart from StartAt::Earliest()"));
      }
      if (start.offset > next) {
        return absl::OutOfRangeError(absl::StrCat(
            "log ", dir_, ": offset ", start.offset,
            " has not been written yet (next offset is ", next,
            "); use StartAt::Latest() or a smaller offset"));
      }
      if (start.offset == next) start = StartAt::Latest();
    }
    switch (start.kind) {
      case StartAt::Kind::kEarliest:
        segment = shared_->segments.front();
        break;
      case StartAt::Kind::kLatest:
        segment = shared_->segments.back();
        break;
      case StartAt::Kind::kOffset: {
        auto it = std::upper_bound(
            shared_->segments.begin(), shared_->segments.end(), start.offset,
            [](uint64_t offset, const SegmentMeta& m) { return offset < m.base_offset; });
        segment = *std::prev(it);
        break;
      }
    }
  }
  TB_RETURN_IF_ERROR(reader->OpenSegment(segment.base_offset, segment.path));
  if (start.kind == StartAt::Kind::kLatest) {
    reader->pos_ = segment.size;
    reader->next_offset_ = next;
  } else if (start.kind == StartAt::Kind::kOffset) {
    reader->skip_until_ = start.offset;
  }
  return reader;
}

// ---- LogReader -------------------------------------------------------------

LogReader::LogReader(std::shared_ptr<log_internal::Shared> shared,
                     OnCorruption policy, uint32_t max_record_bytes)
    : shared_(std::move(shared)),
      policy_(policy),
      max_record_bytes_(max_record_bytes) {}

LogReader::~LogReader() = default;

absl::Status LogReader::RetentionError() const {
  uint64_t earliest = 0;
  {
    absl::MutexLock lock(&shared_->mu);
    earliest = shared_->segments.front().base_offset;
  }
  return absl::OutOfRangeError(absl::StrCat(
      "log ", shared_->dir, ": offset ", next_offset_,
      " was deleted by retention; earliest is ", earliest,
      "; restart from StartAt::Earliest()"));
}

absl::Status LogReader::OpenSegment(uint64_t base_offset, const std::string& path) {
  absl::StatusOr<std::unique_ptr<SegmentFile>> file = SegmentFile::Open(path);
  if (!file.ok()) {
    if (absl::IsNotFound(file.status())) return RetentionError();
    return file.status();
  }
  file_ = std::move(*file);
  segment_base_ = base_offset;
  next_offset_ = std::max(next_offset_, base_offset);
  pos_ = fmt::kSegmentHeaderBytes;
  const uint8_t* data = nullptr;
  size_t available = 0;
  // Read exactly the header: bytes past the committed size may be a record the
  // writer is still writing, and must never enter the buffer.
  TB_RETURN_IF_ERROR(file_->Fill(0, fmt::kSegmentHeaderBytes, fmt::kSegmentHeaderBytes,
      &data, &available));
  std::optional<fmt::SegmentHeader> header;
  if (available == fmt::kSegmentHeaderBytes) header = fmt::ParseSegmentHeader(data);
  if (header && header->base_offset == base_offset) return absl::OkStatus();
  if (policy_ == OnCorruption::kStop) {
    return absl::DataLossError(absl::StrCat(
        "log ", shared_->dir, ": segment ", path,
        " has a damaged header; the reader stops here. Use OnCorruption::kSkip "
        "to read past damage, or restore the segment"));
  }
  // kSkip: parse from byte 0; the damage is found and stepped over there.
  pos_ = 0;
  return absl::OkStatus();
}

bool LogReader::WaitForData(absl::Duration timeout) const {
  const uint64_t position = next_offset_;
  const log_internal::Shared* shared = shared_.get();
  auto ready = [shared, position]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(shared->mu) {
    return shared->next_offset > position ||
           shared->segments.front().base_offset > position;
  };
  absl::MutexLock lock(&shared_->mu);
  return shared_->mu.AwaitWithTimeout(absl::Condition(&ready), timeout);
}

void LogReader::Lose(uint64_t position, uint64_t first_offset, uint64_t count,
                     std::string reason) {
  CorruptionEvent event;
  event.segment = file_ ? file_->path() : std::string();
  event.file_position = position;
  event.first_offset = first_offset;
  event.records_lost = count;
  event.reason = std::move(reason);
  events_.push_back(std::move(event));
  records_lost_ += count;
  next_offset_ = first_offset + count;
}

absl::Status LogReader::Corruption(uint64_t limit, const std::string& reason,
                                   uint64_t offset_at_limit) {
  if (policy_ == OnCorruption::kStop) {
    return absl::DataLossError(absl::StrCat(
        "log ", shared_->dir, ": ", reason, " at byte ", pos_, " of ", file_->path(),
        " (expected offset ", next_offset_,
        "); the reader stops here. Use OnCorruption::kSkip to skip damaged "
        "records, or restore the segment"));
  }
  const uint64_t max_offset = offset_at_limit > 0 ? offset_at_limit - 1 : 0;
  TB_ASSIGN_OR_RETURN(
      const std::optional<SegmentFile::Found> found,
      offset_at_limit > next_offset_
          ? file_->FindNextRecord(pos_ + 1, limit, max_record_bytes_, next_offset_,
                                  max_offset)
          : absl::StatusOr<std::optional<SegmentFile::Found>>(std::nullopt));
  if (found.has_value()) {
    Lose(pos_, next_offset_, found->offset - next_offset_, reason);
    pos_ = found->pos;
  } else {
    Lose(pos_, next_offset_,
         offset_at_limit > next_offset_ ? offset_at_limit - next_offset_ : 0, reason);
    pos_ = limit;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> LogReader::Next(LogRecord* record) {
  TB_RETURN_IF_ERROR(sticky_);
  while (true) {
    uint64_t limit = 0;
    uint64_t offset_at_limit = 0;
    bool last = false;
    uint64_t next_base = 0;
    std::string next_path;
    bool deleted = false;
    {
      absl::MutexLock lock(&shared_->mu);
      const auto& segments = shared_->segments;
      auto it = std::lower_bound(
          segments.begin(), segments.end(), segment_base_,
          [](const SegmentMeta& m, uint64_t base) { return m.base_offset < base; });
      if (next_offset_ < segments.front().base_offset || it == segments.end()) {
        deleted = true;
      } else if (it->base_offset == segment_base_) {
        limit = it->size;
        last = std::next(it) == segments.end();
        if (last) {
          offset_at_limit = shared_->next_offset;
        } else {
          next_base = std::next(it)->base_offset;
          next_path = std::next(it)->path;
          offset_at_limit = next_base;
        }
      } else {
        // Our segment was deleted, but we had read all of it: move on to the
        // oldest one left (all of whose offsets are >= ours).
        limit = 0;
        pos_ = 0;
        next_base = it->base_offset;
        next_path = it->path;
        offset_at_limit = next_base;
      }
    }
    if (deleted) {
      sticky_ = RetentionError();
      return sticky_;
    }

    if (pos_ < limit) {
      fmt::RecordHeader header;
      const uint8_t* payload = nullptr;
      absl::StatusOr<fmt::ParseStatus> parsed =
          file_->ReadRecord(pos_, limit, max_record_bytes_, &header, &payload);
      if (!parsed.ok()) {
        sticky_ = parsed.status();
        return sticky_;
      }
      absl::Status s;
      if (*parsed == fmt::ParseStatus::kOk && header.offset >= next_offset_ &&
          header.offset < offset_at_limit) {
        if (header.offset > next_offset_) {
          if (policy_ == OnCorruption::kStop) {
            s = Corruption(limit,
                           absl::StrCat("records ", next_offset_, "..",
                                        header.offset - 1, " are missing"),
                           offset_at_limit);
          } else {
            Lose(pos_, next_offset_, header.offset - next_offset_, "gap in offsets");
          }
        }
        if (s.ok()) {
          pos_ += fmt::kRecordHeaderBytes + header.length;
          next_offset_ = header.offset + 1;
          if (header.offset < skip_until_) continue;
          record->offset = header.offset;
          record->append_time = absl::FromUnixNanos(header.time_ns);
          record->payload = absl::MakeConstSpan(payload, header.length);
          return true;
        }
      } else if (*parsed == fmt::ParseStatus::kOk) {
        s = Corruption(limit,
                       absl::StrCat("record with out-of-order offset ", header.offset),
                       offset_at_limit);
      } else if (*parsed == fmt::ParseStatus::kIncomplete) {
        s = Corruption(limit, "record runs past the end of its segment",
                       offset_at_limit);
      } else {
        s = Corruption(limit, "record fails its CRC check", offset_at_limit);
      }
      if (!s.ok()) {
        sticky_ = s;
        return sticky_;
      }
      continue;
    }

    if (last) return false;  // caught up with the writer
    if (next_offset_ < next_base) {
      if (policy_ == OnCorruption::kStop) {
        sticky_ = absl::DataLossError(absl::StrCat(
            "log ", shared_->dir, ": segment ", file_->path(), " ends at offset ",
            next_offset_, " but the next one starts at ", next_base,
            "; the reader stops here. Use OnCorruption::kSkip to skip damaged "
            "records, or restore the segment"));
        return sticky_;
      }
      Lose(pos_, next_offset_, next_base - next_offset_,
           "segment ends before the next one starts");
    }
    absl::Status s = OpenSegment(next_base, next_path);
    if (!s.ok()) {
      sticky_ = s;
      return sticky_;
    }
  }
}

}  // namespace trainbus::bus
