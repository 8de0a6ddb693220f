#include "serving/actor_replica.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "caf/all.hpp"
#include "caf/send.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "kernels/nn/model.h"

namespace trainbus::serving {
namespace {

replica_actor::behavior_type ReplicaBehavior(
    std::shared_ptr<nn::Model> model) {
  return {
      [model](predict_rows_atom, const std::vector<float>& x,
              uint64_t batch) -> caf::result<std::vector<float>> {
        const nn::ModelSpec& spec = model->spec();
        if (x.size() != batch * spec.InputSize()) {
          return base::ToCafError(absl::InvalidArgumentError(absl::StrCat(
              "a replica got ", x.size(), " floats for ", batch,
              " rows of ", spec.InputSize())));
        }
        std::vector<float> probs(batch * spec.classes);
        if (absl::Status s = model->Predict(x.data(), batch, probs.data());
            !s.ok()) {
          return base::ToCafError(s);
        }
        return probs;
      }};
}

absl::StatusOr<std::shared_ptr<nn::Model>> LoadShared(
    absl::string_view checkpoint) {
  TB_ASSIGN_OR_RETURN(
      std::unique_ptr<nn::Model> model,
      nn::LoadModel(std::string_view(checkpoint.data(), checkpoint.size())));
  return std::shared_ptr<nn::Model>(std::move(model));
}

}  // namespace

absl::StatusOr<replica_actor> SpawnReplicaActor(caf::actor_system& system,
                                                absl::string_view checkpoint) {
  TB_ASSIGN_OR_RETURN(std::shared_ptr<nn::Model> model, LoadShared(checkpoint));
  return system.spawn(ReplicaBehavior, std::move(model));
}

ActorReplica::ActorReplica(caf::actor_system& system, replica_actor actor,
                           size_t input_size, uint32_t classes,
                           absl::Duration timeout, std::string where)
    : system_(system),
      actor_(std::move(actor)),
      input_size_(input_size),
      classes_(classes),
      timeout_(timeout),
      where_(std::move(where)) {
  // Runs when the actor ends; for a remote one, when its node is lost
  // (CAF kills the proxy).
  if (auto* a = caf::actor_cast<caf::abstract_actor*>(actor_); a != nullptr) {
    a->attach_functor([alive = alive_] { alive->store(false); });
  }
}

ActorReplica::~ActorReplica() {
  caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown);
}

absl::Status ActorReplica::Predict(const float* x, size_t batch,
                                   float* probs) {
  const std::chrono::milliseconds timeout(
      std::max<int64_t>(absl::ToInt64Milliseconds(timeout_), 1));
  // An event-based actor for the call: it monitors the replica while its
  // request is pending, because a request to a remote actor whose node dies
  // is answered only by its timeout; the down message comes at once. Each
  // way out ends the call once; probs is written before the promise is set.
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = done->get_future();
  std::vector<float> rows(x, x + batch * input_size_);
  system_.spawn([&, done, rows = std::move(rows)](
                    caf::event_based_actor* self) mutable {
    auto finish = [self, done](absl::Status s) {
      done->set_value(std::move(s));
      self->quit();
    };
    self->monitor(actor_);
    self->set_down_handler([this, finish](caf::down_msg& down) {
      alive_->store(false);
      finish(absl::UnavailableError(absl::StrCat(
          "the replica ", where_, " is gone (", system_.render(down.reason),
          ")")));
    });
    self->request(actor_, timeout, predict_rows_atom::value, std::move(rows),
                  uint64_t{batch})
        .then(
            [=](std::vector<float>& out) {
              if (out.size() != batch * classes_) {
                finish(absl::InternalError(absl::StrCat(
                    "a replica answered ", out.size(), " scores for ", batch,
                    " rows of ", classes_, " classes")));
                return;
              }
              std::copy(out.begin(), out.end(), probs);
              finish(absl::OkStatus());
            },
            [=](caf::error& error) { finish(base::ToStatus(error)); });
  });
  return result.get();
}

void AddReplicaTypes(caf::actor_system_config& cfg) {
  cfg.add_message_type<std::vector<float>>("trainbus.floats")
      .add_message_type<replica_actor>("trainbus.replica_actor");
}

ReplicaFactory ActorReplicas(caf::actor_system& system,
                             absl::Duration timeout) {
  return [&system, timeout](absl::string_view checkpoint,
                            int) -> absl::StatusOr<std::unique_ptr<Replica>> {
    TB_ASSIGN_OR_RETURN(std::shared_ptr<nn::Model> model,
                        LoadShared(checkpoint));
    // The spec sizes the messages; after spawning, only the actor uses the
    // model.
    const nn::ModelSpec spec = model->spec();
    replica_actor actor = system.spawn(ReplicaBehavior, std::move(model));
    return std::make_unique<ActorReplica>(system, std::move(actor),
                                          spec.InputSize(), spec.classes,
                                          timeout);
  };
}

}  // namespace trainbus::serving
