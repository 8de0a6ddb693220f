#include "serving/continual.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/hash.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "bus/bus.h"
#include "bus/message.h"
#include "bus/protocol.h"
#include "bus/subscribe.h"
#include "bus/subscriber.h"
#include "caf/all.hpp"

namespace trainbus::serving {

const char kContinualUsage[] =
    R"(  --continual            train a challenger on POST :feedback samples and
                         promote it when it beats the champion:
  --promote_window N     samples a decision looks back over (200)
  --promote_margin X     accuracy lead that promotes the challenger (0.05)
  --promote_alias A      the champion's alias, moved on promotion (production)
  --replay_dir DIR       mix in the train split of this MNIST-layout dir
  --replay_ratio X       replayed samples per feedback sample (0)
  --recent_predictions N prediction ids a :feedback can name (4096)
)";

bool ParseContinualFlag(const std::string& name, const std::string& value,
                        ContinualOptions& options, std::string& problem) {
  if (name == "continual") {
    options.enabled = true;
  } else if (name == "replay_dir") {
    options.replay_dir = value;
  } else if (name == "promote_alias") {
    if (value.empty()) problem = "--promote_alias needs a name";
    options.promote_alias = value;
  } else if (name == "replay_ratio") {
    if (!absl::SimpleAtod(value, &options.replay_ratio) ||
        !(options.replay_ratio >= 0 && options.replay_ratio <= 64)) {
      problem = absl::StrCat("--replay_ratio wants 0..64, got '", value, "'");
    }
  } else if (name == "promote_margin") {
    if (!absl::SimpleAtod(value, &options.promote_margin) ||
        !(options.promote_margin >= 0 && options.promote_margin <= 1)) {
      problem = absl::StrCat("--promote_margin wants 0..1, got '", value, "'");
    }
  } else if (name == "promote_window") {
    if (!absl::SimpleAtoi(value, &options.promote_window) ||
        options.promote_window == 0) {
      problem = absl::StrCat("--promote_window wants a number >= 1, got '",
                             value, "'");
    }
  } else if (name == "recent_predictions") {
    if (!absl::SimpleAtoi(value, &options.recent_predictions) ||
        options.recent_predictions == 0) {
      problem = absl::StrCat("--recent_predictions wants a number >= 1, got '",
                             value, "'");
    }
  } else {
    return false;
  }
  return true;
}

std::string Decision::ToString() const {
  return absl::StrFormat(
      "continual: after %d feedback samples, challenger %.4f vs champion "
      "(version %d) %.4f over the last %d: %s",
      sample, challenger_accuracy, champion_version, champion_accuracy, window,
      promoted ? absl::StrCat("promoted as version ", new_version)
               : std::string("keep the champion"));
}

namespace {

bool ArgMaxIs(const float* probs, size_t classes, int32_t label) {
  return std::max_element(probs, probs + classes) - probs == label;
}

absl::StatusOr<std::unique_ptr<nn::Model>> LoadVersion(
    registry::Store& store, const std::string& project, const std::string& name,
    int64_t version) {
  TB_ASSIGN_OR_RETURN(std::string checkpoint,
                      store.LoadModelBlob(project, name, version));
  return nn::LoadModel(checkpoint);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChampionChallenger>> ChampionChallenger::Start(
    registry::Store* store, const std::string& project, const std::string& name,
    const ContinualOptions& options,
    std::shared_ptr<const data::Dataset> replay) {
  std::unique_ptr<ChampionChallenger> cc(new ChampionChallenger());
  cc->store_ = store;
  cc->project_ = project;
  cc->name_ = name;
  cc->options_ = options;
  cc->replay_ = std::move(replay);
  absl::StatusOr<int64_t> aliased =
      store->ResolveAlias(project, name, options.promote_alias);
  if (aliased.ok()) {
    cc->champion_version_ = *aliased;
  } else {
    TB_ASSIGN_OR_RETURN(registry::ModelRecord latest,
                        store->GetModel(project, name));
    cc->champion_version_ = latest.version;
  }
  TB_ASSIGN_OR_RETURN(
      cc->champion_, LoadVersion(*store, project, name, cc->champion_version_));
  // The challenger starts as an exact copy of the champion.
  TB_ASSIGN_OR_RETURN(cc->challenger_, LoadVersion(*store, project, name,
                                                   cc->champion_version_));
  const nn::ModelSpec& spec = cc->champion_->spec();
  if (cc->replay_ != nullptr &&
      (cc->replay_->image_size() != spec.InputSize() ||
       cc->replay_->labels.size() != cc->replay_->count)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--replay_dir holds ", cc->replay_->rows, "x", cc->replay_->cols,
        " labelled images but the model takes ", spec.InputSize(),
        " inputs; replay the data the model was trained on"));
  }
  cc->probs_.resize(spec.classes);
  return cc;
}

absl::StatusOr<std::optional<Decision>> ChampionChallenger::Observe(
    const uint8_t* pixels, size_t size, int32_t label) {
  const nn::ModelSpec& spec = champion_->spec();
  if (size != spec.InputSize() || label < 0 ||
      label >= static_cast<int32_t>(spec.classes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "feedback sample of ", size, " pixels with label ", label,
        " does not fit the model (", spec.InputSize(), " pixels, classes 0..",
        spec.classes - 1, "); not learned from"));
  }
  std::vector<float> x(size);
  for (size_t i = 0; i < size; ++i) x[i] = pixels[i] / 255.0f;
  // Test first: both score the sample before the challenger sees its label.
  TB_RETURN_IF_ERROR(champion_->Predict(x.data(), 1, probs_.data()));
  const bool champion_right = ArgMaxIs(probs_.data(), spec.classes, label);
  TB_RETURN_IF_ERROR(challenger_->Predict(x.data(), 1, probs_.data()));
  const bool challenger_right = ArgMaxIs(probs_.data(), spec.classes, label);
  window_.emplace_back(champion_right, challenger_right);
  if (window_.size() > options_.promote_window) window_.pop_front();
  // Then train.
  TB_RETURN_IF_ERROR(Learn(x, label));
  ++samples_;
  ++since_decision_;
  if (window_.size() < options_.promote_window) return std::nullopt;
  Decision d;
  d.sample = samples_;
  d.champion_version = champion_version_;
  d.window = static_cast<uint32_t>(window_.size());
  d.time_ns = absl::GetCurrentTimeNanos();
  int champion_hits = 0, challenger_hits = 0;
  for (const auto& [champion, challenger] : window_) {
    champion_hits += champion;
    challenger_hits += challenger;
  }
  d.champion_accuracy = static_cast<double>(champion_hits) / d.window;
  d.challenger_accuracy = static_cast<double>(challenger_hits) / d.window;
  // The margin in hits, so that a margin like 0.2 over 50 samples is
  // exactly 10 hits and not lost to rounding.
  const bool leads = challenger_hits - champion_hits >=
                     options_.promote_margin * d.window - 1e-9;
  if (leads && challenger_hits > champion_hits) {
    TB_ASSIGN_OR_RETURN(d, Promote(d));
  } else if (since_decision_ < options_.promote_window) {
    return std::nullopt;  // "keep" is said once per full window
  }
  since_decision_ = 0;
  Log(d);
  return std::optional<Decision>(d);
}

absl::Status ChampionChallenger::Learn(const std::vector<float>& x,
                                       int32_t label) {
  x_ = x;
  y_.assign(1, label);
  if (replay_ != nullptr && options_.replay_ratio > 0) {
    replay_credit_ += options_.replay_ratio;
    const size_t in = x.size();
    for (; replay_credit_ >= 1; replay_credit_ -= 1) {
      const size_t i = static_cast<size_t>(
          base::SplitMix64(options_.seed * 0x100000001b3ULL + replayed_++) %
          replay_->count);
      const uint8_t* p = replay_->image(i);
      for (size_t k = 0; k < in; ++k) x_.push_back(p[k] / 255.0f);
      y_.push_back(replay_->labels[i]);
    }
  }
  return challenger_->TrainStep(x_.data(), y_.data(), y_.size()).status();
}

absl::StatusOr<Decision> ChampionChallenger::Promote(Decision d) {
  const std::string checkpoint = challenger_->SaveCheckpoint();
  registry::KeyValues kv = {
      {"promoted_from", absl::StrCat(champion_version_)},
      {"feedback_samples", absl::StrCat(samples_)},
      {"promote_window", absl::StrCat(d.window)},
      {"champion_accuracy", registry::FormatNumber(d.champion_accuracy)},
      {"challenger_accuracy", registry::FormatNumber(d.challenger_accuracy)},
      {"source", "continual"}};
  TB_ASSIGN_OR_RETURN(
      int64_t version,
      store_->SaveModel(project_, name_,
                        nn::FormatModelSpec(challenger_->spec()), checkpoint,
                        kv));
  TB_RETURN_IF_ERROR(
      store_->SetAlias(project_, name_, options_.promote_alias, version));
  TB_ASSIGN_OR_RETURN(champion_, nn::LoadModel(checkpoint));
  champion_version_ = version;
  window_.clear();
  d.promoted = true;
  d.new_version = version;
  return d;
}

void ChampionChallenger::Log(const Decision& d) {
  registry::LogEntry entry;
  entry.project = project_;
  entry.kind = registry::LogKind::kValidation;
  entry.model = name_;
  entry.model_version = d.promoted ? d.new_version : d.champion_version;
  entry.step = static_cast<int64_t>(d.sample);
  entry.time_ns = d.time_ns;
  entry.metrics = {
      {"decision", d.promoted ? "promote" : "keep"},
      {"champion_version", absl::StrCat(d.champion_version)},
      {"champion_accuracy", registry::FormatNumber(d.champion_accuracy)},
      {"challenger_accuracy", registry::FormatNumber(d.challenger_accuracy)},
      {"window", absl::StrCat(d.window)}};
  // A lost log line must not stop training; the decision is printed anyway.
  (void)store_->AppendLog(entry);
}

// ---- The service: bus, resource, challenger actor ---------------------------

namespace {
constexpr size_t kKeptDecisions = 32;
constexpr uint32_t kCreditWindow = 64;
}  // namespace

struct ContinualService::Shared {
  mutable absl::Mutex mu;
  uint64_t handled ABSL_GUARDED_BY(mu) = 0;
  std::deque<Decision> decisions ABSL_GUARDED_BY(mu);
  std::ostream* log = nullptr;

  void Handled(const absl::StatusOr<std::optional<Decision>>& result) {
    absl::MutexLock lock(&mu);
    ++handled;
    if (!result.ok()) {
      *log << "continual: " << result.status().message() << std::endl;
    } else if (result->has_value()) {
      *log << (*result)->ToString() << std::endl;
      decisions.push_back(**result);
      if (decisions.size() > kKeptDecisions) decisions.pop_front();
    }
  }
};

namespace {

struct ChallengerState {
  std::shared_ptr<ChampionChallenger> core;
  std::shared_ptr<ContinualService::Shared> shared;
  bus::resource_actor input;
  bus::CreditReturner credit{kCreditWindow / 4};
};

caf::behavior ChallengerActor(caf::stateful_actor<ChallengerState>* self,
                              std::shared_ptr<ChampionChallenger> core,
                              std::shared_ptr<ContinualService::Shared> shared,
                              bus::resource_actor input) {
  self->state.core = std::move(core);
  self->state.shared = std::move(shared);
  self->state.input = std::move(input);
  bus::QuitOnSubscribeError(self, "challenger");
  return {
      [=](bus::deliver_atom, uint64_t, const bus::Sample& s) {
        auto& st = self->state;
        st.shared->Handled(
            st.core->Observe(s.pixels.data(), s.pixels.size(), s.label));
        st.credit.Consumed(self, st.input);
      },
  };
}

caf::actor_system_config& WithBusTypes(caf::actor_system_config& cfg) {
  bus::AddBusTypes(cfg);
  return cfg;
}

}  // namespace

struct ContinualService::Bus {
  Bus() : sys(WithBusTypes(cfg)), bus(sys) {}
  caf::actor_system_config cfg;
  caf::actor_system sys;
  bus::Bus bus;
  bus::resource_actor feedback;
  caf::actor challenger;
  std::string source;
  std::atomic<uint64_t> seq{0};
};

absl::StatusOr<std::unique_ptr<ContinualService>> ContinualService::Start(
    const std::string& registry_dir, const std::string& project,
    const std::string& name, const ContinualOptions& options,
    std::ostream& log) {
  std::unique_ptr<ContinualService> service(new ContinualService());
  registry::StoreOptions store_options;
  store_options.root = registry_dir;
  store_options.create_if_missing = false;
  TB_ASSIGN_OR_RETURN(service->store_, registry::Store::Open(store_options));
  std::shared_ptr<const data::Dataset> replay;
  if (!options.replay_dir.empty()) {
    TB_ASSIGN_OR_RETURN(data::MnistSplits splits,
                        data::LoadMnistDir(options.replay_dir));
    replay = std::make_shared<const data::Dataset>(std::move(splits.train));
  }
  TB_ASSIGN_OR_RETURN(std::unique_ptr<ChampionChallenger> core,
                      ChampionChallenger::Start(service->store_.get(), project,
                                                name, options, replay));
  log << "continual: challenger of " << project << "/" << name
      << " starts from champion version " << core->champion_version() << " (@"
      << options.promote_alias << "); feedback on feedback/" << name
      << std::endl;
  service->shared_ = std::make_shared<Shared>();
  service->shared_->log = &log;
  service->bus_ = std::make_unique<Bus>();
  Bus& b = *service->bus_;
  b.source = absl::StrCat("feedback/", name);
  bus::ResourceOptions resource;
  resource.name = b.source;
  TB_ASSIGN_OR_RETURN(b.feedback, b.bus.Declare(resource));
  // Detached: the training math runs on its own thread, not CAF's workers.
  b.challenger = b.sys.spawn<caf::detached>(
      ChallengerActor, std::shared_ptr<ChampionChallenger>(std::move(core)),
      service->shared_, b.feedback);
  bus::SubscribeOptions sub;
  sub.name = absl::StrCat(b.source, "->challenger");
  sub.initial_credit = kCreditWindow;
  bus::SubscribeNow(b.challenger, b.feedback, sub);
  service->recent_ =
      std::make_unique<RecentPredictions>(options.recent_predictions);
  ContinualService* self = service.get();
  service->feedback_ = std::make_unique<Feedback>(
      service->recent_.get(),
      [self](LabelledExample e) { return self->Publish(std::move(e)); });
  return service;
}

ContinualService::~ContinualService() {
  if (bus_ == nullptr) return;
  caf::anon_send_exit(bus_->challenger, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bus_->feedback, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bus_->bus.directory(), caf::exit_reason::user_shutdown);
}

absl::StatusOr<uint64_t> ContinualService::Publish(LabelledExample example) {
  bus::Sample s;
  s.seq = bus_->seq++;
  s.source = bus_->source;
  s.shape = std::move(example.shape);
  s.pixels = bus::Bytes(std::move(example.pixels));
  s.label = example.label;
  if (example.prediction_id != 0) {
    s.meta["prediction_id"] = absl::StrCat(example.prediction_id);
    s.meta["predicted_by"] = absl::StrCat(example.predicted_by);
  }
  s.publish_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::steady_clock::now().time_since_epoch())
                     .count();
  caf::scoped_actor self{bus_->sys};
  absl::StatusOr<uint64_t> offset =
      absl::UnavailableError("the feedback resource did not answer");
  // Under the block policy a full challenger queue holds the publish back;
  // past the deadline the client gets 503 and may retry.
  self->request(bus_->feedback, std::chrono::seconds(10),
                bus::publish_atom::value, std::move(s))
      .receive([&](uint64_t at) { offset = at; },
               [&](caf::error& err) {
                 offset = absl::UnavailableError(
                     absl::StrCat(bus_->source, " did not take the sample (",
                                  base::ErrorToString(err), "); retry later"));
               });
  return offset;
}

std::vector<Decision> ContinualService::RecentDecisions() const {
  absl::MutexLock lock(&shared_->mu);
  return {shared_->decisions.begin(), shared_->decisions.end()};
}

absl::Status ContinualService::AwaitSamples(uint64_t samples,
                                            absl::Duration timeout) const {
  absl::MutexLock lock(&shared_->mu);
  auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(shared_->mu) {
    return shared_->handled >= samples;
  };
  if (shared_->mu.AwaitWithTimeout(absl::Condition(&enough), timeout)) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the challenger handled ", shared_->handled, " of ", samples,
                   " feedback samples within ", absl::FormatDuration(timeout)));
}

}  // namespace trainbus::serving
