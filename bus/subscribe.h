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
// The resource's reply (the start offset, or an error) arrives at the
// subscriber as an ordinary message: give it a `[](uint64_t) {}` handler,
// and an error handler (set_error_handler) that reports and quits.
#ifndef TRAINBUS_BUS_SUBSCRIBE_H_
#define TRAINBUS_BUS_SUBSCRIBE_H_

#include "bus/atoms.h"
#include "bus/options.h"
#include "caf/actor.hpp"
#include "caf/send.hpp"

namespace trainbus::bus {

inline void SubscribeNow(const caf::actor& subscriber,
                         const caf::actor& resource,
                         const SubscribeOptions& options) {
  caf::send_as(subscriber, resource, subscribe_atom::value, subscriber,
               options);
}

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_SUBSCRIBE_H_
