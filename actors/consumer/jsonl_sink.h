// A consumer that appends one JSON object per message to a file (JSON
// lines), for storage and later analysis:
//
//   {"type":"prediction","source":"test-replay","origin":"test:12",
//    "sample_seq":12,"model":"model1",
//    "model_version":1,"label":7,"scores":[...],"publish_ns":...,"predicted_ns":...,
//    "latency_ms":0.41}
//   {"type":"metric","model":"model1","split":"test","step":200,"time_ns":...,
//    "values":{"loss":0.61,"test_accuracy":0.79}}
//   {"type":"sample","source":"images","seq":3,"label":-1,"shape":[],"bytes":0,
//    "meta":{"error":"...","path":"..."}}
//
// "origin" names the sample within its source: the file for an image
// directory, "test:<index>" for a test replay ("" when the source gave none).
// Pixels are not written (they are in the dataset or the durable log).
// Written with nlohmann-json, so each line parses as one JSON object.
//
//   JsonlSinkOptions o;
//   o.consumer.inputs = {*bus.Lookup("predictions")};
//   o.path = "/tmp/trainbus/predictions.jsonl";
//   absl::StatusOr<caf::actor> sink = SpawnJsonlSink(sys, o);
//   if (!sink.ok()) ...  // e.g. the directory does not exist
#ifndef TRAINBUS_ACTORS_CONSUMER_JSONL_SINK_H_
#define TRAINBUS_ACTORS_CONSUMER_JSONL_SINK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "actors/consumer/consumer.h"
#include "bus/message.h"

namespace trainbus::actors {

struct JsonlSinkOptions {
  ConsumerOptions consumer;
  std::string path;
  bool append = false;  // false: truncate an existing file
  // Flush to the OS after every N lines; 0: only when asked (flush_atom) and
  // when the sink stops. 1 suits a `tail -f`; larger values are cheaper.
  uint64_t flush_every = 256;
};

// One JSON object, without the newline.
std::string PredictionToJson(const bus::Prediction& p);
std::string MetricToJson(const bus::Metric& m);
std::string SampleToJson(const bus::Sample& s);
std::string BatchToJson(const bus::SampleBatch& b);

// Opens the file now, so a bad path is an error here and not a silent sink.
absl::StatusOr<std::unique_ptr<ConsumerLogic>> MakeJsonlSinkLogic(
    const JsonlSinkOptions& options);

absl::StatusOr<caf::actor> SpawnJsonlSink(caf::actor_system& sys,
                                          const JsonlSinkOptions& options);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_CONSUMER_JSONL_SINK_H_
