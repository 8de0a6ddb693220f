// Plain record types of the registry: datasets, models, logs and tasks.
// No CAF here; registry_messages.h adds the inspect() overloads.
//
//   trainbus::registry::KeyValues kv = {{"lr", FormatNumber(0.01)},
//                                       {"description", "baseline"}};
#ifndef TRAINBUS_REGISTRY_RECORDS_H_
#define TRAINBUS_REGISTRY_RECORDS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbus::registry {

// Free-form fields. A value that parses as a finite number (for example
// "0.93") is also indexed numerically, so `test_accuracy>0.9` compares
// numbers, not strings.
using KeyValues = std::map<std::string, std::string>;

// Shortest text that parses back to exactly `v` ("0.1", "1e-05", "42").
std::string FormatNumber(double v);
// The number in `text` when the whole text is a finite number.
std::optional<double> ParseNumber(absl::string_view text);

// A file of a dataset, stored as a content-addressed blob.
struct DatasetFile {
  std::string name;  // e.g. "train-images-idx3-ubyte"
  std::string data;
};

struct BlobRef {
  std::string name;
  std::string sha256;  // 64 lowercase hex digits
  int64_t size = 0;
};

// What datasets and models share: their row of the records table and its
// key-values.
struct RecordHeader {
  int64_t id = 0;
  std::string project;
  std::string name;
  int64_t version = 0;
  int64_t time_ns = 0;
  KeyValues kv;  // for models: metrics, hyperparameters, description
};

struct DatasetRecord : RecordHeader {
  std::vector<BlobRef> files;
};

struct ModelRecord : RecordHeader {
  std::string arch;  // nn::FormatModelSpec text
  BlobRef checkpoint;
  std::vector<std::string> aliases;
};

enum class LogKind : int32_t { kTrain = 0, kValidation = 1, kTest = 2 };
absl::string_view LogKindName(LogKind kind);
absl::StatusOr<LogKind> ParseLogKind(absl::string_view text);

struct LogEntry {
  int64_t id = 0;  // assigned by the store
  std::string project;
  LogKind kind = LogKind::kTrain;
  std::string model;  // model name
  int64_t model_version = 0;
  int64_t step = 0;
  int64_t time_ns = 0;  // 0: the store fills in its clock's time
  KeyValues metrics;
};

enum class TaskState : int32_t {
  kPending = 0,
  kRunning = 1,
  kDone = 2,
  kFailed = 3
};
absl::string_view TaskStateName(TaskState state);
absl::StatusOr<TaskState> ParseTaskState(absl::string_view text);

struct TaskSpec {
  std::string project;
  std::string name;
  std::string experiment;  // an experiment name or a topology spec
  KeyValues hyperparameters;
  // Result keys to keep on FinishTask; empty keeps every key.
  std::vector<std::string> result_keys;
  int32_t max_attempts = 3;
};

struct Task {
  int64_t id = 0;
  std::string project;
  std::string name;
  std::string experiment;
  KeyValues hyperparameters;
  std::vector<std::string> result_keys;
  TaskState state = TaskState::kPending;
  int32_t attempts = 0;
  int32_t max_attempts = 0;
  std::string runner;        // the runner holding (or last holding) the lease
  int64_t lease_expiry_ns = 0;
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
  std::string error;         // the last failure
  KeyValues results;
  std::string model_name;    // set by FinishTask when the task saved a model
  int64_t model_version = 0;
};

enum class RunState : int32_t { kRunning = 0, kFinished = 1, kFailed = 2 };
absl::string_view RunStateName(RunState state);
absl::StatusOr<RunState> ParseRunState(absl::string_view text);

// One `trainbus run` of a topology spec: its manifest (JSON, written by
// topology/manifest.h) and the final checkpoints it names, kept as blobs.
struct RunRecord {
  int64_t id = 0;
  std::string project;
  std::string name;  // the spec's name
  RunState state = RunState::kRunning;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  std::string manifest;         // JSON text
  std::vector<BlobRef> blobs;   // name: the model's name
};

// One input of a batch inference run (`trainbus predict`). A batch is the
// unit the store writes atomically: all of its rows or none.
struct PredictionRow {
  int64_t id = 0;       // assigned by the store
  int64_t batch = 0;    // assigned by the store
  std::string input;    // a file path, or "idx:<file>:<index>"
  int32_t label = -1;   // the predicted class; -1 when `error` is set
  std::string scores;   // JSON array of the class probabilities ("[]" on error)
  std::string error;    // why this input has no prediction (empty: it has one)
};

// What every row of a batch shares.
struct PredictionBatch {
  int64_t id = 0;           // assigned by the store, increasing
  std::string run;          // groups the batches of one run
  std::string project;
  std::string model;        // model name
  int64_t model_version = 0;
  int64_t time_ns = 0;      // 0: the store fills in its clock's time
  int64_t rows = 0;         // filled in on reads
  int64_t errors = 0;       // rows with an error, filled in on reads
};

// A filter, sort and limit as the user types them:
//   filter "name=mlp,test_accuracy>0.8", sort "test_accuracy desc", limit 5.
struct Query {
  std::string filter;
  std::string sort;
  int64_t limit = 0;  // 0: no limit
};

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_RECORDS_H_
