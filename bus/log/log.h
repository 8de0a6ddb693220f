// A durable, append-only log of byte records in segment files, with offsets,
// a configurable fsync policy, rotation, retention, crash recovery and
// CRC-checked reads. Pure C++17; no CAF. The byte layout is in README.md.
//
//   trainbus::bus::LogOptions options;
//   options.fsync = trainbus::bus::FsyncPolicy::EveryN(64);
//   absl::StatusOr<std::unique_ptr<trainbus::bus::Log>> log =
//       trainbus::bus::Log::Open("/var/trainbus/mnist", options);
//   if (!log.ok()) return log.status();
//   absl::StatusOr<uint64_t> offset = (*log)->Append(payload);  // 0, 1, 2, ...
//
//   auto reader = (*log)->OpenReader(trainbus::bus::StartAt::Earliest());
//   trainbus::bus::LogRecord record;
//   while (true) {
//     absl::StatusOr<bool> got = (*reader)->Next(&record);
//     if (!got.ok()) return got.status();  // corruption (kStop), retention
//     if (!*got) break;                    // caught up; call Next() later
//     Use(record.offset, record.payload);
//   }
//
// Durability: Append() hands the bytes to the kernel before it returns, so an
// appended record survives a crash of this process and is visible to readers
// at once. It survives a crash of the machine once it is synced, which the
// fsync policy (or an explicit Sync()) decides. There is no user-space write
// buffer, hence no Flush().
//
// Threads: one Log may be used from several threads (appends are serialised);
// each LogReader belongs to one thread. Readers may outlive their Log.
#ifndef TRAINBUS_BUS_LOG_LOG_H_
#define TRAINBUS_BUS_LOG_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

struct iovec;

namespace trainbus::bus {

// When appended records are fdatasync'ed to disk.
struct FsyncPolicy {
  enum class Kind { kNever, kEveryN, kEveryAppend, kInterval };
  Kind kind = Kind::kNever;
  uint32_t every_n = 0;                    // kEveryN: records between syncs
  absl::Duration interval = absl::ZeroDuration();  // kInterval

  // Leave it to the OS (a process crash loses nothing; a power cut may).
  static FsyncPolicy Never() { return {}; }
  // After every n records (an AppendBatch counts all its records).
  static FsyncPolicy EveryN(uint32_t n) { return {Kind::kEveryN, n, {}}; }
  // At the end of every Append / AppendBatch call.
  static FsyncPolicy EveryAppend() { return {Kind::kEveryAppend, 0, {}}; }
  // On the first append at least `d` after the last sync. There is no
  // background thread: an idle writer should call Log::Sync() on a timer.
  static FsyncPolicy Interval(absl::Duration d) {
    return {Kind::kInterval, 0, d};
  }
};

// Whole closed segments are deleted, oldest first, when either limit is
// exceeded. The active (last) segment is never deleted.
struct RetentionPolicy {
  uint64_t max_bytes = 0;  // total size of all segments; 0 = unlimited
  // A segment goes once its newest record is older than this. (Bounded by the
  // creation time of the following segment, stored in its header.)
  absl::Duration max_age = absl::InfiniteDuration();
};

// What a reader does at a record that fails its CRC (or a gap in offsets).
enum class OnCorruption {
  kStop,  // Next() returns DataLossError from then on
  kSkip,  // skip to the next valid record, count what was lost
};

struct LogOptions {
  uint64_t segment_bytes = 64ull << 20;  // rotate when a segment would exceed
  FsyncPolicy fsync = FsyncPolicy::Never();
  RetentionPolicy retention;
  OnCorruption on_corruption = OnCorruption::kStop;
  // Larger lengths are treated as corruption, so a damaged length field can
  // never make a reader allocate gigabytes.
  uint32_t max_record_bytes = 16u << 20;
  // Time source for record timestamps and age retention; null = absl::Now.
  std::function<absl::Time()> clock;
};

// What Open() found and repaired.
struct RecoveryReport {
  uint64_t truncated_bytes = 0;  // torn tail cut from the last segment
  uint64_t truncated_at = 0;     // file position of the cut
  std::string truncated_segment;
  // Damaged regions in the middle of the last segment (left in place; readers
  // handle them per OnCorruption).
  uint64_t corrupt_regions = 0;
  uint64_t segments = 0;
  std::string ToString() const;
};

// Where a reader starts.
struct StartAt {
  enum class Kind { kEarliest, kLatest, kOffset };
  Kind kind = Kind::kEarliest;
  uint64_t offset = 0;
  // The oldest record still retained.
  static StartAt Earliest() { return {Kind::kEarliest, 0}; }
  // Only records appended after the reader is opened.
  static StartAt Latest() { return {Kind::kLatest, 0}; }
  // From `offset` (earliest <= offset <= next_offset).
  static StartAt Offset(uint64_t offset) { return {Kind::kOffset, offset}; }
};

// One record as read. `payload` points into the reader's buffer and stays
// valid until the next call on that reader.
struct LogRecord {
  uint64_t offset = 0;
  absl::Time append_time;
  absl::Span<const uint8_t> payload;
};

// A damaged region a kSkip reader stepped over.
struct CorruptionEvent {
  std::string segment;          // file path
  uint64_t file_position = 0;   // where the damage starts
  uint64_t first_offset = 0;    // first offset that was lost
  uint64_t records_lost = 0;    // offsets skipped (0 if only bytes were bad)
  std::string reason;
};

namespace log_internal {
struct Shared;
class SegmentFile;
}  // namespace log_internal

class LogReader;

class Log {
 public:
  // Opens (creating if needed) the log in `dir`, recovers the last segment
  // (see recovery()) and applies retention. One writer per directory: a second
  // Open of the same directory fails until the first Log is destroyed.
  static absl::StatusOr<std::unique_ptr<Log>> Open(std::string dir,
                                                   LogOptions options);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends one record and returns its offset.
  absl::StatusOr<uint64_t> Append(absl::Span<const uint8_t> payload);
  // Appends records in order with one write per segment touched; returns the
  // offset of the first one. Counts as one append for FsyncPolicy::EveryAppend.
  absl::StatusOr<uint64_t> AppendBatch(
      absl::Span<const absl::Span<const uint8_t>> payloads);
  // fdatasync()s the active segment now.
  absl::Status Sync();
  // Deletes whatever retention allows now (it also runs on Open and after
  // every rotation); for age limits on a log that is not being written.
  absl::Status ApplyRetention();

  absl::StatusOr<std::unique_ptr<LogReader>> OpenReader(StartAt start) const;

  uint64_t earliest_offset() const;  // oldest retained record
  uint64_t next_offset() const;      // offset the next Append will get
  uint64_t size_bytes() const;       // all segments, headers included
  size_t segment_count() const;
  const RecoveryReport& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }

 private:
  Log(std::string dir, LogOptions options);
  absl::Status Recover() ABSL_LOCKS_EXCLUDED(write_mu_);
  absl::Status CreateSegment(uint64_t base_offset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status RotateIfNeeded(uint64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status WriteRun(struct iovec* iov, int iov_count, uint64_t bytes,
                        uint64_t records) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status AfterAppend() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status SyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status ApplyRetentionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Time Now() const;

  const std::string dir_;
  const LogOptions options_;
  std::shared_ptr<log_internal::Shared> shared_;
  RecoveryReport recovery_;
  int lock_fd_ = -1;

  mutable absl::Mutex write_mu_;
  int active_fd_ ABSL_GUARDED_BY(write_mu_) = -1;
  std::string active_path_ ABSL_GUARDED_BY(write_mu_);
  uint64_t write_next_offset_ ABSL_GUARDED_BY(write_mu_) = 0;
  uint64_t active_size_ ABSL_GUARDED_BY(write_mu_) = 0;
  uint64_t unsynced_records_ ABSL_GUARDED_BY(write_mu_) = 0;
  absl::Time last_sync_ ABSL_GUARDED_BY(write_mu_);
  absl::Status broken_ ABSL_GUARDED_BY(write_mu_);
  std::vector<uint8_t> scratch_ ABSL_GUARDED_BY(write_mu_);
};

class LogReader {
 public:
  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  // true: `record` holds the next record. false: nothing more yet (the reader
  // has caught up with the writer; call again later). An error is final:
  // DataLossError (corruption under kStop), OutOfRangeError (the records were
  // deleted by retention; open a new reader at StartAt::Earliest()).
  absl::StatusOr<bool> Next(LogRecord* record);

  // Blocks until a record past position() has been appended (or retention
  // has deleted position()), or `timeout` passes. true: call Next(). For a
  // catch-up subscriber that has drained the log and waits for the writer.
  bool WaitForData(absl::Duration timeout) const;

  // The offset the next record should have.
  uint64_t position() const { return next_offset_; }
  // Regions skipped under OnCorruption::kSkip, and the offsets they cost.
  const std::vector<CorruptionEvent>& corruption_events() const {
    return events_;
  }
  uint64_t records_lost() const { return records_lost_; }

 private:
  friend class Log;
  LogReader(std::shared_ptr<log_internal::Shared> shared, OnCorruption policy,
            uint32_t max_record_bytes);
  absl::Status OpenSegment(uint64_t base_offset, const std::string& path);
  // Handles bad bytes at pos_ of the current segment (which ends at `limit`);
  // under kSkip moves pos_ to the next valid record or to `limit`.
  absl::Status Corruption(uint64_t limit, const std::string& reason,
                          uint64_t offset_at_limit);
  absl::Status RetentionError() const;
  void Lose(uint64_t position, uint64_t first_offset, uint64_t count,
            std::string reason);

  std::shared_ptr<log_internal::Shared> shared_;
  const OnCorruption policy_;
  const uint32_t max_record_bytes_;
  std::unique_ptr<log_internal::SegmentFile> file_;
  uint64_t segment_base_ = 0;
  uint64_t pos_ = 0;          // file position of the next record
  uint64_t next_offset_ = 0;  // offset expected there
  uint64_t skip_until_ = 0;   // StartAt::Offset: drop records below this
  absl::Status sticky_;
  std::vector<CorruptionEvent> events_;
  uint64_t records_lost_ = 0;
};

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_LOG_LOG_H_
