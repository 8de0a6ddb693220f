#include "actors/generator/generator.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "data/shuffle.h"
#include "bus/atoms.h"
#include "bus/end_stream.h"
#include "bus/message.h"
#include "bus/publish_window.h"
#include "caf/all.hpp"

namespace trainbus::actors {
namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using Clock = std::chrono::steady_clock;

struct GeneratorState {
  GeneratorOptions options;
  std::unique_ptr<data::EpochShuffler> order;
  bus::PublishWindow window{1, 0};  // replaced from the options at spawn
  uint64_t total = 0;        // samples to publish; 0: unbounded
  uint64_t published = 0;
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
  while (st.window.CanSend() && (unbounded || st.published < st.total)) {
    bus::Sample s = Next(self);
    ++st.published;
    st.window.Send(self, st.options.output, std::move(s), st.options.source,
                    [self] { Pump(self); });
  }
  if (!unbounded && st.published == st.total && st.window.in_flight() == 0) {
    Finish(self);
  }
}

caf::behavior Generator(Self* self, GeneratorOptions options) {
  auto& st = self->state;
  st.options = std::move(options);
  const data::Dataset& d = *st.options.data;
  st.order = std::make_unique<data::EpochShuffler>(d.count, st.options.seed);
  st.window = bus::PublishWindow(st.options.window, st.options.rate);
  if (st.options.epochs > 0) st.total = st.options.epochs * d.count;
  if (st.options.limit > 0) {
    st.total = st.total == 0 ? st.options.limit
                             : std::min(st.total, st.options.limit);
  }
  self->monitor(st.options.output);
  self->set_down_handler([=](const caf::down_msg&) { self->quit(); });
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom tick) {
        self->state.window.Tick(self, tick, self->state.finishing);
        Pump(self);
      },
  };
}

}  // namespace

caf::actor SpawnGenerator(caf::actor_system& sys, GeneratorOptions options) {
  return sys.spawn(Generator, std::move(options));
}

}  // namespace trainbus::actors
