// Turns the bus's Metric messages into registry log entries: a consumer
// actor that buffers them and appends them through the registry actor in
// batched transactions (by count, by time, or when asked to flush).
//
//   caf::actor logger = SpawnMetricLogger(system, registry,
//                                         {"mnist", /*model_version=*/1});
//   caf::anon_send(logger, metric);             // a bus::Metric
//   self->request(logger, caf::infinite, flush_logs_atom::value)
//       .receive([](int64_t written) {}, [](caf::error&) {});
//
// Send flush_logs_atom before stopping the logger: buffered entries are not
// written on exit. Logs are metrics, so a failed append is reported on
// stderr and dropped rather than retried.
#ifndef TRAINBUS_REGISTRY_METRIC_LOGGER_H_
#define TRAINBUS_REGISTRY_METRIC_LOGGER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "registry/records.h"
#include "registry/registry_messages.h"
#include "bus/message.h"
#include "caf/all.hpp"

namespace trainbus::registry {

using flush_logs_atom = caf::atom_constant<caf::atom("flushlogs")>;

struct MetricLoggerOptions {
  std::string project;
  int64_t model_version = 0;  // Metric carries no version
  size_t batch_size = 256;    // append when this many are buffered
  absl::Duration flush_interval = absl::Seconds(1);
};

// split "train" / "validation" / "test" becomes the log kind; values become
// metrics. InvalidArgument for another split or an empty model name.
absl::StatusOr<LogEntry> MetricToLogEntry(const bus::Metric& metric,
                                          const std::string& project,
                                          int64_t model_version);

// Handles bus::Metric (buffer) and flush_logs_atom -> int64_t (entries this
// flush wrote; an error if the registry refused them).
caf::actor SpawnMetricLogger(caf::actor_system& system,
                             registry_actor registry,
                             MetricLoggerOptions options);

}  // namespace trainbus::registry

#endif  // TRAINBUS_REGISTRY_METRIC_LOGGER_H_
