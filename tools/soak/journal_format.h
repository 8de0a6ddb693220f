// The crash loop's journal: one line per committed registry write, written
// by the writer after the commit and read back by the checker.
//
//   model NAME VERSION SHA256 SIZE   SaveModel
//   logs BATCH                       AppendLogs of LogBatchSize(BATCH) entries
//   predictions BATCH ROWS           AppendPredictionBatch
//   create TASK                      CreateTask
//   claim TASK ATTEMPT               ClaimTask returned TASK on that attempt
//   finish TASK ATTEMPT              FinishTask by that attempt's runner
//
// Each line ends in " $" (kLineEnd). A kill -9 can cut a write(2) short at a
// page boundary (the kernel checks for a fatal signal between pages), so a
// line without its end is a torn journal write: the checker skips it (its
// commit counts as unjournaled), and the next writer starts on a new line.
#ifndef TRAINBUS_TOOLS_SOAK_JOURNAL_FORMAT_H_
#define TRAINBUS_TOOLS_SOAK_JOURNAL_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace trainbus::soak {

// Log entries of the crash loop are this model's; entry i of batch B has
// step B * kLogStepsPerBatch + i, so a batch is recognisable in the table.
inline constexpr absl::string_view kLogModel = "crash-logs";
inline constexpr int64_t kLogStepsPerBatch = 100;
// Writer W numbers its log batches W * kBatchesPerWriter + op.
inline constexpr int64_t kBatchesPerWriter = 1000000;
// The last field of every whole journal line.
inline constexpr absl::string_view kLineEnd = "$";
// The result key a finished task records its attempt under.
inline constexpr absl::string_view kAttemptKey = "attempt";

// Entries in log batch `batch`: 1 to 16, so a torn batch shows.
inline size_t LogBatchSize(int64_t batch) {
  return 1 + static_cast<size_t>(batch % 16);
}

inline std::string ModelLine(absl::string_view name, int64_t version,
                             absl::string_view sha256, int64_t size) {
  return absl::StrCat("model ", name, " ", version, " ", sha256, " ", size);
}
inline std::string LogsLine(int64_t batch) {
  return absl::StrCat("logs ", batch);
}
inline std::string PredictionsLine(int64_t batch, int64_t rows) {
  return absl::StrCat("predictions ", batch, " ", rows);
}
inline std::string CreateLine(int64_t task) {
  return absl::StrCat("create ", task);
}
inline std::string ClaimLine(int64_t task, int64_t attempt) {
  return absl::StrCat("claim ", task, " ", attempt);
}
inline std::string FinishLine(int64_t task, int64_t attempt) {
  return absl::StrCat("finish ", task, " ", attempt);
}

}  // namespace trainbus::soak

#endif  // TRAINBUS_TOOLS_SOAK_JOURNAL_FORMAT_H_
