// The crash loop's checker: CheckRegistry (registry_crash.h). It reads the
// database with SQLite directly (its own queries are about the crash loop's
// records, not the store's API) and the blobs through the store.
#include <dirent.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "registry/store.h"
#include "tools/soak/journal_format.h"
#include "tools/soak/registry_crash.h"

namespace trainbus::soak {
namespace {

using Row = std::vector<std::string>;

// What the journal says was committed.
struct Journaled {
  std::map<std::string, std::pair<std::string, int64_t>> models;  // "m1:3"
  std::set<int64_t> log_batches;
  std::map<int64_t, int64_t> prediction_batches;  // id -> rows
  std::set<int64_t> created;
  std::map<int64_t, std::vector<int64_t>> claims;  // task -> attempts, in order
  std::map<int64_t, std::vector<int64_t>> finishes;
  int64_t lines = 0;
  int64_t torn = 0;
};

int64_t ToInt(absl::string_view text) {
  int64_t v = -1;
  return absl::SimpleAtoi(text, &v) ? v : -1;
}

std::string ModelKey(absl::string_view name, absl::string_view version) {
  return absl::StrCat(name, ":", version);
}

// A line without kLineEnd is a journal write the kill cut short: skipped.
absl::StatusOr<Journaled> ReadJournal(const std::string& path) {
  std::ifstream in(path);
  Journaled j;
  if (!in) return j;  // no writer got as far as its first commit
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  lines.pop_back();  // after the last newline: empty, or cut short
  for (const std::string& line : lines) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() < 2 || f.back() != kLineEnd) {
      ++j.torn;  // a write the kill cut short
      continue;
    }
    f.pop_back();
    ++j.lines;
    if (f[0] == "model" && f.size() == 5) {
      j.models[ModelKey(f[1], f[2])] = {f[3], ToInt(f[4])};
    } else if (f[0] == "logs" && f.size() == 2) {
      j.log_batches.insert(ToInt(f[1]));
    } else if (f[0] == "predictions" && f.size() == 3) {
      j.prediction_batches[ToInt(f[1])] = ToInt(f[2]);
    } else if (f[0] == "create" && f.size() == 2) {
      j.created.insert(ToInt(f[1]));
    } else if (f[0] == "claim" && f.size() == 3) {
      j.claims[ToInt(f[1])].push_back(ToInt(f[2]));
    } else if (f[0] == "finish" && f.size() == 3) {
      j.finishes[ToInt(f[1])].push_back(ToInt(f[2]));
    } else {
      return absl::DataLossError(absl::StrCat(
          "journal '", path, "' line ", j.lines, " is not a journal line: '",
          line, "'; start the crash loop in an empty directory"));
    }
  }
  return j;
}

class Db {
 public:
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE,
                                   nullptr);
    std::unique_ptr<Db> out(new Db(db));
    if (rc != SQLITE_OK) {
      return absl::DataLossError(absl::StrCat(
          "cannot open registry database '", path, "': ", sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(db, 10000);
    return out;
  }
  ~Db() { sqlite3_close(db_); }

  absl::StatusOr<std::vector<Row>> Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return absl::InternalError(
          absl::StrCat("'", sql, "': ", sqlite3_errmsg(db_)));
    }
    std::vector<Row> rows;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      Row row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* text = sqlite3_column_text(stmt, i);
        row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) {
      return absl::DataLossError(
          absl::StrCat("'", sql, "': ", sqlite3_errmsg(db_)));
    }
    return rows;
  }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

struct Checker {
  Db& db;
  registry::Store& store;
  const Journaled& journal;
  CheckReport& report;

  void Problem(std::string text) { report.problems.push_back(std::move(text)); }

  absl::Status CheckIntegrity() {
    TB_ASSIGN_OR_RETURN(std::vector<Row> rows, db.Query("PRAGMA integrity_check"));
    for (const Row& r : rows) {
      if (r[0] != "ok") Problem(absl::StrCat("integrity_check: ", r[0]));
    }
    TB_ASSIGN_OR_RETURN(rows, db.Query("PRAGMA foreign_key_check"));
    for (const Row& r : rows) {
      Problem(absl::StrCat("foreign_key_check: a row of ", r[0],
                           " refers to a missing row of ", r[2]));
    }
    return absl::OkStatus();
  }

  // Every file under a final name must hash to it; records must find theirs.
  absl::Status CheckBlobs() {
    const std::string& dir = store.blobs().dir();
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) return absl::NotFoundError(absl::StrCat("no blob directory ", dir));
    while (dirent* e = ::readdir(d.get())) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      if (absl::StartsWith(name, registry::BlobStore::kTempPrefix)) {
        Problem(absl::StrCat("temporary blob ", name, " survived a reopen"));
        continue;
      }
      struct stat st;
      if (::stat(store.blobs().PathFor(name).c_str(), &st) != 0) continue;
      ++report.blobs;
      report.blob_bytes += st.st_size;
      absl::Status s = store.blobs().Check(name, st.st_size);
      if (!s.ok()) Problem(absl::StrCat("partial or corrupt blob: ", s.message()));
    }
    TB_ASSIGN_OR_RETURN(registry::BlobReport blobs, store.VerifyBlobs());
    for (const registry::BlobProblem& p : blobs.problems) {
      Problem(absl::StrCat("record's blob ", p.sha256, ": ", p.problem));
    }
    return absl::OkStatus();
  }

  absl::Status CheckModels() {
    TB_ASSIGN_OR_RETURN(
        std::vector<Row> rows,
        db.Query("SELECT name, version, blob, blob_size FROM records WHERE "
                 "kind = 'model'"));
    std::map<std::string, std::pair<std::string, int64_t>> stored;
    for (const Row& r : rows) {
      stored[ModelKey(r[0], r[1])] = {r[2], ToInt(r[3])};
    }
    report.models = static_cast<int64_t>(stored.size());
    for (const auto& [key, blob] : journal.models) {
      auto it = stored.find(key);
      if (it == stored.end()) {
        Problem(absl::StrCat("committed model ", key, " is gone"));
      } else if (it->second != blob) {
        Problem(absl::StrCat("model ", key, " points at blob ", it->second.first,
                             ", was committed with ", blob.first));
      }
    }
    report.unjournaled += report.models - static_cast<int64_t>(journal.models.size());
    return absl::OkStatus();
  }

  absl::Status CheckLogs() {
    TB_ASSIGN_OR_RETURN(
        std::vector<Row> rows,
        db.Query(absl::StrCat("SELECT step / ", kLogStepsPerBatch,
                              ", count(*) FROM logs WHERE model = '", kLogModel,
                              "' GROUP BY 1")));
    std::set<int64_t> stored;
    for (const Row& r : rows) {
      const int64_t batch = ToInt(r[0]);
      stored.insert(batch);
      if (ToInt(r[1]) != static_cast<int64_t>(LogBatchSize(batch))) {
        Problem(absl::StrCat("log batch ", batch, " has ", r[1], " of ",
                             LogBatchSize(batch), " entries"));
      }
    }
    report.log_batches = static_cast<int64_t>(stored.size());
    for (int64_t batch : journal.log_batches) {
      if (!stored.count(batch)) Problem(absl::StrCat("committed log batch ", batch, " is gone"));
    }
    TB_ASSIGN_OR_RETURN(
        rows, db.Query("SELECT count(*) FROM logs WHERE id NOT IN (SELECT "
                       "owner FROM log_kv)"));
    if (rows[0][0] != "0") Problem(absl::StrCat(rows[0][0], " log entries lost their metrics"));
    report.unjournaled += report.log_batches - static_cast<int64_t>(journal.log_batches.size());
    return absl::OkStatus();
  }

  absl::Status CheckPredictions() {
    TB_ASSIGN_OR_RETURN(
        std::vector<Row> rows,
        db.Query("SELECT b.id, b.rows, (SELECT count(*) FROM predictions p "
                 "WHERE p.batch = b.id) FROM prediction_batches b"));
    std::map<int64_t, int64_t> stored;
    for (const Row& r : rows) {
      stored[ToInt(r[0])] = ToInt(r[1]);
      if (r[1] != r[2]) {
        Problem(absl::StrCat("prediction batch ", r[0], " has ", r[2], " of ",
                             r[1], " rows"));
      }
    }
    report.prediction_batches = static_cast<int64_t>(stored.size());
    for (const auto& [batch, n] : journal.prediction_batches) {
      auto it = stored.find(batch);
      if (it == stored.end() || it->second != n) {
        Problem(absl::StrCat("committed prediction batch ", batch, " of ", n,
                             " rows is gone or changed"));
      }
    }
    TB_ASSIGN_OR_RETURN(
        rows, db.Query("SELECT count(*) FROM predictions WHERE batch NOT IN "
                       "(SELECT id FROM prediction_batches)"));
    if (rows[0][0] != "0") Problem(absl::StrCat(rows[0][0], " predictions have no batch"));
    report.unjournaled += report.prediction_batches -
                          static_cast<int64_t>(journal.prediction_batches.size());
    return absl::OkStatus();
  }

  // One task against its journal lines: claims strictly increasing (the same
  // attempt twice is a double claim), finished once, by its last claim.
  void CheckTask(int64_t id, const std::string& state, int64_t attempts,
                 int64_t result_attempt, bool final) {
    auto claims = journal.claims.find(id);
    if (claims != journal.claims.end()) {
      const std::vector<int64_t>& a = claims->second;
      for (size_t i = 1; i < a.size(); ++i) {
        if (a[i] <= a[i - 1]) {
          Problem(absl::StrCat("task ", id, " was claimed twice on attempt ", a[i]));
        }
      }
      if (a.back() > attempts) {
        Problem(absl::StrCat("task ", id, " counts ", attempts,
                             " attempts, journaled ", a.back()));
      }
    }
    auto finishes = journal.finishes.find(id);
    const size_t finished = finishes == journal.finishes.end() ? 0 : finishes->second.size();
    if (finished > 1) Problem(absl::StrCat("task ", id, " finished ", finished, " times"));
    if (finished == 1 && state != "done") {
      Problem(absl::StrCat("task ", id, " was finished but is ", state));
    }
    if (state == "done") {
      if (result_attempt != attempts) {
        Problem(absl::StrCat("task ", id, " is done by attempt ", result_attempt,
                             " but was claimed ", attempts, " times"));
      }
      ++(attempts == 1 ? report.tasks_done_first_claim : report.tasks_done_rerun);
    } else if (state == "pending" || state == "running") {
      ++report.tasks_open;
      if (final) Problem(absl::StrCat("task ", id, " is still ", state, " after the drain"));
    } else {
      Problem(absl::StrCat("task ", id, " is ", state));
    }
  }

  absl::Status CheckTasks(bool final) {
    TB_ASSIGN_OR_RETURN(
        std::vector<Row> rows,
        db.Query(absl::StrCat(
            "SELECT t.id, t.state, t.attempts, (SELECT text_value FROM task_kv "
            "WHERE owner = t.id AND section = 'result' AND key = '",
            kAttemptKey, "') FROM tasks t")));
    std::set<int64_t> stored;
    for (const Row& r : rows) {
      stored.insert(ToInt(r[0]));
      CheckTask(ToInt(r[0]), r[1], ToInt(r[2]), ToInt(r[3]), final);
    }
    report.tasks = static_cast<int64_t>(stored.size());
    for (int64_t id : journal.created) {
      if (!stored.count(id)) Problem(absl::StrCat("created task ", id, " is gone"));
    }
    report.unjournaled += report.tasks - static_cast<int64_t>(journal.created.size());
    return absl::OkStatus();
  }
};

int64_t CountTempFiles(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  int64_t n = 0;
  while (dirent* e = d ? ::readdir(d.get()) : nullptr) {
    n += absl::StartsWith(e->d_name, registry::BlobStore::kTempPrefix);
  }
  return n;
}

}  // namespace

absl::StatusOr<CheckReport> CheckRegistry(const std::string& registry_dir,
                                          const std::string& journal_path,
                                          bool final) {
  CheckReport report;
  TB_ASSIGN_OR_RETURN(Journaled journal, ReadJournal(journal_path));
  report.journal_lines = journal.lines;
  report.torn_journal_lines = journal.torn;
  // Counted before the store's open removes them, as the next writer's would.
  report.temp_files = CountTempFiles(registry_dir + "/blobs");
  registry::StoreOptions options;
  options.root = registry_dir;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<registry::Store>> opened =
      registry::Store::Open(std::move(options));
  // A writer killed before it created the registry committed nothing.
  if (absl::IsNotFound(opened.status()) && journal.lines == 0) return report;
  TB_ASSIGN_OR_RETURN(std::unique_ptr<registry::Store> store, std::move(opened));
  TB_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(store->database_path()));
  Checker c{*db, *store, journal, report};
  TB_RETURN_IF_ERROR(c.CheckIntegrity());
  TB_RETURN_IF_ERROR(c.CheckBlobs());
  TB_RETURN_IF_ERROR(c.CheckModels());
  TB_RETURN_IF_ERROR(c.CheckLogs());
  TB_RETURN_IF_ERROR(c.CheckPredictions());
  TB_RETURN_IF_ERROR(c.CheckTasks(final));
  return report;
}

std::string FormatReport(const CheckReport& r) {
  std::string out = absl::StrCat(
      r.problems.empty() ? "ok" : "PROBLEMS", ": journal ", r.journal_lines,
      " lines (", r.torn_journal_lines, " cut short by a kill); ", r.blobs, " blobs (", r.blob_bytes, " bytes), ", r.temp_files,
      " temporary files removed; ", r.models, " models, ", r.log_batches,
      " log batches, ", r.prediction_batches, " prediction batches; ", r.tasks,
      " tasks: ", r.tasks_done_first_claim, " done on the first claim, ",
      r.tasks_done_rerun, " done after a re-run, ", r.tasks_open,
      " open; ", r.unjournaled, " committed but not journaled; ",
      r.problems.size(), " problems\n");
  for (const std::string& p : r.problems) absl::StrAppend(&out, "  ", p, "\n");
  return out;
}

}  // namespace trainbus::soak
