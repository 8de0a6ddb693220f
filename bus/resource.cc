#include "bus/resource.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "bus/codec.h"
#include "bus/message.h"
#include "bus/message_log.h"
#include "bus/metrics.h"
#include "bus/protocol.h"
#include "caf/all.hpp"

namespace trainbus::bus {
namespace {

// A message waiting for a subscriber's credit.
struct Queued {
  uint64_t offset;
  caf::message delivery;  // (deliver_atom, offset, payload)
};

struct Subscription {
  subscriber_actor target;
  // The same actor untyped: deliveries are prebuilt caf::messages (one per
  // publish, shared by all subscribers), which only an unchecked send takes.
  // MakeDelivery checks their type against subscriber_actor instead.
  caf::actor mailbox;
  SubscribeOptions options;
  uint32_t max_queue = 0;
  uint32_t credit = 0;
  std::deque<Queued> queue;
  // catch_up (and replays from a start offset): while detached the
  // subscriber is served from the log, starting at `cursor`.
  bool detached = false;
  uint64_t cursor = 0;
  SubscriptionMetrics metrics;
};

// A publish that arrived while a "block" subscriber had no room.
struct Waiting {
  caf::message payload;   // one element: Sample, SampleBatch, ...
  caf::response_promise promise;
};

struct ResourceState {
  ResourceOptions options;
  std::unique_ptr<MessageLog> log;
  std::vector<Subscription> subscriptions;
  std::deque<Waiting> waiting;
  uint64_t next_offset = 0;  // when not durable
  uint64_t published = 0;
  uint64_t blocked = 0;
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();

  static inline const char* name = "trainbus.resource";
};

using Self = resource_actor::stateful_base<ResourceState>;

// (deliver_atom, offset, x), checked against what a subscriber accepts.
template <class T>
caf::message MakeDelivery(uint64_t offset, T&& x) {
  using Signature =
      caf::detail::type_list<deliver_atom, uint64_t, std::decay_t<T>>;
  static_assert(
      caf::response_type_unbox<caf::signatures_of_t<subscriber_actor>,
                               Signature>::valid,
      "subscriber_actor does not accept this payload type");
  return caf::make_message(deliver_atom::value, offset, std::forward<T>(x));
}

// Keeps the log's code: a full disk is not data loss (what was stored stays).
caf::error LogFailed(const std::string& resource, const absl::Status& status) {
  return base::ToCafError(absl::Status(
      status.code(), absl::StrCat("resource '", resource,
                                  "' could not store a message: ",
                                  status.message())));
}

caf::error InvalidArgument(std::string text) {
  return base::ToCafError(absl::InvalidArgumentError(std::move(text)));
}

// Calls `fn(x)` with the typed payload of a one-element message. Returns
// false for a payload type the bus does not carry.
template <class Fn>
bool VisitPayload(caf::message& m, Fn&& fn) {
  if (m.match_elements<Sample>()) return fn(m.get_mutable_as<Sample>(0)), true;
  if (m.match_elements<SampleBatch>()) {
    return fn(m.get_mutable_as<SampleBatch>(0)), true;
  }
  if (m.match_elements<Prediction>()) {
    return fn(m.get_mutable_as<Prediction>(0)), true;
  }
  if (m.match_elements<Metric>()) return fn(m.get_mutable_as<Metric>(0)), true;
  return false;
}

enum class Verdict { kPass, kReject, kSubset };

template <class T>
Verdict Judge(const Filter&, const T&) {
  return Verdict::kPass;  // predictions and metrics are never filtered
}

Verdict Judge(const Filter& filter, const Sample& x) {
  return filter.Accepts(x) ? Verdict::kPass : Verdict::kReject;
}

Verdict Judge(const Filter& filter, const SampleBatch& x) {
  if (filter.PassesEverything()) return Verdict::kPass;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < x.count; ++i) {
    kept += filter.Accepts(x.labels[i], x.first_seq + i);
  }
  if (kept == x.count) return Verdict::kPass;
  return kept == 0 ? Verdict::kReject : Verdict::kSubset;
}

template <class T>
caf::message SubsetDelivery(const Filter&, uint64_t offset, const T& x) {
  return MakeDelivery(offset, x);
}

caf::message SubsetDelivery(const Filter& filter, uint64_t offset,
                            const SampleBatch& x) {
  return MakeDelivery(offset, FilterBatch(filter, x));
}

void Send(Self* self, Subscription& sub, caf::message delivery) {
  --sub.credit;
  ++sub.metrics.delivered;
  caf::unsafe_send_as(self, sub.mailbox, std::move(delivery));
}

// Hands one accepted message to one subscription: now if it has credit,
// else into its queue, applying its policy when the queue overflows.
template <class T>
void Offer(Self* self, Subscription& sub, uint64_t offset,
           const caf::message& shared, const T& x) {
  if (sub.detached) return;  // it will read this from the log
  const Verdict verdict = Judge(sub.options.filter, x);
  if (verdict == Verdict::kReject) {
    ++sub.metrics.filtered;
    return;
  }
  caf::message delivery = verdict == Verdict::kPass
                              ? shared
                              : SubsetDelivery(sub.options.filter, offset, x);
  if (sub.credit > 0 && sub.queue.empty()) {
    Send(self, sub, std::move(delivery));
    return;
  }
  sub.queue.push_back(Queued{offset, std::move(delivery)});
  if (sub.queue.size() <= sub.max_queue) return;
  switch (sub.options.policy) {
    case Policy::kDropOldest:
      sub.queue.pop_front();
      ++sub.metrics.dropped;
      break;
    case Policy::kCatchUp:
      sub.cursor = sub.queue.front().offset;
      sub.queue.clear();
      sub.detached = true;
      ++sub.metrics.detached;
      break;
    case Policy::kBlock:
      break;  // MustWait kept the publish out until there was room
  }
}

// Whether a publish of `x` has to wait for a "block" subscriber's room.
template <class T>
bool MustWait(Self* self, const T& x) {
  for (const Subscription& sub : self->state.subscriptions) {
    if (sub.options.policy == Policy::kBlock && !sub.detached &&
        sub.queue.size() >= sub.max_queue &&
        Judge(sub.options.filter, x) != Verdict::kReject) {
      return true;
    }
  }
  return false;
}

// Stores (if durable) and fans out `x`; returns its offset.
template <class T>
caf::expected<uint64_t> Accept(Self* self, T& x) {
  auto& st = self->state;
  uint64_t offset;
  if (st.log) {
    absl::StatusOr<uint64_t> appended = st.log->Append(Encode(x));
    if (!appended.ok()) return LogFailed(st.options.name, appended.status());
    offset = *appended;
  } else {
    offset = st.next_offset++;
  }
  ++st.published;
  caf::message shared = MakeDelivery(offset, std::move(x));
  const T& stored = shared.get_as<T>(2);
  for (Subscription& sub : st.subscriptions) {
    Offer(self, sub, offset, shared, stored);
  }
  return offset;
}

// Publishes that waited for room go out in arrival order, as soon as the
// first of them fits.
void ResumeWaiting(Self* self) {
  auto& waiting = self->state.waiting;
  while (!waiting.empty()) {
    Waiting& w = waiting.front();
    bool wait = false;
    VisitPayload(w.payload, [&](auto& x) { wait = MustWait(self, x); });
    if (wait) return;
    VisitPayload(w.payload, [&](auto& x) {
      caf::expected<uint64_t> offset = Accept(self, x);
      if (!w.promise.async()) {
        if (offset) {
          w.promise.deliver(*offset);
        } else {
          w.promise.deliver(offset.error());
        }
      }
    });
    waiting.pop_front();
  }
}

// A message sent without request() gets no reply on success: the reply
// would arrive at its sender as an unexpected message. Errors still go back
// (to the sender's error handler).
caf::result<uint64_t> Reply(Self* self, caf::expected<uint64_t> offset) {
  if (!offset) return std::move(offset.error());
  if (!self->current_message_id().is_request()) {
    return caf::delegated<uint64_t>{};
  }
  return *offset;
}

// The common case (nobody blocks) replies directly; only a publish that has
// to wait for room needs a response promise.
template <class T>
caf::result<uint64_t> OnPublish(Self* self, T& x) {
  auto& st = self->state;
  if (st.waiting.empty() && !MustWait(self, x)) {
    return Reply(self, Accept(self, x));
  }
  ++st.blocked;
  st.waiting.push_back(
      Waiting{caf::make_message(std::move(x)), self->make_response_promise()});
  return caf::delegated<uint64_t>{};
}

// Serves a detached subscriber from the log, up to its credit; re-attaches it
// once it has read everything there is.
void Replay(Self* self, Subscription& sub) {
  auto& st = self->state;
  if (!st.log) return;
  if (sub.cursor < st.log->earliest_offset()) {
    std::cerr << "trainbus: '" << sub.options.name << "' fell behind offset "
              << st.log->earliest_offset()
              << ", which retention already deleted; skipping "
              << st.log->earliest_offset() - sub.cursor << " messages\n";
    sub.metrics.dropped += st.log->earliest_offset() - sub.cursor;
    sub.cursor = st.log->earliest_offset();
  }
  while (sub.credit > 0 && sub.cursor < st.log->next_offset()) {
    absl::Status status = st.log->Read(
        sub.cursor, sub.credit,
        [&](uint64_t offset, absl::Span<const uint8_t> record) -> absl::Status {
          sub.cursor = offset + 1;
          TB_ASSIGN_OR_RETURN(caf::message payload, Decode(record));
          VisitPayload(payload, [&](auto& x) {
            const Verdict verdict = Judge(sub.options.filter, x);
            if (verdict == Verdict::kReject) {
              ++sub.metrics.filtered;
              return;
            }
            ++sub.metrics.replayed;
            Send(self, sub, SubsetDelivery(sub.options.filter, offset, x));
          });
          return absl::OkStatus();
        });
    if (!status.ok()) {
      std::cerr << "trainbus: replay of '" << st.options.name << "' for '"
                << sub.options.name << "' stopped at offset " << sub.cursor
                << ": " << status.message() << "\n";
      return;
    }
  }
  if (sub.cursor >= st.log->next_offset()) sub.detached = false;
}

void Drain(Self* self, Subscription& sub) {
  while (sub.credit > 0 && !sub.queue.empty()) {
    Send(self, sub, std::move(sub.queue.front().delivery));
    sub.queue.pop_front();
  }
  if (sub.detached && sub.credit > 0) Replay(self, sub);
}

Subscription* FindSubscription(Self* self, const caf::actor_addr& who) {
  for (Subscription& sub : self->state.subscriptions) {
    if (sub.target.address() == who) return &sub;
  }
  return nullptr;
}

caf::expected<uint64_t> OnSubscribe(Self* self, subscriber_actor target,
                                    SubscribeOptions options) {
  auto& st = self->state;
  if (!target) return InvalidArgument("subscribe needs a live actor");
  const bool needs_log = options.policy == Policy::kCatchUp ||
                         options.start != StartFrom::kLatest;
  if (needs_log && !st.log) {
    return InvalidArgument(
        absl::StrCat("'", options.name, "' wants ",
                     options.policy == Policy::kCatchUp
                         ? "the catch_up policy"
                         : "to start from an earlier offset",
                     ", which needs a durable resource; declare '",
                     st.options.name, "' with a log directory"));
  }
  if (Subscription* existing = FindSubscription(self, target.address())) {
    // Subscribing again is harmless; the newer options win, credit stays.
    existing->options = options;
    existing->credit += options.initial_credit;
    Drain(self, *existing);
    return st.log ? st.log->next_offset() : st.next_offset;
  }
  Subscription sub;
  sub.mailbox = caf::actor_cast<caf::actor>(target);
  sub.target = std::move(target);
  sub.options = options;
  sub.max_queue = options.max_queue > 0 ? options.max_queue
                                        : st.options.max_queue;
  sub.max_queue = std::max<uint32_t>(sub.max_queue, 1);
  sub.credit = options.initial_credit;
  sub.metrics.name = options.name;
  sub.metrics.policy = PolicyName(options.policy);
  sub.metrics.filter = FormatFilter(options.filter);
  uint64_t start = st.log ? st.log->next_offset() : st.next_offset;
  if (options.start == StartFrom::kEarliest) start = st.log->earliest_offset();
  if (options.start == StartFrom::kOffset) {
    if (options.offset > st.log->next_offset()) {
      return InvalidArgument(
          absl::StrCat("offset ", options.offset, " is beyond the end of '",
                       st.options.name, "' (next offset ",
                       st.log->next_offset(), ")"));
    }
    start = options.offset;
  }
  if (st.log && start < st.log->next_offset()) {
    sub.detached = true;
    sub.cursor = start;
  }
  self->monitor(sub.target);
  st.subscriptions.push_back(std::move(sub));
  Drain(self, st.subscriptions.back());
  return start;
}

void Unsubscribe(Self* self, const caf::actor_addr& who) {
  auto& subs = self->state.subscriptions;
  subs.erase(std::remove_if(subs.begin(), subs.end(),
                            [&](const Subscription& s) {
                              return s.target.address() == who;
                            }),
             subs.end());
  ResumeWaiting(self);  // a gone "block" subscriber no longer holds anyone up
}

ResourceMetrics Snapshot(Self* self) {
  auto& st = self->state;
  ResourceMetrics m;
  m.name = st.options.name;
  m.durable = st.log != nullptr;
  m.published = st.published;
  m.blocked = st.blocked;
  m.log_next_offset = st.log ? st.log->next_offset() : st.next_offset;
  m.uptime_s = std::chrono::duration<double>(
                   std::chrono::steady_clock::now() - st.started)
                   .count();
  for (const Subscription& sub : st.subscriptions) {
    SubscriptionMetrics s = sub.metrics;
    s.queue_depth = static_cast<uint32_t>(sub.queue.size());
    s.credit = sub.credit;
    m.subscriptions.push_back(std::move(s));
  }
  return m;
}

resource_actor::behavior_type ResourceActor(
    Self* self, ResourceOptions options,
                            std::shared_ptr<std::unique_ptr<MessageLog>> log) {
  self->state.options = std::move(options);
  self->state.log = std::move(*log);
  self->set_down_handler(
      [=](const caf::down_msg& down) { Unsubscribe(self, down.source); });
  return {
      [=](publish_atom, Sample& x) { return OnPublish(self, x); },
      [=](publish_atom, SampleBatch& x) { return OnPublish(self, x); },
      [=](publish_atom, Prediction& x) { return OnPublish(self, x); },
      [=](publish_atom, Metric& x) { return OnPublish(self, x); },
      [=](subscribe_atom, subscriber_actor& target,
          SubscribeOptions& options) {
        return Reply(self,
                     OnSubscribe(self, std::move(target), std::move(options)));
      },
      [=](unsubscribe_atom, const subscriber_actor& target) {
        Unsubscribe(self, target.address());
      },
      [=](credit_atom, uint32_t n) {
        if (Subscription* sub = FindSubscription(
                self, caf::actor_cast<caf::actor_addr>(self->current_sender()))) {
          sub->credit += n;
          Drain(self, *sub);
          ResumeWaiting(self);
        }
      },
      [=](metrics_atom) { return Snapshot(self); },
  };
}

}  // namespace

const char* PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kBlock: return "block";
    case Policy::kDropOldest: return "drop_oldest";
    case Policy::kCatchUp: return "catch_up";
  }
  return "unknown";
}

absl::StatusOr<Policy> ParsePolicy(absl::string_view text) {
  if (text == "block") return Policy::kBlock;
  if (text == "drop_oldest") return Policy::kDropOldest;
  if (text == "catch_up") return Policy::kCatchUp;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown backpressure policy '", text,
                   "'; use block, drop_oldest or catch_up"));
}

absl::StatusOr<resource_actor> SpawnResource(caf::actor_system& sys,
                                             const ResourceOptions& options) {
  if (options.name.empty()) {
    return absl::InvalidArgumentError("a resource needs a name");
  }
  auto log = std::make_shared<std::unique_ptr<MessageLog>>();
  if (options.durable()) {
    TB_ASSIGN_OR_RETURN(*log, OpenMessageLog(options));
  }
  return sys.spawn(ResourceActor, options, log);
}

}  // namespace trainbus::bus
