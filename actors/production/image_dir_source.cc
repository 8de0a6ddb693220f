#include "actors/production/image_dir_source.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/image_dir.h"
#include "bus/atoms.h"
#include "bus/end_stream.h"
#include "bus/message.h"
#include "bus/publish_window.h"
#include "caf/all.hpp"

namespace trainbus::actors {
namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using Clock = std::chrono::steady_clock;

struct ImageSourceState {
  ImageDirSourceOptions options;
  std::unique_ptr<data::ImageDirReader> reader;
  uint64_t next_seq = 0;
  uint64_t published = 0;
  uint64_t dead = 0;
  bus::PublishWindow window{1, 0};  // replaced from the options at spawn
  bool finishing = false;

  static inline const char* name = "trainbus.image_dir_source";
};

using Self = caf::stateful_actor<ImageSourceState>;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             Clock::now().time_since_epoch())
      .count();
}

// The reason without the "'path': " prefix the data library puts in front.
std::string Reason(const absl::Status& status, const std::string& path) {
  std::string text(status.message());
  const std::string prefix = absl::StrCat("'", path, "': ");
  if (absl::StartsWith(text, prefix)) text = text.substr(prefix.size());
  return text;
}

void Pump(Self* self);

void Send(Self* self, const bus::resource_actor& to, bus::Sample s) {
  self->state.window.Send(self, to, std::move(s), self->state.options.source,
                           [self] { Pump(self); });
}

void Finish(Self* self) {
  auto& st = self->state;
  if (st.finishing) return;
  st.finishing = true;
  auto done = [=] {
    auto& s = self->state;
    if (s.options.listener) {
      self->send(s.options.listener, bus::done_atom::value, s.options.source,
                 s.published, s.dead);
    }
    self->quit();
  };
  bus::EndStream(self, st.options.output, st.options.source, st.next_seq,
                 st.options.end_marker, done);
}

void Pump(Self* self) {
  auto& st = self->state;
  while (st.window.CanSend() && !st.reader->done()) {
    data::ImageDirEntry e = st.reader->Next();
    bus::Sample s;
    s.seq = st.next_seq++;
    s.source = st.options.source;
    s.meta["path"] = e.path;
    s.publish_ns = NowNs();
    if (e.image.ok()) {
      s.shape = {e.image->height, e.image->width};
      s.pixels = bus::Bytes(std::move(e.image->pixels));
      ++st.published;
      Send(self, st.options.output, std::move(s));
    } else {
      s.meta["error"] = Reason(e.image.status(), e.path);
      ++st.dead;
      if (st.options.dead_letter) {
        Send(self, st.options.dead_letter, std::move(s));
      } else {
        caf::aout(self) << "image source '" << st.options.source
                        << "': dead letter " << e.path << ": "
                        << s.meta["error"] << "\n";
      }
    }
  }
  if (st.reader->done() && st.window.in_flight() == 0) Finish(self);
}

caf::behavior ImageDirSource(Self* self, ImageDirSourceOptions options,
                             std::shared_ptr<data::ImageDirReader> reader) {
  auto& st = self->state;
  st.options = std::move(options);
  st.window = bus::PublishWindow(st.options.window, st.options.rate);
  st.reader = std::make_unique<data::ImageDirReader>(std::move(*reader));
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

absl::StatusOr<caf::actor> SpawnImageDirSource(caf::actor_system& sys,
                                               ImageDirSourceOptions options) {
  if (!options.output) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image source '", options.source, "' needs an output resource"));
  }
  absl::StatusOr<data::ImageDirReader> reader =
      data::ImageDirReader::Open(options.dir, options.mnist);
  if (!reader.ok()) return reader.status();
  auto holder = std::make_shared<data::ImageDirReader>(std::move(*reader));
  return sys.spawn(ImageDirSource, std::move(options), holder);
}

}  // namespace trainbus::actors
