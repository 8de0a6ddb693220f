// What crosses the AMQP boundary, as pure functions (no broker needed):
// a delivered message becomes a bus Sample, a bus Prediction becomes a
// message.
//
//   absl::StatusOr<bus::Sample> s = ToSample(delivery, "train-in", seq);
//   if (!s.ok()) DeadLetter(delivery, s.status().message());  // the reason
//   Message m = FromPrediction(prediction);  // headers + a JSON body
//
// Inbound bodies are PNG, JPEG (decoded and framed to 28x28 by data/'s
// DecodeToMnist28) or exactly 784 raw bytes (a 28x28 gray image, row-major).
// The header `label` (an integer >= 0, or its decimal text) makes it a
// training sample; without it the sample is production data. A message with
// the header `end_of_stream` set to true (or 1) ends the bridge's stream.
#ifndef TRAINBUS_AMQP_MESSAGE_H_
#define TRAINBUS_AMQP_MESSAGE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "amqp/connection.h"
#include "bus/message.h"

namespace trainbus::amqp {

inline constexpr char kLabelHeader[] = "label";
inline constexpr char kEndOfStreamHeader[] = "end_of_stream";
// Set on dead letters: why the message was refused.
inline constexpr char kReasonHeader[] = "reason";

// Whether the message asks to end the stream.
bool IsEndOfStream(const Delivery& d);

// The sample for `d`: seq, source, shape {28, 28}, pixels, label, and meta
// {"origin": message id (or "amqp:<source>:<seq>"), "message_id": ...,
// "redelivered": "1" when the broker redelivered it}. An undecodable body or
// a bad label is an InvalidArgument whose message is the dead letter's
// reason.
absl::StatusOr<bus::Sample> ToSample(const Delivery& d,
                                     const std::string& source, uint64_t seq);

// Headers predicted_label, model, version, scores (an array of doubles),
// source, origin, sample_seq; the body is the prediction's JSON line as the
// jsonl consumer writes it (actors/consumer/jsonl_sink.h).
Message FromPrediction(const bus::Prediction& p, bool persistent = true);

// The dead letter of `d`: its body and headers plus `reason`.
Message DeadLetterOf(const Delivery& d, const std::string& reason);

}  // namespace trainbus::amqp

#endif  // TRAINBUS_AMQP_MESSAGE_H_
