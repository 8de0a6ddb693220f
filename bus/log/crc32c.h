// CRC-32C (Castagnoli), the checksum of every durable-log record.
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (about 8 bytes per
// cycle) and a table-driven software loop otherwise; both give the same value.
//
//   uint32_t crc = trainbus::bus::Crc32c(data, size);
//   crc = trainbus::bus::Crc32cExtend(crc, more, more_size);  // == Crc32c(data ++ more)
#ifndef TRAINBUS_BUS_LOG_CRC32C_H_
#define TRAINBUS_BUS_LOG_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace trainbus::bus {

// Continues `crc` (a finished CRC-32C of earlier bytes, 0 for none) over
// `size` more bytes.
uint32_t Crc32cExtend(uint32_t crc, const uint8_t* data, size_t size);

inline uint32_t Crc32c(const uint8_t* data, size_t size) {
  return Crc32cExtend(0, data, size);
}

// The portable byte-at-a-time version; a reference for tests.
uint32_t Crc32cExtendPortable(uint32_t crc, const uint8_t* data, size_t size);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_LOG_CRC32C_H_
