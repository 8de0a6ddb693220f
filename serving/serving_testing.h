// Test helpers for the serving tests: separable images, a trained model in
// a registry, and a real HTTP client's replies as JSON.
#ifndef TRAINBUS_SERVING_SERVING_TESTING_H_
#define TRAINBUS_SERVING_SERVING_TESTING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "data/image.h"
#include "httplib.h"
#include "kernels/nn/model.h"
#include "nlohmann/json.hpp"
#include "registry/store.h"
#include "serving/replica.h"

namespace trainbus::serving::testing {

using Json = nlohmann::json;

inline constexpr int kClasses = 10;

// Class c is a bright horizontal band at rows 2c+4..2c+5 on black: trivially
// separable, so a softmax learns it in a few steps.
data::Image Pattern(int c);
std::vector<float> Floats(const data::Image& image);
std::string Png(int c);
std::string B64(const std::string& bytes);
// `steps` full-batch steps on the ten patterns.
void Train(nn::Model& model, int steps);
// A model of `arch` trained `steps` steps (null, and a test failure, for a
// bad arch).
std::unique_ptr<nn::Model> TrainedModel(const std::string& arch, int steps);
// A softmax (lr 0.5) trained `steps` steps, saved as a new version of
// project/name; returns the version.
int64_t SaveTrainedSoftmax(registry::Store& store, const std::string& project,
                           const std::string& name, int steps);
// A registry in TEST_TMPDIR.
std::unique_ptr<registry::Store> NewStore(const std::string& name);

// A door replicas wait at, so a test holds a batch in a worker and knows
// what is queued behind it. Open at first (warm-up passes).
class Gate {
 public:
  void Close();
  void Open();
  // Blocks while closed.
  void Pass();
  // Callers blocked in Pass now.
  int waiting() const;

 private:
  mutable absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

// Local replicas that pass `gate` before each Predict and record each
// batch's rows in `batches` (both must outlive the replicas).
struct BatchLog {
  absl::Mutex mu;
  std::vector<size_t> rows ABSL_GUARDED_BY(mu);
  std::vector<size_t> Rows() {
    absl::MutexLock lock(&mu);
    return rows;
  }
};
ReplicaFactory GatedReplicas(Gate* gate, BatchLog* batches);

struct Reply {
  int status = 0;
  Json json;
  httplib::Headers headers;
};
// Fails the test when there is no response or it is not JSON.
Reply Parse(const httplib::Result& result);
// The error text of a reply that must be an error with `status`.
std::string ErrorOf(const Reply& reply, int status);
// Polls `condition` until true; false (and a test failure naming `what`)
// after `timeout`.
bool WaitFor(const std::function<bool()>& condition, const std::string& what,
             double timeout_s = 30);

}  // namespace trainbus::serving::testing

#endif  // TRAINBUS_SERVING_SERVING_TESTING_H_
