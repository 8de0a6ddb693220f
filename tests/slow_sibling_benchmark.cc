// How much a slow sibling costs the fast models, on real threads:
//
//   generator --> [mnist] --block--> [fastK] --> model actor K   (K = 1, 2)
//                         --POLICY--> [slow] --> consumer taking 1 ms/message
//
// items/s is the fast models' throughput (samples through both of them per
// second of wall time). Compare each policy with its baseline (no slow
// sibling; durable for catch_up):
//   bazel run -c opt //tests:slow_sibling_benchmark
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/generator/generator.h"
#include "actors/model/model_actor.h"
#include "base/test_dir.h"
#include "benchmark/benchmark.h"
#include "bus/atoms.h"
#include "bus/bus.h"
#include "caf/all.hpp"
#include "tests/test_topology.h"

namespace trainbus {
namespace {

constexpr uint64_t kSamples = 20000;

enum Variant : int64_t {
  kBaseline = 0,
  kDropOldest = 1,
  kBlock = 2,
  kDurableBaseline = 3,
  kCatchUp = 4,
};

// A subscriber that needs `per_message` for each message.
caf::behavior SlowSubscriber(caf::event_based_actor* self,
                             bus::resource_actor resource,
                             std::chrono::microseconds per_message) {
  bus::SubscribeOptions sub;
  sub.name = "slow";
  sub.initial_credit = 4;
  self->request(resource, caf::infinite, bus::subscribe_atom::value,
                bus::AsSubscriber(caf::actor_cast<caf::actor>(self)), sub)
      .then([](uint64_t) {});
  return {[=](bus::deliver_atom, uint64_t, const bus::Sample&) {
    std::this_thread::sleep_for(per_message);
    self->send(resource, bus::credit_atom::value, uint32_t{1});
  }};
}

void BM_FastSiblings(benchmark::State& state) {
  const auto variant = static_cast<Variant>(state.range(0));
  auto data = testing::RowsDataset(kSamples);
  for (auto _ : state) {
    const std::string log_dir =
        (variant == kDurableBaseline || variant == kCatchUp)
            ? base::NewTestDir("trainbus_slow_sibling_log")
            : "";
    caf::actor_system_config cfg;
    bus::AddBusTypes(cfg);
    actors::AddModelActorTypes(cfg);
    cfg.set("logger.verbosity", caf::atom("quiet"));
    caf::actor_system sys{cfg};
    bus::Bus bus{sys};
    caf::scoped_actor self{sys};
    std::vector<caf::actor> actors;
    bus::ResourceOptions r;
    r.name = "mnist";
    r.log_dir = log_dir;
    bus::resource_actor mnist = *bus.Declare(r);
    for (const char* name : {"fast1", "fast2"}) {
      r = bus::ResourceOptions{};
      r.name = name;
      bus::resource_actor input = *bus.Declare(r);
      bus::BindingOptions b;
      b.from = "mnist";
      b.to = name;
      b.window = 256;
      (void)*bus.Bind(b);
      actors::ModelActorOptions m;
      m.name = name;
      m.spec = *nn::ParseModelSpec("softmax:input=1x4x4,classes=4,lr=0.1");
      m.eval_every = 0;
      m.print = false;
      m.input = input;
      m.listener = caf::actor{self};
      actors.push_back(*actors::SpawnModelActor(sys, m));
    }
    if (variant == kDropOldest || variant == kBlock || variant == kCatchUp) {
      r = bus::ResourceOptions{};
      r.name = "slow";
      r.max_queue = 16;
      bus::resource_actor slow = *bus.Declare(r);
      bus::BindingOptions b;
      b.from = "mnist";
      b.to = "slow";
      b.policy = variant == kDropOldest ? bus::Policy::kDropOldest
                 : variant == kBlock    ? bus::Policy::kBlock
                                        : bus::Policy::kCatchUp;
      b.max_queue = 64;
      b.window = 16;
      (void)*bus.Bind(b);
      actors.push_back(sys.spawn<caf::detached>(
          SlowSubscriber, slow, std::chrono::microseconds(1000)));
    }
    // Block would take kSamples ms; a tenth of the stream shows the point.
    const uint64_t n = variant == kBlock ? kSamples / 10 : kSamples;
    actors::GeneratorOptions g;
    g.source = "rows";
    g.data = data;
    g.output = mnist;
    g.limit = n;
    const auto start = std::chrono::steady_clock::now();
    actors.push_back(actors::SpawnGenerator(sys, g));
    for (int done = 0; done < 2;) {
      self->receive([&](actors::ModelSummary&) { ++done; });
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    state.SetIterationTime(seconds);
    state.SetItemsProcessed(state.items_processed() + 2 * n);
    auto metrics = bus.Metrics();
    if (metrics.ok()) {
      for (const auto& res : *metrics) {
        for (const auto& s : res.subscriptions) {
          if (s.name == "mnist->slow") {
            state.counters["slow_dropped"] = s.dropped;
            state.counters["slow_detached"] = s.detached;
          }
        }
      }
    }
    for (const caf::actor& a : actors) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
  }
}

BENCHMARK(BM_FastSiblings)
    ->ArgName(
        "variant")  // 0 none, 1 drop_oldest, 2 block, 3 none+log, 4 catch_up
    ->DenseRange(0, 4)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace
}  // namespace trainbus

BENCHMARK_MAIN();
