// `trainbus run SPEC --dashboard=[HOST]:PORT`: the gateway (gateway/) beside
// a run in this process. It gets the spec's graph, every metric (through
// RunHooks::on_metric), the live bus metrics, the models' predictions joined
// with the pixels they were made on, the HTTP adapter's publish and
// subscribe, and a feedback path: a user's label for a recent prediction is
// published, as a labelled sample, to the resource `feedback` (declared by
// the dashboard unless the spec declares it; bind it to a model to train on
// what users label).
//
//   TB_ASSIGN_OR_RETURN(auto dash, RunDashboard::Start(spec, {":8080"}));
//   dash->Attach(&options.hooks);           // before RunSpec
//   absl::StatusOr<RunReport> report = RunSpec(spec, options);
//   dash->Finish(report);                    // final figures, state
#ifndef TRAINBUS_TOPOLOGY_DASHBOARD_H_
#define TRAINBUS_TOPOLOGY_DASHBOARD_H_

#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "amqp/counters.h"
#include "gateway/gateway.h"
#include "nlohmann/json.hpp"
#include "registry/store.h"
#include "serving/http_server.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus::topology {

inline constexpr char kFeedbackResource[] = "feedback";

struct DashboardOptions {
  std::string address;       // ":8080" (loopback), "HOST:PORT", ":0" (any)
  std::string auth_token;    // non-empty: every call needs it
  std::string registry_dir;  // leaderboard and tasks; "" or missing: none
};

// The options `trainbus run` flags give (in one process or placed): the
// token of --auth_token, else the spec's `auth:`; the registry of
// --registry_dir, else the spec's `registry:`, else the default one.
DashboardOptions DashboardOptionsFor(
    const TopologySpec& spec, std::string address,
    const std::optional<std::string>& auth_token,
    const std::optional<std::string>& registry_dir);

// "HOST:PORT" or ":PORT" (host 127.0.0.1); port 0 picks a free one.
absl::StatusOr<std::pair<std::string, int>> ParseListenAddress(
    absl::string_view text);

// The spec as /v1/topology's graph: nodes with ids "KIND:NAME" (source,
// resource, model, consumer), each with kind, title, subtitle and group
// (its `node:`), and edges {from, to, label}; an edge that a subscription
// carries names it ({"resource", "subscription"}) so its live figures can be
// found in the bus metrics.
nlohmann::json TopologyGraphJson(const TopologySpec& spec);

class RunDashboard {
 public:
  // Listens at once (the page works before the run starts). `spec` must
  // outlive the dashboard.
  static absl::StatusOr<std::unique_ptr<RunDashboard>> Start(
      const TopologySpec& spec, DashboardOptions options);
  ~RunDashboard();

  int port() const { return http_->port(); }
  const std::string& url() const { return url_; }
  gateway::Gateway& gateway() { return *gateway_; }

  // Puts the gateway's hooks in front of `hooks`' own (which still run).
  void Attach(RunHooks* hooks);
  // The run's end: its final bus figures (if it has them) and state.
  void Finish(const absl::StatusOr<RunReport>& report);
  // --dashboard_hold: says so on `out` and serves the finished run until
  // SIGINT or SIGTERM (whose default action ends the process).
  [[noreturn]] void HoldUntilSignal(std::ostream& out) const;

  struct Live;  // the part that talks to the run's bus (dashboard.cc)

 private:
  RunDashboard() = default;
  absl::Status BeginRun(PartContext& ctx);
  // The AMQP bridges' counters on /metrics.
  void AddAmqpCollector(
      std::map<std::string, std::shared_ptr<const amqp::BridgeCounters>>
          counters);
  void EndRun();

  const TopologySpec* spec_ = nullptr;
  std::string url_;
  std::unique_ptr<registry::Store> store_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<serving::HttpServer> http_;
  std::shared_ptr<Live> live_;
};

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_DASHBOARD_H_
