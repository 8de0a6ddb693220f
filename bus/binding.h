// A binding: an actor that subscribes to one resource and republishes what
// its filter lets through to another, keeping at most `window` messages in
// flight. It grants its source credit only as the destination accepts, so a
// destination that blocks holds the binding back, and the source then applies
// the binding's policy (block, drop_oldest, catch_up).
#ifndef TRAINBUS_BUS_BINDING_H_
#define TRAINBUS_BUS_BINDING_H_

#include "bus/options.h"
#include "bus/protocol.h"
#include "caf/actor_system.hpp"

namespace trainbus::bus {

// The binding does not subscribe itself: whoever spawns it subscribes it to
// `from` with BindingSubscription(options), so that a refusal (say, catch_up
// on a resource without a log) reaches the one who asked for the binding.
binding_actor SpawnBinding(caf::actor_system& sys, resource_actor from,
                           resource_actor to, const BindingOptions& options);

SubscribeOptions BindingSubscription(const BindingOptions& options);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_BINDING_H_
