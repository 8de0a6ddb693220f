// Bus fan-out throughput: one publisher, one resource, N subscribers, the
// peer of tools/bench/rabbitmq (see tools/bench/bus_vs_rabbitmq.sh).
//
//   bazel run -c opt //bus:fanout_benchmark
//   bazel run -c opt //bus:fanout_benchmark -- --benchmark_filter='BM_FanOut/'
//
// Everything is a real CAF actor on the default (work-stealing) scheduler:
// a publisher actor keeps a window of in-flight publishes (PublishWindow,
// as the generator does); each
// subscriber counts deliveries and returns credit in batches of a quarter of
// its window. 784-byte samples travel as Sample (batch:1) or as a
// SampleBatch of 64 (batch:64).
//
// items/s counts 784-byte samples delivered, summed over subscribers (for
// batch:1 that is messages delivered; RabbitMQ's figure is the same unit,
// including its "packed" mode). msgs/s counts bus messages delivered.
//
// BM_FanOut:            publisher -> [mnist] -> N subscribers
// BM_FanOutBindings:    publisher -> [mnist] -> N bindings -> [modelK] -> 1
//                       subscriber each (the parallel_models topology).
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "bus/bus.h"
#include "bus/message.h"
#include "bus/protocol.h"
#include "bus/publish_window.h"
#include "bus/resource.h"
#include "caf/all.hpp"

namespace trainbus::bus {
namespace {

using go_atom = caf::atom_constant<caf::atom("go")>;
using goal_atom = caf::atom_constant<caf::atom("goal")>;
using reached_atom = caf::atom_constant<caf::atom("reached")>;

constexpr uint32_t kSampleBytes = 784;
constexpr uint32_t kSubscriberWindow = 256;
constexpr uint32_t kPublishWindow = 128;

// Counts deliveries; tells `waiter` once it has seen `goal` of them.
struct CounterState {
  resource_actor source;
  caf::actor waiter;
  uint64_t received = 0;
  uint64_t goal = 0;
  uint32_t unreturned = 0;
  bool reported = true;

  static inline const char* name = "bench.counter";
};

void Count(caf::stateful_actor<CounterState>* self) {
  auto& st = self->state;
  ++st.received;
  if (++st.unreturned >= kSubscriberWindow / 4) {
    self->send(st.source, credit_atom::value, st.unreturned);
    st.unreturned = 0;
  }
  if (!st.reported && st.received >= st.goal) {
    st.reported = true;
    self->send(st.waiter, reached_atom::value);
  }
}

caf::behavior Counter(caf::stateful_actor<CounterState>* self,
                      resource_actor source, caf::actor waiter) {
  self->state.source = source;
  self->state.waiter = waiter;
  return {
      [=](deliver_atom, uint64_t, const Sample&) { Count(self); },
      [=](deliver_atom, uint64_t, const SampleBatch&) { Count(self); },
      [=](goal_atom, uint64_t goal) {
        auto& st = self->state;
        st.goal = goal;
        st.reported = st.received >= goal;
        if (st.reported) self->send(st.waiter, reached_atom::value);
      },
  };
}

// Publishes copies of one prototype payload through a PublishWindow of
// kPublishWindow, as the bus's sources do (a fresh payload per publish,
// acks for every quarter window).
struct PublisherState {
  resource_actor target;
  caf::message prototype;  // (publish_atom, Sample or SampleBatch)
  uint64_t remaining = 0;
  PublishWindow window{kPublishWindow, 0};

  static inline const char* name = "bench.publisher";
};

void Pump(caf::stateful_actor<PublisherState>* self) {
  auto& st = self->state;
  while (st.remaining > 0 && st.window.CanSend()) {
    --st.remaining;
    const bool more = st.remaining > 0;
    auto again = [self] { Pump(self); };
    if (st.prototype.match_element<Sample>(1)) {
      st.window.Send(self, st.target, st.prototype.get_as<Sample>(1), "bench",
                     more, again);
    } else {
      st.window.Send(self, st.target, st.prototype.get_as<SampleBatch>(1),
                     "bench", more, again);
    }
  }
}

caf::behavior Publisher(caf::stateful_actor<PublisherState>* self,
                        resource_actor target, caf::message prototype) {
  self->state.target = std::move(target);
  self->state.prototype = std::move(prototype);
  return {
      [=](go_atom, uint64_t n) {
        self->state.remaining += n;
        Pump(self);
      },
  };
}

caf::message MakePrototype(uint32_t batch) {
  std::vector<uint8_t> pixels(size_t{kSampleBytes} * batch);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = i * 7;
  if (batch == 1) {
    Sample s;
    s.source = "bench";
    s.shape = {28, 28};
    s.pixels = Bytes(std::move(pixels));
    s.label = 3;
    return caf::make_message(publish_atom::value, std::move(s));
  }
  SampleBatch b;
  b.source = "bench";
  b.shape = {28, 28};
  b.count = batch;
  b.pixels = Bytes(std::move(pixels));
  b.labels.assign(batch, 3);
  return caf::make_message(publish_atom::value, std::move(b));
}

caf::actor_system_config& Config(caf::actor_system_config& cfg) {
  AddBusTypes(cfg);
  cfg.set("logger.verbosity", caf::atom("quiet"));
  return cfg;
}

// Runs rounds of `round` publishes until the benchmark is done; `sources`
// are the resources the N counters subscribe to.
void RunRounds(benchmark::State& state, caf::actor_system& sys,
               caf::scoped_actor& self, const caf::actor& publisher,
               const std::vector<caf::actor>& counters, uint32_t batch) {
  const uint64_t round = batch == 1 ? 4096 : 256;
  uint64_t goal = 0;
  auto wait_all = [&] {
    for (size_t i = 0; i < counters.size(); ++i) {
      self->receive([](reached_atom) {});
    }
  };
  for (auto _ : state) {
    goal += round;
    for (const caf::actor& c : counters) {
      self->send(c, goal_atom::value, goal);
    }
    self->send(publisher, go_atom::value, round);
    wait_all();
  }
  const double messages =
      static_cast<double>(goal) * static_cast<double>(counters.size());
  state.SetItemsProcessed(static_cast<int64_t>(messages * batch));
  state.SetBytesProcessed(
      static_cast<int64_t>(messages * batch * kSampleBytes));
  state.counters["msgs/s"] =
      benchmark::Counter(messages, benchmark::Counter::kIsRate);
  state.counters["subscribers"] = static_cast<double>(counters.size());
  state.counters["batch"] = batch;
}

// Spawns a counter and subscribes it before anything is published, so no
// message goes past it.
caf::actor SpawnSubscribedCounter(caf::actor_system& sys,
                                  caf::scoped_actor& self,
                                  const resource_actor& source) {
  caf::actor counter = sys.spawn(Counter, source, caf::actor{self});
  SubscribeOptions sub;
  sub.name = "bench";
  sub.initial_credit = kSubscriberWindow;
  self->request(source, caf::infinite, subscribe_atom::value,
                AsSubscriber(counter), sub)
      .receive([](uint64_t) {}, [](caf::error&) {});
  return counter;
}

void Stop(caf::actor_system& sys, const std::vector<caf::actor>& actors) {
  for (const caf::actor& a : actors) {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
}

// One benchmark run: its actor system, its arguments (subscribers, batch)
// and the counters it spawned.
struct FanOutRun {
  explicit FanOutRun(benchmark::State& state)
      : n(static_cast<size_t>(state.range(0))),
        batch(static_cast<uint32_t>(state.range(1))),
        sys(Config(cfg)),
        self(sys) {}

  void AddCounter(const resource_actor& source) {
    counters.push_back(SpawnSubscribedCounter(sys, self, source));
  }

  // Publishes into `source` until the benchmark is done, then stops the
  // publisher and the counters.
  void Measure(benchmark::State& state, const resource_actor& source) {
    caf::actor publisher = sys.spawn(Publisher, source, MakePrototype(batch));
    RunRounds(state, sys, self, publisher, counters, batch);
    Stop(sys, counters);
    Stop(sys, {publisher});
  }

  const size_t n;
  const uint32_t batch;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::vector<caf::actor> counters;
};

void BM_FanOut(benchmark::State& state) {
  FanOutRun run(state);
  ResourceOptions options;
  options.name = "mnist";
  absl::StatusOr<resource_actor> resource = SpawnResource(run.sys, options);
  if (!resource.ok()) {
    state.SkipWithError(std::string(resource.status().message()).c_str());
    return;
  }
  for (size_t i = 0; i < run.n; ++i) run.AddCounter(*resource);
  run.Measure(state, *resource);
  caf::anon_send_exit(*resource, caf::exit_reason::user_shutdown);
}

void BM_FanOutBindings(benchmark::State& state) {
  FanOutRun run(state);
  Bus bus{run.sys};
  absl::StatusOr<resource_actor> mnist = bus.Declare({"mnist"});
  if (!mnist.ok()) {
    state.SkipWithError(std::string(mnist.status().message()).c_str());
    return;
  }
  for (size_t i = 0; i < run.n; ++i) {
    const std::string name = absl::StrCat("model", i + 1);
    absl::StatusOr<resource_actor> model = bus.Declare({name});
    BindingOptions binding;
    binding.from = "mnist";
    binding.to = name;
    binding.filter = Filter::Labelled();
    binding.window = 256;
    absl::StatusOr<binding_actor> bound = bus.Bind(binding);
    if (!model.ok() || !bound.ok()) {
      state.SkipWithError("declare/bind failed");
      return;
    }
    run.AddCounter(*model);
  }
  run.Measure(state, *mnist);
  caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
}

void FanOutArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"subscribers", "batch"});
  for (int64_t n : {1, 4, 16}) {
    for (int64_t batch : {1, 64}) b->Args({n, batch});
  }
  b->UseRealTime();
}

BENCHMARK(BM_FanOut)->Apply(FanOutArgs);
BENCHMARK(BM_FanOutBindings)->Apply(FanOutArgs);

// ---- The peers: raw CAF messaging, no bus, in the same binary and run.
//
// BM_RawFanOut:  one sender actor sends one prebuilt, shared
//                (deliver_atom, offset, Sample) message to each of N
//                receivers (CAF's own 1->N fan-out by reference).
// BM_RawMailbox: N sender actors send it to one receiver (N:1 mailbox).
// Neither has flow control: a round's messages are all sent at once, so
// mailboxes hold up to a round. items/s and msgs/s are deliveries, as above.

struct RawSenderState {
  std::vector<caf::actor> receivers;
  caf::message delivery;

  static inline const char* name = "bench.raw_sender";
};

caf::behavior RawSender(caf::stateful_actor<RawSenderState>* self,
                        std::vector<caf::actor> receivers) {
  self->state.receivers = std::move(receivers);
  Sample s = MakePrototype(1).get_as<Sample>(1);
  self->state.delivery =
      caf::make_message(deliver_atom::value, uint64_t{0}, std::move(s));
  return {
      [=](go_atom, uint64_t n) {
        auto& st = self->state;
        for (uint64_t i = 0; i < n; ++i) {
          for (const caf::actor& r : st.receivers) {
            caf::unsafe_send_as(self, r, st.delivery);
          }
        }
      },
  };
}

// Counts deliveries like Counter, without returning credit.
caf::behavior RawCounter(caf::stateful_actor<CounterState>* self,
                         caf::actor waiter) {
  self->state.waiter = waiter;
  auto count = [=] {
    auto& st = self->state;
    if (++st.received >= st.goal && !st.reported) {
      st.reported = true;
      self->send(st.waiter, reached_atom::value);
    }
  };
  return {
      [=](deliver_atom, uint64_t, const Sample&) { count(); },
      [=](goal_atom, uint64_t goal) {
        auto& st = self->state;
        st.goal = goal;
        st.reported = st.received >= goal;
        if (st.reported) self->send(st.waiter, reached_atom::value);
      },
  };
}

// Runs rounds of 4096 deliveries per receiver (the round of BM_FanOut at
// batch 1), split evenly over the senders.
void RunRawRounds(benchmark::State& state, FanOutRun& run,
                  const std::vector<caf::actor>& senders) {
  constexpr uint64_t kRound = 4096;
  const uint64_t per_sender = kRound / senders.size();
  const uint64_t round = per_sender * senders.size();
  uint64_t goal = 0;
  for (auto _ : state) {
    goal += round;
    for (const caf::actor& c : run.counters) {
      run.self->send(c, goal_atom::value, goal);
    }
    for (const caf::actor& s : senders) {
      run.self->send(s, go_atom::value, per_sender);
    }
    for (size_t i = 0; i < run.counters.size(); ++i) {
      run.self->receive([](reached_atom) {});
    }
  }
  const double messages =
      static_cast<double>(goal) * static_cast<double>(run.counters.size());
  state.SetItemsProcessed(static_cast<int64_t>(messages));
  state.counters["msgs/s"] =
      benchmark::Counter(messages, benchmark::Counter::kIsRate);
  state.counters["subscribers"] = static_cast<double>(run.counters.size());
  state.counters["senders"] = static_cast<double>(senders.size());
}

void BM_RawFanOut(benchmark::State& state) {
  FanOutRun run(state);
  for (size_t i = 0; i < run.n; ++i) {
    run.counters.push_back(run.sys.spawn(RawCounter, caf::actor{run.self}));
  }
  std::vector<caf::actor> senders{run.sys.spawn(RawSender, run.counters)};
  RunRawRounds(state, run, senders);
  Stop(run.sys, run.counters);
  Stop(run.sys, senders);
}

void BM_RawMailbox(benchmark::State& state) {
  FanOutRun run(state);
  run.counters.push_back(run.sys.spawn(RawCounter, caf::actor{run.self}));
  std::vector<caf::actor> senders;
  for (size_t i = 0; i < run.n; ++i) {
    senders.push_back(run.sys.spawn(RawSender, run.counters));
  }
  RunRawRounds(state, run, senders);
  Stop(run.sys, run.counters);
  Stop(run.sys, senders);
}

// Args: receivers (fan-out) or senders (mailbox), and batch 1 only.
void RawArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "batch"});
  for (int64_t n : {1, 4, 16}) b->Args({n, 1});
  b->UseRealTime();
}

BENCHMARK(BM_RawFanOut)->Apply(RawArgs);
BENCHMARK(BM_RawMailbox)->Apply(RawArgs);

}  // namespace
}  // namespace trainbus::bus

BENCHMARK_MAIN();
