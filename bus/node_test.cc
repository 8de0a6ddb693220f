// Two nodes (two actor systems with a middleman each) in one process, joined
// over real TCP sockets on 127.0.0.1 with ephemeral ports.
#include "bus/node.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bus/bus.h"
#include "bus/message.h"
#include "bus/protocol.h"
#include "bus/test_node.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::bus {
namespace {

// Failure bound only: every wait below ends as soon as its reply arrives.
constexpr std::chrono::seconds kTimeout{20};

using Node = TestNode;

// Subscribes to `source`, forwards every Sample to `out` and returns credit.
caf::behavior Forwarder(caf::event_based_actor* self, resource_actor source,
                        caf::actor out) {
  return {
      [=](deliver_atom, uint64_t offset, const Sample& s) {
        self->send(out, offset, s);
        self->send(source, credit_atom::value, uint32_t{1});
      },
  };
}

Sample Numbered(uint64_t seq) {
  Sample s;
  s.seq = seq;
  s.source = "node_test";
  s.shape = {28, 28};
  std::vector<uint8_t> pixels(784);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = (i * 31 + seq) & 255;
  s.pixels = Bytes(std::move(pixels));
  s.label = static_cast<int32_t>(seq % 10);
  return s;
}

// Node A serves [mnist]; node B imports it and binds mnist -> model1.
class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(a.bus->Declare({"mnist"}).ok());
    absl::StatusOr<uint16_t> port = ServeNode(*a.sys, a.bus->directory(), 0);
    ASSERT_TRUE(port.ok()) << port.status();
    ASSERT_NE(*port, 0);
    absl::StatusOr<directory_actor> remote =
        ConnectNode(*b.sys, "127.0.0.1", *port);
    ASSERT_TRUE(remote.ok()) << remote.status();
    a_directory = *remote;
    absl::Status imported = ImportResource(*b.bus, a_directory, "mnist");
    ASSERT_TRUE(imported.ok()) << imported;
    ASSERT_TRUE(b.bus->Declare({"model1"}).ok());
    BindingOptions binding;
    binding.from = "mnist";
    binding.to = "model1";
    binding.filter = Filter::Labelled();
    binding.window = 16;
    absl::StatusOr<binding_actor> bound = b.bus->Bind(binding);
    ASSERT_TRUE(bound.ok()) << bound.status();
    bound_actor = *bound;
  }

  // Spawns a Forwarder on B for [model1], subscribed before anything is
  // published.
  caf::actor SubscribeOnB(caf::scoped_actor& self) {
    absl::StatusOr<resource_actor> model1 = b.bus->Lookup("model1");
    EXPECT_TRUE(model1.ok());
    caf::actor forwarder = b.sys->spawn(Forwarder, *model1, caf::actor{self});
    SubscribeOptions sub;
    sub.name = "test";
    sub.initial_credit = 8;
    bool ok = false;
    self->request(*model1, kTimeout, subscribe_atom::value,
                  AsSubscriber(forwarder), sub)
        .receive([&](uint64_t) { ok = true; },
                 [&](caf::error& err) { ADD_FAILURE() << to_string(err); });
    EXPECT_TRUE(ok);
    return forwarder;
  }

  Node a;
  Node b;
  directory_actor a_directory;  // A's directory, as seen from B
  binding_actor bound_actor;
};

TEST_F(NodeTest, PublishesOnAReachASubscriberOnBWithPixelsIntact) {
  caf::scoped_actor on_b{*b.sys};
  caf::actor forwarder = SubscribeOnB(on_b);

  caf::scoped_actor on_a{*a.sys};
  absl::StatusOr<resource_actor> mnist = a.bus->Lookup("mnist");
  ASSERT_TRUE(mnist.ok());
  constexpr int kCount = 50;
  for (int i = 0; i < kCount; ++i) {
    bool accepted = false;
    on_a->request(*mnist, kTimeout, publish_atom::value, Numbered(i))
        .receive([&](uint64_t) { accepted = true; },
                 [&](caf::error& err) { ADD_FAILURE() << to_string(err); });
    ASSERT_TRUE(accepted) << "publish " << i << " was not accepted";
  }
  // An unlabelled sample is filtered out on the way to model1.
  Sample unlabelled = Numbered(kCount);
  unlabelled.label = kNoLabel;
  on_a->request(*mnist, kTimeout, publish_atom::value, unlabelled)
      .receive([](uint64_t) {},
               [&](caf::error& err) { ADD_FAILURE() << to_string(err); });

  for (int i = 0; i < kCount; ++i) {
    bool got = false;
    on_b->receive(
        [&](uint64_t, const Sample& s) {
          got = true;
          const Sample want = Numbered(i);
          EXPECT_EQ(s.seq, want.seq);
          EXPECT_EQ(s.label, want.label);
          EXPECT_EQ(s.shape, want.shape);
          EXPECT_TRUE(s.pixels == want.pixels) << "pixels of sample " << i;
        },
        caf::after(kTimeout) >>
            [&] {
              ADD_FAILURE() << "sample " << i << " did not reach node B";
            });
    if (!got) break;
  }
  caf::anon_send_exit(forwarder, caf::exit_reason::user_shutdown);
}

TEST_F(NodeTest, ADeadNodeIsNoticedAndItsResourceForgotten) {
  caf::scoped_actor on_b{*b.sys};
  absl::StatusOr<resource_actor> mnist = b.bus->Lookup("mnist");
  ASSERT_TRUE(mnist.ok()) << mnist.status();
  on_b->monitor(*mnist);
  on_b->monitor(bound_actor);

  a.Shutdown();  // node A goes away: its sockets close

  // One deadline for all the waits of this test, so that it fails with its
  // own message well inside the test's size limit.
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  int downs = 0;
  while (downs < 2 && std::chrono::steady_clock::now() < deadline) {
    on_b->receive([&](const caf::down_msg&) { ++downs; },
                  caf::after(deadline - std::chrono::steady_clock::now()) >>
                      [] {});
  }
  EXPECT_EQ(downs, 2) << "B did not see the remote resource and its binding "
                         "go down";

  // B's directory forgets both; ask until it has processed its own down
  // messages (each ask waits for a reply, nothing sleeps).
  absl::StatusOr<resource_actor> lookup = b.bus->Lookup("mnist");
  absl::StatusOr<TopologyDescription> topology = b.bus->Describe();
  while ((lookup.ok() || !topology.ok() || !topology->bindings.empty()) &&
         std::chrono::steady_clock::now() < deadline) {
    lookup = b.bus->Lookup("mnist");
    topology = b.bus->Describe();
  }
  ASSERT_FALSE(lookup.ok());
  EXPECT_NE(lookup.status().message().find("resource 'mnist' not declared"),
            std::string::npos)
      << lookup.status();
  ASSERT_TRUE(topology.ok());
  EXPECT_TRUE(topology->bindings.empty());

  // B itself carries on.
  EXPECT_TRUE(b.bus->Declare({"still_here"}).ok());
  BindingOptions again;
  again.from = "mnist";
  again.to = "model1";
  absl::StatusOr<binding_actor> rebound = b.bus->Bind(again);
  ASSERT_FALSE(rebound.ok());
  EXPECT_NE(rebound.status().message().find("'mnist' not declared"),
            std::string::npos);
}

TEST_F(NodeTest, ADeadSubscriberNodeIsDroppedAndNoLongerBlocksPublishers) {
  caf::scoped_actor on_a{*a.sys};
  absl::StatusOr<resource_actor> mnist = a.bus->Lookup("mnist");
  ASSERT_TRUE(mnist.ok());
  auto subscriptions = [&]() -> size_t {
    absl::StatusOr<std::vector<ResourceMetrics>> all = a.bus->Metrics();
    if (!all.ok() || all->empty()) return 999;
    return all->front().subscriptions.size();
  };
  ASSERT_EQ(subscriptions(), 1u);  // B's binding

  b.Shutdown();

  size_t left = subscriptions();
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (left != 0 && std::chrono::steady_clock::now() < deadline) {
    left = subscriptions();
  }
  EXPECT_EQ(left, 0u) << "A still holds the dead node's subscription";
  // With the block subscriber gone, publishes are accepted at once.
  for (int i = 0; i < 600; ++i) {
    bool ok = false;
    on_a->request(*mnist, kTimeout, publish_atom::value, Numbered(i))
        .receive([&](uint64_t) { ok = true; }, [](caf::error&) {});
    ASSERT_TRUE(ok) << "publish " << i << " was not accepted";
  }
}

TEST(NodeErrorsTest, ConnectingToANodeThatIsNotThereSaysWhereAndWhatToCheck) {
  // A port that was free a moment ago: nobody listens on it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);
  ::close(fd);

  Node b;
  absl::StatusOr<directory_actor> remote =
      ConnectNode(*b.sys, "127.0.0.1", port);
  ASSERT_FALSE(remote.ok());
  const std::string text(remote.status().message());
  EXPECT_NE(text.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << text;
  EXPECT_NE(text.find("check that it is running"), std::string::npos)
      << text;
}

TEST(NodeErrorsTest, ImportingAnUnknownResourceNamesIt) {
  Node a;
  Node b;
  absl::StatusOr<uint16_t> port = ServeNode(*a.sys, a.bus->directory(), 0);
  ASSERT_TRUE(port.ok()) << port.status();
  absl::StatusOr<directory_actor> remote =
      ConnectNode(*b.sys, "127.0.0.1", *port);
  ASSERT_TRUE(remote.ok()) << remote.status();
  absl::Status imported = ImportResource(*b.bus, *remote, "nope");
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.message().find("'nope' not declared"), std::string::npos)
      << imported;
}

TEST(NodeErrorsTest, NoMiddlemanIsAClearError) {
  caf::actor_system_config cfg;
  AddBusTypes(cfg);
  caf::actor_system sys{cfg};
  Bus bus{sys};
  absl::StatusOr<uint16_t> port = ServeNode(sys, bus.directory(), 0);
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.status().message().find("load<caf::io::middleman>"),
            std::string::npos);
  caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
}

// Model actors send their metrics with `send`, not `request`; over the
// network a reply they do not expect used to come back and, answered with an
// error, took the remote resource down.
TEST(ResourceTest, FireAndForgetPublishesGetNoReply) {
  Node a;
  absl::StatusOr<resource_actor> metrics = a.bus->Declare({"metrics"});
  ASSERT_TRUE(metrics.ok());
  caf::scoped_actor self{*a.sys};
  self->send(*metrics, publish_atom::value, Metric{});
  uint64_t offset = 0;
  self->request(*metrics, kTimeout, publish_atom::value, Metric{})
      .receive([&](uint64_t o) { offset = o; },
               [&](caf::error& err) { ADD_FAILURE() << to_string(err); });
  EXPECT_EQ(offset, 1u);
  // Any reply to the first publish would have arrived before the second's.
  self->receive([](uint64_t o) { ADD_FAILURE() << "unexpected reply " << o; },
                caf::after(std::chrono::seconds(0)) >> [] {});
}

TEST(ParseHostPortTest, AcceptsHostColonPortOnly) {
  auto ok = ParseHostPort("127.0.0.1:4242");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "127.0.0.1");
  EXPECT_EQ(ok->second, 4242);
  EXPECT_FALSE(ParseHostPort("127.0.0.1").ok());
  EXPECT_FALSE(ParseHostPort(":1").ok());
  EXPECT_FALSE(ParseHostPort("h:0").ok());
  EXPECT_FALSE(ParseHostPort("h:70000").ok());
}

}  // namespace
}  // namespace trainbus::bus
