#include "bus/binding.h"

#include <algorithm>
#include <iostream>

#include "base/status_error.h"
#include "bus/message.h"
#include "bus/protocol.h"
#include "bus/sequence.h"
#include "caf/all.hpp"

namespace trainbus::bus {
namespace {

struct BindingState {
  resource_actor from;
  resource_actor to;
  BindingOptions options;
  uint32_t unreturned_credit = 0;  // accepted by `to`, not yet granted back
  uint32_t credit_batch = 1;
  uint64_t forwarded = 0;
  uint64_t failed = 0;
  // Deliveries come in offset order; one at or below the last is a
  // redelivery (a resubscription from an earlier offset) and is dropped.
  bool delivered_any = false;
  uint64_t last_offset = 0;
  uint64_t duplicates = 0;
  std::string offset_key;  // bus::OffsetKey(from), when sequenced

  static inline const char* name = "trainbus.binding";
};

using Self = binding_actor::stateful_base<BindingState>;

// Credit goes back in batches (an eighth of the window) to halve the
// message count, but never more than a window's worth is held back.
void Return(Self* self) {
  auto& st = self->state;
  if (++st.unreturned_credit >= st.credit_batch) {
    self->send(st.from, credit_atom::value, st.unreturned_credit);
    st.unreturned_credit = 0;
  }
}

// `x` lives in a delivery shared with the source's other subscribers; taking
// it by const reference copies the payload once, into the publish, instead
// of copy-on-write detaching the whole delivery first.
template <class T>
void Publish(Self* self, const T& x) {
  self->request(self->state.to, caf::infinite, publish_atom::value, x)
      .then([=](uint64_t) {
              ++self->state.forwarded;
              Return(self);
            },
            [=](caf::error& err) {
              // The destination refused (e.g. its log failed): count it and
              // keep the stream going; the destination reports the cause.
              if (self->state.failed++ == 0) {
                std::cerr << "trainbus: binding " << self->state.options.Name()
                          << ": " << base::ErrorToString(err) << "\n";
              }
              Return(self);
            });
}

// Whether the delivery at `offset` is new; a duplicate still frees its
// credit at the source.
bool IsNew(Self* self, uint64_t offset) {
  auto& st = self->state;
  if (st.delivered_any && offset <= st.last_offset) {
    ++st.duplicates;
    Return(self);
    return false;
  }
  st.delivered_any = true;
  st.last_offset = offset;
  return true;
}

template <class T>
void Forward(Self* self, uint64_t offset, const T& x) {
  if (IsNew(self, offset)) Publish(self, x);
}

// A sequenced binding stamps the source offset into the copy it publishes.
void Forward(Self* self, uint64_t offset, const Sample& x) {
  if (!IsNew(self, offset)) return;
  if (self->state.offset_key.empty()) {
    Publish(self, x);
    return;
  }
  Sample stamped = x;
  StampOffset(self->state.offset_key, offset, &stamped);
  Publish(self, stamped);
}

binding_actor::behavior_type BindingActor(Self* self, resource_actor from,
                                          resource_actor to,
                                          BindingOptions options) {
  auto& st = self->state;
  st.from = from;
  st.to = to;
  st.options = options;
  st.options.window = std::max<uint32_t>(options.window, 1);
  st.credit_batch = std::max<uint32_t>(st.options.window / 8, 1);
  if (options.sequenced) st.offset_key = OffsetKey(options.from);
  // Either end going away ends the binding.
  self->monitor(from);
  self->monitor(to);
  self->set_down_handler([=](const caf::down_msg& down) {
    self->quit(down.reason);
  });
  return {
      [=](deliver_atom, uint64_t offset, const Sample& x) {
        Forward(self, offset, x);
      },
      [=](deliver_atom, uint64_t offset, const SampleBatch& x) {
        Forward(self, offset, x);
      },
      [=](deliver_atom, uint64_t offset, const Prediction& x) {
        Forward(self, offset, x);
      },
      [=](deliver_atom, uint64_t offset, const Metric& x) {
        Forward(self, offset, x);
      },
  };
}

}  // namespace

SubscribeOptions BindingSubscription(const BindingOptions& options) {
  SubscribeOptions sub;
  sub.name = options.Name();
  sub.filter = options.filter;
  sub.policy = options.policy;
  sub.max_queue = options.max_queue;
  sub.start = options.start;
  sub.offset = options.offset;
  sub.initial_credit = std::max<uint32_t>(options.window, 1);
  return sub;
}

binding_actor SpawnBinding(caf::actor_system& sys, resource_actor from,
                           resource_actor to, const BindingOptions& options) {
  return sys.spawn(BindingActor, std::move(from), std::move(to), options);
}

}  // namespace trainbus::bus
