#include "registry/store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "registry/filter.h"
#include "registry/query_sql.h"
#include "base/status_macros.h"

namespace trainbus::registry {
namespace {

// "TRBS": marks the database as a trainbus registry.
constexpr int64_t kApplicationId = 0x54524253;

constexpr absl::string_view kSchema = R"sql(
CREATE TABLE counters(
  kind TEXT NOT NULL, project TEXT NOT NULL, name TEXT NOT NULL,
  last_version INTEGER NOT NULL,
  PRIMARY KEY (kind, project, name)) WITHOUT ROWID;
CREATE TABLE records(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,            -- 'dataset' or 'model'
  project TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,
  time_ns INTEGER NOT NULL,
  arch TEXT NOT NULL DEFAULT '',
  blob TEXT NOT NULL DEFAULT '', blob_size INTEGER NOT NULL DEFAULT 0,
  UNIQUE (kind, project, name, version));
CREATE INDEX records_blob ON records(blob);
CREATE TABLE record_kv(
  owner INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  key TEXT NOT NULL, num_value REAL, text_value TEXT NOT NULL,
  PRIMARY KEY (owner, key)) WITHOUT ROWID;
CREATE INDEX record_kv_key ON record_kv(key, num_value);
CREATE TABLE dataset_files(
  owner INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL, file_name TEXT NOT NULL, blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (owner, idx)) WITHOUT ROWID;
CREATE INDEX dataset_files_blob ON dataset_files(blob);
CREATE TABLE aliases(
  project TEXT NOT NULL, name TEXT NOT NULL, alias TEXT NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (project, name, alias)) WITHOUT ROWID;
CREATE TABLE logs(
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL, kind TEXT NOT NULL, model TEXT NOT NULL,
  model_version INTEGER NOT NULL, step INTEGER NOT NULL,
  time_ns INTEGER NOT NULL);
CREATE INDEX logs_model ON logs(project, model, model_version, step);
CREATE TABLE log_kv(
  owner INTEGER NOT NULL REFERENCES logs(id) ON DELETE CASCADE,
  key TEXT NOT NULL, num_value REAL, text_value TEXT NOT NULL,
  PRIMARY KEY (owner, key)) WITHOUT ROWID;
CREATE TABLE tasks(
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL, name TEXT NOT NULL, experiment TEXT NOT NULL,
  state TEXT NOT NULL,           -- pending, running, done, failed
  attempts INTEGER NOT NULL DEFAULT 0, max_attempts INTEGER NOT NULL,
  runner TEXT NOT NULL DEFAULT '',
  lease_ns INTEGER NOT NULL DEFAULT 0,
  lease_expiry_ns INTEGER NOT NULL DEFAULT 0,
  created_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  result_keys TEXT NOT NULL DEFAULT '',
  model_name TEXT NOT NULL DEFAULT '', model_version INTEGER NOT NULL DEFAULT 0);
CREATE INDEX tasks_state ON tasks(state, id);
CREATE TABLE task_kv(
  owner INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  section TEXT NOT NULL,         -- 'hp' (hyperparameter) or 'result'
  key TEXT NOT NULL, num_value REAL, text_value TEXT NOT NULL,
  PRIMARY KEY (owner, section, key)) WITHOUT ROWID;
)sql";

// Additive (IF NOT EXISTS), outside the numbered schema steps: every writable
// open creates the tables when missing.
constexpr absl::string_view kRunsSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  project TEXT NOT NULL, name TEXT NOT NULL,
  state TEXT NOT NULL,           -- running, finished, failed
  started_ns INTEGER NOT NULL, finished_ns INTEGER NOT NULL DEFAULT 0,
  manifest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_blobs(
  owner INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  model TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
  PRIMARY KEY (owner, model)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_blobs_blob ON run_blobs(blob);
)sql";

// Schema 2: batch inference. A batch (one transaction) is a row of
// prediction_batches, so listing batches reads one row per batch; its inputs
// are rows of predictions, each complete on its own (model, version, time).
constexpr absl::string_view kPredictionsSchema = R"sql(
CREATE TABLE prediction_batches(
  id INTEGER PRIMARY KEY,        -- from counters: never reused
  run TEXT NOT NULL, project TEXT NOT NULL, model TEXT NOT NULL,
  model_version INTEGER NOT NULL, time_ns INTEGER NOT NULL,
  rows INTEGER NOT NULL, errors INTEGER NOT NULL);
CREATE INDEX prediction_batches_run ON prediction_batches(run, id);
CREATE TABLE predictions(
  id INTEGER PRIMARY KEY,
  batch INTEGER NOT NULL REFERENCES prediction_batches(id) ON DELETE CASCADE,
  input TEXT NOT NULL,           -- a file path, or idx:<file>:<index>
  label INTEGER NOT NULL,        -- -1 when error is set
  scores TEXT NOT NULL,          -- JSON array of class probabilities
  error TEXT NOT NULL DEFAULT '',
  project TEXT NOT NULL, model TEXT NOT NULL, model_version INTEGER NOT NULL,
  time_ns INTEGER NOT NULL);
CREATE INDEX predictions_batch ON predictions(batch, id);
)sql";

std::string ProjectOrDefault(absl::string_view project) {
  return project.empty() ? std::string(Store::kDefaultProject)
                         : std::string(project);
}

absl::Status ValidateName(absl::string_view what, absl::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " name is empty"));
  }
  for (char c : name) {
    if (c == ':' || c == '@' || c == ',' || static_cast<unsigned char>(c) < 32) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " name '", name,
                       "' contains ':', '@', ',' or a control character; "
                       "choose a plain name such as 'mlp-fashion'"));
    }
  }
  return absl::OkStatus();
}

SqlValue NumOrNull(const std::string& text) {
  std::optional<double> n = ParseNumber(text);
  if (n) return *n;
  return nullptr;
}

int64_t SqlLimit(int64_t limit) { return limit > 0 ? limit : -1; }

// Datasets and models: the columns of `records` they share, plus `extra`.
const TableSpec* NewRecordSpec(std::string what,
                               std::map<std::string, ColumnSpec> extra) {
  std::map<std::string, ColumnSpec> columns = {{"id", {"r.id", true}},
                                               {"project", {"r.project", false}},
                                               {"name", {"r.name", false}},
                                               {"version", {"r.version", true}},
                                               {"time", {"r.time_ns", true}}};
  columns.insert(extra.begin(), extra.end());
  return new TableSpec{std::move(what), "r", std::move(columns), "record_kv",
                       "r.id"};
}

const TableSpec& DatasetSpec() {
  static const TableSpec* spec = NewRecordSpec("datasets", {});
  return *spec;
}

const TableSpec& ModelSpec() {
  static const TableSpec* spec =
      NewRecordSpec("models", {{"arch", {"r.arch", false}}});
  return *spec;
}

const TableSpec& LogSpec() {
  static const TableSpec* spec = new TableSpec{
      "logs",
      "l",
      {{"id", {"l.id", true}},
       {"project", {"l.project", false}},
       {"kind", {"l.kind", false}},
       {"model", {"l.model", false}},
       {"name", {"l.model", false}},
       {"version", {"l.model_version", true}},
       {"step", {"l.step", true}},
       {"time", {"l.time_ns", true}}},
      "log_kv",
      "l.id"};
  return *spec;
}

const TableSpec& TaskTableSpec() {
  static const TableSpec* spec = new TableSpec{
      "tasks",
      "t",
      {{"id", {"t.id", true}},
       {"project", {"t.project", false}},
       {"name", {"t.name", false}},
       {"experiment", {"t.experiment", false}},
       {"state", {"t.state", false}},
       {"attempts", {"t.attempts", true}},
       {"max_attempts", {"t.max_attempts", true}},
       {"runner", {"t.runner", false}},
       {"lease_expiry", {"t.lease_expiry_ns", true}},
       {"time", {"t.created_ns", true}},
       {"updated", {"t.updated_ns", true}},
       {"model", {"t.model_name", false}}},
      "task_kv",
      "t.id"};
  return *spec;
}

absl::StatusOr<SqlQueryParts> CompileUserQuery(const TableSpec& spec,
                                               const Query& query,
                                               bool default_descending = false) {
  TB_ASSIGN_OR_RETURN(Filter filter, ParseFilter(query.filter));
  TB_ASSIGN_OR_RETURN(std::vector<SortKey> sort, ParseSort(query.sort));
  return CompileQuery(spec, filter, sort, default_descending);
}

// "a regular file of 12 bytes", "a directory", ...: what stands at a path.
std::string DescribeEntry(const std::filesystem::path& path,
                          std::filesystem::file_status st) {
  namespace fs = std::filesystem;
  switch (st.type()) {
    case fs::file_type::regular: {
      std::error_code ec;
      const uintmax_t size = fs::file_size(path, ec);
      std::ifstream in(path, std::ios::binary);
      char head[16] = {};
      in.read(head, sizeof(head));
      const bool sqlite = in.gcount() == 16 &&
                          std::memcmp(head, "SQLite format 3", 16) == 0;
      return absl::StrCat("a regular file of ", ec ? 0 : size, " bytes",
                          sqlite ? " (an SQLite database; pass the directory "
                                   "that holds it, not the file)"
                                 : "");
    }
    case fs::file_type::directory:
      return "a directory";
    case fs::file_type::symlink:
      return "a symbolic link";
    case fs::file_type::fifo:
      return "a named pipe";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::block:
    case fs::file_type::character:
      return "a device";
    default:
      return "not a directory";
  }
}

// The registry directory and its database must be a directory and a file.
// `must_exist`: a missing one is NotFound (read-only opens); else it is
// created.
absl::Status CheckRegistryPaths(const std::string& root,
                                const std::string& db_path, bool must_exist) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status root_st = fs::status(root, ec);
  if (!fs::exists(root_st)) {
    if (!must_exist) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat(
        "no registry at '", root,
        "': the directory does not exist; check --registry_dir (or "
        "$TRAINBUS_REGISTRY_DIR). A registry is created by the first command "
        "that saves to it, such as a sweep or `trainbus runner`"));
  }
  if (!fs::is_directory(root_st)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registry directory '", root, "' is ", DescribeEntry(root, root_st),
        ", not a directory; pass the directory that holds registry.db"));
  }
  const fs::file_status db_st = fs::status(db_path, ec);
  if (!fs::exists(db_st)) {
    if (!must_exist) return absl::OkStatus();
    return absl::NotFoundError(absl::StrCat(
        "no registry at '", root, "': the directory has no registry.db; check "
        "--registry_dir (a registry directory holds registry.db and blobs/)"));
  }
  if (!fs::is_regular_file(db_st)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registry database '", db_path, "' is ", DescribeEntry(db_path, db_st),
        ", not a file; move it away or pass another --registry_dir"));
  }
  return absl::OkStatus();
}

// Parses "name", "name:3" or "name@alias".
struct ModelRef {
  std::string name;
  int64_t version = 0;
  std::string alias;
};

absl::StatusOr<ModelRef> ParseModelRef(absl::string_view ref) {
  ModelRef out;
  size_t colon = ref.find(':');
  size_t at = ref.find('@');
  if (colon != absl::string_view::npos && at != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model reference '", ref, "': use name, name:version or name@alias"));
  }
  if (colon != absl::string_view::npos) {
    out.name = std::string(ref.substr(0, colon));
    if (!absl::SimpleAtoi(ref.substr(colon + 1), &out.version) ||
        out.version <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model reference '", ref, "': the version must be a number >= 1"));
    }
  } else if (at != absl::string_view::npos) {
    out.name = std::string(ref.substr(0, at));
    out.alias = std::string(ref.substr(at + 1));
    if (out.alias.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model reference '", ref, "': the alias is empty"));
    }
  } else {
    out.name = std::string(ref);
  }
  TB_RETURN_IF_ERROR(ValidateName("model", out.name));
  return out;
}

// The first column of the first row (0 when there is no row).
absl::StatusOr<int64_t> QueryInt(SqliteDb& db, const std::string& sql) {
  TB_ASSIGN_OR_RETURN(SqliteStmt stmt, db.Prepare(sql));
  TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

// Whether the runs tables exist: a registry made before they were added and
// opened read-only has none yet.
absl::StatusOr<bool> HasRunTables(SqliteDb& db) {
  TB_ASSIGN_OR_RETURN(
      int64_t n, QueryInt(db, "SELECT count(*) FROM sqlite_master WHERE type "
                              "= 'table' AND name IN ('runs', 'run_blobs')"));
  return n == 2;
}

// Calls `fn(stmt)` for every row the statement returns.
template <typename Fn>
absl::Status ForEachRow(SqliteStmt& stmt, Fn fn) {
  while (true) {
    TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::OkStatus();
    fn(stmt);
  }
}

// `select_from` ("SELECT ... FROM t WHERE <fixed condition>") narrowed by a
// compiled filter, ordered and limited, with every value bound. Statements
// shaped by user filters are not cached.
absl::StatusOr<SqliteStmt> PrepareSelect(SqliteDb& db,
                                         absl::string_view select_from,
                                         const std::string& where,
                                         const std::string& order_by,
                                         const std::vector<SqlValue>& params,
                                         int64_t limit, bool user_query) {
  std::vector<SqlValue> all = params;
  all.push_back(SqlLimit(limit));
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db.Prepare(absl::StrCat(select_from, " AND (", where, ") ORDER BY ",
                              order_by, " LIMIT ?"),
                 /*cache=*/!user_query));
  TB_RETURN_IF_ERROR(stmt.Bind(all));
  return stmt;
}

// The columns datasets and models share: r.id, project, name, version,
// time_ns, in that order.
constexpr absl::string_view kRecordColumns =
    "r.id, r.project, r.name, r.version, r.time_ns";

template <typename Record>
Record ReadRecordColumns(const SqliteStmt& row) {
  Record r;
  r.id = row.Int(0);
  r.project = row.Text(1);
  r.name = row.Text(2);
  r.version = row.Int(3);
  r.time_ns = row.Int(4);
  return r;
}

absl::StatusOr<int64_t> NextVersion(SqliteDb& db, absl::string_view kind,
                                           absl::string_view project,
                                           absl::string_view name) {
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db.Prepare("INSERT INTO counters(kind, project, name, last_version) "
                   "VALUES (?1, ?2, ?3, 1) ON CONFLICT (kind, project, name) "
                   "DO UPDATE SET last_version = last_version + 1 "
                   "RETURNING last_version"));
  TB_RETURN_IF_ERROR(stmt.Bind(
      {std::string(kind), std::string(project), std::string(name)}));
  TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("version counter returned no row");
  return stmt.Int(0);
}

absl::Status InsertKv(SqliteDb& db, const std::string& sql, int64_t owner,
                             const KeyValues& kv) {
  if (kv.empty()) return absl::OkStatus();
  TB_ASSIGN_OR_RETURN(SqliteStmt stmt, db.Prepare(sql));
  for (const auto& [key, value] : kv) {
    if (key.empty()) {
      return absl::InvalidArgumentError("a key/value field has an empty key");
    }
    TB_RETURN_IF_ERROR(stmt.Bind({owner, key, NumOrNull(value), value}));
    TB_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
  }
  return absl::OkStatus();
}

absl::StatusOr<KeyValues> LoadKv(SqliteDb& db, const std::string& sql,
                                 int64_t owner) {
  KeyValues kv;
  TB_ASSIGN_OR_RETURN(SqliteStmt stmt, db.Prepare(sql));
  TB_RETURN_IF_ERROR(stmt.Bind({owner}));
  TB_RETURN_IF_ERROR(ForEachRow(
      stmt, [&](const SqliteStmt& row) { kv[row.Text(0)] = row.Text(1); }));
  return kv;
}

absl::StatusOr<KeyValues> LoadRecordKv(SqliteDb& db, int64_t owner) {
  return LoadKv(db,
                "SELECT key, text_value FROM record_kv WHERE owner = ?1 ORDER "
                "BY key",
                owner);
}

// Inserts a dataset or model row and its key/values; returns its id.
absl::StatusOr<int64_t> InsertRecord(SqliteDb& db, absl::string_view kind,
                                     const std::string& project,
                                     absl::string_view name, int64_t version,
                                     int64_t now_ns, absl::string_view arch,
                                     const std::string& blob,
                                     int64_t blob_size, const KeyValues& kv) {
  int64_t id = 0;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db.Prepare("INSERT INTO records(kind, project, name, version, "
                   "time_ns, arch, blob, blob_size) VALUES (?1, ?2, ?3, ?4, "
                   "?5, ?6, ?7, ?8) RETURNING id"));
    TB_RETURN_IF_ERROR(stmt.Bind({std::string(kind), project, std::string(name),
                                  version, now_ns, std::string(arch), blob,
                                  blob_size}));
    TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::InternalError(absl::StrCat(kind, " insert returned no id"));
    id = stmt.Int(0);
  }
  TB_RETURN_IF_ERROR(InsertKv(db,
                              "INSERT INTO record_kv(owner, key, num_value, "
                              "text_value) VALUES (?1, ?2, ?3, ?4)",
                              id, kv));
  return id;
}

absl::StatusOr<int64_t> LatestVersion(SqliteDb& db, absl::string_view kind,
                                             absl::string_view project,
                                             absl::string_view name) {
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db.Prepare("SELECT max(version) FROM records WHERE kind = ?1 AND "
                   "project = ?2 AND name = ?3"));
  TB_RETURN_IF_ERROR(stmt.Bind(
      {std::string(kind), std::string(project), std::string(name)}));
  TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.IsNull(0)) {
    return absl::NotFoundError(absl::StrCat(
        "no ", kind, " named '", name, "' in project '", project,
        "'; list them with `trainbus registry ls ", kind, "s`"));
  }
  return stmt.Int(0);
}

absl::StatusOr<std::vector<DatasetRecord>> SelectDatasets(
    SqliteDb& db, const std::string& where, const std::string& order_by,
    const std::vector<SqlValue>& params, int64_t limit, bool user_query) {
  std::vector<DatasetRecord> out;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        PrepareSelect(db,
                      absl::StrCat("SELECT ", kRecordColumns,
                                   " FROM records r WHERE r.kind = 'dataset'"),
                      where, order_by, params, limit, user_query));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      out.push_back(ReadRecordColumns<DatasetRecord>(row));
    }));
  }
  for (DatasetRecord& r : out) {
    TB_ASSIGN_OR_RETURN(r.kv, LoadRecordKv(db, r.id));
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db.Prepare("SELECT file_name, blob, size FROM dataset_files WHERE "
                   "owner = ?1 ORDER BY idx"));
    TB_RETURN_IF_ERROR(stmt.Bind({r.id}));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      r.files.push_back({row.Text(0), row.Text(1), row.Int(2)});
    }));
  }
  return out;
}

absl::StatusOr<std::vector<ModelRecord>> SelectModels(
    SqliteDb& db, const std::string& where, const std::string& order_by,
    const std::vector<SqlValue>& params, int64_t limit, bool user_query) {
  std::vector<ModelRecord> out;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        PrepareSelect(db,
                      absl::StrCat("SELECT ", kRecordColumns,
                                   ", r.arch, r.blob, r.blob_size FROM "
                                   "records r WHERE r.kind = 'model'"),
                      where, order_by, params, limit, user_query));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      ModelRecord r = ReadRecordColumns<ModelRecord>(row);
      r.arch = row.Text(5);
      r.checkpoint = {"checkpoint", row.Text(6), row.Int(7)};
      out.push_back(std::move(r));
    }));
  }
  for (ModelRecord& r : out) {
    TB_ASSIGN_OR_RETURN(r.kv, LoadRecordKv(db, r.id));
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db.Prepare("SELECT alias FROM aliases WHERE project = ?1 AND "
                   "name = ?2 AND version = ?3 ORDER BY alias"));
    TB_RETURN_IF_ERROR(stmt.Bind({r.project, r.name, r.version}));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      r.aliases.push_back(row.Text(0));
    }));
  }
  return out;
}

absl::Status ReapExpiredLeases(SqliteDb& db, int64_t now_ns) {
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db.Prepare(
            "UPDATE tasks SET state = 'failed', updated_ns = ?1, error = "
            "'lease of runner ' || runner || ' expired on attempt ' || "
            "attempts || ' of ' || max_attempts || CASE WHEN error = '' THEN "
            "'' ELSE '; last error: ' || error END WHERE state = 'running' "
            "AND lease_expiry_ns <= ?1 AND attempts >= max_attempts"));
    TB_RETURN_IF_ERROR(stmt.Bind({now_ns}));
    TB_RETURN_IF_ERROR(stmt.Run());
  }
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db.Prepare("UPDATE tasks SET state = 'pending', updated_ns = ?1 WHERE "
                   "state = 'running' AND lease_expiry_ns <= ?1"));
  TB_RETURN_IF_ERROR(stmt.Bind({now_ns}));
  return stmt.Run();
}

absl::StatusOr<std::vector<Task>> SelectTasks(
    SqliteDb& db, const std::string& where, const std::string& order_by,
    const std::vector<SqlValue>& params, int64_t limit, bool user_query) {
  std::vector<Task> out;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        PrepareSelect(db,
                      "SELECT t.id, t.project, t.name, t.experiment, t.state, "
                      "t.attempts, t.max_attempts, t.runner, "
                      "t.lease_expiry_ns, t.created_ns, t.updated_ns, "
                      "t.error, t.result_keys, t.model_name, t.model_version "
                      "FROM tasks t WHERE 1",
                      where, order_by, params, limit, user_query));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      Task t;
      t.id = row.Int(0);
      t.project = row.Text(1);
      t.name = row.Text(2);
      t.experiment = row.Text(3);
      absl::StatusOr<TaskState> state = ParseTaskState(row.Text(4));
      t.state = state.ok() ? *state : TaskState::kFailed;
      t.attempts = static_cast<int32_t>(row.Int(5));
      t.max_attempts = static_cast<int32_t>(row.Int(6));
      t.runner = row.Text(7);
      t.lease_expiry_ns = row.Int(8);
      t.created_ns = row.Int(9);
      t.updated_ns = row.Int(10);
      t.error = row.Text(11);
      std::string keys = row.Text(12);
      if (!keys.empty()) t.result_keys = absl::StrSplit(keys, '\n');
      t.model_name = row.Text(13);
      t.model_version = row.Int(14);
      out.push_back(std::move(t));
    }));
  }
  for (Task& t : out) {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db.Prepare("SELECT section, key, text_value FROM task_kv WHERE "
                   "owner = ?1 ORDER BY section, key"));
    TB_RETURN_IF_ERROR(stmt.Bind({t.id}));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      (row.Text(0) == "hp" ? t.hyperparameters : t.results)[row.Text(1)] =
          row.Text(2);
    }));
  }
  return out;
}


// Whether the database has the predictions tables: a schema-1 registry
// opened read-only does not.
absl::StatusOr<bool> HasPredictionsTable(SqliteDb& db) {
  TB_ASSIGN_OR_RETURN(
      int64_t n, QueryInt(db,
                          "SELECT count(*) FROM sqlite_master WHERE type = "
                          "'table' AND name = 'prediction_batches'"));
  return n > 0;
}

// Batches in id order; `where` narrows them.
absl::StatusOr<std::vector<PredictionBatch>> SelectPredictionBatches(
    SqliteDb& db, absl::string_view where, const std::vector<SqlValue>& params,
    int64_t limit) {
  std::vector<PredictionBatch> out;
  TB_ASSIGN_OR_RETURN(bool has_table, HasPredictionsTable(db));
  if (!has_table) return out;
  std::vector<SqlValue> all = params;
  all.push_back(SqlLimit(limit));
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db.Prepare(absl::StrCat(
          "SELECT id, run, project, model, model_version, time_ns, rows, "
          "errors FROM prediction_batches WHERE ",
          where, " ORDER BY id LIMIT ?")));
  TB_RETURN_IF_ERROR(stmt.Bind(all));
  TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
    PredictionBatch b;
    b.id = row.Int(0);
    b.run = row.Text(1);
    b.project = row.Text(2);
    b.model = row.Text(3);
    b.model_version = row.Int(4);
    b.time_ns = row.Int(5);
    b.rows = row.Int(6);
    b.errors = row.Int(7);
    out.push_back(std::move(b));
  }));
  return out;
}

}  // namespace

std::string Store::DefaultRoot() {
  if (const char* dir = std::getenv("TRAINBUS_REGISTRY_DIR"); dir && *dir) {
    return dir;
  }
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return absl::StrCat(xdg, "/trainbus/registry");
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return absl::StrCat(home, "/.local/share/trainbus/registry");
  }
  return "trainbus-registry";
}

Store::Store(std::string root, std::string db_path,
             std::unique_ptr<SqliteDb> db, BlobStore blobs,
             const base::Clock* clock, bool read_only)
    : root_(std::move(root)),
      db_path_(std::move(db_path)),
      db_(std::move(db)),
      blobs_(std::move(blobs)),
      clock_(clock),
      read_only_(read_only) {}

Store::~Store() = default;

template <typename Fn>
auto Store::Read(Fn fn) -> decltype(fn()) {
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginDeferred());
  auto result = fn();
  if (result.ok()) TB_RETURN_IF_ERROR(txn.Commit());
  return result;
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  std::string root = options.root.empty() ? DefaultRoot() : options.root;
  std::string db_path = absl::StrCat(root, "/registry.db");
  TB_RETURN_IF_ERROR(CheckRegistryPaths(
      root, db_path, options.read_only || !options.create_if_missing));
  // Opening the blob directory first creates the registry directory too.
  TB_ASSIGN_OR_RETURN(
      BlobStore blobs,
      BlobStore::Open(absl::StrCat(root, "/blobs"),
                      std::move(options.blob_fault_hook), options.read_only));
  TB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db,
                      SqliteDb::Open(db_path, options.busy_timeout_ms,
                                     options.read_only));
  const base::Clock* clock =
      options.clock != nullptr ? options.clock : base::SystemClock::Get();
  std::unique_ptr<Store> store(new Store(std::move(root), std::move(db_path),
                                         std::move(db), std::move(blobs),
                                         clock, options.read_only));
  store->prediction_fault_hook_ = std::move(options.prediction_fault_hook);
  absl::MutexLock lock(&store->mu_);
  TB_RETURN_IF_ERROR(options.read_only ? store->CheckSchema()
                                       : store->InitSchema());
  return store;
}

absl::Status Store::InitSchema() {
  // journal_mode=WAL persists in the file; readers then never block the
  // writer and a writer never blocks readers.
  {
    TB_ASSIGN_OR_RETURN(SqliteStmt stmt, db_->Prepare("PRAGMA journal_mode=WAL"));
    TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row || stmt.Text(0) != "wal") {
      return absl::FailedPreconditionError(absl::StrCat(
          "registry database '", db_path_,
          "' cannot use WAL mode (is it on a network file system?); put the "
          "registry on a local disk"));
    }
  }
  TB_RETURN_IF_ERROR(
      db_->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  TB_ASSIGN_OR_RETURN(int64_t tables,
                      QueryInt(*db_, "SELECT count(*) FROM sqlite_master"));
  TB_ASSIGN_OR_RETURN(int64_t app_id, QueryInt(*db_, "PRAGMA application_id"));
  TB_ASSIGN_OR_RETURN(int64_t user_version,
                      QueryInt(*db_, "PRAGMA user_version"));
  if (app_id == 0 && user_version == 0 && tables == 0) {
    TB_RETURN_IF_ERROR(db_->Exec(kSchema));
    TB_RETURN_IF_ERROR(db_->Exec(kRunsSchema));
    TB_RETURN_IF_ERROR(db_->Exec(kPredictionsSchema));
    TB_RETURN_IF_ERROR(db_->Exec(
        absl::StrCat("PRAGMA application_id=", kApplicationId,
                     "; PRAGMA user_version=", kSchemaVersion, ";")));
    return txn.Commit();
  }
  TB_RETURN_IF_ERROR(CheckSchema());
  // The runs tables are additive (IF NOT EXISTS) and made on every open.
  TB_RETURN_IF_ERROR(db_->Exec(kRunsSchema));
  // Migrations, one step per version, in the same transaction: an older
  // trainbus still reads the tables it knows.
  if (user_version < 2) {
    TB_RETURN_IF_ERROR(db_->Exec(kPredictionsSchema));
  }
  if (user_version < kSchemaVersion) {
    TB_RETURN_IF_ERROR(db_->Exec(
        absl::StrCat("PRAGMA user_version=", kSchemaVersion, ";")));
  }
  return txn.Commit();
}

absl::Status Store::CheckSchema() {
  TB_ASSIGN_OR_RETURN(int64_t app_id, QueryInt(*db_, "PRAGMA application_id"));
  TB_ASSIGN_OR_RETURN(int64_t user_version,
                      QueryInt(*db_, "PRAGMA user_version"));
  if (app_id != kApplicationId) {
    return absl::DataLossError(absl::StrCat(
        "registry database '", db_path_,
        "' is not a trainbus registry (it is another SQLite database): move "
        "it away or pass another --registry_dir"));
  }
  if (user_version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registry database '", db_path_, "' has schema version ", user_version,
        ", newer than this build's ", kSchemaVersion,
        "; use a newer trainbus"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Store::LoadBlob(absl::string_view sha256) const {
  return blobs_.Get(sha256);
}

absl::StatusOr<BlobReport> Store::VerifyBlobs() {
  struct Use {
    int64_t size = 0;
    std::vector<std::string> owners;
  };
  std::map<std::string, Use> uses;
  {
    absl::MutexLock lock(&mu_);
    SqliteTxn txn(*db_);
    TB_RETURN_IF_ERROR(txn.BeginDeferred());
    TB_ASSIGN_OR_RETURN(bool has_runs, HasRunTables(*db_));
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare(absl::StrCat(
            "SELECT blob, blob_size, kind, project, name, version, '' FROM "
            "records WHERE blob != '' UNION ALL SELECT f.blob, f.size, "
            "r.kind, r.project, r.name, r.version, f.file_name FROM "
            "dataset_files f JOIN records r ON r.id = f.owner",
            has_runs ? " UNION ALL SELECT b.blob, b.size, 'run', r.project, "
                       "r.name, r.id, b.model FROM run_blobs b JOIN runs r "
                       "ON r.id = b.owner"
                     : "",
            " ORDER BY 1")));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      Use& use = uses[row.Text(0)];
      use.size = row.Int(1);
      std::string file = row.Text(6);
      if (row.Text(2) == "run") {
        use.owners.push_back(absl::StrCat("run ", row.Int(5), " (",
                                          row.Text(4), ") model ", file));
        return;
      }
      use.owners.push_back(absl::StrCat(
          row.Text(2), " ", row.Text(3), "/", row.Text(4), ":", row.Int(5),
          file.empty() ? "" : absl::StrCat(" file ", file)));
    }));
    stmt.Reset();
    TB_RETURN_IF_ERROR(txn.Commit());
  }
  // Hashing runs without the lock: blobs are immutable once named.
  BlobReport report;
  for (auto& [sha, use] : uses) {
    ++report.blobs_checked;
    report.bytes_checked += use.size;
    if (absl::Status s = blobs_.Check(sha, use.size); !s.ok()) {
      report.problems.push_back(
          {sha, use.size, std::string(s.message()), std::move(use.owners)});
    }
  }
  return report;
}

// ---- Datasets --------------------------------------------------------------

absl::StatusOr<int64_t> Store::SaveDataset(absl::string_view project_in,
                                           absl::string_view name,
                                           const std::vector<DatasetFile>& files,
                                           const KeyValues& kv) {
  std::string project = ProjectOrDefault(project_in);
  TB_RETURN_IF_ERROR(ValidateName("dataset", name));
  std::vector<BlobRef> refs;
  for (const DatasetFile& file : files) {
    TB_ASSIGN_OR_RETURN(std::string sha, blobs_.Put(file.data));
    refs.push_back({file.name, sha, static_cast<int64_t>(file.data.size())});
  }
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  // A concurrent delete may have removed a shared blob before we locked.
  for (size_t i = 0; i < refs.size(); ++i) {
    if (!blobs_.Contains(refs[i].sha256)) {
      TB_RETURN_IF_ERROR(blobs_.Put(files[i].data).status());
    }
  }
  TB_ASSIGN_OR_RETURN(int64_t version,
                      NextVersion(*db_, "dataset", project, name));
  TB_ASSIGN_OR_RETURN(int64_t id,
                      InsertRecord(*db_, "dataset", project, name, version,
                                   clock_->NowNanos(), "", "", 0, kv));
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("INSERT INTO dataset_files(owner, idx, file_name, blob, "
                     "size) VALUES (?1, ?2, ?3, ?4, ?5)"));
    for (size_t i = 0; i < refs.size(); ++i) {
      TB_RETURN_IF_ERROR(stmt.Bind({id, static_cast<int64_t>(i), refs[i].name,
                                    refs[i].sha256, refs[i].size}));
      TB_RETURN_IF_ERROR(stmt.Run());
      stmt.Reset();
    }
  }
  TB_RETURN_IF_ERROR(txn.Commit());
  return version;
}

absl::StatusOr<int64_t> Store::SaveDatasetFromPaths(
    absl::string_view project, absl::string_view name,
    const std::vector<std::string>& paths, const KeyValues& kv) {
  std::vector<DatasetFile> files;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("cannot read dataset file '", path,
                       "'; check the path (IDX files come from setup.sh)"));
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    size_t slash = path.find_last_of('/');
    files.push_back(
        {slash == std::string::npos ? path : path.substr(slash + 1),
         buffer.str()});
  }
  return SaveDataset(project, name, files, kv);
}

absl::StatusOr<DatasetRecord> Store::FindDataset(absl::string_view project_in,
                                                 absl::string_view name,
                                                 int64_t version) {
  const std::string project = ProjectOrDefault(project_in);
  return Read([&]() -> absl::StatusOr<DatasetRecord> {
    if (version <= 0) {
      TB_ASSIGN_OR_RETURN(version,
                          LatestVersion(*db_, "dataset", project, name));
    }
    TB_ASSIGN_OR_RETURN(
        std::vector<DatasetRecord> found,
        SelectDatasets(*db_, "r.project = ? AND r.name = ? AND r.version = ?",
                       "r.id", {project, std::string(name), version}, 1,
                       false));
    if (found.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "dataset '", name, "' has no version ", version, " in project '",
          project, "'; list versions with `trainbus registry ls datasets`"));
    }
    return std::move(found[0]);
  });
}

absl::StatusOr<std::vector<DatasetRecord>> Store::ListDatasetVersions(
    absl::string_view project_in, absl::string_view name) {
  const std::string project = ProjectOrDefault(project_in);
  return Read([&] {
    return SelectDatasets(*db_, "r.project = ? AND r.name = ?", "r.version",
                          {project, std::string(name)}, 0, false);
  });
}

absl::StatusOr<std::vector<DatasetRecord>> Store::FindDatasets(
    const Query& query) {
  TB_ASSIGN_OR_RETURN(SqlQueryParts parts,
                      CompileUserQuery(DatasetSpec(), query));
  return Read([&] {
    return SelectDatasets(*db_, parts.where, parts.order_by, parts.params,
                          query.limit, /*user_query=*/true);
  });
}

// ---- Models ----------------------------------------------------------------

absl::StatusOr<int64_t> Store::SaveModel(absl::string_view project_in,
                                         absl::string_view name,
                                         absl::string_view arch,
                                         absl::string_view checkpoint,
                                         const KeyValues& kv) {
  std::string project = ProjectOrDefault(project_in);
  TB_RETURN_IF_ERROR(ValidateName("model", name));
  // The slow part (hash, write, fsync) runs before taking the write lock.
  TB_ASSIGN_OR_RETURN(std::string sha, blobs_.Put(checkpoint));
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  if (!blobs_.Contains(sha)) {
    TB_RETURN_IF_ERROR(blobs_.Put(checkpoint).status());
  }
  TB_ASSIGN_OR_RETURN(int64_t version,
                      NextVersion(*db_, "model", project, name));
  TB_RETURN_IF_ERROR(InsertRecord(*db_, "model", project, name, version,
                                  clock_->NowNanos(), arch, sha,
                                  static_cast<int64_t>(checkpoint.size()), kv)
                         .status());
  TB_RETURN_IF_ERROR(txn.Commit());
  return version;
}

absl::StatusOr<std::vector<ModelRecord>> Store::FindModels(const Query& query) {
  TB_ASSIGN_OR_RETURN(SqlQueryParts parts, CompileUserQuery(ModelSpec(), query));
  return Read([&] {
    return SelectModels(*db_, parts.where, parts.order_by, parts.params,
                        query.limit, /*user_query=*/true);
  });
}

absl::StatusOr<ModelRecord> Store::GetModel(absl::string_view project_in,
                                            absl::string_view name,
                                            int64_t version) {
  const std::string project = ProjectOrDefault(project_in);
  return Read([&]() -> absl::StatusOr<ModelRecord> {
    if (version <= 0) {
      TB_ASSIGN_OR_RETURN(version, LatestVersion(*db_, "model", project, name));
    }
    TB_ASSIGN_OR_RETURN(
        std::vector<ModelRecord> found,
        SelectModels(*db_, "r.project = ? AND r.name = ? AND r.version = ?",
                     "r.id", {project, std::string(name), version}, 1, false));
    if (found.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "model '", name, "' has no version ", version, " in project '",
          project, "'; list versions with `trainbus registry ls models`"));
    }
    return std::move(found[0]);
  });
}

absl::StatusOr<ModelRecord> Store::GetModelByRef(absl::string_view project,
                                                 absl::string_view ref) {
  TB_ASSIGN_OR_RETURN(ModelRef parsed, ParseModelRef(ref));
  int64_t version = parsed.version;
  if (!parsed.alias.empty()) {
    TB_ASSIGN_OR_RETURN(version,
                        ResolveAlias(project, parsed.name, parsed.alias));
  }
  return GetModel(project, parsed.name, version);
}

absl::StatusOr<std::string> Store::LoadModelBlob(absl::string_view project,
                                                 absl::string_view name,
                                                 int64_t version) {
  TB_ASSIGN_OR_RETURN(ModelRecord model, GetModel(project, name, version));
  return blobs_.Get(model.checkpoint.sha256);
}

absl::Status Store::SetAlias(absl::string_view project_in,
                             absl::string_view name, absl::string_view alias,
                             int64_t version) {
  std::string project = ProjectOrDefault(project_in);
  TB_RETURN_IF_ERROR(ValidateName("alias", alias));
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("SELECT 1 FROM records WHERE kind = 'model' AND "
                     "project = ?1 AND name = ?2 AND version = ?3"));
    TB_RETURN_IF_ERROR(stmt.Bind({project, std::string(name), version}));
    TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      return absl::NotFoundError(absl::StrCat(
          "cannot alias '", alias, "' to model '", name, "' version ", version,
          " in project '", project,
          "': no such version; list versions with `trainbus registry ls "
          "models`"));
    }
  }
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("INSERT INTO aliases(project, name, alias, version) VALUES "
                   "(?1, ?2, ?3, ?4) ON CONFLICT (project, name, alias) DO "
                   "UPDATE SET version = excluded.version"));
  TB_RETURN_IF_ERROR(
      stmt.Bind({project, std::string(name), std::string(alias), version}));
  TB_RETURN_IF_ERROR(stmt.Run());
  return txn.Commit();
}

absl::StatusOr<int64_t> Store::ResolveAlias(absl::string_view project_in,
                                            absl::string_view name,
                                            absl::string_view alias) {
  std::string project = ProjectOrDefault(project_in);
  absl::MutexLock lock(&mu_);
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("SELECT version FROM aliases WHERE project = ?1 AND "
                   "name = ?2 AND alias = ?3"));
  TB_RETURN_IF_ERROR(
      stmt.Bind({project, std::string(name), std::string(alias)}));
  TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat(
        "model '", name, "' in project '", project, "' has no alias '", alias,
        "'; set one with `trainbus registry alias ", name, " ", alias,
        " <version>`"));
  }
  return stmt.Int(0);
}

absl::StatusOr<int64_t> Store::DeleteModels(absl::string_view filter_text) {
  TB_ASSIGN_OR_RETURN(Filter filter, ParseFilter(filter_text));
  if (filter.empty()) {
    return absl::InvalidArgumentError(
        "refusing to delete every model; give a filter such as name=mlp");
  }
  TB_ASSIGN_OR_RETURN(SqlQueryParts parts,
                      CompileQuery(ModelSpec(), filter, {}));
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  struct Victim {
    int64_t id;
    std::string project, name, blob;
    int64_t version;
  };
  std::vector<Victim> victims;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare(absl::StrCat(
            "SELECT r.id, r.project, r.name, r.version, r.blob FROM records r "
            "WHERE r.kind = 'model' AND (",
            parts.where, ")"),
        /*cache=*/false));
    TB_RETURN_IF_ERROR(stmt.Bind(parts.params));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      victims.push_back(
          {row.Int(0), row.Text(1), row.Text(2), row.Text(4), row.Int(3)});
    }));
  }
  std::set<std::string> blobs;
  for (const Victim& v : victims) {
    {
      TB_ASSIGN_OR_RETURN(
          SqliteStmt stmt,
          db_->Prepare("DELETE FROM aliases WHERE project = ?1 AND name = ?2 "
                       "AND version = ?3"));
      TB_RETURN_IF_ERROR(stmt.Bind({v.project, v.name, v.version}));
      TB_RETURN_IF_ERROR(stmt.Run());
    }
    TB_ASSIGN_OR_RETURN(SqliteStmt stmt,
                        db_->Prepare("DELETE FROM records WHERE id = ?1"));
    TB_RETURN_IF_ERROR(stmt.Bind({v.id}));
    TB_RETURN_IF_ERROR(stmt.Run());
    blobs.insert(v.blob);
  }
  // Remove blobs nobody refers to any more. Savers re-check a blob's file
  // under the write lock, which we hold, so they cannot lose it.
  for (const std::string& blob : blobs) {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("SELECT (SELECT count(*) FROM records WHERE blob = ?1) + "
                     "(SELECT count(*) FROM dataset_files WHERE blob = ?1) + "
                     "(SELECT count(*) FROM run_blobs WHERE blob = ?1)"));
    TB_RETURN_IF_ERROR(stmt.Bind({blob}));
    TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row && stmt.Int(0) == 0 && BlobStore::IsSha256Hex(blob)) {
      TB_RETURN_IF_ERROR(blobs_.Remove(blob));
    }
  }
  TB_RETURN_IF_ERROR(txn.Commit());
  return static_cast<int64_t>(victims.size());
}

// ---- Logs ------------------------------------------------------------------

absl::Status Store::AppendLog(const LogEntry& entry) {
  return AppendLogs({entry});
}

absl::Status Store::AppendLogs(const std::vector<LogEntry>& entries) {
  for (const LogEntry& entry : entries) {
    TB_RETURN_IF_ERROR(ValidateName("model", entry.model));
    for (const auto& [key, value] : entry.metrics) {
      if (key.empty()) {
        return absl::InvalidArgumentError("a log metric has an empty key");
      }
    }
  }
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  const int64_t now = clock_->NowNanos();
  // The hot path of metric logging: two cached statements, bound in place.
  TB_ASSIGN_OR_RETURN(
      SqliteStmt log_stmt,
      db_->Prepare("INSERT INTO logs(project, kind, model, model_version, "
                   "step, time_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                   "RETURNING id"));
  TB_ASSIGN_OR_RETURN(
      SqliteStmt kv_stmt,
      db_->Prepare("INSERT INTO log_kv(owner, key, num_value, text_value) "
                   "VALUES (?1, ?2, ?3, ?4)"));
  const std::string default_project(kDefaultProject);
  for (const LogEntry& entry : entries) {
    log_stmt.BindText(1, entry.project.empty() ? default_project
                                               : entry.project);
    log_stmt.BindText(2, LogKindName(entry.kind));
    log_stmt.BindText(3, entry.model);
    log_stmt.BindInt(4, entry.model_version);
    log_stmt.BindInt(5, entry.step);
    log_stmt.BindInt(6, entry.time_ns != 0 ? entry.time_ns : now);
    TB_ASSIGN_OR_RETURN(bool row, log_stmt.Step());
    if (!row) return absl::InternalError("log insert returned no id");
    const int64_t id = log_stmt.Int(0);
    log_stmt.Reset();
    for (const auto& [key, value] : entry.metrics) {
      kv_stmt.BindInt(1, id);
      kv_stmt.BindText(2, key);
      if (std::optional<double> n = ParseNumber(value)) {
        kv_stmt.BindDouble(3, *n);
      } else {
        kv_stmt.BindNull(3);
      }
      kv_stmt.BindText(4, value);
      TB_RETURN_IF_ERROR(kv_stmt.Run());
      kv_stmt.Reset();
    }
  }
  return txn.Commit();
}

absl::StatusOr<std::vector<LogEntry>> Store::QueryLogs(const Query& query) {
  TB_ASSIGN_OR_RETURN(SqlQueryParts parts, CompileUserQuery(LogSpec(), query));
  return Read([&]() -> absl::StatusOr<std::vector<LogEntry>> {
    std::vector<LogEntry> out;
    {
      TB_ASSIGN_OR_RETURN(
          SqliteStmt stmt,
          PrepareSelect(*db_,
                        "SELECT l.id, l.project, l.kind, l.model, "
                        "l.model_version, l.step, l.time_ns FROM logs l "
                        "WHERE 1",
                        parts.where, parts.order_by, parts.params, query.limit,
                        /*user_query=*/true));
      TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
        LogEntry e;
        e.id = row.Int(0);
        e.project = row.Text(1);
        absl::StatusOr<LogKind> kind = ParseLogKind(row.Text(2));
        e.kind = kind.ok() ? *kind : LogKind::kTrain;
        e.model = row.Text(3);
        e.model_version = row.Int(4);
        e.step = row.Int(5);
        e.time_ns = row.Int(6);
        out.push_back(std::move(e));
      }));
    }
    for (LogEntry& e : out) {
      TB_ASSIGN_OR_RETURN(e.metrics,
                          LoadKv(*db_,
                                 "SELECT key, text_value FROM log_kv WHERE "
                                 "owner = ?1 ORDER BY key",
                                 e.id));
    }
    return out;
  });
}

absl::StatusOr<int64_t> Store::DeleteLogs(absl::string_view filter_text) {
  TB_ASSIGN_OR_RETURN(Filter filter, ParseFilter(filter_text));
  if (filter.empty()) {
    return absl::InvalidArgumentError(
        "refusing to delete every log; give a filter such as model=mlp");
  }
  TB_ASSIGN_OR_RETURN(SqlQueryParts parts, CompileQuery(LogSpec(), filter, {}));
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  TB_ASSIGN_OR_RETURN(SqliteStmt stmt,
                      db_->Prepare(absl::StrCat("DELETE FROM logs AS l WHERE ",
                                                parts.where),
                                   /*cache=*/false));
  TB_RETURN_IF_ERROR(stmt.Bind(parts.params));
  TB_RETURN_IF_ERROR(stmt.Run());
  int64_t deleted = db_->Changes();
  TB_RETURN_IF_ERROR(txn.Commit());
  return deleted;
}

// ---- Predictions -----------------------------------------------------------

absl::StatusOr<int64_t> Store::AppendPredictionBatch(
    const PredictionBatch& batch, const std::vector<PredictionRow>& rows) {
  TB_RETURN_IF_ERROR(ValidateName("model", batch.model));
  if (rows.empty()) {
    return absl::InvalidArgumentError("a prediction batch needs rows");
  }
  const std::string project = ProjectOrDefault(batch.project);
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  // Batch ids come from the version counters, so they are never reused.
  TB_ASSIGN_OR_RETURN(const int64_t id,
                      NextVersion(*db_, "prediction_batch", "", ""));
  const int64_t time_ns = batch.time_ns != 0 ? batch.time_ns
                                             : clock_->NowNanos();
  int64_t errors = 0;
  for (const PredictionRow& row : rows) errors += row.error.empty() ? 0 : 1;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("INSERT INTO prediction_batches(id, run, project, model, "
                     "model_version, time_ns, rows, errors) VALUES (?1, ?2, "
                     "?3, ?4, ?5, ?6, ?7, ?8)"));
    TB_RETURN_IF_ERROR(stmt.Bind({id, batch.run, project, batch.model,
                                  batch.model_version, time_ns,
                                  static_cast<int64_t>(rows.size()), errors}));
    TB_RETURN_IF_ERROR(stmt.Run());
  }
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("INSERT INTO predictions(batch, input, label, scores, "
                   "error, project, model, model_version, time_ns) VALUES "
                   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  for (size_t i = 0; i < rows.size(); ++i) {
    const PredictionRow& row = rows[i];
    stmt.BindInt(1, id);
    stmt.BindText(2, row.input);
    stmt.BindInt(3, row.label);
    stmt.BindText(4, row.scores.empty() ? absl::string_view("[]")
                                        : absl::string_view(row.scores));
    stmt.BindText(5, row.error);
    stmt.BindText(6, project);
    stmt.BindText(7, batch.model);
    stmt.BindInt(8, batch.model_version);
    stmt.BindInt(9, time_ns);
    TB_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
    if (prediction_fault_hook_) prediction_fault_hook_(id, i + 1);
  }
  TB_RETURN_IF_ERROR(txn.Commit());
  return id;
}

absl::StatusOr<std::vector<PredictionBatch>> Store::ListPredictionBatches(
    absl::string_view run, int64_t limit) {
  return Read([&]() -> absl::StatusOr<std::vector<PredictionBatch>> {
    if (run.empty()) return SelectPredictionBatches(*db_, "1", {}, limit);
    return SelectPredictionBatches(*db_, "run = ?", {std::string(run)},
                                   limit);
  });
}

absl::StatusOr<PredictionBatch> Store::GetPredictionBatch(int64_t batch) {
  TB_ASSIGN_OR_RETURN(std::vector<PredictionBatch> found,
                      Read([&]() {
                        return SelectPredictionBatches(*db_, "id = ?",
                                                       {batch}, 1);
                      }));
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no prediction batch ", batch,
        "; list them with `trainbus registry predictions`"));
  }
  return found[0];
}

absl::StatusOr<std::vector<PredictionRow>> Store::GetPredictions(
    int64_t batch) {
  TB_RETURN_IF_ERROR(GetPredictionBatch(batch).status());
  return Read([&]() -> absl::StatusOr<std::vector<PredictionRow>> {
    std::vector<PredictionRow> out;
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("SELECT id, batch, input, label, scores, error FROM "
                     "predictions WHERE batch = ?1 ORDER BY id"));
    TB_RETURN_IF_ERROR(stmt.Bind({batch}));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      PredictionRow r;
      r.id = row.Int(0);
      r.batch = row.Int(1);
      r.input = row.Text(2);
      r.label = static_cast<int32_t>(row.Int(3));
      r.scores = row.Text(4);
      r.error = row.Text(5);
      out.push_back(std::move(r));
    }));
    return out;
  });
}

// ---- Tasks -----------------------------------------------------------------

absl::StatusOr<int64_t> Store::CreateTask(const TaskSpec& spec) {
  std::string project = ProjectOrDefault(spec.project);
  TB_RETURN_IF_ERROR(ValidateName("task", spec.name));
  if (spec.max_attempts < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task '", spec.name, "': max_attempts must be >= 1, got ",
        spec.max_attempts));
  }
  for (const std::string& key : spec.result_keys) {
    if (key.empty() || key.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "task '", spec.name, "': result keys must be non-empty single lines"));
    }
  }
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  int64_t now = clock_->NowNanos();
  int64_t id = 0;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("INSERT INTO tasks(project, name, experiment, state, "
                     "max_attempts, created_ns, updated_ns, result_keys) "
                     "VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5, ?6) "
                     "RETURNING id"));
    TB_RETURN_IF_ERROR(stmt.Bind({project, spec.name, spec.experiment,
                                  static_cast<int64_t>(spec.max_attempts), now,
                                  absl::StrJoin(spec.result_keys, "\n")}));
    TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return absl::InternalError("task insert returned no id");
    id = stmt.Int(0);
  }
  TB_RETURN_IF_ERROR(InsertKv(*db_, 
      "INSERT INTO task_kv(owner, section, key, num_value, text_value) VALUES "
      "(?1, 'hp', ?2, ?3, ?4)",
      id, spec.hyperparameters));
  TB_RETURN_IF_ERROR(txn.Commit());
  return id;
}

absl::StatusOr<std::optional<Task>> Store::ClaimTask(absl::string_view runner_id,
                                                     absl::Duration lease) {
  if (runner_id.empty()) {
    return absl::InvalidArgumentError("ClaimTask needs a runner id");
  }
  int64_t lease_ns = absl::ToInt64Nanoseconds(lease);
  if (lease_ns <= 0) {
    return absl::InvalidArgumentError("ClaimTask needs a positive lease");
  }
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  int64_t now = clock_->NowNanos();
  TB_RETURN_IF_ERROR(ReapExpiredLeases(*db_, now));
  int64_t id = 0;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("UPDATE tasks SET state = 'running', runner = ?1, "
                     "attempts = attempts + 1, lease_ns = ?2, "
                     "lease_expiry_ns = ?3 + ?2, updated_ns = ?3 WHERE id = "
                     "(SELECT id FROM tasks WHERE state = 'pending' ORDER BY "
                     "id LIMIT 1) RETURNING id"));
    TB_RETURN_IF_ERROR(stmt.Bind({std::string(runner_id), lease_ns, now}));
    TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      stmt.Reset();
      TB_RETURN_IF_ERROR(txn.Commit());
      return std::optional<Task>();
    }
    id = stmt.Int(0);
  }
  TB_ASSIGN_OR_RETURN(std::vector<Task> tasks,
                      SelectTasks(*db_, "t.id = ?", "t.id", {id}, 1, false));
  TB_RETURN_IF_ERROR(txn.Commit());
  if (tasks.empty()) return absl::InternalError("claimed task vanished");
  return std::optional<Task>(std::move(tasks[0]));
}

absl::Status Store::Heartbeat(int64_t task_id, absl::string_view runner_id) {
  absl::MutexLock lock(&mu_);
  int64_t now = clock_->NowNanos();
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("UPDATE tasks SET lease_expiry_ns = ?3 + lease_ns, "
                   "updated_ns = ?3 WHERE id = ?1 AND runner = ?2 AND state = "
                   "'running' AND lease_expiry_ns > ?3"));
  TB_RETURN_IF_ERROR(stmt.Bind({task_id, std::string(runner_id), now}));
  TB_RETURN_IF_ERROR(stmt.Run());
  if (db_->Changes() == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "task ", task_id, ": runner '", runner_id,
        "' no longer holds the lease (it expired or another runner claimed "
        "the task); stop working on it"));
  }
  return absl::OkStatus();
}

absl::Status Store::FinishTask(int64_t task_id, absl::string_view runner_id,
                               const KeyValues& results,
                               absl::string_view model_name,
                               int64_t model_version) {
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  std::string result_keys;
  {
    // A runner whose lease ran out may still finish, as long as nobody else
    // took the task over in the meantime.
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("SELECT result_keys FROM tasks WHERE id = ?1 AND runner "
                     "= ?2 AND state = 'running'"));
    TB_RETURN_IF_ERROR(stmt.Bind({task_id, std::string(runner_id)}));
    TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot finish task ", task_id, ": runner '", runner_id,
          "' does not hold it (its lease expired and it was reclaimed, or it "
          "is not running); its results are dropped"));
    }
    result_keys = stmt.Text(0);
  }
  KeyValues kept;
  if (result_keys.empty()) {
    kept = results;
  } else {
    for (absl::string_view key : absl::StrSplit(result_keys, '\n')) {
      auto it = results.find(std::string(key));
      if (it != results.end()) kept.insert(*it);
    }
  }
  TB_RETURN_IF_ERROR(InsertKv(*db_, 
      "INSERT INTO task_kv(owner, section, key, num_value, text_value) VALUES "
      "(?1, 'result', ?2, ?3, ?4) ON CONFLICT DO UPDATE SET num_value = "
      "excluded.num_value, text_value = excluded.text_value",
      task_id, kept));
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("UPDATE tasks SET state = 'done', updated_ns = ?2, "
                   "model_name = ?3, model_version = ?4 WHERE id = ?1"));
  TB_RETURN_IF_ERROR(stmt.Bind({task_id, clock_->NowNanos(),
                                std::string(model_name), model_version}));
  TB_RETURN_IF_ERROR(stmt.Run());
  return txn.Commit();
}

absl::Status Store::FailTask(int64_t task_id, absl::string_view runner_id,
                             absl::string_view error, bool retry) {
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("UPDATE tasks SET state = CASE WHEN ?4 AND attempts < "
                   "max_attempts THEN 'pending' ELSE 'failed' END, error = ?3, "
                   "updated_ns = ?5 WHERE id = ?1 AND runner = ?2 AND state = "
                   "'running'"));
  TB_RETURN_IF_ERROR(stmt.Bind({task_id, std::string(runner_id),
                                std::string(error), int64_t{retry ? 1 : 0},
                                clock_->NowNanos()}));
  TB_RETURN_IF_ERROR(stmt.Run());
  if (db_->Changes() == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot fail task ", task_id, ": runner '", runner_id,
        "' does not hold it (its lease expired and it was reclaimed, or it "
        "is not running)"));
  }
  return txn.Commit();
}

absl::Status Store::BeginReadingTasks(SqliteTxn& txn, int64_t now_ns) {
  // A read-only store cannot reclaim expired leases; it shows them as they
  // are.
  if (read_only_) return txn.BeginDeferred();
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  return ReapExpiredLeases(*db_, now_ns);
}

absl::StatusOr<int64_t> Store::CheckUnfinished() {
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  const int64_t now = clock_->NowNanos();
  TB_RETURN_IF_ERROR(BeginReadingTasks(txn, now));
  // A running task whose lease expired is still unfinished while it has
  // attempts left (the next claim retries it), also before it is reaped.
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("SELECT count(*) FROM tasks WHERE state = 'pending' OR "
                   "(state = 'running' AND (lease_expiry_ns > ?1 OR attempts "
                   "< max_attempts))"));
  TB_RETURN_IF_ERROR(stmt.Bind({now}));
  TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  const int64_t count = row ? stmt.Int(0) : 0;
  stmt.Reset();
  TB_RETURN_IF_ERROR(txn.Commit());
  return count;
}

absl::StatusOr<Task> Store::GetTask(int64_t task_id) {
  return Read([&]() -> absl::StatusOr<Task> {
    TB_ASSIGN_OR_RETURN(std::vector<Task> tasks,
                        SelectTasks(*db_, "t.id = ?", "t.id", {task_id}, 1,
                                    false));
    if (tasks.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no task with id ", task_id,
                       "; list tasks with `trainbus registry tasks`"));
    }
    return std::move(tasks[0]);
  });
}

absl::StatusOr<std::vector<Task>> Store::ListTasks(const Query& query) {
  TB_ASSIGN_OR_RETURN(SqlQueryParts parts,
                      CompileUserQuery(TaskTableSpec(), query));
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(BeginReadingTasks(txn, clock_->NowNanos()));
  TB_ASSIGN_OR_RETURN(
      std::vector<Task> tasks,
      SelectTasks(*db_, parts.where, parts.order_by, parts.params, query.limit,
                  /*user_query=*/true));
  TB_RETURN_IF_ERROR(txn.Commit());
  return tasks;
}

// ---- Runs ------------------------------------------------------------------

namespace {

absl::Status NoSuchRun(int64_t run_id, const std::string& root) {
  return absl::NotFoundError(absl::StrCat(
      "no run ", run_id, " in the registry at '", root,
      "'; check the id (`trainbus run` prints it and writes it into "
      "manifest.json) and --registry_dir"));
}

absl::StatusOr<std::vector<RunRecord>> SelectRuns(SqliteDb& db,
                                                  absl::string_view where,
                                                  const std::vector<SqlValue>& params) {
  std::vector<RunRecord> out;
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db.Prepare(absl::StrCat("SELECT id, project, name, state, started_ns, "
                                "finished_ns, manifest FROM runs ",
                                where)));
    TB_RETURN_IF_ERROR(stmt.Bind(params));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      RunRecord r;
      r.id = row.Int(0);
      r.project = row.Text(1);
      r.name = row.Text(2);
      absl::StatusOr<RunState> state = ParseRunState(row.Text(3));
      r.state = state.ok() ? *state : RunState::kFailed;
      r.started_ns = row.Int(4);
      r.finished_ns = row.Int(5);
      r.manifest = row.Text(6);
      out.push_back(std::move(r));
    }));
  }
  for (RunRecord& r : out) {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db.Prepare("SELECT model, blob, size FROM run_blobs WHERE owner = ?1 "
                   "ORDER BY model"));
    TB_RETURN_IF_ERROR(stmt.Bind({r.id}));
    TB_RETURN_IF_ERROR(ForEachRow(stmt, [&](const SqliteStmt& row) {
      r.blobs.push_back({row.Text(0), row.Text(1), row.Int(2)});
    }));
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> Store::CreateRun(absl::string_view project,
                                         absl::string_view name,
                                         absl::string_view manifest) {
  TB_RETURN_IF_ERROR(ValidateName("run", name));
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("INSERT INTO runs(project, name, state, started_ns, "
                   "manifest) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id"));
  TB_RETURN_IF_ERROR(stmt.Bind(
      {ProjectOrDefault(project), std::string(name),
       std::string(RunStateName(RunState::kRunning)), clock_->NowNanos(),
       std::string(manifest)}));
  TB_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("run insert returned no id");
  const int64_t id = stmt.Int(0);
  stmt.Reset();
  TB_RETURN_IF_ERROR(txn.Commit());
  return id;
}

absl::StatusOr<std::vector<BlobRef>> Store::FinishRun(
    int64_t run_id, RunState state, absl::string_view manifest,
    const std::vector<DatasetFile>& checkpoints) {
  if (state == RunState::kRunning) {
    return absl::InvalidArgumentError(
        "FinishRun needs the state the run ended in: finished or failed");
  }
  std::vector<BlobRef> refs;
  for (const DatasetFile& file : checkpoints) {
    TB_RETURN_IF_ERROR(ValidateName("model", file.name));
    TB_ASSIGN_OR_RETURN(std::string sha, blobs_.Put(file.data));
    refs.push_back({file.name, sha, static_cast<int64_t>(file.data.size())});
  }
  absl::MutexLock lock(&mu_);
  SqliteTxn txn(*db_);
  TB_RETURN_IF_ERROR(txn.BeginImmediate());
  // A concurrent delete may have removed a shared blob before we locked.
  for (size_t i = 0; i < refs.size(); ++i) {
    if (!blobs_.Contains(refs[i].sha256)) {
      TB_RETURN_IF_ERROR(blobs_.Put(checkpoints[i].data).status());
    }
  }
  TB_ASSIGN_OR_RETURN(std::vector<RunRecord> found,
                      SelectRuns(*db_, "WHERE id = ?1", {run_id}));
  if (found.empty()) return NoSuchRun(run_id, root_);
  if (found[0].state != RunState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(
        "run ", run_id, " already ended (", RunStateName(found[0].state),
        "); a run is finished once"));
  }
  {
    TB_ASSIGN_OR_RETURN(
        SqliteStmt stmt,
        db_->Prepare("UPDATE runs SET state = ?1, finished_ns = ?2, "
                     "manifest = ?3 WHERE id = ?4"));
    TB_RETURN_IF_ERROR(stmt.Bind({std::string(RunStateName(state)),
                                  clock_->NowNanos(), std::string(manifest),
                                  run_id}));
    TB_RETURN_IF_ERROR(stmt.Run());
  }
  TB_ASSIGN_OR_RETURN(
      SqliteStmt stmt,
      db_->Prepare("INSERT OR REPLACE INTO run_blobs(owner, model, blob, size) "
                   "VALUES (?1, ?2, ?3, ?4)"));
  for (const BlobRef& ref : refs) {
    TB_RETURN_IF_ERROR(stmt.Bind({run_id, ref.name, ref.sha256, ref.size}));
    TB_RETURN_IF_ERROR(stmt.Run());
    stmt.Reset();
  }
  TB_RETURN_IF_ERROR(txn.Commit());
  return refs;
}

absl::StatusOr<RunRecord> Store::GetRun(int64_t run_id) {
  return Read([&]() -> absl::StatusOr<RunRecord> {
    TB_ASSIGN_OR_RETURN(bool has_runs, HasRunTables(*db_));
    if (!has_runs) return NoSuchRun(run_id, root_);
    TB_ASSIGN_OR_RETURN(std::vector<RunRecord> found,
                        SelectRuns(*db_, "WHERE id = ?1", {run_id}));
    if (found.empty()) return NoSuchRun(run_id, root_);
    return std::move(found[0]);
  });
}

absl::StatusOr<std::vector<RunRecord>> Store::ListRuns(int64_t limit) {
  return Read([&]() -> absl::StatusOr<std::vector<RunRecord>> {
    TB_ASSIGN_OR_RETURN(bool has_runs, HasRunTables(*db_));
    if (!has_runs) return std::vector<RunRecord>{};
    return SelectRuns(*db_, "ORDER BY id DESC LIMIT ?1", {SqlLimit(limit)});
  });
}

}  // namespace trainbus::registry
