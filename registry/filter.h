// The registry's small query language: filters and sort orders as users type
// them on the command line, parsed into values the store binds as SQL
// parameters (user text never becomes SQL).
//
//   absl::StatusOr<Filter> f = ParseFilter("name=mlp,test_accuracy>0.8");
//   absl::StatusOr<std::vector<SortKey>> s = ParseSort("test_accuracy desc");
//
// Filter grammar: clauses separated by ',' and all of them must hold.
//   clause := key op value
//   key    := [A-Za-z_][A-Za-z0-9_.\-/]*
//   op     := '=' | '==' | '!=' | '<' | '<=' | '>' | '>='
//   value  := text up to the next ',' (trimmed), or "double quoted" with \"
//             and \\ escapes (to hold ',' or spaces).
// Sort grammar: `key [asc|desc]` items separated by ','; asc is the default.
#ifndef TRAINBUS_REGISTRY_FILTER_H_
#define TRAINBUS_REGISTRY_FILTER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbus::registry {

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };
absl::string_view CompareOpText(CompareOp op);

struct Condition {
  std::string key;
  CompareOp op = CompareOp::kEq;
  std::string value;
  std::optional<double> number;  // set when `value` is a number
};

struct Filter {
  std::vector<Condition> conditions;  // conjunction; empty matches all
  bool empty() const { return conditions.empty(); }
};

struct SortKey {
  std::string key;
  bool descending = false;
};

absl::StatusOr<Filter> ParseFilter(absl::string_view text);
absl::StatusOr<std::vector<SortKey>> ParseSort(absl::string_view text);

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_FILTER_H_
