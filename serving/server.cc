#include "serving/server.h"

#include <algorithm>
#include <utility>

#include "base/status_macros.h"

namespace trainbus::serving {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(registry::Store* store,
                                                      ServeOptions options) {
  std::unique_ptr<Server> server(new Server());
  TB_ASSIGN_OR_RETURN(server->metrics_, ServingMetrics::Create());
  server->batcher_ = std::make_unique<Batcher>(
      options.batching, server->metrics_->batch_sizes());
  WatcherOptions watch;
  watch.poll_interval = options.poll_interval;
  watch.load.replicas = options.replicas;
  watch.load.replica_factory = std::move(options.replica_factory);
  watch.load.warm_batch = std::max(options.batching.max_batch_size, 1);
  watch.log = std::move(options.log);
  TB_ASSIGN_OR_RETURN(server->watcher_,
                      ModelWatcher::Start(store, options.model, std::move(watch)));
  server->api_ = std::make_unique<RestApi>(RestApiParts{
      server->watcher_.get(), server->batcher_.get(), server->metrics_.get()});
  TB_ASSIGN_OR_RETURN(server->http_,
                      HttpServer::Start(server->api_.get(), options.http));
  return server;
}

Server::~Server() {
  if (http_ != nullptr) http_->Stop();
}

}  // namespace trainbus::serving
