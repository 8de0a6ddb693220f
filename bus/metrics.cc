#include "bus/metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trainbus::bus {

std::string FormatMetricsTable(const std::vector<ResourceMetrics>& all) {
  std::string out = absl::StrFormat(
      "%-28s %12s %10s %10s %10s %9s %9s %6s %6s\n", "resource / subscription",
      "published", "msg/s", "delivered", "filtered", "dropped", "replayed",
      "queue", "credit");
  for (const ResourceMetrics& r : all) {
    absl::StrAppendFormat(&out, "%-28s %12d %10.0f %10s %10s %9s %9s %6s %6s\n",
                          r.name + (r.durable ? " (durable)" : ""),
                          r.published, r.PublishRate(), "", "", "", "", "",
                          "");
    for (const SubscriptionMetrics& s : r.subscriptions) {
      absl::StrAppendFormat(
          &out, "  %-26s %12s %10s %10d %10d %9d %9d %6d %6d\n",
          s.name.empty() ? "(unnamed)" : s.name, s.policy, "", s.delivered,
          s.filtered, s.dropped, s.replayed, s.queue_depth, s.credit);
    }
  }
  return out;
}

}  // namespace trainbus::bus
