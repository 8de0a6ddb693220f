// Prometheus families (text format 0.0.4, report/prometheus.h) for what a
// run knows of itself, written into a fresh MetricRegistry at each scrape
// from snapshots: counters are the snapshot's cumulative values.
//
//   report::MetricRegistry r;
//   TB_RETURN_IF_ERROR(AddBusMetrics(*bus.Metrics(), &r));
//   TB_RETURN_IF_ERROR(AddModelMetrics(history.Latest(), &r));
//   std::string text = r.Render();
//
// The families (base units; rates per second; accuracies as ratios):
//   trainbus_resource_published_total{resource}                 counter
//   trainbus_resource_blocked_total{resource}                   counter
//   trainbus_resource_log_next_offset{resource}                 gauge
//   trainbus_subscription_{delivered,filtered,dropped,detached,replayed}_total
//       {resource,subscription,policy,filter}                   counters
//   trainbus_subscription_queue_depth{...}                      gauge (messages)
//   trainbus_subscription_credit{...}                           gauge (messages)
//   trainbus_model_steps_total{model}, trainbus_model_samples_total{model}
//   trainbus_model_test_accuracy{model}, ..._prequential_accuracy{model},
//   trainbus_model_samples_per_second{model}, trainbus_model_loss{model}
//   trainbus_registry_tasks{state}, trainbus_registry_models{project}
//   trainbus_nodes_connected, trainbus_nodes_lost_total
//   trainbus_amqp_<counter>_total{bridge,direction}              counters
//       (received, accepted, acked, redelivered, dead_lettered, published,
//       confirmed, failed, reconnects, connect_failures: amqp/counters.h)
//   trainbus_amqp_connected{bridge,direction}                    gauge (0/1)
#ifndef TRAINBUS_GATEWAY_BUS_PROMETHEUS_H_
#define TRAINBUS_GATEWAY_BUS_PROMETHEUS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "amqp/counters.h"
#include "bus/message.h"
#include "bus/metrics.h"
#include "registry/store.h"
#include "report/prometheus.h"

namespace trainbus::gateway {

// Adds families to a scrape's registry (the AMQP bridge's counters, ...).
using MetricsCollector = std::function<absl::Status(report::MetricRegistry*)>;

absl::Status AddBusMetrics(const std::vector<bus::ResourceMetrics>& resources,
                           report::MetricRegistry* out);
// `latest`: each model's last test point (MetricsHistory::Latest).
absl::Status AddModelMetrics(const std::map<std::string, bus::Metric>& latest,
                             report::MetricRegistry* out);
absl::Status AddRegistryMetrics(registry::Store& store,
                                report::MetricRegistry* out);

// One node of a placed run, as /v1/topology lists it.
struct NodeState {
  std::string name;
  std::string address;  // HOST:PORT
  std::string state;    // "connected", "lost" or "finished"
};

struct NodeCounts {
  int connected = 0;  // nodes of a placed run now connected
  int lost = 0;       // nodes that went away
  std::vector<NodeState> nodes;  // each one (empty: a run in one process)
};
absl::Status AddNodeMetrics(const NodeCounts& nodes,
                            report::MetricRegistry* out);

// The AMQP bridges' counters (a run's PartContext::amqp_counters()).
absl::Status AddAmqpMetrics(const std::vector<amqp::BridgeStats>& bridges,
                            report::MetricRegistry* out);

}  // namespace trainbus::gateway

#endif  // TRAINBUS_GATEWAY_BUS_PROMETHEUS_H_
