// Counters a resource keeps for itself and for each of its subscriptions.
#ifndef TRAINBUS_BUS_METRICS_H_
#define TRAINBUS_BUS_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"

namespace trainbus::bus {

struct SubscriptionMetrics {
  std::string name;
  std::string policy;
  std::string filter;
  uint64_t delivered = 0;
  uint64_t filtered = 0;        // rejected by the filter
  uint64_t dropped = 0;         // drop_oldest evictions
  uint64_t detached = 0;        // catch_up: times it fell behind
  uint64_t replayed = 0;        // delivered from the log
  uint32_t queue_depth = 0;
  uint32_t credit = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SubscriptionMetrics& x) {
  return f(caf::meta::type_name("trainbus.SubscriptionMetrics"), x.name,
           x.policy, x.filter, x.delivered, x.filtered, x.dropped, x.detached,
           x.replayed, x.queue_depth, x.credit);
}

struct ResourceMetrics {
  std::string name;
  bool durable = false;
  uint64_t published = 0;
  uint64_t blocked = 0;         // publishes that had to wait for room
  uint64_t log_next_offset = 0;
  double uptime_s = 0;
  std::vector<SubscriptionMetrics> subscriptions;

  double PublishRate() const { return uptime_s > 0 ? published / uptime_s : 0; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ResourceMetrics& x) {
  return f(caf::meta::type_name("trainbus.ResourceMetrics"), x.name,
           x.durable, x.published, x.blocked, x.log_next_offset, x.uptime_s,
           x.subscriptions);
}

// A table, one row per resource and one per subscription, for the CLI.
std::string FormatMetricsTable(const std::vector<ResourceMetrics>& all);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_METRICS_H_
