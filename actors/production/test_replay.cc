#include "actors/production/test_replay.h"

#include "bus/message.h"

namespace trainbus::actors {

GeneratorOptions ReplayGeneratorOptions(const TestReplayOptions& options) {
  GeneratorOptions g;
  g.source = options.source;
  g.data = options.data;
  g.output = options.output;
  g.epochs = 1;
  g.shuffle = false;  // seq == index: the hidden label stays recoverable
  g.labels = false;
  g.window = options.window;
  g.rate = options.rate;
  g.limit = options.limit;
  g.end_marker = options.end_marker;
  g.listener = options.listener;
  g.origin_prefix = "test:";  // predictions name the test sample
  g.origin_offset = options.first_index;
  return g;
}

caf::actor SpawnTestReplay(caf::actor_system& sys,
                           const TestReplayOptions& options) {
  return SpawnGenerator(sys, ReplayGeneratorOptions(options));
}

int32_t TestReplayTruth(const data::Dataset& data, uint64_t seq) {
  return seq < data.count ? static_cast<int32_t>(data.labels[seq])
                          : bus::kNoLabel;
}

}  // namespace trainbus::actors
