#include "registry/records.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

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

absl::string_view LogKindName(LogKind kind) {
  switch (kind) {
    case LogKind::kTrain:
      return "train";
    case LogKind::kValidation:
      return "validation";
    case LogKind::kTest:
      return "test";
  }
  return "unknown";
}

absl::StatusOr<LogKind> ParseLogKind(absl::string_view text) {
  if (text == "train") return LogKind::kTrain;
  if (text == "validation") return LogKind::kValidation;
  if (text == "test") return LogKind::kTest;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown log kind '", text, "'; use train, validation or test"));
}

absl::string_view TaskStateName(TaskState state) {
  switch (state) {
    case TaskState::kPending:
      return "pending";
    case TaskState::kRunning:
      return "running";
    case TaskState::kDone:
      return "done";
    case TaskState::kFailed:
      return "failed";
  }
  return "unknown";
}

absl::StatusOr<TaskState> ParseTaskState(absl::string_view text) {
  if (text == "pending") return TaskState::kPending;
  if (text == "running") return TaskState::kRunning;
  if (text == "done") return TaskState::kDone;
  if (text == "failed") return TaskState::kFailed;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown task state '", text,
                   "'; use pending, running, done or failed"));
}

}  // namespace trainbus::registry
