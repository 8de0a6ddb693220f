// The gateway: the HTTP API of a running topology (or server) for scripts
// and for the dashboard page it serves at `/`: JSON, Server-Sent Events and
// Prometheus text. It holds no training code: whoever starts it hands it
// views (functions it calls when asked) and feeds (metrics, predictions).
//
//   gateway::Gateway gw(options);
//   gw.SetRun({{"name", "parallel_models"}, {"models", ...}});
//   gw.SetTopology(graph_json);
//   hooks.on_metric = [&](const bus::Metric& m) { gw.history().Append(m); };
//   auto http = serving::HttpServer::Start(gw.Handler(), {.port = 8080});
//   gw.UpdateBus(snapshot);   // every second or so, from the bus's side
//
// The routes (gateway/README.md has the JSON shapes):
//   GET  /                                 the dashboard (and its .js, .css)
//   GET  /js/chart.min.js                  Debian's Chart.js, from disk
//   GET  /v1/run                           name, state, models + figures
//   GET  /v1/topology                      graph + live resources and rates
//   GET  /v1/metrics/history               every metric point so far
//   GET  /v1/metrics/stream[?from=N]       the same, as Server-Sent Events
//   GET  /v1/leaderboard[?sort=KEY[&order=asc|desc][&project=P]]
//   GET  /v1/tasks                         the registry's tasks by state
//   GET  /v1/serving                       versions, req/s, p99, swaps
//   GET  /v1/predictions/recent[?limit=N&format=png|raw]
//   POST /v1/predictions/{id}:feedback     {"label": L}
//   POST /v1/resources/{name}:publish      a sample (gateway/adapter.h)
//   GET  /v1/resources/{name}:subscribe[?format=jsonl]
//   GET  /metrics                          Prometheus text 0.0.4
// With an auth token every route needs `Authorization: Bearer TOKEN` (or
// `?token=TOKEN`, for EventSource and a browser's address bar): 401 without.
#ifndef TRAINBUS_GATEWAY_GATEWAY_H_
#define TRAINBUS_GATEWAY_GATEWAY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bus/metrics.h"
#include "gateway/adapter.h"
#include "gateway/bus_prometheus.h"
#include "gateway/metrics_history.h"
#include "gateway/recent_predictions.h"
#include "nlohmann/json.hpp"
#include "registry/store.h"
#include "serving/http_message.h"

namespace trainbus::gateway {

struct GatewayOptions {
  // Non-empty: every request needs it (Authorization: Bearer TOKEN).
  std::string auth_token;
  // Where Debian's libjs-chart.js keeps chart.min.js.
  std::string chart_js_dir = "/usr/share/javascript/chart.js";
  // The registry behind /v1/leaderboard, /v1/tasks and its metrics (null:
  // those answer with empty lists). Must outlive the gateway.
  registry::Store* registry = nullptr;
  size_t recent_predictions = 256;
};

// Publishes a user's label for a recent prediction's pixels; returns the
// offset in the feedback resource.
using FeedbackView = std::function<absl::StatusOr<uint64_t>(
    const RecentPrediction& prediction, int32_t label)>;

class Gateway {
 public:
  explicit Gateway(GatewayOptions options);
  // Ends the streams.
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  MetricsHistory& history() { return history_; }
  RecentPredictions& predictions() { return predictions_; }

  // /v1/run's object (name, models, ...); "state" is SetState's.
  void SetRun(nlohmann::json run);
  // "starting", "running", "finished", "failed: why".
  void SetState(std::string state);
  // /v1/topology's "graph": {nodes, edges, groups} (ids "KIND:NAME").
  void SetTopology(nlohmann::json graph);
  // The bus's figures now (pushed by whoever samples the bus: the gateway
  // never calls into it, so it cannot hold the bus up or outlive it). Rates
  // are the difference from the previous snapshot.
  void UpdateBus(std::vector<bus::ResourceMetrics> snapshot);
  void SetFeedback(FeedbackView view, std::string resource);
  // /v1/serving's object (trainbus serve); null: no serving.
  void SetServingView(std::function<nlohmann::json()> view);
  // The HTTP adapter's bus (null: the adapter routes answer 404).
  void SetAdapter(std::shared_ptr<ResourceAdapter> adapter);
  // A placed run's nodes: /metrics counts them, /v1/topology lists them.
  void SetNodes(NodeCounts nodes);
  // More families for /metrics (e.g. the AMQP bridge's counters).
  void AddMetricsCollector(MetricsCollector collector);
  // Text appended to /metrics as is (trainbus serve: the serving metrics).
  void AddMetricsText(std::function<std::string()> text);

  // The gateway's routes; nullopt for a path it does not serve. Thread-safe.
  std::optional<serving::HttpResponse> Route(
      const serving::HttpRequest& request) const;
  // The token check, then Route, then `fallback` (e.g. the serving API),
  // then 404.
  serving::HttpHandler Handler(serving::HttpHandler fallback = nullptr) const;
  // The Prometheus text of everything the gateway knows.
  absl::StatusOr<std::string> RenderMetrics() const;

  // Ends every stream (they return within a turn).
  void Close();

 private:
  struct Snapshot {
    absl::Time at = absl::InfinitePast();
    std::vector<bus::ResourceMetrics> resources;
  };
  struct Sub;

  // The latest snapshot and the one before it.
  std::pair<Snapshot, Snapshot> Snapshots() const;

  serving::HttpResponse Run() const;
  serving::HttpResponse Topology() const;
  nlohmann::json NodesJson() const;
  serving::HttpResponse History() const;
  serving::HttpResponse Stream(const serving::HttpRequest& request) const;
  serving::HttpResponse Leaderboard(const serving::HttpRequest& request) const;
  serving::HttpResponse Tasks() const;
  serving::HttpResponse Serving() const;
  serving::HttpResponse Recent(const serving::HttpRequest& request) const;
  serving::HttpResponse Feedback(const serving::HttpRequest& request,
                                 absl::string_view id) const;
  serving::HttpResponse Metrics() const;
  serving::HttpResponse Resource(const serving::HttpRequest& request) const;
  serving::HttpResponse Asset(absl::string_view path) const;

  const GatewayOptions options_;
  MetricsHistory history_;
  RecentPredictions predictions_;

  mutable absl::Mutex mu_;
  nlohmann::json run_ ABSL_GUARDED_BY(mu_);
  std::string state_ ABSL_GUARDED_BY(mu_) = "starting";
  nlohmann::json graph_ ABSL_GUARDED_BY(mu_);
  // The latest snapshot and the one before it (rates are their difference).
  Snapshot current_ ABSL_GUARDED_BY(mu_);
  Snapshot previous_ ABSL_GUARDED_BY(mu_);
  FeedbackView feedback_ ABSL_GUARDED_BY(mu_);
  std::string feedback_resource_ ABSL_GUARDED_BY(mu_);
  std::function<nlohmann::json()> serving_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<ResourceAdapter> adapter_ ABSL_GUARDED_BY(mu_);
  NodeCounts nodes_ ABSL_GUARDED_BY(mu_);
  std::vector<MetricsCollector> collectors_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<std::string()>> texts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trainbus::gateway

#endif  // TRAINBUS_GATEWAY_GATEWAY_H_
