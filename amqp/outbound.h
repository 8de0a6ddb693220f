// The outbound AMQP bridge: publishes a bus resource's predictions to a
// RabbitMQ exchange, with publisher confirms.
//
//   OutboundOptions o;
//   o.name = "predictions-out";
//   o.url = *ParseBrokerUrl("amqp://guest:guest@127.0.0.1:5672/");
//   o.settings.exchange = "trainbus.predictions";
//   o.settings.routing_key = "predictions";
//   o.input = *bus.Lookup("predictions");
//   TB_RETURN_IF_ERROR(PrepareOutbound(o));  // the exchange exists (or is
//   made) caf::actor bridge = SpawnOutboundBridge(sys, o);
//
// It is a consumer (actors/consumer: credit, flush and stats like every
// other) on a thread of its own, because librabbitmq blocks. Each prediction
// becomes a persistent message with headers predicted_label, model, version,
// scores (amqp/message.h) and is confirmed by the broker before its credit
// goes back, so the resource holds what the broker has not taken. When the
// broker goes away the bridge reconnects with backoff and publishes the
// message again (a message whose confirm was lost may arrive twice); after
// `settings.give_up` without success the prediction is counted as failed and
// the stream goes on.
#ifndef TRAINBUS_AMQP_OUTBOUND_H_
#define TRAINBUS_AMQP_OUTBOUND_H_

#include <chrono>
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

struct OutboundOptions {
  std::string name = "amqp-out";
  BrokerUrl url;
  OutboundSettings settings;
  bus::resource_actor input;
  uint32_t credit = 64;
  Backoff backoff;
  std::shared_ptr<BridgeCounters> counters;  // made by Spawn when null
};

// Connects once and declares (or checks) the exchange.
absl::Status PrepareOutbound(const OutboundOptions& options);

// A consumer actor (actors/consumer.h protocol: query, flush).
caf::actor SpawnOutboundBridge(caf::actor_system& sys, OutboundOptions options);

}  // namespace trainbus::amqp

#endif  // TRAINBUS_AMQP_OUTBOUND_H_
