#include "serving/batcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "serving/model_set.h"

namespace trainbus::serving {

Batcher::Batcher(BatchingOptions options,
                 report::HistogramFamily* batch_sizes)
    : options_(options), batch_sizes_(batch_sizes) {
  for (int i = 0; i < std::max(options_.num_batch_threads, 1); ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

Batcher::~Batcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_.SignalAll();
  }
  for (std::thread& thread : threads_) thread.join();
}

size_t Batcher::queued_tasks() const {
  absl::MutexLock lock(&mu_);
  return queued_tasks_;
}

size_t Batcher::queued_batches() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

absl::Status Batcher::Full() const {
  return absl::UnavailableError(absl::StrCat(
      "the batch queue is full (", options_.max_enqueued_batches,
      " batches of up to ", options_.max_batch_size,
      " rows wait for a model worker); retry after a second, or start the "
      "server with more --replicas or --num_batch_threads, or a larger "
      "--max_enqueued_batches or --max_batch_size"));
}

absl::Status Batcher::Predict(const ServedVersion* version, const float* x,
                              size_t rows, float* probs) {
  Task task{x, rows, probs, absl::OkStatus()};
  const size_t max_rows = std::max(options_.max_batch_size, 1);
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError(
        "the server is stopping; retry on another instance");
  }
  // The open batch of this version is the newest one in the queue.
  Batch* batch = nullptr;
  for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {
    if ((*it)->version == version) {
      if ((*it)->rows + rows <= max_rows) batch = it->get();
      break;
    }
  }
  if (batch == nullptr) {
    if (queue_.size() >= static_cast<size_t>(
                             std::max(options_.max_enqueued_batches, 1))) {
      return Full();
    }
    queue_.push_back(std::make_unique<Batch>());
    batch = queue_.back().get();
    batch->version = version;
    batch->deadline =
        absl::Now() + absl::Microseconds(options_.batch_timeout_micros);
  }
  batch->tasks.push_back(&task);
  batch->rows += rows;
  ++queued_tasks_;
  work_.Signal();
  while (!task.done) done_.Wait(&mu_);
  return task.status;
}

std::unique_ptr<Batcher::Batch> Batcher::TakeReady(absl::Time now) {
  const size_t max_rows = std::max(options_.max_batch_size, 1);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (stopping_ || (*it)->rows >= max_rows || now >= (*it)->deadline) {
      std::unique_ptr<Batch> batch = std::move(*it);
      queue_.erase(it);
      queued_tasks_ -= batch->tasks.size();
      return batch;
    }
  }
  return nullptr;
}

void Batcher::Work() {
  mu_.Lock();
  while (true) {
    if (std::unique_ptr<Batch> batch = TakeReady(absl::Now())) {
      mu_.Unlock();
      Run(*batch);
      mu_.Lock();
      for (Task* task : batch->tasks) task->done = true;
      done_.SignalAll();
      continue;
    }
    if (stopping_) break;  // and the queue is empty
    if (queue_.empty()) {
      work_.Wait(&mu_);
    } else {
      // Deadlines grow along the queue: the front's comes first.
      work_.WaitWithDeadline(&mu_, queue_.front()->deadline);
    }
  }
  mu_.Unlock();
}

void Batcher::Run(Batch& batch) {
  const ServedVersion& v = *batch.version;
  auto finish = [&batch](const absl::Status& status) {
    for (Task* task : batch.tasks) task->status = status;
  };
  if (!v.available()) return finish(v.status());
  if (batch_sizes_ != nullptr) {
    batch_sizes_->Labels({v.record().name}).Observe(batch.rows);
  }
  if (batch.tasks.size() == 1) {
    Task& task = *batch.tasks[0];
    return finish(v.Predict(task.x, task.rows, task.probs));
  }
  // Gather the rows, predict once, scatter the scores back.
  const size_t input = v.spec().InputSize(), classes = v.spec().classes;
  std::vector<float> x(batch.rows * input), probs(batch.rows * classes);
  size_t row = 0;
  for (const Task* task : batch.tasks) {
    std::copy_n(task->x, task->rows * input, x.begin() + row * input);
    row += task->rows;
  }
  const absl::Status status = v.Predict(x.data(), batch.rows, probs.data());
  row = 0;
  for (Task* task : batch.tasks) {
    if (status.ok()) {
      std::copy_n(probs.begin() + row * classes, task->rows * classes,
                  task->probs);
    }
    row += task->rows;
  }
  finish(status);
}

}  // namespace trainbus::serving
