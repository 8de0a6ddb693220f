#include "actors/production/image_dir_source.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "actors/data/image_dir.h"
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

struct ImageSourceState {
  ImageDirSourceOptions options;
  std::unique_ptr<data::ImageDirReader> reader;
  uint64_t next_seq = 0;
  uint64_t published = 0;
  uint64_t dead = 0;
  uint32_t in_flight = 0;
  double allowance = 0;
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

void Send(Self* self, const caf::actor& to, bus::Sample s) {
  ++self->state.in_flight;
  self->request(to, caf::infinite, bus::publish_atom::value, std::move(s))
      .then(
          [=](uint64_t) {
            --self->state.in_flight;
            Pump(self);
          },
          [=](caf::error& err) {
            caf::aout(self) << "image source '" << self->state.options.source
                            << "' stops: " << bus::ErrorToString(err) << "\n";
            self->quit(err);
          });
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
  while (st.in_flight < st.options.window && !st.reader->done() &&
         (st.options.rate <= 0 || st.allowance >= 1)) {
    if (st.options.rate > 0) st.allowance -= 1;
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
  if (st.reader->done() && st.in_flight == 0) Finish(self);
}

caf::behavior ImageDirSource(Self* self, ImageDirSourceOptions options,
                             std::shared_ptr<data::ImageDirReader> reader) {
  auto& st = self->state;
  st.options = std::move(options);
  st.options.window = std::max<uint32_t>(st.options.window, 1);
  st.reader = std::make_unique<data::ImageDirReader>(std::move(*reader));
  self->monitor(st.options.output);
  self->set_down_handler([=](const caf::down_msg&) { self->quit(); });
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        auto& s = self->state;
        if (s.options.rate > 0) {
          const double per_tick =
              s.options.rate * std::chrono::duration<double>(kTick).count();
          s.allowance =
              std::min(s.allowance + per_tick, std::max(per_tick, 1.0));
          if (!s.finishing) self->delayed_send(self, kTick, tick_atom::value);
        }
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
