// A thin RAII layer over the SQLite C API for the registry store: a
// connection with a prepared-statement cache, statements with bound
// parameters, and transactions that roll back unless committed.
//
//   absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(path, 10000);
//   SqliteTxn txn(**db);
//   TB_RETURN_IF_ERROR(txn.BeginImmediate());
//   absl::StatusOr<SqliteStmt> stmt = (*db)->Prepare("SELECT ?1 + 1");
//   stmt->Bind({int64_t{41}});
//   absl::StatusOr<bool> row = stmt->Step();  // true: a row is ready
//   int64_t v = stmt->Int(0);
//   return txn.Commit();
//
// The class is not thread-safe; the store serialises access with a mutex.
#ifndef TRAINBUS_REGISTRY_SQLITE_DB_H_
#define TRAINBUS_REGISTRY_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbus::registry {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

class SqliteDb;

// A cached prepared statement, reset and unbound when the handle dies.
class SqliteStmt {
 public:
  // `owned`: finalize on destruction (uncached statements).
  SqliteStmt(SqliteDb* db, sqlite3_stmt* stmt, bool owned = false)
      : db_(db), stmt_(stmt), owned_(owned) {}
  SqliteStmt(SqliteStmt&& other) noexcept
      : db_(other.db_), stmt_(other.stmt_), owned_(other.owned_) {
    other.stmt_ = nullptr;
  }
  SqliteStmt& operator=(SqliteStmt&&) = delete;
  ~SqliteStmt();

  // Binds values to ?1, ?2, ... in order.
  absl::Status Bind(const std::vector<SqlValue>& values);
  // Hot-path binds by 1-based index. BindText does not copy: `text` must
  // outlive the next Reset().
  void BindInt(int index, int64_t v) { sqlite3_bind_int64(stmt_, index, v); }
  void BindDouble(int index, double v) {
    sqlite3_bind_double(stmt_, index, v);
  }
  void BindNull(int index) { sqlite3_bind_null(stmt_, index); }
  void BindText(int index, absl::string_view text) {
    sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC,
                        SQLITE_UTF8);
  }
  // true when a row is ready, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion, for statements that return no rows.
  absl::Status Run();
  void Reset();

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  std::string Text(int col) const;

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  bool owned_;
};

class SqliteDb {
 public:
  // `read_only`: the file must exist and is never written.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path,
                                                        int busy_timeout_ms,
                                                        bool read_only = false);
  ~SqliteDb();

  // Runs SQL without parameters (may hold several statements).
  absl::Status Exec(absl::string_view sql);
  // Statements are cached for the connection's lifetime. Pass cache=false
  // for SQL whose shape comes from user input (filters), so the cache stays
  // bounded; such a statement is finalized when its handle dies.
  absl::StatusOr<SqliteStmt> Prepare(const std::string& sql,
                                     bool cache = true);
  // Converts a SQLite result code into a Status; corruption names the file
  // and says what to do.
  absl::Status Error(int rc, absl::string_view context) const;
  int64_t Changes() const { return sqlite3_changes64(db_); }
  const std::string& path() const { return path_; }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// Rolls back on destruction unless Commit() succeeded.
class SqliteTxn {
 public:
  explicit SqliteTxn(SqliteDb& db) : db_(db) {}
  ~SqliteTxn();
  // BEGIN IMMEDIATE: takes the write lock now (waiting up to busy_timeout),
  // so a read-then-write transaction can never deadlock with another writer.
  absl::Status BeginImmediate();
  absl::Status BeginDeferred();
  absl::Status Commit();

 private:
  SqliteDb& db_;
  bool open_ = false;
};

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_SQLITE_DB_H_
