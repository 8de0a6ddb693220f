// Turns a parsed Filter and sort keys into a SQL WHERE / ORDER BY fragment
// plus the values to bind. Only identifiers from a fixed TableSpec reach the
// SQL text; every user value is a bound parameter.
//
//   TableSpec spec = ...;  // fixed columns and the key/value side table
//   absl::StatusOr<SqlQueryParts> parts = CompileQuery(spec, filter, sort);
//   std::string sql = "SELECT ... FROM records r WHERE " + parts->where +
//                     " ORDER BY " + parts->order_by;
#ifndef TRAINBUS_REGISTRY_QUERY_SQL_H_
#define TRAINBUS_REGISTRY_QUERY_SQL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/filter.h"
#include "registry/sqlite_db.h"

namespace trainbus::registry {

struct ColumnSpec {
  std::string sql;       // e.g. "r.version"
  bool numeric = false;  // the filter value must then be a number
};

struct TableSpec {
  std::string what;   // "models", for error messages
  std::string alias;  // the main table's alias, e.g. "r"
  // Filter/sort keys that are columns of the main table.
  std::map<std::string, ColumnSpec> columns;
  // Every other key is looked up in this side table:
  //   kv_table(owner, key, num_value, text_value)
  std::string kv_table;
  std::string id_column;  // e.g. "r.id", the default order and tie-break
};

struct SqlQueryParts {
  std::string where;     // "1" when the filter is empty
  std::string order_by;  // never empty
  std::vector<SqlValue> params;  // in order of appearance: where, order by
};

absl::StatusOr<SqlQueryParts> CompileQuery(const TableSpec& spec,
                                           const Filter& filter,
                                           const std::vector<SortKey>& sort,
                                           bool default_descending = false);

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_QUERY_SQL_H_
