// Deterministic actor tests under GoogleTest: an actor_system on CAF's
// test_coordinator, where nothing runs until the test says so.
//
//   BusTestSystem t;
//   auto reply = t.Ask<caf::actor>(t.directory, declare_atom::value, opts);
#ifndef TRAINBUS_BUS_BUS_TEST_UTIL_H_
#define TRAINBUS_BUS_BUS_TEST_UTIL_H_

#include <memory>
#include <utility>
#include <vector>

#include "bus/atoms.h"
#include "bus/bus.h"
#include "bus/message.h"
#include "caf/all.hpp"

namespace trainbus::bus::testing {

class BusTestSystem {
 public:
  BusTestSystem() : sys_(Configure(cfg_)), self_(sys_) {
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler());
    directory = SpawnDirectory(sys_);
  }
  ~BusTestSystem() {
    for (auto& a : spawned_) caf::anon_send_exit(a, caf::exit_reason::kill);
    caf::anon_send_exit(directory, caf::exit_reason::kill);
    Run();
  }

  caf::actor_system& system() { return sys_; }
  caf::scheduler::test_coordinator& sched() { return *sched_; }
  // Runs every runnable actor until all mailboxes are empty.
  size_t Run() { return sched_->run(); }

  // Sends a request, runs the system, and returns the reply or the error.
  template <class T, class... Ts>
  caf::expected<T> Ask(const caf::actor& dest, Ts&&... xs) {
    caf::expected<T> result{caf::sec::request_timeout};
    auto handle = self_->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    Run();
    handle.receive([&](T& value) { result = std::move(value); },
                   [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  template <class F, class... Ts>
  caf::actor Spawn(F fun, Ts&&... xs) {
    caf::actor a = sys_.spawn(fun, std::forward<Ts>(xs)...);
    spawned_.push_back(a);
    return a;
  }

  caf::actor directory;

 private:
  static caf::actor_system_config& Configure(caf::actor_system_config& cfg) {
    AddBusTypes(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    return cfg;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scoped_actor self_;
  caf::scheduler::test_coordinator* sched_;
  std::vector<caf::actor> spawned_;
};

// What a Collector actor received.
struct Received {
  std::vector<uint64_t> offsets;
  std::vector<Sample> samples;
  std::vector<SampleBatch> batches;
  std::vector<Prediction> predictions;
  std::vector<Metric> metrics;
};

// A subscriber that records every delivery and grants no credit on its own;
// tests grant credit with caf::send_as(collector, resource, credit_atom...).
inline caf::behavior Collector(caf::event_based_actor*,
                               std::shared_ptr<Received> out) {
  return {
      [=](deliver_atom, uint64_t offset, const Sample& x) {
        out->offsets.push_back(offset);
        out->samples.push_back(x);
      },
      [=](deliver_atom, uint64_t offset, const SampleBatch& x) {
        out->offsets.push_back(offset);
        out->batches.push_back(x);
      },
      [=](deliver_atom, uint64_t offset, const Prediction& x) {
        out->offsets.push_back(offset);
        out->predictions.push_back(x);
      },
      [=](deliver_atom, uint64_t offset, const Metric& x) {
        out->offsets.push_back(offset);
        out->metrics.push_back(x);
      },
  };
}

inline Sample MakeSample(uint64_t seq, int32_t label, uint8_t fill = 0) {
  Sample s;
  s.seq = seq;
  s.source = "test";
  s.shape = {2, 2};
  s.pixels = Bytes(std::vector<uint8_t>(4, fill));
  s.label = label;
  return s;
}

}  // namespace trainbus::bus::testing

#endif  // TRAINBUS_BUS_BUS_TEST_UTIL_H_
