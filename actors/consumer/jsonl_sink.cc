#include "actors/consumer/jsonl_sink.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "report/json.h"

namespace trainbus::actors {
namespace {

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
  report::JsonWriter w;
  w.BeginObject();
  w.Key("type").String("prediction");
  w.Key("source").String(p.source);
  w.Key("sample_seq").Int(static_cast<int64_t>(p.sample_seq));
  w.Key("model").String(p.model);
  w.Key("model_version").Int(p.model_version);
  w.Key("label").Int(p.label);
  w.Key("scores").BeginArray();
  for (float s : p.scores) w.Number(s);
  w.EndArray();
  w.Key("publish_ns").Int(p.publish_ns);
  w.Key("predicted_ns").Int(p.predicted_ns);
  if (p.publish_ns > 0 && p.predicted_ns >= p.publish_ns) {
    w.Key("latency_ms").Number((p.predicted_ns - p.publish_ns) / 1e6);
  }
  w.EndObject();
  return w.str();
}

std::string MetricToJson(const bus::Metric& m) {
  report::JsonWriter w;
  w.BeginObject();
  w.Key("type").String("metric");
  w.Key("model").String(m.model);
  w.Key("split").String(m.split);
  w.Key("step").Int(static_cast<int64_t>(m.step));
  w.Key("time_ns").Int(m.time_ns);
  w.Key("values").BeginObject();
  for (const auto& [key, value] : m.values) w.Key(key).Number(value);
  w.EndObject();
  w.EndObject();
  return w.str();
}

std::string SampleToJson(const bus::Sample& s) {
  report::JsonWriter w;
  w.BeginObject();
  w.Key("type").String(s.end_of_stream() ? "end_of_stream" : "sample");
  w.Key("source").String(s.source);
  w.Key("seq").Int(static_cast<int64_t>(s.seq));
  w.Key("label").Int(s.label);
  w.Key("shape").BeginArray();
  for (uint32_t d : s.shape) w.Int(d);
  w.EndArray();
  w.Key("bytes").Int(static_cast<int64_t>(s.pixels.size()));
  w.Key("publish_ns").Int(s.publish_ns);
  w.Key("meta").BeginObject();
  for (const auto& [key, value] : s.meta) w.Key(key).String(value);
  w.EndObject();
  w.EndObject();
  return w.str();
}

std::string BatchToJson(const bus::SampleBatch& b) {
  report::JsonWriter w;
  w.BeginObject();
  w.Key("type").String("batch");
  w.Key("source").String(b.source);
  w.Key("first_seq").Int(static_cast<int64_t>(b.first_seq));
  w.Key("count").Int(b.count);
  w.Key("labels").BeginArray();
  for (int32_t l : b.labels) w.Int(l);
  w.EndArray();
  w.Key("publish_ns").Int(b.publish_ns);
  w.EndObject();
  return w.str();
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
  absl::StatusOr<std::unique_ptr<ConsumerLogic>> logic =
      MakeJsonlSinkLogic(options);
  if (!logic.ok()) return logic.status();
  return SpawnConsumer(sys, options.consumer, std::move(*logic));
}

}  // namespace trainbus::actors
