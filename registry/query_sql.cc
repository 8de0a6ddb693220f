#include "registry/query_sql.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace trainbus::registry {
namespace {

std::string KnownKeys(const TableSpec& spec) {
  std::vector<std::string> keys;
  for (const auto& [key, column] : spec.columns) keys.push_back(key);
  return absl::StrJoin(keys, ", ");
}

}  // namespace

absl::StatusOr<SqlQueryParts> CompileQuery(const TableSpec& spec,
                                           const Filter& filter,
                                           const std::vector<SortKey>& sort,
                                           bool default_descending) {
  SqlQueryParts parts;
  std::vector<std::string> clauses;
  for (const Condition& c : filter.conditions) {
    auto column = spec.columns.find(c.key);
    if (column != spec.columns.end()) {
      if (column->second.numeric) {
        if (!c.number) {
          return absl::InvalidArgumentError(absl::StrCat(
              "filter on ", spec.what, ": '", c.key, "' is a number, but '",
              c.value, "' is not"));
        }
        clauses.push_back(
            absl::StrCat(column->second.sql, " ", CompareOpText(c.op), " ?"));
        parts.params.push_back(*c.number);
      } else {
        clauses.push_back(
            absl::StrCat(column->second.sql, " ", CompareOpText(c.op), " ?"));
        parts.params.push_back(c.value);
      }
      continue;
    }
    if (spec.kv_table.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter on ", spec.what, ": unknown key '", c.key,
                       "'; known keys: ", KnownKeys(spec)));
    }
    // Key/value fields: numbers compare numerically, other text compares as
    // text. `k != v` also matches records without the key.
    bool numeric = c.number.has_value();
    CompareOp op = c.op == CompareOp::kNe ? CompareOp::kEq : c.op;
    std::string exists = absl::StrCat(
        "EXISTS (SELECT 1 FROM ", spec.kv_table, " k WHERE k.owner = ",
        spec.id_column, " AND k.key = ? AND ",
        numeric ? "k.num_value " : "k.text_value ", CompareOpText(op), " ?)");
    parts.params.push_back(c.key);
    if (numeric) {
      parts.params.push_back(*c.number);
    } else {
      parts.params.push_back(c.value);
    }
    clauses.push_back(c.op == CompareOp::kNe ? absl::StrCat("NOT ", exists)
                                             : exists);
  }
  parts.where = clauses.empty() ? "1" : absl::StrJoin(clauses, " AND ");

  std::vector<std::string> orders;
  for (const SortKey& key : sort) {
    std::string dir = key.descending ? "DESC" : "ASC";
    auto column = spec.columns.find(key.key);
    if (column != spec.columns.end()) {
      orders.push_back(absl::StrCat(column->second.sql, " ", dir));
      continue;
    }
    if (spec.kv_table.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sort on ", spec.what, ": unknown key '", key.key,
                       "'; known keys: ", KnownKeys(spec)));
    }
    // Records without the key sort last either way.
    orders.push_back(absl::StrCat(
        "(SELECT COALESCE(k.num_value, k.text_value) FROM ", spec.kv_table,
        " k WHERE k.owner = ", spec.id_column, " AND k.key = ? LIMIT 1) ", dir,
        " NULLS LAST"));
    parts.params.push_back(key.key);
  }
  orders.push_back(
      absl::StrCat(spec.id_column, default_descending ? " DESC" : " ASC"));
  parts.order_by = absl::StrJoin(orders, ", ");
  return parts;
}

}  // namespace trainbus::registry
