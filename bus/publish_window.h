// A source's side of credit-based publishing: at most `window` publishes
// unacknowledged at a time, optionally at most `rate` samples per second,
// with the resource's acknowledgement as the credit that lets the next one
// go. Generators and production sources own one each:
//
//   // in the actor's state:   bus::PublishWindow win{options.window, options.rate};
//   // on every tick message:  win.Tick(self, tick, finishing); Pump(self);
//   void Pump(Self* self) {
//     auto& w = self->state.win;
//     while (w.CanSend() && more()) {
//       w.Send(self, output, NextSample(), name, /*more=*/more(),
//              [=] { Pump(self); });
//     }
//     if (!more() && w.in_flight() == 0) Finish(self);
//   }
//
// A refused publish (unknown resource, dead node) ends the source with the
// error after printing it under the source's name.
#ifndef TRAINBUS_BUS_PUBLISH_WINDOW_H_
#define TRAINBUS_BUS_PUBLISH_WINDOW_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "base/status_error.h"
#include "bus/message.h"
#include "bus/protocol.h"
#include "caf/all.hpp"

namespace trainbus::bus {

class PublishWindow {
 public:
  // Rate limiting works in ticks of this length.
  static constexpr std::chrono::milliseconds kTick{10};

  // window: publishes in flight (at least 1); rate: samples/s, <= 0 for as
  // fast as the window allows.
  // Acks come back for every quarter window (see Send).
  PublishWindow(uint32_t window, double rate)
      : window_(std::max<uint32_t>(window, 1)),
        ack_every_(std::max<uint32_t>(window_ / 4, 1)),
        rate_(rate) {}

  // Whether one more sample may be published now.
  bool CanSend() const {
    return in_flight_ < window_ && (rate_ <= 0 || allowance_ >= 1);
  }
  uint32_t in_flight() const { return in_flight_; }

  // Handles the source's tick message: adds one tick's allowance (never
  // more than one tick's worth is banked, so a stall is not followed by a
  // burst) and, while rate limited and not finishing, schedules the next
  // tick to `self`. Without a rate there are no further ticks.
  template <class Self, class Atom>
  void Tick(Self* self, Atom tick, bool finishing) {
    if (rate_ <= 0) return;
    const double per_tick =
        rate_ * std::chrono::duration<double>(kTick).count();
    allowance_ = std::min(allowance_ + per_tick, std::max(per_tick, 1.0));
    if (!finishing) self->delayed_send(self, kTick, tick);
  }

  // Publishes `payload` (a Sample, or a SampleBatch when not rate limited)
  // to `to`; `on_ack` runs when the resource has accepted it (usually: pump
  // again). Call only when CanSend(). One publish is one unit of the window
  // however many samples it carries.
  //
  // more: the caller will publish to `to` again right after this one. Then,
  // while the window has room, the publish goes without a reply of its own
  // (no response message, no response handler), and the next request's
  // reply acknowledges it too: a resource accepts one sender's publishes in
  // the order sent, waiting ones included. Every ack_every-th publish, the
  // one that fills the window and the last of a run are requests, so acks
  // come back in batches and never stall. A caller that cannot tell (its
  // next publish may go to another resource) passes false.
  template <class Self, class Payload, class OnAck>
  void Send(Self* self, const resource_actor& to, Payload payload,
            const std::string& source, bool more, OnAck on_ack) {
    if (rate_ > 0) allowance_ -= 1;
    ++in_flight_;
    if (++unacked_ < ack_every_ && more && CanSend()) {
      self->send(to, publish_atom::value, std::move(payload));
      return;
    }
    const uint32_t covered = unacked_;
    unacked_ = 0;
    self->request(to, caf::infinite, publish_atom::value, std::move(payload))
        .then(
            [this, covered, on_ack](uint64_t) mutable {
              in_flight_ -= covered;
              on_ack();
            },
            [self, source](caf::error& err) { Stop(self, source, err); });
  }

  // How a source ends when a publish is refused: the error, printed under
  // its name, is the reason it quits. A publish sent without a reply reports
  // a refusal to the sender's error handler: sources install this there.
  template <class Self>
  static void Stop(Self* self, const std::string& source, caf::error& err) {
    caf::aout(self) << "source '" << source
                    << "' stops: " << base::ErrorToString(err) << "\n";
    self->quit(err);
  }

 private:
  uint32_t window_;
  uint32_t ack_every_;
  double rate_;
  uint32_t in_flight_ = 0;
  uint32_t unacked_ = 0;  // publishes since the last request, sent or not
  double allowance_ = 0;  // samples we may still send this tick
};

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_PUBLISH_WINDOW_H_
