#include "serving/serve_gateway.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/time/clock.h"

namespace trainbus::serving {
namespace {

using Json = nlohmann::json;

constexpr size_t kEventsKept = 20;

gateway::GatewayOptions Options(registry::Store* store, std::string token) {
  gateway::GatewayOptions o;
  o.registry = store;
  o.auth_token = std::move(token);
  return o;
}

}  // namespace

ServeGateway::ServeGateway(registry::Store* store, std::string auth_token)
    : gateway_(Options(store, std::move(auth_token))) {
  gateway_.SetServingView([this] { return Describe(); });
  gateway_.SetState("serving");
}

void ServeGateway::Attach(ServeOptions* options) {
  options->wrap = [this](HttpHandler api) {
    // The serving metrics come with the gateway's /metrics.
    gateway_.AddMetricsText([api] {
      HttpRequest scrape;
      scrape.method = "GET";
      scrape.path = "/metrics";
      return api(scrape).body;
    });
    return gateway_.Handler(std::move(api));
  };
  auto log = std::move(options->log);
  options->log = [this, log](absl::string_view line) {
    {
      absl::MutexLock lock(&mu_);
      events_.push_back(std::string(line));
      while (events_.size() > kEventsKept) events_.pop_front();
    }
    if (log) log(line);
  };
}

void ServeGateway::SetServer(Server* server) {
  absl::MutexLock lock(&mu_);
  server_ = server;
}

Json ServeGateway::Describe() {
  absl::MutexLock lock(&mu_);
  Json events = Json::array();
  for (const std::string& e : events_) events.push_back(e);
  if (server_ == nullptr) {
    return {{"models", Json::array()}, {"events", events}};
  }
  const std::shared_ptr<const ModelSet> models = server_->watcher().Current();
  Json versions = Json::array();
  for (const auto& v : models->versions()) {
    versions.push_back({{"version", v->version()},
                        {"state", v->available() ? "AVAILABLE" : "END"},
                        {"error", std::string(v->status().message())}});
  }
  const ServingMetrics::Summary s = server_->metrics().Summarize(models->name());
  const absl::Time now = absl::Now();
  double rate = 0;
  if (last_at_ != absl::InfinitePast() && s.requests >= last_requests_) {
    const double dt = absl::ToDoubleSeconds(now - last_at_);
    if (dt > 0) rate = static_cast<double>(s.requests - last_requests_) / dt;
  }
  last_at_ = now;
  last_requests_ = s.requests;
  Json model = {{"name", models->name()},
                {"project", models->project()},
                {"versions", versions},
                {"labels", models->labels()},
                {"requests_total", s.requests},
                {"requests_per_second", rate},
                {"p99_ms", s.p99_seconds * 1000},
                {"swaps", server_->watcher().swaps()}};
  return {{"models", Json::array({model})}, {"events", events}};
}

}  // namespace trainbus::serving
