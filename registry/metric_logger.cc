#include "registry/metric_logger.h"

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "base/status_error.h"
#include "base/status_macros.h"

namespace trainbus::registry {
namespace {

using tick_atom = caf::atom_constant<caf::atom("logtick")>;

struct LoggerState {
  registry_actor registry;
  MetricLoggerOptions options;
  std::vector<LogEntry> pending;
  static inline const char* name = "trainbus.metric_logger";
};

using LoggerPointer = caf::stateful_actor<LoggerState>*;

// Sends the buffer to the registry; the reply goes to `promise` if given.
void Flush(LoggerPointer self, caf::response_promise* promise) {
  LogList batch{std::move(self->state.pending)};
  self->state.pending.clear();
  int64_t count = static_cast<int64_t>(batch.entries.size());
  if (count == 0) {
    if (promise != nullptr) promise->deliver(int64_t{0});
    return;
  }
  if (promise != nullptr) {
    caf::response_promise rp = *promise;
    self->request(self->state.registry, caf::infinite, append_logs_atom::value,
                  std::move(batch))
        .then([rp](int64_t n) mutable { rp.deliver(n); },
              [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
    return;
  }
  self->request(self->state.registry, caf::infinite, append_logs_atom::value,
                std::move(batch))
      .then([](int64_t) {},
            [count](caf::error& e) {
              std::cerr << "metric logger: dropped " << count
                        << " log entries: " << base::ToStatus(e) << "\n";
            });
}

caf::behavior LoggerBehavior(LoggerPointer self, registry_actor registry,
                             MetricLoggerOptions options) {
  self->state.registry = std::move(registry);
  self->state.options = std::move(options);
  auto interval = std::chrono::milliseconds(
      absl::ToInt64Milliseconds(self->state.options.flush_interval));
  self->delayed_send(self, interval, tick_atom::value);
  return {
      [self](const bus::Metric& metric) {
        absl::StatusOr<LogEntry> entry =
            MetricToLogEntry(metric, self->state.options.project,
                             self->state.options.model_version);
        if (!entry.ok()) {
          std::cerr << "metric logger: " << entry.status() << "\n";
          return;
        }
        self->state.pending.push_back(std::move(*entry));
        if (self->state.pending.size() >= self->state.options.batch_size) {
          Flush(self, nullptr);
        }
      },
      [self](flush_logs_atom) -> caf::result<int64_t> {
        caf::response_promise rp = self->make_response_promise();
        Flush(self, &rp);
        return rp;
      },
      [self, interval](tick_atom) {
        Flush(self, nullptr);
        self->delayed_send(self, interval, tick_atom::value);
      },
  };
}

}  // namespace

absl::StatusOr<LogEntry> MetricToLogEntry(const bus::Metric& metric,
                                          const std::string& project,
                                          int64_t model_version) {
  TB_ASSIGN_OR_RETURN(const LogKind kind, ParseLogKind(metric.split));
  if (metric.model.empty()) {
    return absl::InvalidArgumentError("metric without a model name");
  }
  LogEntry entry;
  entry.project = project;
  entry.kind = kind;
  entry.model = metric.model;
  entry.model_version = model_version;
  entry.step = static_cast<int64_t>(metric.step);
  entry.time_ns = metric.time_ns;
  for (const auto& [key, value] : metric.values) {
    entry.metrics[key] = FormatNumber(value);
  }
  return entry;
}

caf::actor SpawnMetricLogger(caf::actor_system& system,
                             registry_actor registry,
                             MetricLoggerOptions options) {
  return system.spawn(LoggerBehavior, std::move(registry), std::move(options));
}

}  // namespace trainbus::registry
