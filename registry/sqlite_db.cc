#include "registry/sqlite_db.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace trainbus::registry {

SqliteStmt::~SqliteStmt() {
  if (stmt_ == nullptr) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
  } else {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

absl::Status SqliteStmt::Bind(const std::vector<SqlValue>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    int index = static_cast<int>(i) + 1;
    int rc = SQLITE_OK;
    const SqlValue& v = values[i];
    if (std::holds_alternative<std::nullptr_t>(v)) {
      rc = sqlite3_bind_null(stmt_, index);
    } else if (const int64_t* n = std::get_if<int64_t>(&v)) {
      rc = sqlite3_bind_int64(stmt_, index, *n);
    } else if (const double* d = std::get_if<double>(&v)) {
      rc = sqlite3_bind_double(stmt_, index, *d);
    } else {
      const std::string& s = std::get<std::string>(v);
      rc = sqlite3_bind_text64(stmt_, index, s.data(), s.size(),
                               SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    if (rc != SQLITE_OK) return db_->Error(rc, "binding a parameter");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> SqliteStmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, sqlite3_sql(stmt_));
}

absl::Status SqliteStmt::Run() {
  while (true) {
    TB_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

void SqliteStmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string SqliteStmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(
    const std::string& path, int busy_timeout_ms, bool read_only) {
  sqlite3* raw = nullptr;
  const int mode = read_only ? SQLITE_OPEN_READONLY
                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, mode | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  if (rc != SQLITE_OK) return db->Error(rc, "opening the database");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

absl::Status SqliteDb::Error(int rc, absl::string_view context) const {
  int primary = rc & 0xff;
  const char* message =
      db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    return absl::DataLossError(absl::StrCat(
        "registry database '", path_,
        "' is not a trainbus registry or is corrupt (", message,
        "): move it away or restore it from backup"));
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return absl::UnavailableError(absl::StrCat(
        "registry database '", path_, "' stayed locked by another process (",
        message, ") while ", context, "; retry or raise busy_timeout_ms"));
  }
  if (primary == SQLITE_READONLY) {
    return absl::FailedPreconditionError(absl::StrCat(
        "registry database '", path_, "' is read-only here (", message,
        ") while ", context,
        "; this command only reads, or check the file's permissions"));
  }
  if (primary == SQLITE_FULL) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "registry database '", path_, "': the disk holding it is full (",
        message, ") while ", context,
        "; nothing of this write was stored: free space, or move the "
        "registry (--registry_dir) to a larger disk"));
  }
  if (primary == SQLITE_CONSTRAINT) {
    return absl::AlreadyExistsError(
        absl::StrCat("registry database '", path_, "': ", message, " (",
                     context, ")"));
  }
  return absl::InternalError(absl::StrCat("registry database '", path_,
                                          "': ", message, " (", context, ")"));
}

absl::Status SqliteDb::Exec(absl::string_view sql) {
  std::string copy(sql);
  int rc = sqlite3_exec(db_, copy.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  return absl::OkStatus();
}

absl::StatusOr<SqliteStmt> SqliteDb::Prepare(const std::string& sql,
                                             bool cache) {
  if (!cache) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()),
                                &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc, sql);
    return SqliteStmt(this, stmt, /*owned=*/true);
  }
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc, sql);
    it = cache_.emplace(sql, stmt).first;
  }
  return SqliteStmt(this, it->second);
}

SqliteTxn::~SqliteTxn() {
  if (open_) (void)db_.Exec("ROLLBACK");
}

absl::Status SqliteTxn::BeginImmediate() {
  absl::Status s = db_.Exec("BEGIN IMMEDIATE");
  open_ = s.ok();
  return s;
}

absl::Status SqliteTxn::BeginDeferred() {
  absl::Status s = db_.Exec("BEGIN");
  open_ = s.ok();
  return s;
}

absl::Status SqliteTxn::Commit() {
  absl::Status s = db_.Exec("COMMIT");
  if (s.ok()) open_ = false;
  return s;
}

}  // namespace trainbus::registry
