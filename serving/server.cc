#include "serving/server.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "serving/actor_replica.h"
#include "serving/replica_node.h"

namespace trainbus::serving {
namespace {

constexpr int kMaxWarmRows = 256;

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(registry::Store* store,
                                                      ServeOptions options) {
  std::unique_ptr<Server> server(new Server());
  TB_ASSIGN_OR_RETURN(ReplicaFactory factory, server->ReplicasOf(options));
  if (options.replica_factory) factory = std::move(options.replica_factory);
  TB_ASSIGN_OR_RETURN(server->metrics_, ServingMetrics::Create());
  server->batcher_ = std::make_unique<Batcher>(
      options.batching, server->metrics_->batch_sizes());
  WatcherOptions watch;
  watch.poll_interval = options.poll_interval;
  watch.load.replicas = options.replicas;
  watch.load.replica_factory = std::move(factory);
  ServingMetrics* metrics = server->metrics_.get();
  std::function<void(absl::string_view)> log = options.log;
  watch.load.on_retry = [metrics, log, model = options.model](
                            const std::string& replica,
                            const absl::Status& why) {
    metrics->CountRetry(model.substr(model.rfind('/') + 1));
    if (log) {
      log(absl::StrCat("replica ", replica, " left the rotation (",
                       why.message(), "); its batch is retried once on "
                       "another replica"));
    }
  };
  // A full batch's buffers, up to a size that cannot exhaust memory.
  watch.load.warm_batch =
      std::clamp(options.batching.max_batch_size, 1, kMaxWarmRows);
  watch.log = std::move(options.log);
  TB_ASSIGN_OR_RETURN(
      server->watcher_,
      ModelWatcher::Start(store, options.model, std::move(watch)));
  RestApiParts parts{server->watcher_.get(), server->batcher_.get(),
                     server->metrics_.get()};
  if (options.feedback) {
    TB_ASSIGN_OR_RETURN(parts.feedback,
                        options.feedback(*server->watcher_->Current()));
  }
  server->api_ = std::make_unique<RestApi>(parts);
  const RestApi* api = server->api_.get();
  HttpHandler handler = [api](const HttpRequest& r) { return api->Handle(r); };
  if (options.wrap) handler = options.wrap(std::move(handler));
  TB_ASSIGN_OR_RETURN(server->http_,
                      HttpServer::Start(std::move(handler), options.http));
  return server;
}

absl::StatusOr<ReplicaFactory> Server::ReplicasOf(
    const ServeOptions& options) {
  const std::string& kind = options.replica_kind;
  if (!options.replica_nodes.empty()) {
    TB_ASSIGN_OR_RETURN(bus::TlsOptions tls, bus::ResolveTls(options.tls, "hub"));
    if (!tls.enabled()) std::cerr << bus::kInsecureWarning << std::endl;
    actor_config_ = std::make_unique<caf::actor_system_config>();
    ConfigureReplicaSystem(*actor_config_, tls);
    actors_ = std::make_unique<caf::actor_system>(*actor_config_);
    return RemoteReplicas(*actors_, options.replica_nodes);
  }
  if (kind == "local") return LocalReplicas();
  if (kind == "actor") {
    actor_config_ = std::make_unique<caf::actor_system_config>();
    base::AddStatusErrors(*actor_config_);
    actors_ = std::make_unique<caf::actor_system>(*actor_config_);
    return ActorReplicas(*actors_);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "replica kind '", kind, "' is unknown; use local or actor"));
}

Server::~Server() {
  if (http_ != nullptr) http_->Stop();
}

}  // namespace trainbus::serving
