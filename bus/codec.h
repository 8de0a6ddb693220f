// Turns bus payloads into bytes and back: the durable log's record format and
// what a catch-up subscriber is replayed from.
//
// A record is one tag byte (which payload type) followed by the payload in
// CAF's binary serialization format.
#ifndef TRAINBUS_BUS_CODEC_H_
#define TRAINBUS_BUS_CODEC_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "bus/message.h"
#include "caf/message.hpp"

namespace trainbus::bus {

enum class PayloadTag : uint8_t {
  kSample = 1,
  kSampleBatch = 2,
  kPrediction = 3,
  kMetric = 4,
};

std::vector<uint8_t> Encode(const Sample& x);
std::vector<uint8_t> Encode(const SampleBatch& x);
std::vector<uint8_t> Encode(const Prediction& x);
std::vector<uint8_t> Encode(const Metric& x);

// The payload as a one-element caf::message (Sample, SampleBatch, ...).
// Unknown tags and short or malformed bytes are errors, never a crash.
absl::StatusOr<caf::message> Decode(absl::Span<const uint8_t> record);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_CODEC_H_
