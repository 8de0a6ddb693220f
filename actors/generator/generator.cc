#include "actors/generator/generator.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "actors/data/shuffle.h"
#include "bus/atoms.h"
#include "bus/end_stream.h"
#include "bus/errors.h"
#include "bus/message.h"
#include "caf/all.hpp"

namespace trainbus::actors {
namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using Clock = std::chrono::steady_clock;
constexpr auto kTick = std::chrono::milliseconds(10);

struct GeneratorState {
  GeneratorOptions options;
  std::unique_ptr<data::EpochShuffler> order;
  uint64_t total = 0;        // samples to publish; 0: unbounded
  uint64_t published = 0;
  uint32_t in_flight = 0;
  double allowance = 0;      // rate limiting: samples we may still send
  bool finishing = false;

  static inline const char* name = "trainbus.generator";
};

using Self = caf::stateful_actor<GeneratorState>;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

bus::Sample Next(Self* self) {
  auto& st = self->state;
  const data::Dataset& d = *st.options.data;
  data::EpochShuffler::Draw draw;
  if (st.options.shuffle) {
    draw = st.order->Next();
  } else {
    draw.epoch = st.published / d.count;
    draw.index = st.published % d.count;
  }
  bus::Sample s;
  s.seq = st.published;
  s.source = st.options.source;
  s.shape = {d.rows, d.cols};
  s.pixels = bus::Bytes::Copy(d.image(draw.index), d.image_size());
  s.label = st.options.labels ? d.labels[draw.index] : bus::kNoLabel;
  s.meta["epoch"] = std::to_string(draw.epoch);
  s.meta["index"] = std::to_string(draw.index);
  s.publish_ns = NowNs();
  return s;
}

void Finish(Self* self) {
  auto& st = self->state;
  if (st.finishing) return;
  st.finishing = true;
  auto done = [=] {
    if (self->state.options.listener) {
      self->send(self->state.options.listener, bus::done_atom::value,
                 self->state.options.source, self->state.published);
    }
    self->quit();
  };
  bus::EndStream(self, st.options.output, st.options.source, st.published,
                 st.options.end_marker, done);
}

void Pump(Self* self) {
  auto& st = self->state;
  const bool unbounded = st.total == 0;
  while (st.in_flight < st.options.window &&
         (unbounded || st.published < st.total) &&
         (st.options.rate <= 0 || st.allowance >= 1)) {
    if (st.options.rate > 0) st.allowance -= 1;
    ++st.in_flight;
    bus::Sample s = Next(self);
    ++st.published;
    self->request(st.options.output, caf::infinite, bus::publish_atom::value,
                  std::move(s))
        .then(
            [=](uint64_t) {
              --self->state.in_flight;
              Pump(self);
            },
            [=](caf::error& err) {
              caf::aout(self) << "generator '" << self->state.options.source
                              << "' stops: " << bus::ErrorToString(err)
                              << "\n";
              self->quit(err);
            });
  }
  if (!unbounded && st.published == st.total && st.in_flight == 0) {
    Finish(self);
  }
}

caf::behavior Generator(Self* self, GeneratorOptions options) {
  auto& st = self->state;
  st.options = std::move(options);
  const data::Dataset& d = *st.options.data;
  st.order = std::make_unique<data::EpochShuffler>(d.count, st.options.seed);
  if (st.options.epochs > 0) st.total = st.options.epochs * d.count;
  if (st.options.limit > 0) {
    st.total = st.total == 0 ? st.options.limit
                             : std::min(st.total, st.options.limit);
  }
  self->monitor(st.options.output);
  self->set_down_handler([=](const caf::down_msg&) { self->quit(); });
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        auto& s = self->state;
        if (s.options.rate > 0) {
          // Never bank more than one tick's worth: no bursts after a stall.
          const double per_tick =
              s.options.rate * std::chrono::duration<double>(kTick).count();
          s.allowance = std::min(s.allowance + per_tick, std::max(per_tick, 1.0));
          if (!s.finishing) self->delayed_send(self, kTick, tick_atom::value);
        }
        Pump(self);
      },
  };
}

}  // namespace

caf::actor SpawnGenerator(caf::actor_system& sys, GeneratorOptions options) {
  return sys.spawn(Generator, std::move(options));
}

}  // namespace trainbus::actors
