// The resource's view of its durable log: append encoded payloads, read them
// back by offset. Implemented over bus/log's segment files.
#ifndef TRAINBUS_BUS_MESSAGE_LOG_H_
#define TRAINBUS_BUS_MESSAGE_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "bus/options.h"

namespace trainbus::bus {

class MessageLog {
 public:
  virtual ~MessageLog() = default;

  virtual absl::StatusOr<uint64_t> Append(absl::Span<const uint8_t> record) = 0;
  // Calls `fn(offset, record)` for up to `max` records from `offset` on.
  // Stops early (and returns the status) when `fn` fails. Returns OK with
  // nothing read at the end of the log.
  virtual absl::Status Read(
      uint64_t offset, size_t max,
      const std::function<absl::Status(uint64_t, absl::Span<const uint8_t>)>&
          fn) = 0;
  virtual uint64_t earliest_offset() const = 0;
  virtual uint64_t next_offset() const = 0;
};

// Opens (creating, or recovering after a crash) the log of a durable resource.
absl::StatusOr<std::unique_ptr<MessageLog>> OpenMessageLog(
    const ResourceOptions& options);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_MESSAGE_LOG_H_
