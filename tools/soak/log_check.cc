// log_check: reopens a durable log (bus/log, with its recovery) and reads
// every record, for tools/soak/full_disk.sh.
//
//   log_check DIR [LAST]   exit 0 when every record from the earliest to the
//                          last reads back with a good CRC (and, with LAST,
//                          the last is offset LAST); prints what it found
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "bus/log/log.h"

namespace {

using trainbus::bus::Log;
using trainbus::bus::LogOptions;
using trainbus::bus::LogReader;
using trainbus::bus::LogRecord;
using trainbus::bus::StartAt;

int Check(const std::string& dir, int64_t want_last) {
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(dir, LogOptions());
  if (!log.ok()) {
    std::cerr << "log_check: cannot reopen " << dir << ": " << log.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<LogReader>> reader =
      (*log)->OpenReader(StartAt::Earliest());
  if (!reader.ok()) {
    std::cerr << "log_check: " << reader.status() << "\n";
    return 1;
  }
  LogRecord record;
  uint64_t records = 0, bytes = 0;
  int64_t last = -1;
  while (true) {
    absl::StatusOr<bool> got = (*reader)->Next(&record);
    if (!got.ok()) {
      std::cerr << "log_check: reading " << dir << " after " << records
                << " records: " << got.status() << "\n";
      return 1;
    }
    if (!*got) break;
    if (last >= 0 && record.offset != static_cast<uint64_t>(last) + 1) {
      std::cerr << "log_check: offset " << record.offset << " follows " << last << "\n";
      return 1;
    }
    last = static_cast<int64_t>(record.offset);
    ++records;
    bytes += record.payload.size();
  }
  std::cout << "log " << dir << ": " << records << " records (" << bytes
            << " payload bytes), offsets " << (*log)->earliest_offset() << ".."
            << last << " in " << (*log)->segment_count()
            << " segments; recovery: " << (*log)->recovery().ToString() << "\n";
  if (want_last >= 0 && last != want_last) {
    std::cerr << "log_check: the last record is offset " << last
              << ", the writer said offsets up to " << want_last << " were stored\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t want_last = -1;
  if (argc < 2 || argc > 3 || (argc == 3 && !absl::SimpleAtoi(argv[2], &want_last))) {
    std::cerr << "usage: log_check DIR [LAST_OFFSET]\n";
    return 2;
  }
  return Check(argv[1], want_last);
}
