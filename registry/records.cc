#include "registry/records.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace trainbus::registry {

std::string FormatNumber(double v) {
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, result.ptr);
}

std::optional<double> ParseNumber(absl::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  // std::from_chars rejects a leading '+', which strtod accepts; be strict
  // and consistent with what FormatNumber produces plus a leading '+'.
  absl::string_view body = text;
  if (body.front() == '+') body.remove_prefix(1);
  double v = 0;
  auto result = std::from_chars(body.data(), body.data() + body.size(), v);
  if (result.ec != std::errc() || result.ptr != body.data() + body.size()) {
    return std::nullopt;
  }
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

namespace {

// An enum's names, in the order of its values (0, 1, ...).
template <typename Enum, size_t N>
absl::string_view NameOf(const absl::string_view (&names)[N], Enum value) {
  const size_t i = static_cast<size_t>(value);
  return i < N ? names[i] : "unknown";
}

template <typename Enum, size_t N>
absl::StatusOr<Enum> ParseName(const absl::string_view (&names)[N],
                               absl::string_view text, absl::string_view what) {
  for (size_t i = 0; i < N; ++i) {
    if (text == names[i]) return static_cast<Enum>(i);
  }
  std::string choices = absl::StrJoin(names, ", ");
  return absl::InvalidArgumentError(absl::StrCat("unknown ", what, " '", text,
                                                 "'; use one of ", choices));
}

constexpr absl::string_view kLogKindNames[] = {"train", "validation", "test"};
constexpr absl::string_view kTaskStateNames[] = {"pending", "running", "done",
                                                 "failed"};
constexpr absl::string_view kRunStateNames[] = {"running", "finished",
                                                "failed"};

}  // namespace

absl::string_view LogKindName(LogKind kind) {
  return NameOf(kLogKindNames, kind);
}

absl::StatusOr<LogKind> ParseLogKind(absl::string_view text) {
  return ParseName<LogKind>(kLogKindNames, text, "log kind");
}

absl::string_view TaskStateName(TaskState state) {
  return NameOf(kTaskStateNames, state);
}

absl::StatusOr<TaskState> ParseTaskState(absl::string_view text) {
  return ParseName<TaskState>(kTaskStateNames, text, "task state");
}

absl::string_view RunStateName(RunState state) {
  return NameOf(kRunStateNames, state);
}

absl::StatusOr<RunState> ParseRunState(absl::string_view text) {
  return ParseName<RunState>(kRunStateNames, text, "run state");
}

}  // namespace trainbus::registry
