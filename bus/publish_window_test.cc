// PublishWindow on its own: the window bounds unacknowledged publishes, a
// rate releases one tick's worth per tick, and a refused publish ends the
// source with the error. Deterministic (test coordinator, test clock).
#include "bus/publish_window.h"

#include <memory>
#include <string>

#include "bus/bus_test_util.h"
#include "bus/protocol.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::bus {
namespace {

using testing::BusTestSystem;
using testing::MakeSample;

using tick_atom = caf::atom_constant<caf::atom("wintick")>;
using start_atom = caf::atom_constant<caf::atom("winstart")>;

struct Counts {
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint32_t max_in_flight = 0;
};

struct SourceState {
  PublishWindow window{1, 0};
  resource_actor output;
  uint64_t total = 0;
  std::shared_ptr<Counts> counts;
  static inline const char* name = "test.window_source";
};

using Source = caf::stateful_actor<SourceState>;

void Pump(Source* self) {
  auto& st = self->state;
  while (st.window.CanSend() && st.counts->sent < st.total) {
    const bool more = st.counts->sent + 1 < st.total;
    st.window.Send(self, st.output, MakeSample(st.counts->sent, 1), "test",
                   more, [self] {
                     // One reply may acknowledge several publishes.
                     auto& s = self->state;
                     s.counts->acked = s.counts->sent - s.window.in_flight();
                     Pump(self);
                   });
    ++st.counts->sent;
    st.counts->max_in_flight =
        std::max(st.counts->max_in_flight, st.window.in_flight());
  }
}

caf::behavior WindowSource(Source* self, resource_actor output,
                           uint32_t window, double rate, uint64_t total,
                           std::shared_ptr<Counts> counts) {
  self->state.window = PublishWindow(window, rate);
  self->state.output = std::move(output);
  self->state.total = total;
  self->state.counts = std::move(counts);
  return {
      [=](start_atom) {
        self->state.window.Tick(self, tick_atom::value, false);
        Pump(self);
      },
      [=](tick_atom tick) {
        self->state.window.Tick(self, tick, false);
        Pump(self);
      },
  };
}

class PublishWindowTest : public ::testing::Test {
 protected:
  // A resource whose one subscriber (block policy) holds at most `max_queue`
  // messages and takes `credit` of them.
  resource_actor Resource(uint32_t max_queue, uint32_t credit) {
    ResourceOptions options;
    options.name = "r";
    options.max_queue = max_queue;
    auto r = t.Ask<resource_actor>(t.directory, declare_atom::value, options);
    EXPECT_TRUE(r);
    collector = t.Spawn(testing::Collector, received);
    SubscribeOptions sub;
    sub.initial_credit = credit;
    EXPECT_TRUE(t.Ask<uint64_t>(*r, subscribe_atom::value, collector, sub));
    return r ? *r : resource_actor{};
  }

  caf::actor Start(resource_actor r, uint32_t window, double rate,
                   uint64_t total) {
    caf::actor source =
        t.Spawn(WindowSource, std::move(r), window, rate, total, counts);
    caf::anon_send(source, start_atom::value);
    t.Run();
    return source;
  }

  BusTestSystem t;
  std::shared_ptr<testing::Received> received =
      std::make_shared<testing::Received>();
  std::shared_ptr<Counts> counts = std::make_shared<Counts>();
  subscriber_actor collector;
};

TEST_F(PublishWindowTest, TheWindowBoundsUnacknowledgedPublishes) {
  // Two fit the queue; the rest wait for credit, so acks stop at two.
  resource_actor r = Resource(/*max_queue=*/2, /*credit=*/0);
  Start(r, /*window=*/5, /*rate=*/0, /*total=*/10);
  EXPECT_EQ(counts->acked, 2u);
  EXPECT_EQ(counts->sent, 7u);  // 5, then one more per ack
  EXPECT_EQ(counts->max_in_flight, 5u);
  caf::send_as(collector, r, credit_atom::value, uint32_t{100});
  t.Run();
  EXPECT_EQ(counts->sent, 10u);
  EXPECT_EQ(counts->acked, 10u);
  EXPECT_EQ(counts->max_in_flight, 5u);
  ASSERT_EQ(received->samples.size(), 10u);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(received->samples[i].seq, i);
}

// A window of 16 acks every 4 publishes: one request per 4, and the last
// publish of a run is a request too, so nothing waits for an ack that never
// comes. Order and count are as with a reply for each.
TEST_F(PublishWindowTest, AcksComeBackInBatches) {
  resource_actor r = Resource(256, 1000);
  Start(r, /*window=*/16, /*rate=*/0, /*total=*/10);
  EXPECT_EQ(counts->sent, 10u);
  EXPECT_EQ(counts->acked, 10u);
  ASSERT_EQ(received->samples.size(), 10u);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(received->samples[i].seq, i);
}

// Publishes without a reply that have to wait under "block" are
// acknowledged, in order, by the request behind them once there is room.
TEST_F(PublishWindowTest, WaitingPublishesWithoutRepliesAreAcknowledged) {
  resource_actor r = Resource(/*max_queue=*/3, /*credit=*/0);
  Start(r, /*window=*/8, /*rate=*/0, /*total=*/20);
  EXPECT_LT(counts->acked, 8u);
  EXPECT_EQ(counts->max_in_flight, 8u);
  caf::send_as(collector, r, credit_atom::value, uint32_t{100});
  t.Run();
  EXPECT_EQ(counts->sent, 20u);
  EXPECT_EQ(counts->acked, 20u);
  ASSERT_EQ(received->samples.size(), 20u);
  for (uint64_t i = 0; i < 20; ++i) EXPECT_EQ(received->samples[i].seq, i);
}

TEST_F(PublishWindowTest, ARateReleasesOneTicksWorthPerTick) {
  resource_actor r = Resource(256, 1000);
  // 200 samples/s in 10 ms ticks: two per tick, however large the window.
  Start(r, /*window=*/100, /*rate=*/200, /*total=*/9);
  EXPECT_EQ(counts->sent, 2u);
  for (uint64_t want : {4u, 6u, 8u, 9u}) {
    ASSERT_TRUE(t.sched().trigger_timeout()) << "no tick was scheduled";
    t.Run();
    EXPECT_EQ(counts->sent, want);
  }
  EXPECT_EQ(counts->acked, 9u);
}

TEST_F(PublishWindowTest, ARefusedPublishEndsTheSourceWithTheError) {
  resource_actor r = Resource(256, 1000);
  caf::anon_send_exit(r, caf::exit_reason::kill);
  t.Run();
  auto watcher_got = std::make_shared<caf::error>();
  caf::actor source =
      t.Spawn(WindowSource, r, /*window=*/4, /*rate=*/0, /*total=*/3, counts);
  caf::actor watcher = t.Spawn([=](caf::event_based_actor* self) {
    self->monitor(source);
    self->set_down_handler(
        [=](const caf::down_msg& down) { *watcher_got = down.reason; });
    return caf::behavior{[](int) {}};
  });
  t.Run();
  caf::anon_send(source, start_atom::value);
  t.Run();
  EXPECT_EQ(counts->acked, 0u);
  EXPECT_EQ(*watcher_got, caf::sec::request_receiver_down)
      << caf::to_string(*watcher_got);
}

}  // namespace
}  // namespace trainbus::bus
