// Hot swap: keeps the current ModelSet snapshot of one registry model and
// replaces it when the registry's versions or aliases change.
//
//   auto watcher = serving::ModelWatcher::Start(store, "fashion/mlp", options);
//   std::shared_ptr<const ModelSet> models = (*watcher)->Current();  // per request
//   (*watcher)->Poll();  // now, instead of waiting for the next interval
//
// A poll reads the registry; what is new is loaded, checked and warmed
// (serving/model_set.h) on the polling thread while requests go on with the
// old snapshot, then the new snapshot is swapped in with one pointer store.
// A request holds its snapshot (a shared_ptr), so requests in flight finish
// on the version they started with, and the old versions are freed when
// the last of them ends.
#ifndef TRAINBUS_SERVING_WATCHER_H_
#define TRAINBUS_SERVING_WATCHER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "registry/store.h"
#include "serving/model_set.h"

namespace trainbus::serving {

struct WatcherOptions {
  // How often the thread polls (--poll_interval_s); zero: no thread, only
  // Poll() calls.
  absl::Duration poll_interval = absl::Seconds(1);
  LoadOptions load;
  // One line per change or failed poll; empty: not logged.
  std::function<void(absl::string_view)> log;
};

class ModelWatcher {
 public:
  // Loads the model now (see ModelSet::Load for the errors); `store` must
  // outlive the watcher.
  static absl::StatusOr<std::unique_ptr<ModelWatcher>> Start(
      registry::Store* store, absl::string_view ref, WatcherOptions options);
  // Stops the polling thread.
  ~ModelWatcher();

  std::shared_ptr<const ModelSet> Current() const;
  // Reads the registry once and swaps in a new snapshot if it changed;
  // returns whether it did. Polls take turns (the thread's and callers').
  absl::StatusOr<bool> Poll();
  // Snapshots swapped in since Start.
  int64_t swaps() const;

 private:
  ModelWatcher(registry::Store* store, WatcherOptions options)
      : store_(store), options_(std::move(options)) {}
  void Log(absl::string_view line) const;
  void PollLoop();

  registry::Store* const store_;
  const WatcherOptions options_;
  absl::Mutex poll_mu_;  // one poll at a time
  mutable absl::Mutex mu_;
  std::shared_ptr<const ModelSet> current_ ABSL_GUARDED_BY(mu_);
  int64_t swaps_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_WATCHER_H_
