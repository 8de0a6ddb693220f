// What an AMQP bridge counts, for the run report and for /metrics.
//
// Each bridge owns one BridgeCounters (shared_ptr) and bumps it from its own
// thread; anyone may read it at any time (relaxed atomics: each figure is
// exact, a set of figures read together may be a few messages apart).
// `trainbus run` keeps them by bridge name (PartContext::amqp_counters());
// a Prometheus exporter reads Snapshot() and prints each of its Counters()
// as `trainbus_amqp_<name>_total{bridge="<name>",direction="in|out"}`, and
// `connected` as a gauge.
#ifndef TRAINBUS_AMQP_COUNTERS_H_
#define TRAINBUS_AMQP_COUNTERS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace trainbus::amqp {

// A plain copy of the counters.
struct BridgeStats {
  std::string name;
  bool inbound = true;
  uint64_t received = 0;       // in: deliveries from the broker
  uint64_t accepted = 0;       // in: samples the resource accepted
  uint64_t acked = 0;          // in: acks sent after acceptance
  uint64_t redelivered = 0;    // in: deliveries the broker marked redelivered
  uint64_t dead_lettered = 0;  // in: refused, sent to <queue>.dead
  uint64_t published = 0;      // out: messages published
  uint64_t confirmed = 0;      // out: publisher confirms received
  uint64_t failed = 0;         // out: predictions given up on
  uint64_t reconnects = 0;     // successful connections after a loss
  uint64_t connect_failures = 0;  // failed attempts to (re)connect
  bool connected = false;

  // Every counter above by name (all but `connected`), in this order: what
  // the report's JSON and a /metrics exporter iterate.
  std::vector<std::pair<const char*, uint64_t>> Counters() const {
    return {{"received", received},
            {"accepted", accepted},
            {"acked", acked},
            {"redelivered", redelivered},
            {"dead_lettered", dead_lettered},
            {"published", published},
            {"confirmed", confirmed},
            {"failed", failed},
            {"reconnects", reconnects},
            {"connect_failures", connect_failures}};
  }
};

struct BridgeCounters {
  std::string name;
  bool inbound = true;
  std::atomic<uint64_t> received{0}, accepted{0}, acked{0}, redelivered{0},
      dead_lettered{0}, published{0}, confirmed{0}, failed{0}, reconnects{0},
      connect_failures{0};
  std::atomic<bool> connected{false};

  BridgeStats Snapshot() const {
    auto get = [](const std::atomic<uint64_t>& x) {
      return x.load(std::memory_order_relaxed);
    };
    BridgeStats s;
    s.name = name;
    s.inbound = inbound;
    s.received = get(received);
    s.accepted = get(accepted);
    s.acked = get(acked);
    s.redelivered = get(redelivered);
    s.dead_lettered = get(dead_lettered);
    s.published = get(published);
    s.confirmed = get(confirmed);
    s.failed = get(failed);
    s.reconnects = get(reconnects);
    s.connect_failures = get(connect_failures);
    s.connected = connected.load(std::memory_order_relaxed);
    return s;
  }
};

// One line: "amqp in 'train-in': 2000 received, 2000 accepted, ...".
std::string FormatBridgeStats(const BridgeStats& s);

}  // namespace trainbus::amqp

#endif  // TRAINBUS_AMQP_COUNTERS_H_
