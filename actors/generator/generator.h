// The training-data generator: publishes a dataset to a bus resource, one
// Sample per image with its label (or SampleBatches of `batch` of them), in
// a seeded order that is a new
// permutation every epoch, for N epochs or forever. With labels off it
// replays the same images as unlabelled production data, optionally at a
// fixed rate.
//
//   GeneratorOptions g;
//   g.source = "fashion-mnist/train";
//   g.data = train;               // std::shared_ptr<const data::Dataset>
//   g.output = *bus.Lookup("mnist");
//   g.epochs = 1;
//   g.listener = self;            // receives (done_atom, source, published)
//   SpawnGenerator(sys, g);
//
// It keeps at most `window` publishes unacknowledged, so a resource that
// blocks (a full "block" subscriber) slows it down: credit-based flow from
// the slowest blocking consumer all the way back to the source.
#ifndef TRAINBUS_ACTORS_GENERATOR_GENERATOR_H_
#define TRAINBUS_ACTORS_GENERATOR_GENERATOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "data/idx.h"
#include "bus/protocol.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"

namespace trainbus::actors {

struct GeneratorOptions {
  std::string source = "fashion-mnist/train";
  std::shared_ptr<const data::Dataset> data;
  bus::resource_actor output;
  uint64_t epochs = 1;       // 0: forever
  uint64_t seed = 1;
  bool shuffle = true;
  bool labels = true;        // false: publish unlabelled (production replay)
  uint32_t window = 256;     // publishes (messages) in flight
  // Samples per message: > 1 publishes SampleBatches of this many (the last
  // one may be short), which bindings and filters pass on whole and model
  // actors train from without re-batching. Per-sample Samples are published
  // anyway when origins are asked for or the rate is limited.
  uint32_t batch = 1;
  double rate = 0;           // samples per second; 0: as fast as accepted
  uint64_t limit = 0;        // stop after this many samples; 0: no limit
  bool end_marker = true;    // publish an end-of-stream marker when done
  caf::actor listener;       // receives (done_atom, source, published)
  // Non-empty: each sample's meta[bus::kOriginKey] is this plus
  // origin_offset + its index in `data` (e.g. "test:" -> "test:17"), carried
  // on to predictions.
  std::string origin_prefix;
  uint64_t origin_offset = 0;
};

caf::actor SpawnGenerator(caf::actor_system& sys, GeneratorOptions options);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_GENERATOR_GENERATOR_H_
