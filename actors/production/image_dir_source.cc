#include "actors/production/image_dir_source.h"

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "actors/generator/source_loop.h"
#include "base/status_macros.h"
#include "bus/atoms.h"
#include "bus/message.h"
#include "bus/publish_window.h"
#include "caf/all.hpp"
#include "data/image_dir.h"

namespace trainbus::actors {
namespace {

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

// The reason without the "'path': " prefix the data library puts in front.
std::string Reason(const absl::Status& status, const std::string& path) {
  std::string text(status.message());
  const std::string prefix = absl::StrCat("'", path, "': ");
  if (absl::StartsWith(text, prefix)) text = text.substr(prefix.size());
  return text;
}

// The file's name within the directory: what predictions call the sample.
std::string Origin(const std::string& path, const std::string& dir) {
  std::filesystem::path relative =
      std::filesystem::path(path).lexically_relative(dir);
  return relative.empty() ? path : relative.generic_string();
}

void Pump(Self* self) {
  auto& st = self->state;
  while (st.window.CanSend() && !st.reader->done()) {
    data::ImageDirEntry e = st.reader->Next();
    bus::Sample s;
    s.seq = st.next_seq++;
    s.source = st.options.source;
    s.meta["path"] = e.path;
    s.meta[bus::kOriginKey] = Origin(e.path, st.options.dir);
    s.publish_ns = SteadyNowNs();
    if (e.image.ok()) {
      s.shape = {e.image->height, e.image->width};
      s.pixels = bus::Bytes(std::move(e.image->pixels));
      ++st.published;
      // The next file may be a dead letter (another resource): every
      // publish gets its own ack.
      SendSample(self, st.options.output, std::move(s), /*more=*/false, Pump);
    } else {
      s.meta["error"] = Reason(e.image.status(), e.path);
      ++st.dead;
      if (st.options.dead_letter) {
        SendSample(self, st.options.dead_letter, std::move(s), /*more=*/false,
                   Pump);
      } else {
        caf::aout(self) << "image source '" << st.options.source
                        << "': dead letter " << e.path << ": "
                        << s.meta["error"] << "\n";
      }
    }
  }
  if (st.reader->done() && st.window.in_flight() == 0) {
    FinishSource(self, st.next_seq, [self] {
      const auto& s = self->state;
      if (s.options.listener) {
        self->send(s.options.listener, bus::done_atom::value, s.options.source,
                   s.published, s.dead);
      }
    });
  }
}

caf::behavior ImageDirSource(Self* self, ImageDirSourceOptions options,
                             std::shared_ptr<data::ImageDirReader> reader) {
  auto& st = self->state;
  st.options = std::move(options);
  st.window = bus::PublishWindow(st.options.window, st.options.rate);
  st.reader = std::make_unique<data::ImageDirReader>(std::move(*reader));
  return SourceLoop(self, Pump);
}

}  // namespace

absl::StatusOr<caf::actor> SpawnImageDirSource(caf::actor_system& sys,
                                               ImageDirSourceOptions options) {
  if (!options.output) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image source '", options.source, "' needs an output resource"));
  }
  TB_ASSIGN_OR_RETURN(data::ImageDirReader reader,
                      data::ImageDirReader::Open(options.dir, options.mnist));
  auto holder = std::make_shared<data::ImageDirReader>(std::move(reader));
  return sys.spawn(ImageDirSource, std::move(options), holder);
}

}  // namespace trainbus::actors
