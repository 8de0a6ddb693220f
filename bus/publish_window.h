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
//       w.Send(self, output, NextSample(), [=] { Pump(self); });
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
  PublishWindow(uint32_t window, double rate)
      : window_(std::max<uint32_t>(window, 1)), rate_(rate) {}

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

  // Publishes `sample` to `to`; `on_ack` runs when the resource has
  // accepted it (usually: pump again). Call only when CanSend().
  template <class Self, class OnAck>
  void Send(Self* self, const resource_actor& to, Sample sample,
            const std::string& source, OnAck on_ack) {
    if (rate_ > 0) allowance_ -= 1;
    ++in_flight_;
    self->request(to, caf::infinite, publish_atom::value, std::move(sample))
        .then(
            [this, on_ack](uint64_t) mutable {
              --in_flight_;
              on_ack();
            },
            [self, source](caf::error& err) {
              caf::aout(self) << "source '" << source
                              << "' stops: " << base::ErrorToString(err) << "\n";
              self->quit(err);
            });
  }

 private:
  uint32_t window_;
  double rate_;
  uint32_t in_flight_ = 0;
  double allowance_ = 0;  // samples we may still send this tick
};

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_PUBLISH_WINDOW_H_
