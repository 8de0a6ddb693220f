// On-disk byte layout of durable-log segments (see README.md for the picture).
// Internal to //bus/log: encode and parse segment headers and records.
//
//   uint8_t header[kRecordHeaderBytes];
//   EncodeRecordHeader(offset, time_ns, payload, header);
//   // write header, then payload
#ifndef TRAINBUS_BUS_LOG_FORMAT_H_
#define TRAINBUS_BUS_LOG_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/types/span.h"

namespace trainbus::bus::log_format {

// Segment header: magic(8) base_offset(8) created_ns(8) crc(4) reserved(4).
inline constexpr size_t kSegmentHeaderBytes = 32;
inline constexpr char kSegmentMagic[9] = "TBLOGSG1";

// Record header: crc(4) length(4) offset(8) append_time_ns(8), then payload.
// The CRC-32C covers bytes [4, 24 + length): length, offset, time, payload.
inline constexpr size_t kRecordHeaderBytes = 24;

struct SegmentHeader {
  uint64_t base_offset = 0;
  int64_t created_ns = 0;
};

void EncodeSegmentHeader(const SegmentHeader& header,
                         uint8_t out[kSegmentHeaderBytes]);
// nullopt when the bytes are not a valid header (magic or CRC wrong).
std::optional<SegmentHeader> ParseSegmentHeader(
    const uint8_t data[kSegmentHeaderBytes]);

struct RecordHeader {
  uint32_t length = 0;
  uint64_t offset = 0;
  int64_t time_ns = 0;
};

void EncodeRecordHeader(uint64_t offset, int64_t time_ns,
                        absl::Span<const uint8_t> payload,
                        uint8_t out[kRecordHeaderBytes]);

enum class ParseStatus {
  kOk,          // a whole record with a matching CRC
  kIncomplete,  // fewer bytes than the header or its length announce
  kCorrupt,     // length above the limit, or CRC mismatch
};

// The length field of a record header (kRecordHeaderBytes available).
uint32_t PeekRecordLength(const uint8_t* header);
// The offset field of a record header (kRecordHeaderBytes available).
uint64_t PeekRecordOffset(const uint8_t* header);

// Parses the record at the start of `data` (`available` bytes). On kOk the
// payload is data[kRecordHeaderBytes, kRecordHeaderBytes + header->length).
ParseStatus ParseRecord(const uint8_t* data, size_t available,
                        uint32_t max_record_bytes, RecordHeader* header);

// "00000000000000000042.log" for base offset 42.
std::string SegmentFileName(uint64_t base_offset);
// The base offset named by a segment file name; nullopt for other files.
std::optional<uint64_t> ParseSegmentFileName(const std::string& name);

}  // namespace trainbus::bus::log_format

#endif  // TRAINBUS_BUS_LOG_FORMAT_H_
