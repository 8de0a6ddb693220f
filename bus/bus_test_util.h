// Deterministic actor tests under GoogleTest: an actor_system on CAF's
// test_coordinator, where nothing runs until the test says so.
//
//   BusTestSystem t;
//   auto reply = t.Ask<resource_actor>(t.directory, declare_atom::value, opts);
#ifndef TRAINBUS_BUS_BUS_TEST_UTIL_H_
#define TRAINBUS_BUS_BUS_TEST_UTIL_H_

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bus/bus.h"
#include "bus/directory.h"
#include "bus/message.h"
#include "bus/protocol.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::bus::testing {

namespace internal {
template <class Handle>
struct ReplyOf;
template <class Self, class Output, bool IsBlocking>
struct ReplyOf<caf::response_handle<Self, Output, IsBlocking>> {
  using type = Output;
};
}  // namespace internal

class BusTestSystem {
 public:
  // How long Ask waits for a reply that running the system did not produce
  // (one from a detached actor, which the test coordinator does not run).
  static constexpr std::chrono::seconds kAskDeadline{20};

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
  // No reply within kAskDeadline is a test failure (and an error), not a
  // hang. T must be the reply type of the request: a mismatch fails to
  // compile.
  template <class T, class Handle, class... Ts>
  caf::expected<T> Ask(const Handle& dest, Ts&&... xs) {
    caf::expected<T> result{caf::sec::request_timeout};
    auto handle = self_->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    auto on_value = [&](T& value) { result = std::move(value); };
    auto on_error = [&](caf::error& err) { result = std::move(err); };
    caf::detail::type_checker<
        typename internal::ReplyOf<decltype(handle)>::type,
        decltype(on_value)>::check();
    const auto deadline = std::chrono::steady_clock::now() + kAskDeadline;
    Run();
    // Under the test coordinator the reply is there now; a detached actor
    // may still be working, and may need the coordinator's actors to run.
    while (!self_->has_next_message() &&
           std::chrono::steady_clock::now() < deadline) {
      self_->await_data(caf::blocking_actor::timeout_type::clock::now() +
                        std::chrono::milliseconds(5));
      Run();
    }
    typename caf::blocking_actor::accept_one_cond rc;
    self_->varargs_receive(
        rc, handle.id(), on_value, on_error,
        caf::after(std::chrono::milliseconds(1)) >> [&] {
          ADD_FAILURE() << "no reply within " << kAskDeadline.count()
                        << " s: the receiver never answered this request "
                           "(is it alive, and does it reply?)";
        });
    return result;
  }

  template <class F, class... Ts>
  auto Spawn(F fun, Ts&&... xs) {
    auto a = sys_.spawn(fun, std::forward<Ts>(xs)...);
    spawned_.push_back(caf::actor_cast<caf::actor>(a));
    return a;
  }

  directory_actor directory;

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

  void Keep(uint64_t offset, const Sample& x) { Keep(offset, x, samples); }
  void Keep(uint64_t offset, const SampleBatch& x) { Keep(offset, x, batches); }
  void Keep(uint64_t offset, const Prediction& x) {
    Keep(offset, x, predictions);
  }
  void Keep(uint64_t offset, const Metric& x) { Keep(offset, x, metrics); }

 private:
  template <class T>
  void Keep(uint64_t offset, const T& x, std::vector<T>& into) {
    offsets.push_back(offset);
    into.push_back(x);
  }
};

// A subscriber that records every delivery and grants no credit on its own;
// tests grant credit with caf::send_as(collector, resource, credit_atom...).
inline subscriber_actor::behavior_type Collector(
    subscriber_actor::pointer, std::shared_ptr<Received> out) {
  return {
      [=](deliver_atom, uint64_t o, const Sample& x) { out->Keep(o, x); },
      [=](deliver_atom, uint64_t o, const SampleBatch& x) { out->Keep(o, x); },
      [=](deliver_atom, uint64_t o, const Prediction& x) { out->Keep(o, x); },
      [=](deliver_atom, uint64_t o, const Metric& x) { out->Keep(o, x); },
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

// One of each other payload type, every field set.
inline SampleBatch MakeBatch() {
  return SampleBatch{100, "mnist", {1, 2}, 2, Bytes({1, 2, 3, 4}),
                     {5, kNoLabel}, 11};
}
inline Prediction MakePrediction() {
  return Prediction{7, "live", "images/a.png", "model1", 3, 2, {0.25f, 0.25f, 0.5f}, 1, 2};
}
inline Metric MakeMetric() {
  return Metric{"model1", "test", 1200,
                {{"test_accuracy", 0.81}, {"loss", 0.42}}, 1700000000};
}

}  // namespace trainbus::bus::testing

#endif  // TRAINBUS_BUS_BUS_TEST_UTIL_H_
