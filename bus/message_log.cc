#include "bus/message_log.h"

#include "absl/strings/str_cat.h"

namespace trainbus::bus {

absl::StatusOr<std::unique_ptr<MessageLog>> OpenMessageLog(
    const ResourceOptions& options) {
  return absl::UnimplementedError(absl::StrCat(
      "resource '", options.name,
      "': durable resources arrive with bus/log; declare it without log_dir"));
}

}  // namespace trainbus::bus
