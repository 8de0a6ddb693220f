#include "actors/consumer/console_printer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "caf/all.hpp"

namespace trainbus::actors {
namespace {

bool Due(uint64_t n, uint64_t every) {
  return every > 0 && (n - 1) % every == 0;
}

class ConsolePrinter : public ConsumerLogic {
 public:
  explicit ConsolePrinter(ConsolePrinterOptions options)
      : options_(std::move(options)),
        prefix_(absl::StrCat("[", options_.consumer.name, "] ")) {}

  absl::Status OnPrediction(uint64_t, const bus::Prediction& p) override {
    if (Due(++predictions_, options_.prediction_every)) {
      Write(FormatPredictionLine(p, predictions_, options_.class_names));
    }
    return absl::OkStatus();
  }
  absl::Status OnMetric(uint64_t, const bus::Metric& m) override {
    if (Due(++metrics_, options_.metric_every)) Write(FormatMetricLine(m));
    return absl::OkStatus();
  }
  absl::Status OnSample(uint64_t, const bus::Sample& s) override {
    // End markers are rare and tell a reader the stream is complete.
    if (Due(++samples_, options_.sample_every) || s.end_of_stream()) {
      Write(FormatSampleLine(s));
    }
    return absl::OkStatus();
  }
  absl::Status OnBatch(uint64_t, const bus::SampleBatch& b) override {
    if (Due(++samples_, options_.sample_every)) {
      Write(absl::StrFormat("batch %s#%d..%d (%d samples)", b.source,
                            b.first_seq, b.first_seq + b.count, b.count));
    }
    return absl::OkStatus();
  }

 private:
  void Write(const std::string& line) {
    if (options_.write) {
      options_.write(prefix_ + line);
    } else {
      caf::aout(self()) << prefix_ << line << "\n";
    }
  }

  ConsolePrinterOptions options_;
  std::string prefix_;
  uint64_t predictions_ = 0, metrics_ = 0, samples_ = 0;
};

}  // namespace

std::string FormatPredictionLine(const bus::Prediction& p, uint64_t n,
                                 const std::vector<std::string>& class_names) {
  std::string out =
      absl::StrFormat("prediction #%d %s v%d %s#%d -> %d", n, p.model,
                      p.model_version, p.source, p.sample_seq, p.label);
  if (p.label >= 0 && static_cast<size_t>(p.label) < class_names.size()) {
    absl::StrAppend(&out, " ", class_names[p.label]);
  }
  if (p.label >= 0 && static_cast<size_t>(p.label) < p.scores.size()) {
    absl::StrAppendFormat(&out, " (p=%.2f)", p.scores[p.label]);
  }
  if (p.publish_ns > 0 && p.predicted_ns >= p.publish_ns) {
    absl::StrAppendFormat(&out, " %.3f ms",
                          (p.predicted_ns - p.publish_ns) / 1e6);
  }
  return out;
}

std::string FormatMetricLine(const bus::Metric& m) {
  std::string out =
      absl::StrFormat("metric %s %s step %d", m.model, m.split, m.step);
  for (const auto& [key, value] : m.values) {
    absl::StrAppendFormat(&out, " %s=%.4g", key, value);
  }
  return out;
}

std::string FormatSampleLine(const bus::Sample& s) {
  if (s.end_of_stream()) {
    return absl::StrFormat("end of stream %s after %d samples", s.source,
                           s.seq);
  }
  auto error = s.meta.find("error");
  if (error != s.meta.end()) {
    auto path = s.meta.find("path");
    return absl::StrFormat("dead letter %s#%d %s: %s", s.source, s.seq,
                           path == s.meta.end() ? "" : path->second,
                           error->second);
  }
  std::string out = absl::StrFormat("sample %s#%d %d bytes", s.source, s.seq,
                                    s.pixels.size());
  if (s.has_label()) absl::StrAppendFormat(&out, " label %d", s.label);
  for (const auto& [key, value] : s.meta) {
    absl::StrAppend(&out, " ", key, "=", value);
  }
  return out;
}

std::unique_ptr<ConsumerLogic> MakeConsolePrinterLogic(
    ConsolePrinterOptions options) {
  return std::make_unique<ConsolePrinter>(std::move(options));
}

caf::actor SpawnConsolePrinter(caf::actor_system& sys,
                               ConsolePrinterOptions options) {
  ConsumerOptions consumer = options.consumer;
  return SpawnConsumer(sys, std::move(consumer),
                       MakeConsolePrinterLogic(std::move(options)));
}

}  // namespace trainbus::actors
