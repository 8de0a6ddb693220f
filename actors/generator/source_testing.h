// Test helper for source actors (generator, test replay, image directory):
// a resource with one Collector subscribed, to see what the source published.
//
//   bus::testing::BusTestSystem t;
//   Watched out = Watch(t, "live", /*credit=*/100);
//   ASSERT_TRUE(out.resource);
//   ... spawn the source with output = out.resource; t.Run();
//   EXPECT_EQ(out.got->samples.size(), 5u);
#ifndef TRAINBUS_ACTORS_GENERATOR_SOURCE_TESTING_H_
#define TRAINBUS_ACTORS_GENERATOR_SOURCE_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>

#include "bus/atoms.h"
#include "bus/protocol.h"
#include "bus/bus_test_util.h"
#include "base/status_error.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::actors::testing {

struct Watched {
  bus::resource_actor resource;  // null if it could not be declared (test failed)
  bus::subscriber_actor collector;  // the subscriber; grant it more credit with send_as
  std::shared_ptr<bus::testing::Received> got =
      std::make_shared<bus::testing::Received>();
};

// Declares `name` (max_queue 0: the resource's default) and subscribes a
// Collector with `credit` under the block policy.
inline Watched Watch(bus::testing::BusTestSystem& t, const std::string& name,
                     uint32_t credit, uint32_t max_queue = 0) {
  Watched w;
  bus::ResourceOptions r;
  r.name = name;
  if (max_queue > 0) r.max_queue = max_queue;
  auto resource = t.Ask<bus::resource_actor>(t.directory, bus::declare_atom::value, r);
  if (!resource) {
    ADD_FAILURE() << "cannot declare '" << name
                  << "': " << base::ErrorToString(resource.error());
    return w;
  }
  w.resource = *resource;
  w.collector = t.Spawn(bus::testing::Collector, w.got);
  bus::SubscribeOptions sub;
  sub.initial_credit = credit;
  auto offset = t.Ask<uint64_t>(w.resource, bus::subscribe_atom::value,
                                w.collector, sub);
  EXPECT_TRUE(offset) << "cannot subscribe to '" << name << "'";
  return w;
}

}  // namespace trainbus::actors::testing

#endif  // TRAINBUS_ACTORS_GENERATOR_SOURCE_TESTING_H_
