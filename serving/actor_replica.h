// A replica that is a CAF typed actor owning its model: the seam for model
// workers elsewhere. In process today (`trainbus serve --replica_kind=actor`);
// the same handle on another node (issue 15 / topology) needs only the
// handle's types registered with the middleman.
//
//   caf::actor_system system{cfg};  // with base::AddStatusErrors(cfg)
//   LoadOptions load;
//   load.replica_factory = serving::ActorReplicas(system);
//
// Each Predict is a blocking request with a deadline: the rows go to the
// actor as a message and the scores come back (one copy each way, which a
// remote replica pays anyway). The actor handles one request at a time, so
// its model's buffers are never shared.
#ifndef TRAINBUS_SERVING_ACTOR_REPLICA_H_
#define TRAINBUS_SERVING_ACTOR_REPLICA_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"
#include "serving/replica.h"

namespace trainbus::serving {

using predict_rows_atom = caf::atom_constant<caf::atom("predrows")>;

// (predict_rows, x (batch * input floats), batch) -> probs (batch * classes).
using replica_actor = caf::typed_actor<caf::replies_to<
    predict_rows_atom, std::vector<float>, uint64_t>::with<std::vector<float>>>;

// Loads the checkpoint and spawns the actor that owns the model.
absl::StatusOr<replica_actor> SpawnReplicaActor(caf::actor_system& system,
                                                absl::string_view checkpoint);

class ActorReplica : public Replica {
 public:
  // input_size and classes: the model's, to size the messages; `where`
  // names it in logs ("actor", "actor on 127.0.0.1:4301").
  ActorReplica(caf::actor_system& system, replica_actor actor,
               size_t input_size, uint32_t classes, absl::Duration timeout,
               std::string where = "actor");
  // Tells the actor to exit.
  ~ActorReplica() override;

  // DeadlineExceeded past the timeout; Unavailable when the actor is gone
  // (also mid-request: the call monitors the actor, so a node that dies
  // with the batch is noticed at once, not at the timeout).
  absl::Status Predict(const float* x, size_t batch, float* probs) override;
  std::string Describe() const override { return where_; }
  bool alive() const override { return alive_->load(); }
  const replica_actor& actor() const { return actor_; }

 private:
  caf::actor_system& system_;
  replica_actor actor_;
  const size_t input_size_;
  const uint32_t classes_;
  const absl::Duration timeout_;
  const std::string where_;
  // Cleared when the actor (or its node) goes down.
  std::shared_ptr<std::atomic<bool>> alive_ =
      std::make_shared<std::atomic<bool>>(true);
};

// The message types a replica actor exchanges, for systems that reach one
// over the network (serving/replica_node.h).
void AddReplicaTypes(caf::actor_system_config& cfg);

// A factory of ActorReplicas on `system` (which must outlive them).
ReplicaFactory ActorReplicas(caf::actor_system& system,
                             absl::Duration timeout = absl::Seconds(30));

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_ACTOR_REPLICA_H_
