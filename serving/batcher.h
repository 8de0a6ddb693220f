// Dynamic batching with TF Serving's parameters: concurrent requests for
// one version are predicted as one batch through the model's batched
// Predict.
//
//   serving::Batcher batcher({.max_batch_size = 32, .num_batch_threads = 2});
//   absl::Status s = batcher.Predict(version, x, rows, probs);  // blocks
//   // Unavailable (-> HTTP 503 + Retry-After) when the queue is full.
//
// The flags mean what they mean in TF Serving's BasicBatchScheduler (see
// BatchingOptions).
#ifndef TRAINBUS_SERVING_BATCHER_H_
#define TRAINBUS_SERVING_BATCHER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "report/prometheus.h"

namespace trainbus::serving {

class ServedVersion;  // serving/model_set.h

struct BatchingOptions {
  // Rows per batch. A request joins the open batch of its version while it
  // fits; a request larger than this is a batch of its own (not refused).
  int max_batch_size = 32;
  // How long a batch that is not full may wait for more requests; 0: it
  // goes as soon as a thread is free (requests arriving meanwhile join it).
  int64_t batch_timeout_micros = 0;
  // Threads predicting batches, so batches run in parallel (across
  // versions and replicas).
  int num_batch_threads = 2;
  // Batches waiting for a thread; a request that needs a new batch beyond
  // them is refused (Unavailable, HTTP 503).
  int max_enqueued_batches = 64;
};

class Batcher {
 public:
  // batch_sizes (may be null): observes each batch's rows, labelled by
  // model name.
  explicit Batcher(BatchingOptions options,
                   report::HistogramFamily* batch_sizes = nullptr);
  // Predicts what is queued, then joins the threads.
  ~Batcher();

  // x (rows, input) -> probs (rows, classes) on `version`, as part of a
  // batch. Blocks until done. The caller keeps `version` alive until then
  // (a request holds its ModelSet snapshot).
  absl::Status Predict(const ServedVersion* version, const float* x,
                       size_t rows, float* probs);

  const BatchingOptions& options() const { return options_; }
  // Requests waiting for a thread, and the batches they form.
  size_t queued_tasks() const;
  size_t queued_batches() const;

 private:
  struct Task {
    const float* x;
    size_t rows;
    float* probs;
    absl::Status status;
    bool done = false;
  };
  struct Batch {
    const ServedVersion* version;
    std::vector<Task*> tasks;
    size_t rows = 0;
    absl::Time deadline;
  };

  void Work();
  // The oldest batch that is full or past its deadline (any, when
  // stopping); null if none.
  std::unique_ptr<Batch> TakeReady(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(Batch& batch);
  absl::Status Full() const;

  const BatchingOptions options_;
  report::HistogramFamily* const batch_sizes_;
  mutable absl::Mutex mu_;
  absl::CondVar work_;  // a batch was added or became full, or stopping
  absl::CondVar done_;  // a batch finished
  std::deque<std::unique_ptr<Batch>> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_tasks_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_BATCHER_H_
