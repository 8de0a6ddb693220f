#include "amqp/counters.h"

#include "absl/strings/str_format.h"

namespace trainbus::amqp {

std::string FormatBridgeStats(const BridgeStats& s) {
  if (s.inbound) {
    return absl::StrFormat(
        "amqp in '%s': %d received, %d accepted, %d acked, %d redelivered, "
        "%d dead-lettered, %d reconnects, %d failed connects",
        s.name, s.received, s.accepted, s.acked, s.redelivered, s.dead_lettered,
        s.reconnects, s.connect_failures);
  }
  return absl::StrFormat(
      "amqp out '%s': %d published, %d confirmed, %d failed, %d reconnects, "
      "%d failed connects",
      s.name, s.published, s.confirmed, s.failed, s.reconnects,
      s.connect_failures);
}

}  // namespace trainbus::amqp
