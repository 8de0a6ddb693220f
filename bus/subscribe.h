// Subscribing an actor that has just been spawned, without a race.
//
// An actor that subscribes itself from its own initialisation does so
// whenever the scheduler first runs it, and a stream started meanwhile
// reaches the resource before the subscription: those messages go to nobody.
// SubscribeNow enqueues the subscription, on the subscriber's behalf, before
// it returns, so anything the caller starts afterwards is ordered after it.
//
//   caf::actor model = sys.spawn<caf::detached>(ModelActor, ...);
//   bus::SubscribeNow(model, resource, options);
//   SpawnGenerator(sys, g);  // every sample finds the model subscribed
//
// A subscription made this way gets no reply when it succeeds; a refusal
// arrives at the subscriber as an error: give it an error handler
// (set_error_handler) that reports and quits.
#ifndef TRAINBUS_BUS_SUBSCRIBE_H_
#define TRAINBUS_BUS_SUBSCRIBE_H_

#include "bus/options.h"
#include "bus/protocol.h"
#include "caf/send.hpp"

namespace trainbus::bus {

// The untyped subscribers of actors/ (see AsSubscriber).
inline void SubscribeNow(const caf::actor& subscriber,
                         const resource_actor& resource,
                         const SubscribeOptions& options) {
  // Sent as an untyped sender: CAF would otherwise insist that the
  // subscriber accept the uint64_t reply, which this send never gets.
  caf::send_as(subscriber, resource, subscribe_atom::value,
               AsSubscriber(subscriber), options);
}

inline void SubscribeNow(const subscriber_actor& subscriber,
                         const resource_actor& resource,
                         const SubscribeOptions& options) {
  SubscribeNow(caf::actor_cast<caf::actor>(subscriber), resource, options);
}

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_SUBSCRIBE_H_
