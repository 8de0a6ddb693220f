#include "actors/generator/generator.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "actors/generator/source_loop.h"
#include "bus/atoms.h"
#include "bus/message.h"
#include "bus/publish_window.h"
#include "caf/all.hpp"
#include "data/shuffle.h"

namespace trainbus::actors {
namespace {

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
  if (!st.options.origin_prefix.empty()) {
    s.meta[bus::kOriginKey] =
        absl::StrCat(st.options.origin_prefix,
                     st.options.origin_offset + draw.index);
  }
  s.publish_ns = SteadyNowNs();
  return s;
}

void Pump(Self* self) {
  auto& st = self->state;
  const bool unbounded = st.total == 0;
  while (st.window.CanSend() && (unbounded || st.published < st.total)) {
    bus::Sample s = Next(self);
    ++st.published;
    SendSample(self, st.options.output, std::move(s), Pump);
  }
  if (!unbounded && st.published == st.total && st.window.in_flight() == 0) {
    FinishSource(self, st.published, [self] {
      const GeneratorOptions& o = self->state.options;
      if (o.listener) {
        self->send(o.listener, bus::done_atom::value, o.source,
                   self->state.published);
      }
    });
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
  return SourceLoop(self, Pump);
}

}  // namespace

caf::actor SpawnGenerator(caf::actor_system& sys, GeneratorOptions options) {
  return sys.spawn(Generator, std::move(options));
}

}  // namespace trainbus::actors
