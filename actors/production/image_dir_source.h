// A production source that turns a directory of images (PNG, JPEG, PGM)
// into unlabelled 28x28 grayscale samples on a bus resource.
//
// Files are taken in name order (data/image_dir.h), one sample per
// file, seq = the file's position in that order, meta {"path": file,
// "origin": its name within the directory}; predictions carry the origin. A
// file that cannot be read or decoded becomes a dead letter instead: a Sample
// without pixels, with meta {"path": file, "error": why}, published to the
// dead-letter resource, and the stream goes on. After the last file comes an
// end-of-stream marker (seq = number of files).
//
//   ImageDirSourceOptions o;
//   o.dir = "/srv/incoming";
//   o.output = *bus.Lookup("live");
//   o.dead_letter = *bus.Lookup("dead_letter");
//   o.listener = self;  // (done_atom, source, published, dead_lettered)
//   absl::StatusOr<caf::actor> src = SpawnImageDirSource(sys, o);
//
// Like the generator it keeps at most `window` publishes unacknowledged, so
// a blocking resource slows it down.
#ifndef TRAINBUS_ACTORS_PRODUCTION_IMAGE_DIR_SOURCE_H_
#define TRAINBUS_ACTORS_PRODUCTION_IMAGE_DIR_SOURCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "data/mnist28.h"
#include "bus/protocol.h"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"

namespace trainbus::actors {

struct ImageDirSourceOptions {
  std::string dir;
  std::string source = "images";
  bus::resource_actor output;
  bus::resource_actor dead_letter;    // may be null: dead letters are then printed
  data::MnistOptions mnist;  // how images become 28x28
  double rate = 0;           // files per second; 0: as fast as accepted
  uint32_t window = 16;
  bool end_marker = true;
  caf::actor
      listener;  // (done_atom, source, uint64_t published, uint64_t dead)
};

// Lists the directory first: a missing or unreadable directory is an error
// here, not an empty stream.
absl::StatusOr<caf::actor> SpawnImageDirSource(caf::actor_system& sys,
                                               ImageDirSourceOptions options);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_PRODUCTION_IMAGE_DIR_SOURCE_H_
