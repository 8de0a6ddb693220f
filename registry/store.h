// The trainbus registry: datasets, models, logs and a task queue with
// leases, in an embedded SQLite database (WAL) plus a content-addressed blob
// directory. Several processes may open the same registry at once.
//
//   StoreOptions options;
//   options.root = Store::DefaultRoot();  // or a --registry_dir
//   absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
//   absl::StatusOr<int64_t> v = (*store)->SaveModel(
//       "mnist", "mlp", "mlp:784-128-10", checkpoint, {{"test_accuracy", "0.97"}});
//   auto best = (*store)->FindModels({"name=mlp", "test_accuracy desc", 1});
//
// Layout under the root directory:
//   registry.db (+ -wal, -shm)   SQLite index, schema version in user_version
//   blobs/<sha256>               checkpoint and dataset bytes
//
// Filters (see filter.h) name a record's columns or its key/values:
//   datasets, models: id project name version time [arch] + any kv key
//   logs:             id project kind model version step time + any metric
//   tasks:            id project name experiment state attempts max_attempts
//                     runner lease_expiry time + hyperparameter/result keys
// Runs (topology runs and their manifests) are looked up by id.
// Predictions (batch inference) are read by batch: ListPredictionBatches,
// GetPredictions.
// `time` is nanoseconds since the Unix epoch. Versions count from 1 per
// (project, name) and are never reused, even after a delete.
#ifndef TRAINBUS_REGISTRY_STORE_H_
#define TRAINBUS_REGISTRY_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "registry/blob_store.h"
#include "base/clock.h"
#include "registry/records.h"

namespace trainbus::registry {

class SqliteDb;  // registry/sqlite_db.h, internal to the store
class SqliteTxn;

struct StoreOptions {
  // Registry directory; empty means Store::DefaultRoot().
  std::string root;
  // Not owned; nullptr means base::SystemClock::Get().
  const base::Clock* clock = nullptr;
  // How long a writer waits for another process's write lock.
  int busy_timeout_ms = 10000;
  // Tests only: simulate crashes inside blob writes.
  BlobStore::FaultHook blob_fault_hook;
  // Opens an existing registry without creating or changing anything; a
  // missing registry is NotFound. For commands that only read. Writes then
  // fail, and ListTasks shows expired leases as they are (not reclaimed).
  bool read_only = false;
  // false: a missing registry is NotFound instead of being created.
  bool create_if_missing = true;
  // Tests only: called inside AppendPredictionBatch's transaction after each
  // row is written (batch id, rows written so far), to crash mid-batch.
  std::function<void(int64_t, size_t)> prediction_fault_hook;
};

// A blob that VerifyBlobs found missing, truncated or corrupt, with the
// records that use it.
struct BlobProblem {
  std::string sha256;
  int64_t expected_size = 0;
  std::string problem;              // what is wrong, in words
  std::vector<std::string> owners;  // "model mnist/mlp:3", "dataset ... file F"
};

struct BlobReport {
  int64_t blobs_checked = 0;
  int64_t bytes_checked = 0;
  std::vector<BlobProblem> problems;  // empty when every blob is intact
};

class Store {
 public:
  // 1: records, aliases, logs, tasks. 2: + predictions. Opening an older
  // registry for writing migrates it; read-only opens read it as it is.
  static constexpr int kSchemaVersion = 2;
  static constexpr absl::string_view kDefaultProject = "default";

  // $TRAINBUS_REGISTRY_DIR, else $XDG_DATA_HOME/trainbus/registry, else
  // $HOME/.local/share/trainbus/registry, else ./trainbus-registry.
  static std::string DefaultRoot();

  // Creates the directory, database and schema if missing. Fails with
  // DataLoss naming the file when it is corrupt or not a trainbus registry.
  static absl::StatusOr<std::unique_ptr<Store>> Open(StoreOptions options);
  ~Store();

  const std::string& root() const { return root_; }
  const std::string& database_path() const { return db_path_; }
  const BlobStore& blobs() const { return blobs_; }
  int64_t NowNanos() const { return clock_->NowNanos(); }
  bool read_only() const { return read_only_; }

  // ---- Datasets ----------------------------------------------------------
  // An empty project means kDefaultProject (in every call below).
  absl::StatusOr<int64_t> SaveDataset(absl::string_view project,
                                      absl::string_view name,
                                      const std::vector<DatasetFile>& files,
                                      const KeyValues& kv);
  // Reads the files (for example IDX files); each is stored under its base
  // name.
  absl::StatusOr<int64_t> SaveDatasetFromPaths(
      absl::string_view project, absl::string_view name,
      const std::vector<std::string>& paths, const KeyValues& kv);
  // version 0 means the latest.
  absl::StatusOr<DatasetRecord> FindDataset(absl::string_view project,
                                            absl::string_view name,
                                            int64_t version = 0);
  absl::StatusOr<std::vector<DatasetRecord>> ListDatasetVersions(
      absl::string_view project, absl::string_view name);
  absl::StatusOr<std::vector<DatasetRecord>> FindDatasets(const Query& query);
  // Any blob by its sha256, verified.
  absl::StatusOr<std::string> LoadBlob(absl::string_view sha256) const;
  // Reads every blob that a model or dataset refers to and checks its size
  // and sha256. Problems are part of the report, not an error status.
  absl::StatusOr<BlobReport> VerifyBlobs();

  // ---- Models ------------------------------------------------------------
  absl::StatusOr<int64_t> SaveModel(absl::string_view project,
                                    absl::string_view name,
                                    absl::string_view arch,
                                    absl::string_view checkpoint,
                                    const KeyValues& kv);
  absl::StatusOr<std::vector<ModelRecord>> FindModels(const Query& query);
  // version 0 means the latest.
  absl::StatusOr<ModelRecord> GetModel(absl::string_view project,
                                       absl::string_view name,
                                       int64_t version = 0);
  // ref is "name", "name:version" or "name@alias".
  absl::StatusOr<ModelRecord> GetModelByRef(absl::string_view project,
                                            absl::string_view ref);
  // The checkpoint bytes, verified against their sha256.
  absl::StatusOr<std::string> LoadModelBlob(absl::string_view project,
                                            absl::string_view name,
                                            int64_t version = 0);
  // Points `alias` (e.g. "production", "best") at an existing version.
  absl::Status SetAlias(absl::string_view project, absl::string_view name,
                        absl::string_view alias, int64_t version);
  absl::StatusOr<int64_t> ResolveAlias(absl::string_view project,
                                       absl::string_view name,
                                       absl::string_view alias);
  // Deletes the matching models, their aliases and the blobs no other record
  // uses. An empty filter is refused. Returns how many were deleted.
  absl::StatusOr<int64_t> DeleteModels(absl::string_view filter);

  // ---- Logs --------------------------------------------------------------
  absl::Status AppendLog(const LogEntry& entry);
  // All entries in one transaction.
  absl::Status AppendLogs(const std::vector<LogEntry>& entries);
  // Default order: by id (insertion order).
  absl::StatusOr<std::vector<LogEntry>> QueryLogs(const Query& query);
  // An empty filter is refused. Returns how many were deleted.
  absl::StatusOr<int64_t> DeleteLogs(absl::string_view filter);

  // ---- Predictions (batch inference) -------------------------------------
  // Writes `rows` as one new batch in one transaction: a crash leaves all
  // of them or none. Returns the batch id. `batch.rows`/`errors` are
  // ignored (they are counted from `rows`).
  absl::StatusOr<int64_t> AppendPredictionBatch(
      const PredictionBatch& batch, const std::vector<PredictionRow>& rows);
  // Batches by id, oldest first; only those of `run` when it is not empty.
  // A registry older than predictions (schema 1, read-only) has none.
  absl::StatusOr<std::vector<PredictionBatch>> ListPredictionBatches(
      absl::string_view run = "", int64_t limit = 0);
  absl::StatusOr<PredictionBatch> GetPredictionBatch(int64_t batch);
  // The rows of a batch in input order; NotFound for an unknown batch.
  absl::StatusOr<std::vector<PredictionRow>> GetPredictions(int64_t batch);

  // ---- Tasks -------------------------------------------------------------
  absl::StatusOr<int64_t> CreateTask(const TaskSpec& spec);
  // Atomically takes the oldest pending task (after returning tasks whose
  // lease expired to pending, or to failed when out of attempts), marks it
  // running for `runner_id` until now + lease, and counts the attempt.
  // nullopt when nothing is pending.
  absl::StatusOr<std::optional<Task>> ClaimTask(absl::string_view runner_id,
                                                absl::Duration lease);
  // Extends the lease by its original duration. FailedPrecondition when the
  // runner no longer holds the lease (expired or claimed by someone else):
  // the runner should stop working on the task.
  absl::Status Heartbeat(int64_t task_id, absl::string_view runner_id);
  // Marks the task done, keeping only its result keys (all when none were
  // given), and links the model the task saved, if any.
  absl::Status FinishTask(int64_t task_id, absl::string_view runner_id,
                          const KeyValues& results,
                          absl::string_view model_name = "",
                          int64_t model_version = 0);
  // Records `error`; the task returns to pending while attempts remain and
  // `retry` is true, else it becomes failed.
  absl::Status FailTask(int64_t task_id, absl::string_view runner_id,
                        absl::string_view error, bool retry = true);
  // How many tasks are pending or running (after expiring leases).
  absl::StatusOr<int64_t> CheckUnfinished();
  absl::StatusOr<Task> GetTask(int64_t task_id);
  // Default order: by id.
  absl::StatusOr<std::vector<Task>> ListTasks(const Query& query);

  // ---- Runs --------------------------------------------------------------
  // A topology run and its manifest. The tables were added after schema 1
  // without changing it: any writable open creates them, so older registry
  // directories gain them and older builds simply ignore them.
  //
  // Records a run as running, started now; returns its id (from 1).
  absl::StatusOr<int64_t> CreateRun(absl::string_view project,
                                    absl::string_view name,
                                    absl::string_view manifest);
  // Ends a running run: its final manifest and state, and its final
  // checkpoints stored as blobs, each named by its model (kept while the run
  // exists, whatever happens to saved models). Returns their references.
  absl::StatusOr<std::vector<BlobRef>> FinishRun(
      int64_t run_id, RunState state, absl::string_view manifest,
      const std::vector<DatasetFile>& checkpoints);
  // NotFound names the id and the registry.
  absl::StatusOr<RunRecord> GetRun(int64_t run_id);
  // Newest first; limit 0: all.
  absl::StatusOr<std::vector<RunRecord>> ListRuns(int64_t limit = 0);

 private:
  Store(std::string root, std::string db_path, std::unique_ptr<SqliteDb> db,
        BlobStore blobs, const base::Clock* clock, bool read_only);

  // Runs `fn` (which returns a StatusOr) under the lock in a read
  // transaction, committed when `fn` succeeds.
  template <typename Fn>
  auto Read(Fn fn) -> decltype(fn());
  absl::Status InitSchema() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckSchema() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Begins a transaction for reading tasks; a writable store first returns
  // expired leases to pending (or failed).
  absl::Status BeginReadingTasks(SqliteTxn& txn, int64_t now_ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string root_;
  const std::string db_path_;
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
  BlobStore blobs_;
  const base::Clock* clock_;
  const bool read_only_;
  std::function<void(int64_t, size_t)> prediction_fault_hook_;
};

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_STORE_H_
