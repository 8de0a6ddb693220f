#include "amqp/message.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "actors/consumer/jsonl_sink.h"
#include "data/image.h"
#include "data/mnist28.h"

namespace trainbus::amqp {
namespace {

constexpr size_t kRawBytes = data::kMnistSide * data::kMnistSide;

// The label header: absent -> kNoLabel; an integer >= 0 or its text -> it.
absl::StatusOr<int32_t> LabelOf(const Headers& headers) {
  auto it = headers.find(kLabelHeader);
  if (it == headers.end()) return bus::kNoLabel;
  int64_t label = -1;
  if (const int64_t* i = std::get_if<int64_t>(&it->second)) {
    label = *i;
  } else if (const std::string* s = std::get_if<std::string>(&it->second)) {
    if (!absl::SimpleAtoi(*s, &label)) label = -1;
  } else {
    return absl::InvalidArgumentError(
        "header 'label' must be an integer (the class), not a boolean, "
        "float or array");
  }
  if (label < 0 || label > INT32_MAX) {
    return absl::InvalidArgumentError(
        "header 'label' must be an integer >= 0 (the class); leave it out "
        "for production data");
  }
  return static_cast<int32_t>(label);
}

absl::StatusOr<std::vector<uint8_t>> PixelsOf(const std::string& body) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(body.data());
  const data::ImageFormat format =
      data::DetectImageFormat(absl::MakeConstSpan(bytes, body.size()));
  if (format == data::ImageFormat::kPng || format == data::ImageFormat::kJpeg) {
    absl::StatusOr<data::Image> image =
        data::DecodeToMnist28(absl::MakeConstSpan(bytes, body.size()));
    if (!image.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("body: ", image.status().message()));
    }
    return std::move(image->pixels);
  }
  if (body.size() == kRawBytes) {
    return std::vector<uint8_t>(bytes, bytes + body.size());
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "body is ", body.size(),
      " bytes and neither PNG nor JPEG; send a PNG or JPEG image, or exactly ",
      kRawBytes, " raw bytes (28x28 gray, row-major)"));
}

}  // namespace

bool IsEndOfStream(const Delivery& d) {
  auto it = d.headers.find(kEndOfStreamHeader);
  if (it == d.headers.end()) return false;
  if (const bool* b = std::get_if<bool>(&it->second)) return *b;
  if (const int64_t* i = std::get_if<int64_t>(&it->second)) return *i != 0;
  if (const std::string* s = std::get_if<std::string>(&it->second)) {
    return *s == "true" || *s == "1";
  }
  return false;
}

absl::StatusOr<bus::Sample> ToSample(const Delivery& d,
                                     const std::string& source, uint64_t seq) {
  absl::StatusOr<int32_t> label = LabelOf(d.headers);
  if (!label.ok()) return label.status();
  absl::StatusOr<std::vector<uint8_t>> pixels = PixelsOf(d.body);
  if (!pixels.ok()) return pixels.status();
  bus::Sample s;
  s.seq = seq;
  s.source = source;
  s.shape = {data::kMnistSide, data::kMnistSide};
  s.pixels = bus::Bytes(std::move(*pixels));
  s.label = *label;
  s.meta[bus::kOriginKey] = d.message_id.empty()
                                ? absl::StrCat("amqp:", source, ":", seq)
                                : d.message_id;
  if (!d.message_id.empty()) s.meta["message_id"] = d.message_id;
  if (d.redelivered) s.meta["redelivered"] = "1";
  return s;
}

Message FromPrediction(const bus::Prediction& p, bool persistent) {
  Message m;
  m.persistent = persistent;
  m.content_type = "application/json";
  m.headers["predicted_label"] = int64_t{p.label};
  m.headers["model"] = p.model;
  m.headers["version"] = int64_t{p.model_version};
  m.headers["scores"] = std::vector<double>(p.scores.begin(), p.scores.end());
  m.headers["source"] = p.source;
  m.headers["origin"] = p.origin;
  m.headers["sample_seq"] = static_cast<int64_t>(p.sample_seq);
  m.body = actors::PredictionToJson(p);  // the JSON-lines sink's record
  m.message_id = absl::StrCat(p.model, "/", p.source, "/", p.sample_seq);
  return m;
}

Message DeadLetterOf(const Delivery& d, const std::string& reason) {
  Message m;
  m.body = d.body;
  m.headers = d.headers;
  m.headers[kReasonHeader] = reason;
  m.message_id = d.message_id;
  return m;
}

}  // namespace trainbus::amqp
