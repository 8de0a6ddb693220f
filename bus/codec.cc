#include "bus/codec.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"
#include "caf/make_message.hpp"

namespace trainbus::bus {
namespace {

template <class T>
std::vector<uint8_t> EncodeTagged(PayloadTag tag, const T& x) {
  std::vector<char> buf;
  buf.push_back(static_cast<char>(tag));
  caf::binary_serializer sink{nullptr, buf};
  // Serializing our own structs cannot fail (no actor handles inside).
  auto err = sink(const_cast<T&>(x));
  (void)err;
  return std::vector<uint8_t>(buf.begin(), buf.end());
}

template <class T>
absl::StatusOr<caf::message> DecodeAs(absl::Span<const uint8_t> body,
                                      const char* what) {
  T x;
  caf::binary_deserializer source{
      nullptr, reinterpret_cast<const char*>(body.data()), body.size()};
  if (auto err = source(x)) {
    return absl::DataLossError(absl::StrCat(
        "cannot decode a ", what, " record of ", body.size(),
        " bytes: ", to_string(err), "; the log record is corrupt"));
  }
  if (source.remaining() != 0) {
    return absl::DataLossError(absl::StrCat(
        what, " record has ", source.remaining(), " trailing bytes"));
  }
  return caf::make_message(std::move(x));
}

}  // namespace

std::vector<uint8_t> Encode(const Sample& x) {
  return EncodeTagged(PayloadTag::kSample, x);
}
std::vector<uint8_t> Encode(const SampleBatch& x) {
  return EncodeTagged(PayloadTag::kSampleBatch, x);
}
std::vector<uint8_t> Encode(const Prediction& x) {
  return EncodeTagged(PayloadTag::kPrediction, x);
}
std::vector<uint8_t> Encode(const Metric& x) {
  return EncodeTagged(PayloadTag::kMetric, x);
}

absl::StatusOr<caf::message> Decode(absl::Span<const uint8_t> record) {
  if (record.empty()) return absl::DataLossError("empty bus record");
  absl::Span<const uint8_t> body = record.subspan(1);
  switch (static_cast<PayloadTag>(record[0])) {
    case PayloadTag::kSample: return DecodeAs<Sample>(body, "Sample");
    case PayloadTag::kSampleBatch:
      return DecodeAs<SampleBatch>(body, "SampleBatch");
    case PayloadTag::kPrediction:
      return DecodeAs<Prediction>(body, "Prediction");
    case PayloadTag::kMetric: return DecodeAs<Metric>(body, "Metric");
  }
  return absl::DataLossError(absl::StrCat(
      "unknown bus record tag ", int{record[0]},
      "; the log was written by a newer trainbus or is corrupt"));
}

}  // namespace trainbus::bus
