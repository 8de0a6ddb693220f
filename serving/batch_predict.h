// Batch inference into the registry: `trainbus predict` runs a registry
// model over a directory of images or an IDX images file and writes one row
// per input into the registry's `predictions` table (and optionally JSONL).
//
//   BatchPredictOptions options;
//   options.model = "fashion/mlp@production";   // or NAME@3, NAME
//   options.input = "/srv/incoming";             // or an IDX images file
//   absl::StatusOr<BatchPredictResult> r = RunBatchPredict(*store, options);
//   // r->batch_ids: `trainbus registry predictions --batch ID`
//
// Batches are atomic: the rows of each --batch_size inputs are written in
// one SQLite transaction, so a run that is killed leaves whole batches or
// nothing (and the JSONL file, written after each commit, never holds a row
// the database lacks).
//
// Bad inputs. A file that cannot be read or decoded does not stop the run:
// its row has label -1, scores [] and the error (naming the file), so one
// corrupt JPEG among a million is visible in the table and costs nothing
// else; the run then ends with a non-OK `errors` count (exit code 1 from the
// command). What no input of the run could fit, the run refuses before it
// writes anything: an IDX file whose images do not have the model's input
// size, or image files for a model that does not take 28x28 gray images.
#ifndef TRAINBUS_SERVING_BATCH_PREDICT_H_
#define TRAINBUS_SERVING_BATCH_PREDICT_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/store.h"

namespace trainbus::serving {

struct BatchPredictOptions {
  // NAME, NAME@ALIAS or NAME@VERSION, optionally PROJECT/ in front.
  std::string model;
  // A directory of PNG/JPEG/PGM files (sorted by name), or an IDX images
  // file (raw or gzip).
  std::string input;
  size_t batch_size = 1000;
  // Also write every row as a JSON line to this file (empty: no file).
  std::string jsonl;
  // Groups the batches; empty: "predict-<UTC time>-<pid>".
  std::string run;
  // One line per committed batch ("committed batch 7: ..."); may be null.
  std::ostream* progress = nullptr;
};

struct BatchPredictResult {
  std::string run;
  std::string project;
  std::string model;
  int64_t model_version = 0;
  std::vector<int64_t> batch_ids;
  int64_t rows = 0;
  int64_t errors = 0;          // rows whose input could not be predicted
  double predict_seconds = 0;  // inside Model::Predict
  double seconds = 0;          // the whole run: reading, predicting, writing
};

absl::StatusOr<BatchPredictResult> RunBatchPredict(
    registry::Store& store, const BatchPredictOptions& options);

// `trainbus predict`: args are those after the command. Returns 0 when every
// input was predicted, 1 on an error or when some inputs had errors (their
// rows are stored), 2 for bad flags.
int PredictMain(const std::vector<std::string>& args, std::ostream& out,
                std::ostream& err);

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_BATCH_PREDICT_H_
