// The versions of one registry model that a server serves, as an immutable
// snapshot: serving/watcher.h makes a new one when the registry changes and
// swaps it in whole, and each request holds the snapshot it started with.
//
//   auto set = serving::ModelSet::Load(*store, "fashion/mlp", {.replicas = 2});
//   absl::StatusOr<const serving::ServedVersion*> v = (*set)->ByLabel("best");
//   (*v)->Predict(x, batch, probs);
//   auto next = (*set)->Reload(*store, options, &changes);  // null: unchanged
//
// Every version is loaded, checked against its record and warmed with a few
// Predicts on each replica; one that fails stays in the set with its error
// (TF Serving's state END), so the status endpoint can say why. Labels are
// the registry's aliases. On Reload an alias that moved to a version that
// failed keeps serving the version it had.
#ifndef TRAINBUS_SERVING_MODEL_SET_H_
#define TRAINBUS_SERVING_MODEL_SET_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kernels/nn/model.h"
#include "registry/records.h"
#include "registry/store.h"
#include "serving/replica.h"

namespace trainbus::serving {

struct LoadOptions {
  int replicas = 1;  // model workers per version (--replicas)
  // Makes each replica; empty means LocalReplicas().
  ReplicaFactory replica_factory;
  // Told of each batch retried because its replica was gone (/metrics).
  RetryHook on_retry;
  // Rows of the largest warm-up batch (the batcher's --max_batch_size), so
  // the buffers of a full batch are allocated before the swap.
  size_t warm_batch = 8;
};

class ServedVersion {
 public:
  // Loads `checkpoint` (or keeps its error), checks it against the record,
  // makes the replicas and warms each. Never fails: a problem becomes
  // status().
  static std::shared_ptr<const ServedVersion> Load(
      registry::ModelRecord record, absl::StatusOr<std::string> checkpoint,
      const LoadOptions& options);

  int64_t version() const { return record_.version; }
  const registry::ModelRecord& record() const { return record_; }
  // OK when loaded and warmed; else why not.
  const absl::Status& status() const { return status_; }
  bool available() const { return pool_ != nullptr; }
  // Only when available().
  const nn::ModelSpec& spec() const { return spec_; }
  size_t parameter_count() const { return parameter_count_; }
  size_t replica_count() const { return available() ? pool_->size() : 0; }
  // Replicas that left the rotation (their node died).
  size_t replicas_out() const { return available() ? pool_->out() : 0; }

  // x (batch, spec().InputSize()) -> probs (batch, spec().classes), on the
  // replica with the fewest batches in flight. Thread-safe.
  absl::Status Predict(const float* x, size_t batch, float* probs) const;

 private:
  explicit ServedVersion(registry::ModelRecord record)
      : record_(std::move(record)) {}
  absl::Status Prepare(absl::StatusOr<std::string> checkpoint,
                       const LoadOptions& options);
  absl::Status Warm(size_t rows) const;

  registry::ModelRecord record_;
  absl::Status status_;
  nn::ModelSpec spec_;
  size_t parameter_count_ = 0;
  std::unique_ptr<ReplicaPool> pool_;
};

class ModelSet {
 public:
  // ref: "project/name" or "name" (the default project). NotFound when the
  // registry has no such model; a version that fails to load is not an
  // error (see the banner).
  static absl::StatusOr<std::shared_ptr<const ModelSet>> Load(
      registry::Store& store, absl::string_view ref,
      const LoadOptions& options);

  // The registry's versions and aliases now: nullptr when they are what
  // this set was made from; else a new set that shares the versions it
  // already has, loads the new ones and drops the deleted ones. `changes`
  // (may be null) gets one line per thing that changed, for the log.
  absl::StatusOr<std::shared_ptr<const ModelSet>> Reload(
      registry::Store& store, const LoadOptions& options,
      std::vector<std::string>* changes) const;

  const std::string& project() const { return project_; }
  const std::string& name() const { return name_; }
  // Ascending by version.
  const std::vector<std::shared_ptr<const ServedVersion>>& versions() const {
    return versions_;
  }
  // alias -> the version it serves.
  const std::map<std::string, int64_t>& labels() const { return labels_; }

  // The highest available version; NotFound when none loaded.
  absl::StatusOr<const ServedVersion*> Latest() const;
  // The version, loaded or not; NotFound listing the known versions.
  absl::StatusOr<const ServedVersion*> Find(int64_t version) const;
  // An available version by number or label; NotFound naming the known
  // versions or labels, or why the version did not load.
  absl::StatusOr<const ServedVersion*> ByVersion(int64_t version) const;
  absl::StatusOr<const ServedVersion*> ByLabel(absl::string_view label) const;
  // "1, 2, 3" and "best -> 3, production -> 2", for messages.
  std::string VersionList() const;
  std::string LabelList() const;

 private:
  ModelSet() = default;
  // The registry's records of this model, ascending by version.
  absl::StatusOr<std::vector<registry::ModelRecord>> Records(
      registry::Store& store) const;
  // Builds the set from `records`, reusing `previous`'s versions and
  // labels where they still hold.
  void Fill(registry::Store& store, std::vector<registry::ModelRecord> records,
            const LoadOptions& options, const ModelSet* previous,
            std::vector<std::string>* changes);
  // labels_ from registry_aliases_ (see the banner for the exception).
  void FollowAliases(const ModelSet* previous,
                     const std::function<void(std::string)>& note);
  absl::StatusOr<const ServedVersion*> Available(
      const ServedVersion* version) const;

  std::string project_;
  std::string name_;
  std::vector<std::shared_ptr<const ServedVersion>> versions_;
  std::map<std::string, int64_t> labels_;
  // What the registry said (version -> checkpoint sha256, alias ->
  // version), to tell whether it changed.
  std::map<int64_t, std::string> registry_versions_;
  std::map<std::string, int64_t> registry_aliases_;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_MODEL_SET_H_
