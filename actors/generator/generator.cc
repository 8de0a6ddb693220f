#include "actors/generator/generator.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

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

// The dataset index of the next sample, in the seeded (or plain) order.
size_t NextIndex(Self* self) {
  auto& st = self->state;
  if (st.options.shuffle) return st.order->Next().index;
  return st.published % st.options.data->count;
}

bus::Sample Next(Self* self) {
  auto& st = self->state;
  const data::Dataset& d = *st.options.data;
  const size_t index = NextIndex(self);
  bus::Sample s;
  s.seq = st.published;
  s.source = st.options.source;
  s.shape = {d.rows, d.cols};
  s.pixels = bus::Bytes::Copy(d.image(index), d.image_size());
  s.label = st.options.labels ? d.labels[index] : bus::kNoLabel;
  if (!st.options.origin_prefix.empty()) {
    s.meta[bus::kOriginKey] = absl::StrCat(st.options.origin_prefix,
                                           st.options.origin_offset + index);
  }
  s.publish_ns = SteadyNowNs();
  ++st.published;
  return s;
}

// The next `n` samples as one batch: one pixel buffer, one message.
bus::SampleBatch NextBatch(Self* self, uint32_t n) {
  auto& st = self->state;
  const data::Dataset& d = *st.options.data;
  const size_t size = d.image_size();
  bus::SampleBatch b;
  b.first_seq = st.published;
  b.source = st.options.source;
  b.shape = {d.rows, d.cols};
  b.count = n;
  std::vector<uint8_t> pixels(size_t{n} * size);
  b.labels.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const size_t index = NextIndex(self);
    std::memcpy(pixels.data() + i * size, d.image(index), size);
    b.labels[i] = st.options.labels ? d.labels[index] : bus::kNoLabel;
    ++st.published;
  }
  b.pixels = bus::Bytes(std::move(pixels));
  b.publish_ns = SteadyNowNs();
  return b;
}

// Samples per message: batches only where every sample is alike (no
// per-sample origin) and the window is not a sample rate.
uint32_t MessageSize(const GeneratorOptions& o) {
  if (!o.origin_prefix.empty() || o.rate > 0) return 1;
  return std::max<uint32_t>(o.batch, 1);
}

void Pump(Self* self) {
  auto& st = self->state;
  const bool unbounded = st.total == 0;
  const uint32_t batch = MessageSize(st.options);
  while (st.window.CanSend() && (unbounded || st.published < st.total)) {
    const uint64_t left = unbounded ? batch : st.total - st.published;
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(batch, left));
    const bool more = unbounded || st.published + n < st.total;
    if (batch == 1) {
      SendSample(self, st.options.output, Next(self), more, Pump);
    } else {
      SendSample(self, st.options.output, NextBatch(self, n), more, Pump);
    }
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
