// The registry crash loop's two halves (tools/soak/crash_loop.sh):
//
//   * a writer that loops the registry's writes (SaveModel, AppendLogs,
//     ClaimTask + FinishTask, AppendPredictionBatch) until it is killed, and
//     appends one journal line after each commit, so the journal holds only
//     what the registry acknowledged;
//   * a checker that reopens the registry after a kill -9 and says what is
//     wrong: SQLite's integrity_check, blobs that do not hash to their name,
//     records whose blob is missing or corrupt, journaled commits that are
//     gone, log and prediction batches that are not all-or-nothing, tasks
//     claimed twice, finished twice or lost.
//
//   WriterOptions w;
//   w.registry_dir = dir;
//   w.journal = dir + "/journal";
//   w.seed = 7;
//   absl::Status s = RunWriter(w);           // returns only on an error
//   absl::StatusOr<CheckReport> r = CheckRegistry(dir, w.journal, false);
//   if (r.ok() && !r->problems.empty()) ... // the registry lost something
#ifndef TRAINBUS_TOOLS_SOAK_REGISTRY_CRASH_H_
#define TRAINBUS_TOOLS_SOAK_REGISTRY_CRASH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace trainbus::soak {

struct WriterOptions {
  std::string registry_dir;
  std::string journal;  // appended to; created if missing
  // Picks the operations and their sizes; also numbers this writer's log
  // batches, so give every writer of one registry its own seed (< 10^6).
  uint64_t seed = 1;
  // Operations before RunWriter returns OK; 0: until killed.
  int64_t max_ops = 0;
  // A killed writer's task returns to pending this long after its claim.
  absl::Duration lease = absl::Milliseconds(100);
  // Created once the registry is open, just before the first write, so a
  // crash loop can time its kill from there (empty: none).
  std::string ready_file;
};

// Loops writes against the registry, journaling each one after it commits.
absl::Status RunWriter(const WriterOptions& options);

// Claims and finishes every task left pending or running (once its lease has
// expired) by killed writers; DeadlineExceeded if some remain after `within`.
absl::Status DrainTasks(const WriterOptions& options, absl::Duration within);

struct CheckReport {
  int64_t journal_lines = 0;
  int64_t torn_journal_lines = 0;  // cut short by a kill; their commits unjournaled
  int64_t temp_files = 0;  // left by killed writers; removed by the next open
  int64_t blobs = 0;
  int64_t blob_bytes = 0;
  int64_t models = 0;
  int64_t log_batches = 0;
  int64_t prediction_batches = 0;
  int64_t tasks = 0;
  int64_t tasks_done_first_claim = 0;  // done, claimed once
  int64_t tasks_done_rerun = 0;        // done after a lease expired
  int64_t tasks_open = 0;              // pending or running
  // Committed but not journaled: the writer died between the two.
  int64_t unjournaled = 0;
  std::vector<std::string> problems;  // empty: nothing lost or corrupt
};

// Checks the registry against the journal. `final`: every task must be done
// (after DrainTasks). Problems are in the report; a status error means the
// check itself could not run (the registry cannot be opened at all).
absl::StatusOr<CheckReport> CheckRegistry(const std::string& registry_dir,
                                          const std::string& journal,
                                          bool final);

// One line of counts, then one line per problem.
std::string FormatReport(const CheckReport& report);

}  // namespace trainbus::soak

#endif  // TRAINBUS_TOOLS_SOAK_REGISTRY_CRASH_H_
