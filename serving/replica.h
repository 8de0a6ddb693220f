// Model workers ("replicas") of one served version, and the dispatcher that
// sends each batch to the replica with the fewest batches in flight.
//
//   std::vector<std::unique_ptr<serving::Replica>> replicas = ...;  // --replicas
//   serving::ReplicaPool pool(std::move(replicas));
//   pool.Predict(x, batch, probs);  // on the least busy replica
//
// Replica is the seam for workers elsewhere: a CAF actor replica (on this
// node or another, issue 15 / topology) implements Predict as a blocking
// request to the actor with a deadline; the pool, the batcher and the REST
// API do not change. Only LocalReplica (an nn::Model copy in this process)
// is built; see serving/README.md for why.
#ifndef TRAINBUS_SERVING_REPLICA_H_
#define TRAINBUS_SERVING_REPLICA_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "kernels/nn/model.h"

namespace trainbus::serving {

class Replica {
 public:
  virtual ~Replica() = default;
  // x (batch, input size) -> probs (batch, classes), blocking. May be called
  // from several threads at once.
  virtual absl::Status Predict(const float* x, size_t batch, float* probs) = 0;
  // For logs: "local", "actor on node-2", ...
  virtual std::string Describe() const = 0;
  // False once the replica is known to be gone for good (its node died):
  // the pool then takes it out of the rotation.
  virtual bool alive() const { return true; }
};

// An nn::Model in this process. Calls take turns: Predict reuses the
// model's activation buffers, which is why each replica has its own copy.
class LocalReplica : public Replica {
 public:
  explicit LocalReplica(std::unique_ptr<nn::Model> model)
      : model_(std::move(model)) {}
  absl::Status Predict(const float* x, size_t batch, float* probs) override;
  std::string Describe() const override { return "local"; }

 private:
  absl::Mutex mu_;
  std::unique_ptr<nn::Model> model_ ABSL_GUARDED_BY(mu_);
};

// Makes replica `index` of a version from its checkpoint bytes.
using ReplicaFactory = std::function<absl::StatusOr<std::unique_ptr<Replica>>(
    absl::string_view checkpoint, int index)>;
// LocalReplicas: each replica loads its own nn::Model from the checkpoint.
ReplicaFactory LocalReplicas();

// Called when a batch is retried because its replica is gone: the replica
// (Describe()) and why.
using RetryHook =
    std::function<void(const std::string& replica, const absl::Status& why)>;

class ReplicaPool {
 public:
  explicit ReplicaPool(std::vector<std::unique_ptr<Replica>> replicas,
                       RetryHook on_retry = nullptr);

  // On the replica with the fewest batches in flight (ties: the lowest
  // index) among those in the rotation, counted here so a remote replica
  // need not count. A replica that is gone (not alive(), or Unavailable)
  // leaves the rotation, and its batch is retried once on another.
  absl::Status Predict(const float* x, size_t batch, float* probs);
  // Straight to replica `index` (warm-up), also counted.
  absl::Status PredictOn(size_t index, const float* x, size_t batch,
                         float* probs);
  size_t size() const { return replicas_.size(); }
  // Batches in flight per replica, now.
  std::vector<int> InFlight() const;
  // Replicas taken out of the rotation so far.
  size_t out() const;

 private:
  // Chooses (and counts) the least busy replica in the rotation other
  // than `skip`; nullopt when none is left.
  std::optional<size_t> Choose(std::optional<size_t> skip);
  // Whether `status` from replica `index` means it is gone; if so, takes
  // it out of the rotation.
  bool Gone(size_t index, const absl::Status& status);

  // Predicts on `index`, whose in-flight count the caller raised.
  absl::Status RunCounted(size_t index, const float* x, size_t batch,
                          float* probs);

  const std::vector<std::unique_ptr<Replica>> replicas_;
  const RetryHook on_retry_;
  mutable absl::Mutex mu_;
  std::vector<int> in_flight_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> out_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_REPLICA_H_
