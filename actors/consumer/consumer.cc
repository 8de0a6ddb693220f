#include "actors/consumer/consumer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "base/status_error.h"
#include "bus/atoms.h"
#include "bus/subscribe.h"
#include "bus/subscriber.h"
#include "caf/all.hpp"

namespace trainbus::actors {
namespace {

// A (flush_atom, ...) request waiting for enough messages.
struct FlushWaiter {
  uint64_t predictions, metrics, samples;
  caf::response_promise promise;
};

struct ConsumerState {
  ConsumerOptions options;
  std::unique_ptr<ConsumerLogic> logic;
  ConsumerStats stats;
  bus::CreditReturner credit;  // to whichever input delivered
  std::vector<FlushWaiter> waiters;

  ~ConsumerState() {
    if (logic) logic->Flush().IgnoreError();
  }

  static inline const char* name = "trainbus.consumer";
};

using Self = caf::stateful_actor<ConsumerState>;

void Record(Self* self, const absl::Status& status) {
  if (status.ok()) return;
  auto& st = self->state;
  if (st.stats.errors++ == 0) {
    caf::aout(self) << st.options.name << ": " << status.message()
                    << " (further errors are counted, not printed)\n";
  }
  st.stats.last_error = std::string(status.message());
}

bool Satisfied(const ConsumerStats& s, const FlushWaiter& w) {
  return s.predictions >= w.predictions && s.metrics >= w.metrics &&
         s.samples + s.batches + s.end_markers >= w.samples;
}

void AnswerWaiters(Self* self) {
  auto& st = self->state;
  if (st.waiters.empty()) return;
  auto ready = std::partition(
      st.waiters.begin(), st.waiters.end(),
      [&](const FlushWaiter& w) { return !Satisfied(st.stats, w); });
  if (ready == st.waiters.end()) return;
  Record(self, st.logic->Flush());
  for (auto it = ready; it != st.waiters.end(); ++it) {
    it->promise.deliver(st.stats);
  }
  st.waiters.erase(ready, st.waiters.end());
}

// One delivery: count it, hand it to the logic, give the credit back to the
// resource that delivered it, and answer the flush requests it satisfies.
template <class T>
void Deliver(Self* self, uint64_t ConsumerStats::*counter,
             absl::Status (ConsumerLogic::*handle)(uint64_t, const T&),
             uint64_t offset, const T& x) {
  auto& st = self->state;
  ++(st.stats.*counter);
  Record(self, (st.logic.get()->*handle)(offset, x));
  st.credit.Consumed(self, caf::actor_cast<caf::actor>(self->current_sender()));
  AnswerWaiters(self);
}

caf::behavior Consumer(Self* self, ConsumerOptions options,
                       std::shared_ptr<std::unique_ptr<ConsumerLogic>> logic) {
  auto& st = self->state;
  st.options = std::move(options);
  st.logic = std::move(*logic);
  st.logic->set_self(self);
  st.stats.name = st.options.name;
  st.options.credit = std::max<uint32_t>(st.options.credit, 1);
  st.credit = bus::CreditReturner(st.options.credit / 4);
  // The subscriptions made by SpawnConsumer may be refused.
  bus::QuitOnSubscribeError(self, st.options.name);
  using Stats = ConsumerStats;
  using Logic = ConsumerLogic;
  return {
      [=](bus::deliver_atom, uint64_t offset, const bus::Prediction& p) {
        Deliver(self, &Stats::predictions, &Logic::OnPrediction, offset, p);
      },
      [=](bus::deliver_atom, uint64_t offset, const bus::Metric& m) {
        Deliver(self, &Stats::metrics, &Logic::OnMetric, offset, m);
      },
      [=](bus::deliver_atom, uint64_t offset, const bus::Sample& s) {
        Deliver(self,
                s.end_of_stream() ? &Stats::end_markers : &Stats::samples,
                &Logic::OnSample, offset, s);
      },
      [=](bus::deliver_atom, uint64_t offset, const bus::SampleBatch& b) {
        Deliver(self, &Stats::batches, &Logic::OnBatch, offset, b);
      },
      [=](query_atom) { return self->state.stats; },
      [=](bus::flush_atom, uint64_t predictions, uint64_t metrics,
          uint64_t samples) -> caf::result<ConsumerStats> {
        auto promise = self->make_response_promise<ConsumerStats>();
        self->state.waiters.push_back(
            FlushWaiter{predictions, metrics, samples, promise});
        AnswerWaiters(self);
        return promise;
      },
      [=](report_atom) { return self->state.logic->Report(); },
  };
}

}  // namespace

std::string FormatConsumerStats(const ConsumerStats& s) {
  std::string out = absl::StrFormat(
      "%s: %d predictions, %d metrics, %d samples, %d end markers, %d errors",
      s.name, s.predictions, s.metrics, s.samples, s.end_markers, s.errors);
  if (s.batches > 0) absl::StrAppendFormat(&out, ", %d batches", s.batches);
  if (!s.last_error.empty())
    absl::StrAppend(&out, " (last: ", s.last_error, ")");
  return out;
}

caf::actor SpawnConsumer(caf::actor_system& sys, ConsumerOptions options,
                         std::unique_ptr<ConsumerLogic> logic) {
  auto holder =
      std::make_shared<std::unique_ptr<ConsumerLogic>>(std::move(logic));
  bus::SubscribeOptions sub;
  sub.name = options.name;
  sub.filter = options.filter;
  sub.policy = options.policy;
  sub.max_queue = options.max_queue;
  sub.initial_credit = std::max<uint32_t>(options.credit, 1);
  const std::vector<bus::resource_actor> inputs = options.inputs;
  caf::actor consumer =
      options.detached
          ? sys.spawn<caf::detached>(Consumer, std::move(options), holder)
          : sys.spawn(Consumer, std::move(options), holder);
  for (const bus::resource_actor& input : inputs) {
    bus::SubscribeNow(consumer, input, sub);
  }
  return consumer;
}

void AddConsumerTypes(caf::actor_system_config& cfg) {
  cfg.add_message_type<ConsumerStats>("trainbus.ConsumerStats");
}

}  // namespace trainbus::actors
