// Samples/s through the inbound AMQP bridge against RabbitMQ's own consume
// rate, on the same broker, queue and messages, in one binary (interleave
// with --benchmark_enable_random_interleaving).
//
//   tools/bench/amqp_inbound.sh        # starts a private broker, runs this
//   export TRAINBUS_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/
//   bazel run -c opt //amqp:inbound_benchmark
//
// Each iteration first fills a (transient) queue with kMessages 784-byte
// messages, untimed, then times draining it:
//   BM_RabbitMqConsume/P: a plain librabbitmq consumer (amqp/connection.h,
//     the same calls the bridge makes), prefetch P, acking like the bridge
//     (one multiple-ack per P/4 messages);
//   BM_InboundBridge/P: the bridge (prefetch P) turning each message into a
//     Sample on a bus resource with one subscriber, acking each after the
//     resource accepted it, until the end_of_stream message.
// items_per_second is messages (samples) per second.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "actors/consumer/consumer.h"
#include "amqp/connection.h"
#include "amqp/inbound.h"
#include "amqp/message.h"
#include "benchmark/benchmark.h"
#include "bus/bus.h"
#include "caf/all.hpp"

namespace trainbus::amqp {
namespace {

constexpr int kMessages = 20000;
constexpr char kQueue[] = "trainbus.bench.inbound";

BrokerUrl Url() {
  const char* env = std::getenv("TRAINBUS_AMQP_URL");
  absl::StatusOr<BrokerUrl> url = ParseBrokerUrl(
      env != nullptr ? env : "amqp://guest:guest@127.0.0.1:5672/");
  return url.ok() ? *url : BrokerUrl{};
}

// Publishes kMessages raw images (and, for the bridge, an end marker) and
// waits until the broker has confirmed them all.
bool Fill(benchmark::State& state, bool end_marker) {
  absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(Url());
  absl::Status s = conn.status();
  if (s.ok()) s = (*conn)->DeclareQueue(kQueue, /*durable=*/false);
  if (s.ok()) s = (*conn)->EnableConfirms();
  Message m;
  m.body.assign(784, '\x40');
  m.persistent = false;
  m.headers[kLabelHeader] = int64_t{3};
  uint64_t last = 0;
  for (int i = 0; s.ok() && i < kMessages; ++i) {
    absl::StatusOr<uint64_t> seq = (*conn)->Publish("", kQueue, m);
    s = seq.status();
    if (s.ok()) last = *seq;
  }
  if (s.ok() && end_marker) {
    Message eos;
    eos.headers[kEndOfStreamHeader] = true;
    absl::StatusOr<uint64_t> seq = (*conn)->Publish("", kQueue, eos);
    s = seq.status();
    if (s.ok()) last = *seq;
  }
  if (s.ok()) s = (*conn)->WaitConfirmed(last, std::chrono::seconds(60));
  if (!s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return false;
  }
  return true;
}

void BM_RabbitMqConsume(benchmark::State& state) {
  const auto prefetch = static_cast<uint16_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    if (!Fill(state, /*end_marker=*/false)) return;
    absl::StatusOr<std::unique_ptr<Connection>> conn = Connection::Open(Url());
    absl::Status s = conn.status();
    if (s.ok()) s = (*conn)->Consume(kQueue, prefetch);
    state.ResumeTiming();
    for (int got = 0; s.ok() && got < kMessages;) {
      absl::StatusOr<std::optional<Delivery>> d =
          (*conn)->Next(std::chrono::seconds(10));
      s = d.status();
      if (!s.ok()) break;
      if (!d->has_value()) {
        s = absl::DeadlineExceededError("no message for 10 s");
        break;
      }
      benchmark::DoNotOptimize((*d)->body.data());
      // The bridge's ack policy: one multiple-ack per quarter window.
      ++got;
      if (got % std::max(prefetch / 4, 1) == 0 || got == kMessages) {
        s = (*conn)->Ack((*d)->tag, /*multiple=*/true);
      }
    }
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
}

// Counts and gives the credit back: the cheapest subscriber.
class Discard : public actors::ConsumerLogic {};

void BM_InboundBridge(benchmark::State& state) {
  caf::actor_system_config cfg;
  bus::AddBusTypes(cfg);
  actors::AddConsumerTypes(cfg);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys(cfg);
  bus::Bus bus(sys);
  bus::ResourceOptions r;
  r.name = "mnist";
  absl::StatusOr<bus::resource_actor> resource = bus.Declare(r);
  if (!resource.ok()) {
    state.SkipWithError("cannot declare the resource");
    return;
  }
  actors::ConsumerOptions c;
  c.name = "discard";
  c.inputs = {*resource};
  caf::actor sink = actors::SpawnConsumer(sys, c, std::make_unique<Discard>());
  {
    caf::scoped_actor self(sys);
    for (auto _ : state) {
      state.PauseTiming();
      if (!Fill(state, /*end_marker=*/true)) break;
      InboundOptions o;
      o.source = "bench";
      o.url = Url();
      o.settings.queue = kQueue;
      o.settings.prefetch = static_cast<uint16_t>(state.range(0));
      o.output = *resource;
      o.listener = caf::actor(self);
      o.end_marker = false;  // the sink would count it; nothing needs it
      state.ResumeTiming();
      SpawnInboundBridge(sys, o);
      uint64_t accepted = 0;
      self->receive([&](bus::done_atom, const std::string&, uint64_t n,
                        uint64_t) { accepted = n; });
      if (accepted != static_cast<uint64_t>(kMessages)) {
        state.SkipWithError(
            absl::StrCat("the bridge accepted ", accepted).c_str());
        break;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * kMessages);
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
}

BENCHMARK(BM_RabbitMqConsume)
    ->Arg(64)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InboundBridge)
    ->Arg(64)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace trainbus::amqp

BENCHMARK_MAIN();
