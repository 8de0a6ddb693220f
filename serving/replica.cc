#include "serving/replica.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "base/status_macros.h"

namespace trainbus::serving {

absl::Status LocalReplica::Predict(const float* x, size_t batch,
                                   float* probs) {
  absl::MutexLock lock(&mu_);
  return model_->Predict(x, batch, probs);
}

ReplicaFactory LocalReplicas() {
  return [](absl::string_view checkpoint,
            int) -> absl::StatusOr<std::unique_ptr<Replica>> {
    TB_ASSIGN_OR_RETURN(std::unique_ptr<nn::Model> model,
                        nn::LoadModel(std::string_view(checkpoint.data(), checkpoint.size())));
    return std::make_unique<LocalReplica>(std::move(model));
  };
}

ReplicaPool::ReplicaPool(std::vector<std::unique_ptr<Replica>> replicas)
    : replicas_(std::move(replicas)), in_flight_(replicas_.size(), 0) {}

absl::Status ReplicaPool::Predict(const float* x, size_t batch, float* probs) {
  if (replicas_.empty()) return absl::FailedPreconditionError("no replicas");
  size_t index = 0;
  {
    // Choose and count in one step, so two batches arriving together go to
    // two idle replicas.
    absl::MutexLock lock(&mu_);
    index = std::min_element(in_flight_.begin(), in_flight_.end()) -
            in_flight_.begin();
    ++in_flight_[index];
  }
  return RunCounted(index, x, batch, probs);
}

absl::Status ReplicaPool::PredictOn(size_t index, const float* x, size_t batch,
                                    float* probs) {
  if (index >= replicas_.size()) {
    return absl::OutOfRangeError("no such replica");
  }
  {
    absl::MutexLock lock(&mu_);
    ++in_flight_[index];
  }
  return RunCounted(index, x, batch, probs);
}

absl::Status ReplicaPool::RunCounted(size_t index, const float* x,
                                     size_t batch, float* probs) {
  absl::Status status = replicas_[index]->Predict(x, batch, probs);
  absl::MutexLock lock(&mu_);
  --in_flight_[index];
  return status;
}

std::vector<int> ReplicaPool::InFlight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

}  // namespace trainbus::serving
