#include "gateway/bus_prometheus.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "registry/records.h"

namespace trainbus::gateway {
namespace {

const std::vector<std::string> kSubscriptionLabels = {"resource", "subscription",
                                                      "policy", "filter"};

struct SubscriptionCounter {
  const char* name;
  const char* help;
  uint64_t bus::SubscriptionMetrics::*field;
};

constexpr SubscriptionCounter kSubscriptionCounters[] = {
    {"trainbus_subscription_delivered_total",
     "Messages delivered to the subscription.",
     &bus::SubscriptionMetrics::delivered},
    {"trainbus_subscription_filtered_total",
     "Messages the subscription's filter rejected.",
     &bus::SubscriptionMetrics::filtered},
    {"trainbus_subscription_dropped_total",
     "Messages evicted from a full queue (drop_oldest).",
     &bus::SubscriptionMetrics::dropped},
    {"trainbus_subscription_detached_total",
     "Times a catch_up subscription fell behind and was detached.",
     &bus::SubscriptionMetrics::detached},
    {"trainbus_subscription_replayed_total",
     "Messages delivered from the durable log.",
     &bus::SubscriptionMetrics::replayed},
};

struct ModelValue {
  const char* name;
  const char* help;
  const char* key;  // in Metric::values
  bool counter;
};

constexpr ModelValue kModelValues[] = {
    {"trainbus_model_samples_total", "Samples the model trained on.",
     "samples", true},
    {"trainbus_model_test_accuracy",
     "Latest held-out accuracy (ratio of correct predictions).",
     "test_accuracy", false},
    {"trainbus_model_prequential_accuracy",
     "Latest prequential (test-then-train) accuracy since the previous "
     "evaluation (ratio).",
     "prequential_accuracy", false},
    {"trainbus_model_samples_per_second",
     "Training samples per second since the previous evaluation.",
     "samples_per_second", false},
    {"trainbus_model_loss", "Latest training loss.", "loss", false},
};

// Help text of each amqp::BridgeStats::Counters() name.
constexpr std::pair<const char*, const char*> kAmqpHelp[] = {
    {"received", "Deliveries the inbound bridge got from the broker."},
    {"accepted", "Inbound deliveries the resource accepted."},
    {"acked", "Inbound deliveries acked to the broker (after acceptance)."},
    {"redelivered", "Inbound deliveries the broker marked redelivered."},
    {"dead_lettered",
     "Inbound messages refused and sent to the queue's .dead queue."},
    {"published", "Messages the outbound bridge published."},
    {"confirmed", "Publisher confirms the outbound bridge received."},
    {"failed", "Outbound messages given up on."},
    {"reconnects", "Connections made again after the broker went away."},
    {"connect_failures", "Failed attempts to connect or reconnect."},
};

const char* AmqpHelp(absl::string_view counter) {
  for (const auto& [name, help] : kAmqpHelp) {
    if (counter == name) return help;
  }
  return "An AMQP bridge counter (amqp/counters.h).";
}

}  // namespace

absl::Status AddBusMetrics(const std::vector<bus::ResourceMetrics>& resources,
                           report::MetricRegistry* out) {
  TB_ASSIGN_OR_RETURN(
      report::CounterFamily * published,
      out->AddCounter("trainbus_resource_published_total",
                      "Messages the resource accepted.", {"resource"}));
  TB_ASSIGN_OR_RETURN(
      report::CounterFamily * blocked,
      out->AddCounter("trainbus_resource_blocked_total",
                      "Publishes that waited for room (block policy).",
                      {"resource"}));
  TB_ASSIGN_OR_RETURN(
      report::GaugeFamily * log_offset,
      out->AddGauge("trainbus_resource_log_next_offset",
                    "Next offset of a durable resource's log.", {"resource"}));
  std::vector<report::CounterFamily*> counters;
  for (const SubscriptionCounter& c : kSubscriptionCounters) {
    TB_ASSIGN_OR_RETURN(report::CounterFamily * f,
                        out->AddCounter(c.name, c.help, kSubscriptionLabels));
    counters.push_back(f);
  }
  TB_ASSIGN_OR_RETURN(
      report::GaugeFamily * depth,
      out->AddGauge("trainbus_subscription_queue_depth",
                    "Messages queued for the subscriber, waiting for credit.",
                    kSubscriptionLabels));
  TB_ASSIGN_OR_RETURN(
      report::GaugeFamily * credit,
      out->AddGauge("trainbus_subscription_credit",
                    "Messages the subscriber can take now.",
                    kSubscriptionLabels));
  for (const bus::ResourceMetrics& r : resources) {
    published->Labels({r.name}).Increment(static_cast<double>(r.published));
    blocked->Labels({r.name}).Increment(static_cast<double>(r.blocked));
    if (r.durable) {
      log_offset->Labels({r.name}).Set(static_cast<double>(r.log_next_offset));
    }
    for (const bus::SubscriptionMetrics& s : r.subscriptions) {
      const report::LabelValues labels = {r.name, s.name, s.policy, s.filter};
      for (size_t i = 0; i < counters.size(); ++i) {
        counters[i]->Labels(labels).Increment(
            static_cast<double>(s.*kSubscriptionCounters[i].field));
      }
      depth->Labels(labels).Set(s.queue_depth);
      credit->Labels(labels).Set(s.credit);
    }
  }
  return absl::OkStatus();
}

absl::Status AddModelMetrics(const std::map<std::string, bus::Metric>& latest,
                             report::MetricRegistry* out) {
  TB_ASSIGN_OR_RETURN(report::CounterFamily * steps,
                      out->AddCounter("trainbus_model_steps_total",
                                      "Optimizer steps taken.", {"model"}));
  for (const auto& [model, m] : latest) {
    steps->Labels({model}).Increment(static_cast<double>(m.step));
  }
  for (const ModelValue& v : kModelValues) {
    if (v.counter) {
      TB_ASSIGN_OR_RETURN(report::CounterFamily * f,
                          out->AddCounter(v.name, v.help, {"model"}));
      for (const auto& [model, m] : latest) {
        if (auto it = m.values.find(v.key); it != m.values.end()) {
          f->Labels({model}).Increment(it->second);
        }
      }
      continue;
    }
    TB_ASSIGN_OR_RETURN(report::GaugeFamily * f,
                        out->AddGauge(v.name, v.help, {"model"}));
    for (const auto& [model, m] : latest) {
      if (auto it = m.values.find(v.key); it != m.values.end()) {
        f->Labels({model}).Set(it->second);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status AddRegistryMetrics(registry::Store& store,
                                report::MetricRegistry* out) {
  TB_ASSIGN_OR_RETURN(std::vector<registry::Task> tasks,
                      store.ListTasks(registry::Query{}));
  TB_ASSIGN_OR_RETURN(std::vector<registry::ModelRecord> models,
                      store.FindModels(registry::Query{}));
  TB_ASSIGN_OR_RETURN(
      report::GaugeFamily * by_state,
      out->AddGauge("trainbus_registry_tasks",
                    "Tasks in the registry's queue, by state.", {"state"}));
  for (registry::TaskState s :
       {registry::TaskState::kPending, registry::TaskState::kRunning,
        registry::TaskState::kDone, registry::TaskState::kFailed}) {
    by_state->Labels({std::string(registry::TaskStateName(s))}).Set(0);
  }
  for (const registry::Task& t : tasks) {
    by_state->Labels({std::string(registry::TaskStateName(t.state))}).Add(1);
  }
  TB_ASSIGN_OR_RETURN(
      report::GaugeFamily * per_project,
      out->AddGauge("trainbus_registry_models",
                    "Model versions in the registry, by project.",
                    {"project"}));
  for (const registry::ModelRecord& m : models) {
    per_project->Labels({m.project}).Add(1);
  }
  return absl::OkStatus();
}

absl::Status AddNodeMetrics(const NodeCounts& nodes,
                            report::MetricRegistry* out) {
  TB_ASSIGN_OR_RETURN(report::GaugeFamily * connected,
                      out->AddGauge("trainbus_nodes_connected",
                                    "Nodes of a placed run now connected."));
  TB_ASSIGN_OR_RETURN(report::CounterFamily * lost,
                      out->AddCounter("trainbus_nodes_lost_total",
                                      "Nodes that went away during the run."));
  connected->Get().Set(nodes.connected);
  lost->Get().Increment(nodes.lost);
  return absl::OkStatus();
}

absl::Status AddAmqpMetrics(const std::vector<amqp::BridgeStats>& bridges,
                            report::MetricRegistry* out) {
  const std::vector<std::string> labels = {"bridge", "direction"};
  TB_ASSIGN_OR_RETURN(
      report::GaugeFamily * connected,
      out->AddGauge("trainbus_amqp_connected",
                    "Whether the bridge is connected to its broker (1) or "
                    "reconnecting (0).",
                    labels));
  // Every counter of amqp::BridgeStats, in its order: one family each.
  std::vector<report::CounterFamily*> families;
  for (const auto& [name, value] : amqp::BridgeStats().Counters()) {
    TB_ASSIGN_OR_RETURN(
        report::CounterFamily * f,
        out->AddCounter(absl::StrCat("trainbus_amqp_", name, "_total"),
                        AmqpHelp(name), labels));
    families.push_back(f);
  }
  for (const amqp::BridgeStats& b : bridges) {
    const report::LabelValues values = {b.name, b.inbound ? "in" : "out"};
    connected->Labels(values).Set(b.connected ? 1 : 0);
    const auto counters = b.Counters();
    for (size_t i = 0; i < counters.size() && i < families.size(); ++i) {
      families[i]->Labels(values).Increment(
          static_cast<double>(counters[i].second));
    }
  }
  return absl::OkStatus();
}

}  // namespace trainbus::gateway
