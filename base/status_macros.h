// Early-return helpers for absl::Status / StatusOr (internal to the registry).
#ifndef TRAINBUS_BASE_STATUS_MACROS_H_
#define TRAINBUS_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TB_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::absl::Status tb_status_ = (expr);       \
    if (!tb_status_.ok()) return tb_status_;  \
  } while (0)

#define TB_CONCAT_INNER(a, b) a##b
#define TB_CONCAT(a, b) TB_CONCAT_INNER(a, b)
#define TB_ASSIGN_OR_RETURN(lhs, expr) \
  TB_ASSIGN_OR_RETURN_IMPL(TB_CONCAT(tb_statusor_, __LINE__), lhs, expr)
#define TB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)

#endif  // TRAINBUS_BASE_STATUS_MACROS_H_
