// The loop every source actor runs (the generator, the test replay, the
// image-directory source), so there is one: tick, pump samples through the
// PublishWindow while it has room, end the stream with a marker, tell the
// listener, quit. A source's state has `window` and `finishing`; the source
// supplies only its Pump (publish what it can) and what to tell the listener.
//
//   caf::behavior MySource(Self* self, Options o) {
//     ...
//     return SourceLoop(self, self->state.options.output, Pump);
//   }
//   void Pump(Self* self) {
//     while (st.window.CanSend() && more) SendSample(self, output, next, more_after, Pump);
//     if (!more && st.window.in_flight() == 0) FinishSource(self, ..., notify);
//   }
#ifndef TRAINBUS_ACTORS_GENERATOR_SOURCE_LOOP_H_
#define TRAINBUS_ACTORS_GENERATOR_SOURCE_LOOP_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "bus/end_stream.h"
#include "bus/message.h"
#include "bus/publish_window.h"
#include "caf/all.hpp"

namespace trainbus::actors {

using source_tick_atom = caf::atom_constant<caf::atom("srctick")>;

// Steady-clock nanoseconds, the time base of Sample::publish_ns.
inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Publishes `s` (a Sample or a SampleBatch) through the source's window;
// `pump` runs again once the resource has accepted it. `more`: the source
// publishes to `to` again right after this (see PublishWindow::Send).
template <class Self, class Payload>
void SendSample(Self* self, const bus::resource_actor& to, Payload s,
                bool more, void (*pump)(Self*)) {
  self->state.window.Send(self, to, std::move(s), self->state.options.source,
                          more, [self, pump] { pump(self); });
}

// Ends the stream once: the marker (if wanted) with sequence number `seq`,
// then `notify()` (tell the listener), then quit.
template <class Self, class Notify>
void FinishSource(Self* self, uint64_t seq, Notify notify) {
  auto& st = self->state;
  if (st.finishing) return;
  st.finishing = true;
  bus::EndStream(self, st.options.output, st.options.source, seq,
                 st.options.end_marker, [self, notify]() mutable {
                   notify();
                   self->quit();
                 });
}

// The source's behaviour: stop when the output resource goes away or refuses
// a publish, and on every tick refill the rate allowance and pump.
template <class Self>
caf::behavior SourceLoop(Self* self, void (*pump)(Self*)) {
  self->monitor(self->state.options.output);
  self->set_down_handler([self](const caf::down_msg&) { self->quit(); });
  self->set_error_handler([self](caf::error& err) {
    bus::PublishWindow::Stop(self, self->state.options.source, err);
  });
  self->send(self, source_tick_atom::value);
  return {
      [self, pump](source_tick_atom tick) {
        self->state.window.Tick(self, tick, self->state.finishing);
        pump(self);
      },
  };
}

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_GENERATOR_SOURCE_LOOP_H_
