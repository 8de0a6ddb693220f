// Continual training from feedback, champion/challenger style (`trainbus
// serve --continual`).
//
// The champion is the version the promote alias (default "production")
// points at, else the latest. The challenger starts from the champion's
// weights. For every labelled feedback sample, both score it first
// (test-then-train, so the comparison is fair and costs no held-out data);
// then the challenger learns from it, together with replayed training
// samples when --replay_dir is set (--replay_ratio per feedback sample, so
// it does not forget the original task). Over the last --promote_window
// samples, when the challenger's accuracy leads the champion's by at least
// --promote_margin, the challenger is saved as a new registry version, the
// alias moves to it (the server's watcher hot-swaps it in), and it becomes
// the champion the next window is judged against.
//
// Every decision is logged: a promotion at once, a "keep" once per full
// window; each is printed, appended to the registry's logs (kind
// validation, model = the served model) and kept in memory
// (RecentDecisions) for the dashboard.
//
//   ChampionChallenger: the decision logic, no actors; tests drive it sample
//                       by sample.
//   ContinualService:   an in-process bus with the resource feedback/{m},
//                       a detached challenger actor subscribed to it, and
//                       the Feedback the REST API publishes through.
#ifndef TRAINBUS_SERVING_CONTINUAL_H_
#define TRAINBUS_SERVING_CONTINUAL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "data/idx.h"
#include "kernels/nn/model.h"
#include "registry/store.h"
#include "serving/feedback.h"

namespace trainbus::serving {

struct ContinualOptions {
  bool enabled = false;           // --continual
  std::string replay_dir;         // an MNIST-layout dir; its train split
  double replay_ratio = 0;        // replayed samples per feedback sample
  uint32_t promote_window = 200;  // samples a decision looks back over
  double promote_margin = 0.05;   // accuracy lead the challenger needs
  std::string promote_alias = "production";
  size_t recent_predictions = 4096;  // ids a :feedback can refer to
  uint64_t seed = 1;                 // which replay samples are drawn
};

// Takes `--name value` if it is one of the continual flags: true when it
// was (then `problem` is set for a bad value), false for another flag.
bool ParseContinualFlag(const std::string& name, const std::string& value,
                        ContinualOptions& options, std::string& problem);
// The lines the continual flags add to `trainbus serve help`.
extern const char kContinualUsage[];

struct Decision {
  uint64_t sample = 0;           // feedback samples seen so far
  int64_t champion_version = 0;  // the champion it was judged against
  double champion_accuracy = 0;  // over the window
  double challenger_accuracy = 0;
  uint32_t window = 0;  // samples in the window
  bool promoted = false;
  int64_t new_version = 0;  // the promoted version
  int64_t time_ns = 0;
  std::string ToString() const;
};

class ChampionChallenger {
 public:
  // `store` must be writable and outlive this; `replay` may be null.
  static absl::StatusOr<std::unique_ptr<ChampionChallenger>> Start(
      registry::Store* store, const std::string& project,
      const std::string& name, const ContinualOptions& options,
      std::shared_ptr<const data::Dataset> replay);

  // Test-then-train on one feedback sample: both score it, the challenger
  // learns from it (and replay). Returns the decision made on this sample,
  // if any. A sample of the wrong size or label is InvalidArgument and not
  // learned from.
  absl::StatusOr<std::optional<Decision>> Observe(const uint8_t* pixels,
                                                  size_t size, int32_t label);

  int64_t champion_version() const { return champion_version_; }
  uint64_t samples() const { return samples_; }
  uint64_t replayed() const { return replayed_; }
  const nn::Model& challenger() const { return *challenger_; }
  const nn::Model& champion() const { return *champion_; }

 private:
  ChampionChallenger() = default;
  absl::Status Learn(const std::vector<float>& x, int32_t label);
  absl::StatusOr<Decision> Promote(Decision decision);
  void Log(const Decision& decision);

  registry::Store* store_ = nullptr;
  std::string project_, name_;
  ContinualOptions options_;
  std::shared_ptr<const data::Dataset> replay_;
  std::unique_ptr<nn::Model> champion_, challenger_;
  int64_t champion_version_ = 0;
  uint64_t samples_ = 0, replayed_ = 0;
  double replay_credit_ = 0;
  // The last window's (champion right, challenger right), oldest first.
  std::deque<std::pair<bool, bool>> window_;
  uint32_t since_decision_ = 0;
  std::vector<float> x_, probs_;
  std::vector<int32_t> y_;
};

class ContinualService {
 public:
  // Opens its own writable registry at `registry_dir`, loads the champion
  // and the replay set, starts the bus and the challenger. Decisions are
  // also printed to `log` (which must outlive the service).
  static absl::StatusOr<std::unique_ptr<ContinualService>> Start(
      const std::string& registry_dir, const std::string& project,
      const std::string& name, const ContinualOptions& options,
      std::ostream& log);
  ~ContinualService();

  // For the REST API: publishes to feedback/{name}.
  const Feedback* feedback() const { return feedback_.get(); }
  // The most recent decisions (up to 32), oldest first.
  std::vector<Decision> RecentDecisions() const;
  // Waits until the challenger has handled `samples` feedback samples
  // (scored, and learned from unless refused); DeadlineExceeded after
  // `timeout`.
  absl::Status AwaitSamples(uint64_t samples, absl::Duration timeout) const;

  struct Shared;  // what the challenger actor reports to the service

 private:
  ContinualService() = default;
  absl::StatusOr<uint64_t> Publish(LabelledExample example);

  struct Bus;  // the actor system, bus and actors
  std::unique_ptr<registry::Store> store_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Bus> bus_;
  std::unique_ptr<RecentPredictions> recent_;
  std::unique_ptr<Feedback> feedback_;
};

}  // namespace trainbus::serving

#endif  // TRAINBUS_SERVING_CONTINUAL_H_
