// The crash loop's writer: RunWriter and DrainTasks (registry_crash.h).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/hash.h"
#include "base/status_macros.h"
#include "registry/store.h"
#include "tools/soak/journal_format.h"
#include "tools/soak/registry_crash.h"

namespace trainbus::soak {
namespace {

using registry::Store;

// Appends lines with one write(2) each, every one ending in kLineEnd (a
// kill -9 can still cut the last one short: journal_format.h).
class Journal {
 public:
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot open journal '", path, "': ",
                       std::strerror(errno), "; pass a writable path"));
    }
    std::unique_ptr<Journal> journal(new Journal(fd, path));
    TB_RETURN_IF_ERROR(journal->EndTornLine());
    return journal;
  }
  ~Journal() { ::close(fd_); }

  absl::Status Add(const std::string& line) {
    return Write(absl::StrCat(line, " ", kLineEnd, "\n"));
  }

 private:
  Journal(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  // A killed writer's last line may be cut short; put ours on a line of
  // their own.
  absl::Status EndTornLine() {
    const off_t size = ::lseek(fd_, 0, SEEK_END);
    char last = '\n';
    if (size > 0 && ::pread(fd_, &last, 1, size - 1) != 1) {
      return absl::InternalError(absl::StrCat(
          "cannot read journal '", path_, "': ", std::strerror(errno)));
    }
    return last == '\n' ? absl::OkStatus() : Write("\n");
  }

  absl::Status Write(const std::string& text) {
    if (::write(fd_, text.data(), text.size()) !=
        static_cast<ssize_t>(text.size())) {
      return absl::InternalError(absl::StrCat(
          "cannot append to journal '", path_, "': ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }


  int fd_;
  std::string path_;
};

// SplitMix64 as a stream: reproducible per seed, and writers with nearby
// seeds start far apart (their checkpoints differ; equal ones would share a
// blob, which the store handles too).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(base::SplitMix64(seed)) {}
  uint64_t Next() { return base::SplitMix64(state_++); }
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

struct Writer {
  const WriterOptions& options;
  Store& store;
  Journal& journal;
  Rng rng;
  int64_t ops = 0;

  std::string Runner() const { return absl::StrCat("writer-", options.seed); }

  absl::Status SaveModel() {
    std::string checkpoint(256 + rng.Below(16384), '\0');
    for (char& c : checkpoint) c = static_cast<char>(rng.Next());
    const std::string name = absl::StrCat("m", rng.Below(4));
    TB_ASSIGN_OR_RETURN(
        int64_t version,
        store.SaveModel("", name, "softmax", checkpoint,
                        {{"writer", absl::StrCat(options.seed)}}));
    return journal.Add(ModelLine(name, version,
                                 registry::BlobStore::Sha256Hex(checkpoint),
                                 static_cast<int64_t>(checkpoint.size())));
  }

  absl::Status AppendLogs() {
    const int64_t batch =
        static_cast<int64_t>(options.seed) * kBatchesPerWriter + ops;
    std::vector<registry::LogEntry> entries(LogBatchSize(batch));
    for (size_t i = 0; i < entries.size(); ++i) {
      entries[i].model = std::string(kLogModel);
      entries[i].step = batch * kLogStepsPerBatch + static_cast<int64_t>(i);
      entries[i].metrics = {{"loss", absl::StrCat(rng.Below(1000))}};
    }
    TB_RETURN_IF_ERROR(store.AppendLogs(entries));
    return journal.Add(LogsLine(batch));
  }

  absl::Status AppendPredictions() {
    std::vector<registry::PredictionRow> rows(1 + rng.Below(40));
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i].input = absl::StrCat("crash:", options.seed, ":", ops, ":", i);
      rows[i].label = static_cast<int32_t>(i % 10);
      rows[i].scores = "[1]";
    }
    registry::PredictionBatch batch;
    batch.run = "crash";
    batch.model = "m0";
    batch.model_version = 1;
    TB_ASSIGN_OR_RETURN(int64_t id, store.AppendPredictionBatch(batch, rows));
    return journal.Add(PredictionsLine(id, static_cast<int64_t>(rows.size())));
  }

  // Claims a task and finishes it, recording the attempt as its result; with
  // nothing pending, queues four more.
  absl::Status RunTask() {
    TB_ASSIGN_OR_RETURN(std::optional<registry::Task> task,
                        store.ClaimTask(Runner(), options.lease));
    if (!task) return CreateTasks(4);
    return Finish(*task);
  }

  // Journals the claim, finishes the task with its attempt as the result,
  // and journals that.
  absl::Status Finish(const registry::Task& task) {
    TB_RETURN_IF_ERROR(journal.Add(ClaimLine(task.id, task.attempts)));
    TB_RETURN_IF_ERROR(store.FinishTask(
        task.id, Runner(),
        {{std::string(kAttemptKey), absl::StrCat(task.attempts)}}));
    return journal.Add(FinishLine(task.id, task.attempts));
  }

  absl::Status CreateTasks(int n) {
    for (int i = 0; i < n; ++i) {
      registry::TaskSpec spec;
      spec.name = "crash-task";
      spec.experiment = "crash";
      spec.max_attempts = 1000;
      TB_ASSIGN_OR_RETURN(int64_t id, store.CreateTask(spec));
      TB_RETURN_IF_ERROR(journal.Add(CreateLine(id)));
    }
    return absl::OkStatus();
  }

  absl::Status Step() {
    ++ops;
    switch (rng.Below(4)) {
      case 0: return SaveModel();
      case 1: return AppendLogs();
      case 2: return AppendPredictions();
      default: return RunTask();
    }
  }
};

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const WriterOptions& options) {
  registry::StoreOptions store_options;
  store_options.root = options.registry_dir;
  return Store::Open(std::move(store_options));
}

}  // namespace

absl::Status RunWriter(const WriterOptions& options) {
  if (options.seed == 0 || options.seed >= 1000000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "writer seed ", options.seed, " is out of range; pass 1..999999"));
  }
  TB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenStore(options));
  TB_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                      Journal::Open(options.journal));
  Writer w{options, *store, *journal, Rng(options.seed)};
  if (!options.ready_file.empty()) {
    const int fd = ::open(options.ready_file.c_str(),
                          O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create ready file '", options.ready_file, "': ",
          std::strerror(errno)));
    }
    ::close(fd);
  }
  while (options.max_ops == 0 || w.ops < options.max_ops) {
    TB_RETURN_IF_ERROR(w.Step());
  }
  return absl::OkStatus();
}

absl::Status DrainTasks(const WriterOptions& options, absl::Duration within) {
  TB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenStore(options));
  TB_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                      Journal::Open(options.journal));
  Writer w{options, *store, *journal, Rng(options.seed)};
  const absl::Time deadline = absl::Now() + within;
  while (true) {
    TB_ASSIGN_OR_RETURN(std::optional<registry::Task> task,
                        store->ClaimTask(w.Runner(), options.lease));
    if (task) {
      TB_RETURN_IF_ERROR(w.Finish(*task));
      continue;
    }
    TB_ASSIGN_OR_RETURN(int64_t open, store->CheckUnfinished());
    if (open == 0) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          open, " tasks are still running after ", absl::FormatDuration(within),
          " (their leases have not expired); drain again later"));
    }
    // A killed writer's lease runs out within options.lease.
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace trainbus::soak
