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

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "caf/actor_system.hpp"
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
  // input_size and classes: the model's, to size the messages.
  ActorReplica(caf::actor_system& system, replica_actor actor,
               size_t input_size, uint32_t classes, absl::Duration timeout);
  // Tells the actor to exit.
  ~ActorReplica() override;

  // DeadlineExceeded past the timeout; Unavailable when the actor is gone.
  absl::Status Predict(const float* x, size_t batch, float* probs) override;
  std::string Describe() const override { return "actor"; }
  const replica_actor& actor() const { return actor_; }

 private:
  caf::actor_system& system_;
  replica_actor actor_;
  const size_t input_size_;
  const uint32_t classes_;
  const absl::Duration timeout_;
};

// A factory of ActorReplicas on `system` (which must outlive them).
ReplicaFactory ActorReplicas(caf::actor_system& system,
                             absl::Duration timeout = absl::Seconds(30));

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_ACTOR_REPLICA_H_
