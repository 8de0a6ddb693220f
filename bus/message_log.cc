#include "bus/message_log.h"

#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bus/log/log.h"

namespace trainbus::bus {
namespace {

// A durable resource's log. Catch-up subscribers read forward from where
// they stopped, so readers are kept by position and reused: a replay costs
// one segment scan to find its start, not one per credit grant.
class SegmentedMessageLog final : public MessageLog {
 public:
  explicit SegmentedMessageLog(std::unique_ptr<Log> log)
      : log_(std::move(log)) {}

  absl::StatusOr<uint64_t> Append(absl::Span<const uint8_t> record) override {
    return log_->Append(record);
  }

  absl::Status Read(
      uint64_t offset, size_t max,
      const std::function<absl::Status(uint64_t, absl::Span<const uint8_t>)>&
          fn) override {
    std::unique_ptr<LogReader> reader = TakeReader(offset);
    if (reader == nullptr) {
      TB_ASSIGN_OR_RETURN(reader, log_->OpenReader(StartAt::Offset(offset)));
    }
    for (size_t n = 0; n < max; ++n) {
      LogRecord record;
      TB_ASSIGN_OR_RETURN(const bool got, reader->Next(&record));
      if (!got) break;
      TB_RETURN_IF_ERROR(fn(record.offset, record.payload));
    }
    KeepReader(std::move(reader));
    return absl::OkStatus();
  }

  uint64_t earliest_offset() const override { return log_->earliest_offset(); }
  uint64_t next_offset() const override { return log_->next_offset(); }

 private:
  static constexpr size_t kMaxCachedReaders = 16;

  std::unique_ptr<LogReader> TakeReader(uint64_t position) {
    auto it = readers_.find(position);
    if (it == readers_.end()) return nullptr;
    std::unique_ptr<LogReader> reader = std::move(it->second);
    readers_.erase(it);
    return reader;
  }

  void KeepReader(std::unique_ptr<LogReader> reader) {
    if (readers_.size() >= kMaxCachedReaders) readers_.erase(readers_.begin());
    const uint64_t position = reader->position();
    readers_[position] = std::move(reader);
  }

  std::unique_ptr<Log> log_;
  std::map<uint64_t, std::unique_ptr<LogReader>> readers_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MessageLog>> OpenMessageLog(
    const ResourceOptions& options) {
  LogOptions log_options;
  log_options.segment_bytes = options.segment_bytes;
  if (options.fsync_every > 0) {
    log_options.fsync = FsyncPolicy::EveryN(options.fsync_every);
  }
  log_options.retention.max_bytes = options.retention_bytes;
  log_options.on_corruption = OnCorruption::kSkip;
  absl::StatusOr<std::unique_ptr<Log>> log =
      Log::Open(options.log_dir, log_options);
  if (!log.ok()) {
    return absl::Status(
        log.status().code(),
        absl::StrCat("resource '", options.name, "': cannot open its log in ",
                     options.log_dir, ": ", log.status().message()));
  }
  if ((*log)->recovery().truncated_bytes > 0) {
    // Visible, not silent: a crash cut the last record short.
    fprintf(stderr, "trainbus: resource '%s' recovered its log: %s\n",
            options.name.c_str(), (*log)->recovery().ToString().c_str());
  }
  return std::unique_ptr<MessageLog>(
      std::make_unique<SegmentedMessageLog>(std::move(*log)));
}

}  // namespace trainbus::bus
