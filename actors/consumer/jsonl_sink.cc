#include "actors/consumer/jsonl_sink.h"

#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "report/json_text.h"

namespace trainbus::actors {
namespace {

// Keys stay in the order written, so a line reads type first; bytes that are
// not UTF-8 (a file name, say) become U+FFFD instead of an exception.
using Json = report::Json;

// The double whose shortest decimal form is the float's (0.1f -> 0.1), so
// scores print as "0.1" and not "0.10000000149011612".
double ShortestDouble(float f) {
  if (!std::isfinite(f)) return f;  // dumped as null
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f);
  if (ec != std::errc()) return f;
  double d = f;
  std::from_chars(buf, end, d);
  return d;
}

class JsonlSink : public ConsumerLogic {
 public:
  JsonlSink(std::FILE* file, JsonlSinkOptions options)
      : file_(file), options_(std::move(options)) {}
  ~JsonlSink() override {
    if (file_ != nullptr) std::fclose(file_);
  }

  absl::Status OnPrediction(uint64_t, const bus::Prediction& p) override {
    return Write(PredictionToJson(p));
  }
  absl::Status OnMetric(uint64_t, const bus::Metric& m) override {
    return Write(MetricToJson(m));
  }
  absl::Status OnSample(uint64_t, const bus::Sample& s) override {
    return Write(SampleToJson(s));
  }
  absl::Status OnBatch(uint64_t, const bus::SampleBatch& b) override {
    return Write(BatchToJson(b));
  }
  absl::Status Flush() override {
    if (std::fflush(file_) != 0) return Failure("flush");
    unflushed_ = 0;
    return absl::OkStatus();
  }

 private:
  absl::Status Write(std::string line) {
    line.push_back('\n');
    if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
      return Failure("write to");
    }
    if (options_.flush_every > 0 && ++unflushed_ >= options_.flush_every) {
      return Flush();
    }
    return absl::OkStatus();
  }

  absl::Status Failure(const char* what) {
    const int err = errno;
    std::clearerr(file_);
    return absl::DataLossError(absl::StrCat(
        "cannot ", what, " JSON-lines file '", options_.path,
        "': ", std::strerror(err), "; check the disk (space, permissions)"));
  }

  std::FILE* file_;
  JsonlSinkOptions options_;
  uint64_t unflushed_ = 0;
};

}  // namespace

std::string PredictionToJson(const bus::Prediction& p) {
  Json j;
  j["type"] = "prediction";
  j["source"] = p.source;
  j["origin"] = p.origin;
  j["sample_seq"] = p.sample_seq;
  j["model"] = p.model;
  j["model_version"] = p.model_version;
  j["label"] = p.label;
  Json scores = Json::array();
  for (float s : p.scores) scores.push_back(ShortestDouble(s));
  j["scores"] = std::move(scores);
  j["publish_ns"] = p.publish_ns;
  j["predicted_ns"] = p.predicted_ns;
  if (p.publish_ns > 0 && p.predicted_ns >= p.publish_ns) {
    j["latency_ms"] = (p.predicted_ns - p.publish_ns) / 1e6;
  }
  return report::ToJsonText(j);
}

std::string MetricToJson(const bus::Metric& m) {
  Json j;
  j["type"] = "metric";
  j["model"] = m.model;
  j["split"] = m.split;
  j["step"] = m.step;
  j["time_ns"] = m.time_ns;
  j["values"] = m.values;  // a std::map: a JSON object, {} when empty
  return report::ToJsonText(j);
}

std::string SampleToJson(const bus::Sample& s) {
  Json j;
  j["type"] = s.end_of_stream() ? "end_of_stream" : "sample";
  j["source"] = s.source;
  j["seq"] = s.seq;
  j["label"] = s.label;
  j["shape"] = s.shape;
  j["bytes"] = s.pixels.size();
  j["publish_ns"] = s.publish_ns;
  j["meta"] = s.meta;  // a std::map: a JSON object, {} when empty
  return report::ToJsonText(j);
}

std::string BatchToJson(const bus::SampleBatch& b) {
  Json j;
  j["type"] = "batch";
  j["source"] = b.source;
  j["first_seq"] = b.first_seq;
  j["count"] = b.count;
  j["labels"] = b.labels;
  j["publish_ns"] = b.publish_ns;
  return report::ToJsonText(j);
}

absl::StatusOr<std::unique_ptr<ConsumerLogic>> MakeJsonlSinkLogic(
    const JsonlSinkOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError(
        "the JSON-lines sink needs a file path (e.g. --jsonl=/tmp/p.jsonl)");
  }
  std::FILE* file =
      std::fopen(options.path.c_str(), options.append ? "a" : "w");
  if (file == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open JSON-lines file '", options.path, "' for writing: ",
        std::strerror(errno), "; create its directory or choose another path"));
  }
  return std::unique_ptr<ConsumerLogic>(
      std::make_unique<JsonlSink>(file, options));
}

absl::StatusOr<caf::actor> SpawnJsonlSink(caf::actor_system& sys,
                                          const JsonlSinkOptions& options) {
  TB_ASSIGN_OR_RETURN(std::unique_ptr<ConsumerLogic> logic,
                      MakeJsonlSinkLogic(options));
  return SpawnConsumer(sys, options.consumer, std::move(logic));
}

}  // namespace trainbus::actors
