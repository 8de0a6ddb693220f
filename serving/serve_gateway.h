// `trainbus serve`'s gateway: the endpoints of gateway/gateway.h on the
// serving port, beside TF Serving's REST API, behind the same token. Its
// /v1/serving shows the served model's versions and labels, requests per
// second, p99 latency, swaps and the watcher's last changes (promotions
// arrive as moved aliases); /metrics is the serving metrics plus the
// registry's; /v1/leaderboard and /v1/tasks read the served registry.
//
//   ServeGateway gateway(store, auth_token);
//   gateway.Attach(&options);                  // before Server::Start
//   auto server = Server::Start(store, options);
//   gateway.SetServer(server->get());
#ifndef TRAINBUS_SERVING_SERVE_GATEWAY_H_
#define TRAINBUS_SERVING_SERVE_GATEWAY_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/gateway.h"
#include "nlohmann/json.hpp"
#include "registry/store.h"
#include "serving/server.h"

namespace trainbus::serving {

class ServeGateway {
 public:
  ServeGateway(registry::Store* store, std::string auth_token);

  // Sets options->wrap, and keeps the watcher's log lines (still passed on
  // to the log already set).
  void Attach(ServeOptions* options);
  // The server /v1/serving describes; must outlive this (or be reset).
  void SetServer(Server* server);
  gateway::Gateway& gateway() { return gateway_; }

 private:
  nlohmann::json Describe();

  gateway::Gateway gateway_;
  absl::Mutex mu_;
  Server* server_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<std::string> events_ ABSL_GUARDED_BY(mu_);
  // The previous /v1/serving: requests per second are the difference.
  absl::Time last_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t last_requests_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_SERVE_GATEWAY_H_
