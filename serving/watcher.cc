#include "serving/watcher.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace trainbus::serving {

absl::StatusOr<std::unique_ptr<ModelWatcher>> ModelWatcher::Start(
    registry::Store* store, absl::string_view ref, WatcherOptions options) {
  std::unique_ptr<ModelWatcher> watcher(
      new ModelWatcher(store, std::move(options)));
  TB_ASSIGN_OR_RETURN(std::shared_ptr<const ModelSet> models,
                      ModelSet::Load(*store, ref, watcher->options_.load));
  for (const auto& v : models->versions()) {
    if (!v->available()) {
      watcher->Log(absl::StrCat(models->name(), ": version ", v->version(),
                                " not served: ", v->status().message()));
    }
  }
  {
    absl::MutexLock lock(&watcher->mu_);
    watcher->current_ = std::move(models);
  }
  if (watcher->options_.poll_interval > absl::ZeroDuration()) {
    watcher->thread_ = std::thread([w = watcher.get()] { w->PollLoop(); });
  }
  return watcher;
}

ModelWatcher::~ModelWatcher() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const ModelSet> ModelWatcher::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

int64_t ModelWatcher::swaps() const {
  absl::MutexLock lock(&mu_);
  return swaps_;
}

void ModelWatcher::Log(absl::string_view line) const {
  if (options_.log) options_.log(line);
}

absl::StatusOr<bool> ModelWatcher::Poll() {
  absl::MutexLock poll_lock(&poll_mu_);
  std::shared_ptr<const ModelSet> current = Current();
  std::vector<std::string> changes;
  // The slow part (loading and warming) runs without mu_: requests keep
  // reading the current snapshot meanwhile.
  TB_ASSIGN_OR_RETURN(std::shared_ptr<const ModelSet> next,
                      current->Reload(*store_, options_.load, &changes));
  if (next == nullptr) return false;
  {
    absl::MutexLock lock(&mu_);
    current_ = next;
    ++swaps_;
  }
  for (const std::string& change : changes) {
    Log(absl::StrCat(next->name(), ": ", change));
  }
  return true;
}

void ModelWatcher::PollLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.poll_interval)) {
    absl::StatusOr<bool> polled = Poll();
    if (!polled.ok()) {
      Log(absl::StrCat("polling the registry failed (the old snapshot stays): ",
                       polled.status().message()));
    }
  }
}

}  // namespace trainbus::serving
