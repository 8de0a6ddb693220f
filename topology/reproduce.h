// `trainbus reproduce RUN_ID`: runs a recorded run again from its manifest,
// compares the final checkpoints and explains a difference.
//
//   ReplayFn replay = SubprocessReplay("/proc/self/exe");  // `trainbus run`
//   absl::StatusOr<ReproduceReport> r = Reproduce(*store, 3, replay, out_dir);
//   std::cout << FormatReproduceReport(*r);
//   // run 3 reproduced as run 4: bit-identical (2 models)
//   // -- or --
//   // model1: differs, largest weight difference 3.1e-07 in fc.weight[17]
//   // likely cause: input file /d/train-images-idx3-ubyte changed (sha256 ...)
//
// The causes are the recorded facts that differ between the two manifests,
// most likely first: changed input files, the Highway target, package
// versions, the CPU model, the source tree. When none differs, the run itself
// is not deterministic, and the report says so.
#ifndef TRAINBUS_TOPOLOGY_REPRODUCE_H_
#define TRAINBUS_TOPOLOGY_REPRODUCE_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernels/nn/model.h"
#include "registry/store.h"
#include "topology/manifest.h"

namespace trainbus::topology {

struct ReplayRequest {
  RunManifest original;      // what was recorded: spec text, args, ...
  registry::Store* store = nullptr;  // record the replay here
  std::string out_dir;       // the replay's report and manifest.json
};
// Runs the recorded spec again, recording it as a new run in `store`, and
// returns the new run's manifest (its checkpoints are blobs in `store`).
using ReplayFn =
    std::function<absl::StatusOr<RunManifest>(const ReplayRequest&)>;

// Replays through a `trainbus run` subprocess: `trainbus` is the binary's
// path. The spec text goes to out_dir/spec.yaml and the recorded flags are
// passed again, with --out_dir and --registry_dir pointing at the replay's;
// JSON-lines sinks write out_dir/replay.jsonl; the new manifest is read from
// out_dir/manifest.json.
ReplayFn SubprocessReplay(std::string trainbus);

struct ModelComparison {
  std::string model;
  std::string recorded_sha256;  // empty: the model is missing on this side
  std::string replayed_sha256;
  bool identical = false;
  nn::CheckpointDifference difference;  // when both exist and differ
  std::string problem;  // why the weights could not be compared, or ""
};

struct ReproduceReport {
  int64_t run_id = 0;
  int64_t replay_run_id = 0;
  bool bit_identical = false;
  std::vector<ModelComparison> models;
  // Recorded facts that differ between the run and its replay, most likely
  // cause first; empty when nothing recorded differs.
  std::vector<std::string> differences;
};

// A run id as the user types it: a positive integer.
absl::StatusOr<int64_t> ParseRunId(absl::string_view text);

// What differs between two manifests, most likely cause first.
std::vector<std::string> ManifestDifferences(const RunManifest& recorded,
                                             const RunManifest& replayed);

// Replays finished run `run_id` and compares every model's final checkpoint.
absl::StatusOr<ReproduceReport> Reproduce(registry::Store& store,
                                          int64_t run_id,
                                          const ReplayFn& replay,
                                          const std::string& out_dir);

// The verdict first ("bit-identical" or "differs"), then each model, then
// the likely causes.
std::string FormatReproduceReport(const ReproduceReport& report);

// `trainbus reproduce RUN_ID [--registry_dir=DIR] [--out_dir=DIR]`.
// Exit 0: bit-identical; 1: the checkpoints differ; 2: bad usage or error.
int ReproduceMain(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err, const ReplayFn& replay);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_REPRODUCE_H_
