// One `trainbus serve`: the model watcher (hot swap), the batcher with its
// replicas, the metrics, the REST API and the HTTP server, started and
// stopped together.
//
//   serving::ServeOptions options;
//   options.model = "fashion/mlp";
//   options.http.port = 0;
//   auto server = serving::Server::Start(store.get(), options);
//   int port = (*server)->port();
//   (*server)->watcher().Poll();  // pick up a registry change now
//
// With options.feedback the API also takes :feedback (trainbus serve
// --continual); its prediction ids cover batched requests like any other.
#ifndef TRAINBUS_SERVING_SERVER_H_
#define TRAINBUS_SERVING_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "registry/store.h"
#include "bus/tls.h"
#include "serving/batcher.h"
#include "serving/feedback.h"
#include "serving/http_server.h"
#include "serving/metrics.h"
#include "serving/model_set.h"
#include "serving/replica.h"
#include "serving/rest_api.h"
#include "serving/watcher.h"

namespace trainbus::serving {

struct ServeOptions {
  std::string model;  // NAME or PROJECT/NAME
  ServerOptions http;
  BatchingOptions batching;
  int replicas = 1;
  // "local": an nn::Model copy per replica, called in the batch thread;
  // "actor": each replica is a CAF actor (serving/actor_replica.h).
  std::string replica_kind = "local";
  // Non-empty: the replicas are actors on these `trainbus replica-node`s
  // (serving/replica_node.h), reached with `tls` (required, as for placed
  // runs: a directory, the files, or insecure).
  std::vector<std::pair<std::string, uint16_t>> replica_nodes;
  bus::TlsSettings tls;
  absl::Duration poll_interval = absl::Seconds(1);  // zero: Poll() only
  ReplicaFactory replica_factory;  // tests; overrides replica_kind
  std::function<void(absl::string_view)> log;       // the watcher's lines
  // Called once the model's first snapshot is loaded, before the API is
  // built: the Feedback behind :feedback (null: none), e.g. from a
  // ContinualService started for models.project()/models.name(). What it
  // returns must outlive the Server.
  std::function<absl::StatusOr<const Feedback*>(const ModelSet& models)>
      feedback;
  // Wraps the REST API's handler before it goes on the socket, e.g. with
  // the gateway's routes and token check (trainbus serve). Null: as is.
  std::function<HttpHandler(HttpHandler api)> wrap;
};

class Server {
 public:
  // Loads the model, then listens; `store` must outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(registry::Store* store,
                                                       ServeOptions options);
  // Stop(), then the watcher and the batcher (which finishes its queue).
  ~Server();

  int port() const { return http_->port(); }
  ModelWatcher& watcher() { return *watcher_; }
  Batcher& batcher() { return *batcher_; }
  ServingMetrics& metrics() { return *metrics_; }
  // Stops accepting and finishes the requests in progress. Idempotent.
  void Stop() { http_->Stop(); }

 private:
  Server() = default;
  // The factory for --replica_kind; "actor" starts the actor system.
  absl::StatusOr<ReplicaFactory> ReplicasOf(const ServeOptions& options);

  // Declared in the order they are built; destroyed in reverse (the actor
  // system last: it waits for the replica actors, told to exit when their
  // versions go).
  std::unique_ptr<caf::actor_system_config> actor_config_;
  std::unique_ptr<caf::actor_system> actors_;  // replica_kind "actor" only
  std::unique_ptr<ServingMetrics> metrics_;
  std::unique_ptr<Batcher> batcher_;
  std::unique_ptr<ModelWatcher> watcher_;
  std::unique_ptr<RestApi> api_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_SERVER_H_
