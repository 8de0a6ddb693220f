// The inbound AMQP bridge: consumes a RabbitMQ queue into a bus resource.
//
//   InboundOptions o;
//   o.source = "train-in";            // the samples' source, the bridge's name
//   o.url = *ParseBrokerUrl("amqp://guest:guest@127.0.0.1:5672/");
//   o.settings.queue = "train";
//   o.settings.durable = true;        // declared durable (with <queue>.dead)
//   o.settings.prefetch = 64;         // unacked deliveries = publish window
//   o.output = *bus.Lookup("mnist");
//   o.listener = self;                // (done_atom, source, accepted, dead)
//   TB_RETURN_IF_ERROR(PrepareInbound(o));   // the broker answers, queues
//   exist caf::actor bridge = SpawnInboundBridge(sys, o);
//
// One detached actor owns the connection (librabbitmq blocks and is not
// thread-safe, so no other thread touches it). Deliveries become Samples
// (amqp/message.h) published through a PublishWindow of `prefetch`: the
// broker's unacked window is the bus's credit window. A delivery is acked
// only when the resource has accepted it, i.e. after the log append for a
// durable resource, so an acked message is never lost (acks go in batches
// of a quarter of the window, one multiple-ack for an accepted prefix, and
// at once when nothing else is in flight); a bad message is
// published to `<queue>.dead` with a `reason` header and then acked. When
// the broker goes away the bridge reconnects with exponential backoff
// (Backoff: min doubling to max); deliveries of the lost
// connection that were in flight are not acked (their tags died with it)
// and come back redelivered: at-least-once. A message with the header
// `end_of_stream: true` ends the stream (bus end marker, then the listener
// is told, then the bridge quits); without one the bridge runs until it is
// sent exit.
#ifndef TRAINBUS_AMQP_INBOUND_H_
#define TRAINBUS_AMQP_INBOUND_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "amqp/counters.h"
#include "amqp/settings.h"
#include "amqp/url.h"
#include "bus/protocol.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"

namespace trainbus::amqp {

struct InboundOptions {
  std::string source = "amqp";
  BrokerUrl url;
  InboundSettings settings;
  bus::resource_actor output;
  caf::actor listener;  // (done_atom, source, uint64_t accepted, uint64_t dead)
  bool end_marker = true;
  Backoff backoff;
  std::shared_ptr<BridgeCounters> counters;  // made by Spawn when null
};

// The queue the bridge sends refused messages to.
std::string DeadLetterQueue(const std::string& queue);

// Connects once and declares (or checks) the queue and its dead-letter
// queue, so that a wrong URL, password or queue stops a run before it
// starts instead of being retried for ever.
absl::Status PrepareInbound(const InboundOptions& options);

caf::actor SpawnInboundBridge(caf::actor_system& sys, InboundOptions options);

}  // namespace trainbus::amqp

#endif  // TRAINBUS_AMQP_INBOUND_H_
