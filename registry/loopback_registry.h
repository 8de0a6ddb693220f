// For tests: a registry actor served through the middleman on a free
// loopback port, in an actor system of its own.
//
//   LoopbackRegistry node(store);          // or (store, tls): over TLS
//   ASSERT_TRUE(node.ok()) << node.error();
//   ... connect to 127.0.0.1:node.port() ...
//
// Destroying it unpublishes and stops the actor (the middleman holds a
// reference, and the actor system would wait for the worker forever).
#ifndef TRAINBUS_REGISTRY_LOOPBACK_REGISTRY_H_
#define TRAINBUS_REGISTRY_LOOPBACK_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "bus/tls.h"
#include "registry/registry_actor.h"
#include "registry/registry_node.h"
#include "registry/store.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"

namespace trainbus::registry::testing {

class LoopbackRegistry {
 public:
  explicit LoopbackRegistry(std::shared_ptr<Store> store,
                            const bus::TlsOptions& tls = {})
      : system_(Configure(config_, tls)),
        registry_(SpawnRegistryActor(system_, std::move(store))) {
    caf::expected<uint16_t> port =
        bus::PublishActor(system_, registry_, 0, "127.0.0.1");
    if (port) {
      port_ = *port;
    } else {
      error_ = system_.render(port.error());
    }
  }

  ~LoopbackRegistry() {
    if (ok()) bus::UnpublishActor(system_, registry_.address(), port_);
    caf::anon_send_exit(registry_, caf::exit_reason::user_shutdown);
    registry_ = nullptr;
  }

  LoopbackRegistry(const LoopbackRegistry&) = delete;
  LoopbackRegistry& operator=(const LoopbackRegistry&) = delete;

  // False if publishing failed; error() says why.
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  const registry_actor& actor() const { return registry_; }

 private:
  static caf::actor_system_config& Configure(caf::actor_system_config& cfg,
                                             const bus::TlsOptions& tls) {
    ConfigureRegistrySystem(cfg, tls);
    return cfg;
  }

  caf::actor_system_config config_;
  caf::actor_system system_;
  registry_actor registry_;
  uint16_t port_ = 0;
  std::string error_;
};

}  // namespace trainbus::registry::testing

#endif  // TRAINBUS_REGISTRY_LOOPBACK_REGISTRY_H_
