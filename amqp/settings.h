// What a topology spec says about the AMQP adapter: plain values (no
// connection, no actors), so that topology/spec.h holds them as it holds the
// bus's own option types, and the bridges' options embed them.
#ifndef TRAINBUS_AMQP_SETTINGS_H_
#define TRAINBUS_AMQP_SETTINGS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace trainbus::amqp {

// Reconnecting after the broker went away: wait `min`, doubling up to `max`.
struct Backoff {
  std::chrono::milliseconds min{100};
  std::chrono::milliseconds max{5000};
};

// An inbound bridge: which queue, and how it is consumed.
struct InboundSettings {
  std::string queue;
  bool declare = true;     // declare the queue; false: it must exist
  bool durable = false;    // when declaring: survive a broker restart
  uint16_t prefetch = 64;  // unacked deliveries: the bus credit window
  double rate = 0;         // samples/s; 0: as fast as the resource accepts
};

// An outbound bridge: where predictions go.
struct OutboundSettings {
  std::string exchange;  // "": the default exchange, routing_key = a queue
  std::string routing_key;
  bool declare = false;  // declare the exchange (durable) of exchange_type
  std::string exchange_type = "direct";
  bool persistent = true;  // delivery_mode 2
  // Per prediction: how long to keep reconnecting before counting it failed.
  std::chrono::milliseconds give_up{30000};
};

}  // namespace trainbus::amqp

#endif  // TRAINBUS_AMQP_SETTINGS_H_
