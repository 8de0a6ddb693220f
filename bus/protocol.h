// The bus protocol as typed actor handles: a message that no handler of the
// receiver accepts fails to compile instead of arriving as "unexpected
// message" at run time.
//
//   absl::StatusOr<bus::resource_actor> mnist = bus.Declare({"mnist"});
//   self->request(*mnist, timeout, publish_atom::value, sample)
//       .then([](uint64_t offset) { ... });          // checked: (publish, Sample)
//   self->send(*mnist, credit_atom::value, uint32_t{64});
//
// Subscribers. A resource delivers (deliver_atom, offset, T) for every T it
// is published, so there is one subscriber interface with all four payload
// types. A typed subscriber (the binding, the test probes) handles all four;
// the untyped actors of actors/ (models, consumers, sinks) become subscribers
// through AsSubscriber(), the one place where the check is left to run time.
//
// Every handle type here travels in messages (to and from other nodes, too):
// AddBusTypes() registers them by name.
#ifndef TRAINBUS_BUS_PROTOCOL_H_
#define TRAINBUS_BUS_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "bus/atoms.h"
#include "bus/description.h"
#include "bus/message.h"
#include "bus/metrics.h"
#include "bus/options.h"
#include "caf/actor.hpp"
#include "caf/actor_cast.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

namespace trainbus::bus {

// What a resource sends to each of its subscribers: the message's offset in
// the resource (its log offset when durable) and the message.
using subscriber_actor =
    caf::typed_actor<caf::reacts_to<deliver_atom, uint64_t, Sample>,
                     caf::reacts_to<deliver_atom, uint64_t, SampleBatch>,
                     caf::reacts_to<deliver_atom, uint64_t, Prediction>,
                     caf::reacts_to<deliver_atom, uint64_t, Metric>>;

// A named topic.
//   publish      -> the offset, once accepted (under "block", once there is
//                   room: that wait is the backpressure). A publish sent
//                   without request() gets no reply.
//   subscribe    -> the offset the subscriber starts at. Sent on the
//                   subscriber's behalf (SubscribeNow) it gets no reply on
//                   success; an error goes to the subscriber's error handler.
//   credit       from a subscriber: it can take n more messages.
using resource_actor = caf::typed_actor<
    caf::replies_to<publish_atom, Sample>::with<uint64_t>,
    caf::replies_to<publish_atom, SampleBatch>::with<uint64_t>,
    caf::replies_to<publish_atom, Prediction>::with<uint64_t>,
    caf::replies_to<publish_atom, Metric>::with<uint64_t>,
    caf::replies_to<subscribe_atom, subscriber_actor,
                    SubscribeOptions>::with<uint64_t>,
    caf::reacts_to<unsubscribe_atom, subscriber_actor>,
    caf::reacts_to<credit_atom, uint32_t>,
    caf::replies_to<metrics_atom>::with<ResourceMetrics>>;

// A binding is a subscriber of its source resource that republishes to its
// destination; nothing else talks to it. The directory hands it out so that
// callers can watch it (monitor) or stop it.
using binding_actor = subscriber_actor;

// One per actor system (see directory.h). unbind (from, to) replies whether
// there was such a binding.
using directory_actor = caf::typed_actor<
    caf::replies_to<declare_atom, ResourceOptions>::with<resource_actor>,
    caf::replies_to<bind_atom, BindingOptions>::with<binding_actor>,
    caf::replies_to<unbind_atom, std::string, std::string>::with<bool>,
    caf::replies_to<lookup_atom, std::string>::with<resource_actor>,
    caf::replies_to<attach_atom, std::string,
                    resource_actor>::with<resource_actor>,
    caf::replies_to<describe_atom>::with<TopologyDescription>,
    caf::replies_to<metrics_atom>::with<std::vector<ResourceMetrics>>>;

// An untyped actor that handles the deliveries of what it subscribes to.
inline subscriber_actor AsSubscriber(const caf::actor& actor) {
  return caf::actor_cast<subscriber_actor>(actor);
}

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_PROTOCOL_H_
