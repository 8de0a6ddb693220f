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

ReplicaPool::ReplicaPool(std::vector<std::unique_ptr<Replica>> replicas,
                         RetryHook on_retry)
    : replicas_(std::move(replicas)),
      on_retry_(std::move(on_retry)),
      in_flight_(replicas_.size(), 0),
      out_(replicas_.size(), false) {}

std::optional<size_t> ReplicaPool::Choose(std::optional<size_t> skip) {
  // Choose and count in one step, so two batches arriving together go to
  // two idle replicas.
  absl::MutexLock lock(&mu_);
  std::optional<size_t> best;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    if (out_[i] || i == skip) continue;
    if (!replicas_[i]->alive()) {
      out_[i] = true;
      continue;
    }
    if (!best || in_flight_[i] < in_flight_[*best]) best = i;
  }
  if (best) ++in_flight_[*best];
  return best;
}

bool ReplicaPool::Gone(size_t index, const absl::Status& status) {
  if (status.ok() || (replicas_[index]->alive() &&
                      status.code() != absl::StatusCode::kUnavailable)) {
    return false;
  }
  absl::MutexLock lock(&mu_);
  out_[index] = true;
  return true;
}

absl::Status ReplicaPool::Predict(const float* x, size_t batch, float* probs) {
  if (replicas_.empty()) return absl::FailedPreconditionError("no replicas");
  std::optional<size_t> index = Choose(std::nullopt);
  if (!index) {
    return absl::UnavailableError(
        "every replica of this version is gone (their nodes died); restart "
        "them, or serve with local replicas");
  }
  absl::Status status = RunCounted(*index, x, batch, probs);
  if (!Gone(*index, status)) return status;
  // Once, on another replica: the batch was in flight to a dead one.
  if (on_retry_) on_retry_(replicas_[*index]->Describe(), status);
  std::optional<size_t> other = Choose(index);
  if (!other) return status;
  return RunCounted(*other, x, batch, probs);
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

size_t ReplicaPool::out() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(std::count(out_.begin(), out_.end(), true));
}

std::vector<int> ReplicaPool::InFlight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

}  // namespace trainbus::serving
