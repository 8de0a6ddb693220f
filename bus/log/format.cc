#include "bus/log/format.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "bus/log/crc32c.h"

namespace trainbus::bus::log_format {
namespace {

// Little-endian regardless of the host.
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void Put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t Get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t Get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

void EncodeSegmentHeader(const SegmentHeader& header,
                         uint8_t out[kSegmentHeaderBytes]) {
  std::memcpy(out, kSegmentMagic, 8);
  Put64(out + 8, header.base_offset);
  Put64(out + 16, static_cast<uint64_t>(header.created_ns));
  Put32(out + 24, Crc32c(out, 24));
  Put32(out + 28, 0);
}

std::optional<SegmentHeader> ParseSegmentHeader(
    const uint8_t data[kSegmentHeaderBytes]) {
  if (std::memcmp(data, kSegmentMagic, 8) != 0) return std::nullopt;
  if (Get32(data + 24) != Crc32c(data, 24)) return std::nullopt;
  SegmentHeader header;
  header.base_offset = Get64(data + 8);
  header.created_ns = static_cast<int64_t>(Get64(data + 16));
  return header;
}

void EncodeRecordHeader(uint64_t offset, int64_t time_ns,
                        absl::Span<const uint8_t> payload,
                        uint8_t out[kRecordHeaderBytes]) {
  Put32(out + 4, static_cast<uint32_t>(payload.size()));
  Put64(out + 8, offset);
  Put64(out + 16, static_cast<uint64_t>(time_ns));
  uint32_t crc = Crc32c(out + 4, kRecordHeaderBytes - 4);
  crc = Crc32cExtend(crc, payload.data(), payload.size());
  Put32(out, crc);
}

uint32_t PeekRecordLength(const uint8_t* header) { return Get32(header + 4); }
uint64_t PeekRecordOffset(const uint8_t* header) { return Get64(header + 8); }

ParseStatus ParseRecord(const uint8_t* data, size_t available,
                        uint32_t max_record_bytes, RecordHeader* header) {
  if (available < kRecordHeaderBytes) return ParseStatus::kIncomplete;
  const uint32_t length = Get32(data + 4);
  if (length > max_record_bytes) return ParseStatus::kCorrupt;
  if (available - kRecordHeaderBytes < length) return ParseStatus::kIncomplete;
  const uint32_t crc = Crc32c(data + 4, kRecordHeaderBytes - 4 + size_t{length});
  if (crc != Get32(data)) return ParseStatus::kCorrupt;
  header->length = length;
  header->offset = Get64(data + 8);
  header->time_ns = static_cast<int64_t>(Get64(data + 16));
  return ParseStatus::kOk;
}

std::string SegmentFileName(uint64_t base_offset) {
  return absl::StrFormat("%020u.log", base_offset);
}

std::optional<uint64_t> ParseSegmentFileName(const std::string& name) {
  if (name.size() != 24 || name.compare(20, 4, ".log") != 0) return std::nullopt;
  uint64_t value = 0;
  for (int i = 0; i < 20; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace trainbus::bus::log_format
