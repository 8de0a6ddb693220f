// How a source ends its stream: publish the end-of-stream marker (when it
// was asked to), wait until the resource has accepted it, then run `done`
// (tell a listener, quit). A refused marker ends the source with the error.
//
//   bus::EndStream(self, output, "fashion-mnist/train", published,
//                  /*marker=*/true, [=] { self->quit(); });
#ifndef TRAINBUS_BUS_END_STREAM_H_
#define TRAINBUS_BUS_END_STREAM_H_

#include <cstdint>
#include <string>
#include <utility>

#include "bus/message.h"
#include "bus/protocol.h"
#include "caf/error.hpp"
#include "caf/duration.hpp"

namespace trainbus::bus {

template <class Self, class Done>
void EndStream(Self* self, const resource_actor& output, const std::string& source,
               uint64_t seq, bool marker, Done done) {
  if (!marker) {
    done();
    return;
  }
  self->request(output, caf::infinite, publish_atom::value,
                Sample::EndOfStream(source, seq))
      .then([done = std::move(done)](uint64_t) mutable { done(); },
            [self](caf::error& err) { self->quit(err); });
}

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_END_STREAM_H_
