// Injectable wall-clock time, so lease expiry and retention are testable.
//
//   trainbus::base::FakeClock clock(/*start_ns=*/1'000'000'000);
//   StoreOptions options;
//   options.clock = &clock;
//   ...
//   clock.Advance(absl::Seconds(31));  // every lease shorter than 31 s expires
#ifndef TRAINBUS_BASE_CLOCK_H_
#define TRAINBUS_BASE_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace trainbus::base {

// Wall-clock nanoseconds since the Unix epoch. Leases are stored as absolute
// times in the shared database, so every process must use the same epoch.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNanos() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowNanos() const override { return absl::GetCurrentTimeNanos(); }
  // A process-wide instance; the default for StoreOptions::clock.
  static SystemClock* Get() {
    static SystemClock clock;
    return &clock;
  }
};

// A clock that only moves when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ns = 1'700'000'000'000'000'000)
      : now_ns_(start_ns) {}
  int64_t NowNanos() const override { return now_ns_.load(); }
  void Advance(absl::Duration d) { now_ns_ += absl::ToInt64Nanoseconds(d); }
  void Set(int64_t ns) { now_ns_ = ns; }

 private:
  std::atomic<int64_t> now_ns_;
};

// System time plus a fixed offset; test helpers use it to act "in the
// future" (for example after a crashed runner's lease has run out).
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(int64_t offset_ns) : offset_ns_(offset_ns) {}
  int64_t NowNanos() const override {
    return absl::GetCurrentTimeNanos() + offset_ns_;
  }

 private:
  int64_t offset_ns_;
};

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_CLOCK_H_
