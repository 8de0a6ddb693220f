// Production data from a test split: the generator, told to drop the labels,
// keep the order, and pace itself. Nothing is duplicated here; this only
// fixes the generator options that make a replay look like live traffic.
//
//   TestReplayOptions r;
//   r.data = test;                  // std::shared_ptr<const data::Dataset>
//   r.output = *bus.Lookup("live");
//   r.rate = 200;                   // samples per second
//   r.limit = 1000;
//   caf::actor replay = SpawnTestReplay(sys, r);
//
// Samples carry seq == index into the split (first epoch), so a consumer
// that knows the split can look up the hidden label (see TestReplayTruth),
// and meta {"origin": "test:<index in the split>"}, which predictions carry
// on.
#ifndef TRAINBUS_ACTORS_PRODUCTION_TEST_REPLAY_H_
#define TRAINBUS_ACTORS_PRODUCTION_TEST_REPLAY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "data/idx.h"
#include "actors/generator/generator.h"
#include "bus/protocol.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"

namespace trainbus::actors {

struct TestReplayOptions {
  std::string source = "test-replay";
  std::shared_ptr<const data::Dataset> data;
  // Where `data` starts in the test split it was cut from: sample i's origin
  // is "test:<first_index + i>".
  uint64_t first_index = 0;
  bus::resource_actor output;
  double rate = 0;     // samples per second; 0: as fast as accepted
  uint64_t limit = 0;  // 0: the whole split once
  uint32_t window = 64;
  bool end_marker = true;
  caf::actor listener;  // receives (done_atom, source, published)
};

// The generator options for a replay: unlabelled, in order, one pass.
GeneratorOptions ReplayGeneratorOptions(const TestReplayOptions& options);

caf::actor SpawnTestReplay(caf::actor_system& sys,
                           const TestReplayOptions& options);

// The true label of replayed sample `seq`, or bus::kNoLabel past the end.
int32_t TestReplayTruth(const data::Dataset& data, uint64_t seq);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_PRODUCTION_TEST_REPLAY_H_
