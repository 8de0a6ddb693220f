#include "amqp/inbound.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "actors/generator/source_loop.h"
#include "amqp/connection.h"
#include "amqp/message.h"
#include "base/status_macros.h"
#include "bus/atoms.h"
#include "bus/publish_window.h"
#include "caf/all.hpp"

namespace trainbus::amqp {
namespace {

using connect_atom = caf::atom_constant<caf::atom("amqpconn")>;
using poll_atom = caf::atom_constant<caf::atom("amqppoll")>;

// How long an idle bridge blocks in the broker's socket before it looks at
// its mailbox again (exit, acks).
constexpr std::chrono::milliseconds kIdleWait{10};
// Dead letters printed before they are only counted.
constexpr uint64_t kPrintedDeadLetters = 10;

struct InboundState {
  InboundOptions options;
  std::unique_ptr<Connection> conn;
  uint64_t generation = 0;  // of `conn`; acks of older ones are dropped
  bus::PublishWindow window{1, 0};
  bool finishing = false;  // the end marker is on its way
  bool ending = false;     // end_of_stream received; draining in-flight
  uint64_t eos_tag = 0;
  uint64_t eos_generation = 0;
  bool poll_scheduled = false;
  bool lost_before = false;  // a connection was lost: the next is a reconnect
  std::chrono::milliseconds backoff{0};
  uint64_t next_seq = 0;
  // Deliveries published to the resource, in delivery order, and whether the
  // resource accepted them; the accepted prefix is acked with one
  // multiple-ack per batch (a quarter of the window, or when none is left).
  std::deque<std::pair<uint64_t, bool>> in_flight;
  uint64_t ackable_tag = 0;
  uint32_t ackable = 0;

  static inline const char* name = "trainbus.amqp_inbound";
};

using Self = caf::stateful_actor<InboundState>;

// Opens a connection, declares (or checks) the queues and, when asked,
// starts consuming.
absl::StatusOr<std::unique_ptr<Connection>> Connect(const InboundOptions& o,
                                                    bool consume) {
  TB_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                      Connection::Open(o.url));
  if (o.settings.declare) {
    TB_RETURN_IF_ERROR(
        conn->DeclareQueue(o.settings.queue, o.settings.durable));
  } else {
    TB_RETURN_IF_ERROR(conn->QueueDepth(o.settings.queue).status());
  }
  TB_RETURN_IF_ERROR(
      conn->DeclareQueue(DeadLetterQueue(o.settings.queue), true));
  if (consume) {
    TB_RETURN_IF_ERROR(conn->Consume(o.settings.queue, o.settings.prefetch));
  }
  return conn;
}

void Pump(Self* self);

// The connection is gone: forget it and try again after the backoff.
void Lost(Self* self, const absl::Status& why) {
  auto& st = self->state;
  caf::aout(self) << "amqp in '" << st.options.source
                  << "': " << std::string(why.message()) << "; reconnecting\n";
  st.conn.reset();
  ++st.generation;
  st.in_flight.clear();  // their tags died with the connection
  st.ackable = 0;
  st.ending = false;  // an unacked end_of_stream comes back too
  st.lost_before = true;
  st.options.counters->connected = false;
  st.backoff = st.options.backoff.min;
  self->delayed_send(self, st.backoff, connect_atom::value);
}

void TryConnect(Self* self) {
  auto& st = self->state;
  absl::StatusOr<std::unique_ptr<Connection>> conn =
      Connect(st.options, /*consume=*/true);
  if (!conn.ok()) {
    ++st.options.counters->connect_failures;
    st.backoff = std::min(st.backoff * 2, st.options.backoff.max);
    caf::aout(self) << "amqp in '" << st.options.source
                    << "': " << std::string(conn.status().message())
                    << "; next try in " << st.backoff.count() << " ms\n";
    self->delayed_send(self, st.backoff, connect_atom::value);
    return;
  }
  st.conn = std::move(*conn);
  st.options.counters->connected = true;
  if (st.lost_before) {
    ++st.options.counters->reconnects;
    caf::aout(self) << "amqp in '" << st.options.source << "': reconnected to "
                    << st.conn->where() << "\n";
  }
  Pump(self);
}

void Ack(Self* self, uint64_t generation, uint64_t tag) {
  auto& st = self->state;
  if (generation != st.generation || !st.conn) return;  // redelivered later
  if (absl::Status s = st.conn->Ack(tag); !s.ok()) {
    Lost(self, s);
    return;
  }
  ++st.options.counters->acked;
}

// The resource accepted delivery `tag`: ack it, with every accepted one
// before it, once a batch is complete or nothing else is in flight.
void Accepted(Self* self, uint64_t generation, uint64_t tag) {
  auto& st = self->state;
  if (generation != st.generation || !st.conn) return;  // redelivered later
  for (auto& [t, accepted] : st.in_flight) {
    if (t == tag) accepted = true;
  }
  while (!st.in_flight.empty() && st.in_flight.front().second) {
    st.ackable_tag = st.in_flight.front().first;
    ++st.ackable;
    st.in_flight.pop_front();
  }
  const uint32_t batch =
      std::max<uint32_t>(st.options.settings.prefetch / 4, 1);
  if (st.ackable == 0 || (st.ackable < batch && !st.in_flight.empty())) return;
  if (absl::Status s = st.conn->Ack(st.ackable_tag, /*multiple=*/true);
      !s.ok()) {
    Lost(self, s);
    return;
  }
  st.options.counters->acked += st.ackable;
  st.ackable = 0;
}

void DeadLetter(Self* self, const Delivery& d, const absl::Status& why) {
  auto& st = self->state;
  const uint64_t n = ++st.options.counters->dead_lettered;
  if (n <= kPrintedDeadLetters) {
    caf::aout(self) << "amqp in '" << st.options.source << "': dead letter "
                    << (d.message_id.empty() ? "(no message id)" : d.message_id)
                    << ": " << std::string(why.message())
                    << (n == kPrintedDeadLetters ? " (further ones counted)"
                                                 : "")
                    << "\n";
  }
  absl::StatusOr<uint64_t> sent =
      st.conn->Publish("", DeadLetterQueue(st.options.settings.queue),
                       DeadLetterOf(d, std::string(why.message())));
  if (!sent.ok()) {
    Lost(self, sent.status());
    return;
  }
  Ack(self, st.generation, d.tag);
}

void Handle(Self* self, Delivery d) {
  auto& st = self->state;
  ++st.options.counters->received;
  if (d.redelivered) ++st.options.counters->redelivered;
  if (IsEndOfStream(d)) {
    st.ending = true;
    st.eos_tag = d.tag;
    st.eos_generation = st.generation;
    return;
  }
  absl::StatusOr<bus::Sample> sample =
      ToSample(d, st.options.source, st.next_seq);
  if (!sample.ok()) {
    DeadLetter(self, d, sample.status());
    return;
  }
  ++st.next_seq;
  sample->publish_ns = actors::SteadyNowNs();
  const uint64_t generation = st.generation, tag = d.tag;
  st.in_flight.emplace_back(tag, false);
  // more = false: every delivery gets its own reply, so each one is acked
  // to the broker only once the resource has accepted it.
  st.window.Send(self, st.options.output, *std::move(sample), st.options.source,
                 /*more=*/false, [self, generation, tag] {
                   ++self->state.options.counters->accepted;
                   Accepted(self, generation, tag);
                   Pump(self);
                 });
}

// End of stream: once nothing is in flight, the bus marker, then the ack of
// the end_of_stream message, the listener, and quit.
void Finish(Self* self) {
  auto& st = self->state;
  if (st.window.in_flight() > 0) return;
  actors::FinishSource(self, st.next_seq, [self] {
    auto& s = self->state;
    Ack(self, s.eos_generation, s.eos_tag);
    if (s.options.listener) {
      self->send(s.options.listener, bus::done_atom::value, s.options.source,
                 s.options.counters->accepted.load(),
                 s.options.counters->dead_lettered.load());
    }
  });
}

// Takes deliveries while the window has room. Blocks (briefly) in the socket
// only when nothing is in flight; otherwise the next acceptance pumps again.
void Pump(Self* self) {
  auto& st = self->state;
  if (!st.conn || st.finishing) return;
  bool idle = false;
  while (!st.ending && st.conn && st.window.CanSend()) {
    const bool block = st.window.in_flight() == 0;
    absl::StatusOr<std::optional<Delivery>> next =
        st.conn->Next(block ? kIdleWait : std::chrono::milliseconds(0));
    if (!next.ok()) {
      Lost(self, next.status());
      return;
    }
    if (!next->has_value()) {
      idle = block;
      break;
    }
    Handle(self, std::move(**next));
  }
  if (st.ending) {
    Finish(self);
  } else if (idle && !st.poll_scheduled) {
    st.poll_scheduled = true;
    self->send(self, poll_atom::value);
  }
}

caf::behavior InboundBridge(Self* self, InboundOptions options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.window = bus::PublishWindow(st.options.settings.prefetch,
                                 st.options.settings.rate);
  st.backoff = st.options.backoff.min;
  self->monitor(st.options.output);
  self->set_down_handler([self](const caf::down_msg&) { self->quit(); });
  self->send(self, connect_atom::value);
  self->send(self, actors::source_tick_atom::value);
  return {
      [self](connect_atom) { TryConnect(self); },
      [self](poll_atom) {
        self->state.poll_scheduled = false;
        Pump(self);
      },
      [self](actors::source_tick_atom tick) {
        self->state.window.Tick(self, tick, self->state.finishing);
        Pump(self);
      },
  };
}

}  // namespace

std::string DeadLetterQueue(const std::string& queue) {
  return absl::StrCat(queue, ".dead");
}

absl::Status PrepareInbound(const InboundOptions& options) {
  if (options.settings.queue.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "amqp inbound '", options.source, "' needs a queue to consume"));
  }
  return Prefixed(absl::StrCat("amqp inbound '", options.source, "'"),
                  Connect(options, /*consume=*/false).status());
}

caf::actor SpawnInboundBridge(caf::actor_system& sys, InboundOptions options) {
  if (!options.counters) options.counters = std::make_shared<BridgeCounters>();
  options.counters->name = options.source;
  options.counters->inbound = true;
  options.settings.prefetch = std::max<uint16_t>(options.settings.prefetch, 1);
  return sys.spawn<caf::detached>(InboundBridge, std::move(options));
}

}  // namespace trainbus::amqp
