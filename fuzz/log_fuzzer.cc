// The durable log's recovery (Log::Open) and reader (LogReader::Next) on any
// segment file. Input: one flags byte, then the segment's bytes.
//   bit 0: seal it first (write the header CRC and each record's CRC where
//          the bytes allow), so mutations get past the CRCs to the offsets,
//          lengths and torn tails behind them;
//   bit 1: read with OnCorruption::kSkip instead of kStop;
//   bit 2: append a record after recovery and read it back.
// The file is named by the base offset in its header, as the log names it.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bus/log/crc32c.h"
#include "bus/log/format.h"
#include "bus/log/log.h"
#include "fuzz/fuzz_util.h"

namespace {

namespace bus = trainbus::bus;
namespace format = trainbus::bus::log_format;

void Seal(std::string& s) {
  auto* b = reinterpret_cast<uint8_t*>(s.data());
  if (s.size() < format::kSegmentHeaderBytes) return;
  const uint32_t header_crc = bus::Crc32c(b, 24);
  std::memcpy(b + 24, &header_crc, 4);
  for (size_t at = format::kSegmentHeaderBytes;
       at + format::kRecordHeaderBytes <= s.size();) {
    const uint64_t length = format::PeekRecordLength(b + at);
    if (length > s.size() - at - format::kRecordHeaderBytes) break;
    const uint32_t crc = bus::Crc32c(b + at + 4, 20 + length);
    std::memcpy(b + at, &crc, 4);
    at += format::kRecordHeaderBytes + length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace f = trainbus::fuzz;
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string segment(f::AsText(data + 1, size - 1));
  if (flags & 1) Seal(segment);
  uint64_t base = 0;
  if (segment.size() >= 16) std::memcpy(&base, segment.data() + 8, 8);

  static const std::string dir = f::ScratchDir() + "/log";
  if (::mkdir(dir.c_str(), 0755) != 0) std::abort();
  f::WriteOrDie(dir + "/" + format::SegmentFileName(base), segment);

  bus::LogOptions options;
  options.on_corruption = (flags & 2) ? bus::OnCorruption::kSkip
                                      : bus::OnCorruption::kStop;
  // Small, so a damaged length is refused rather than read.
  options.max_record_bytes = 1 << 16;
  absl::StatusOr<std::unique_ptr<bus::Log>> log = bus::Log::Open(dir, options);
  if (log.ok()) {
    absl::StatusOr<uint64_t> appended = absl::UnknownError("not appended");
    if (flags & 4) {
      const uint8_t payload[3] = {1, 2, 3};
      appended = (*log)->Append(payload);
    }
    auto reader = (*log)->OpenReader(bus::StartAt::Earliest());
    if (reader.ok()) {
      bus::LogRecord record;
      bool found_appended = false;
      for (int i = 0; i < 1 << 16; ++i) {
        absl::StatusOr<bool> more = (*reader)->Next(&record);
        if (!more.ok() || !*more) break;
        if (appended.ok() && record.offset == *appended) found_appended = true;
      }
      if (appended.ok() && options.on_corruption == bus::OnCorruption::kSkip &&
          !found_appended) {
        std::fprintf(stderr, "record %llu appended after recovery is not read\n",
                     static_cast<unsigned long long>(*appended));
        std::abort();
      }
    }
  }
  log = absl::UnknownError("closed");
  f::RemoveFlatDir(dir);
  return 0;
}
