// Test helpers for model actors: the options of a model that runs on the
// test's deterministic scheduler, quietly, evaluating on all held-out data.
//
//   absl::StatusOr<ModelActorOptions> m = TestModelOptions(
//       "model1", "softmax:input=1x4x4,classes=4", input, listener, eval);
//   ASSERT_TRUE(m.ok()) << m.status();
//   ASSERT_TRUE(SpawnModelActor(t.system(), *m).ok());
#ifndef TRAINBUS_ACTORS_MODEL_MODEL_ACTOR_TESTING_H_
#define TRAINBUS_ACTORS_MODEL_MODEL_ACTOR_TESTING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "actors/model/eval_set.h"
#include "actors/model/model_actor.h"
#include "bus/message.h"
#include "caf/actor.hpp"
#include "kernels/nn/model.h"

namespace trainbus::actors::testing {

// A bad spec is an error (with the spec in it), not a crash.
inline absl::StatusOr<ModelActorOptions> TestModelOptions(
    std::string name, absl::string_view spec, bus::resource_actor input,
    caf::actor listener, std::shared_ptr<const EvalSet> eval,
    uint32_t eval_every = 10) {
  absl::StatusOr<nn::ModelSpec> parsed =
      nn::ParseModelSpec(std::string_view(spec.data(), spec.size()));
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("test model spec '", spec,
                     "': ", parsed.status().message()));
  }
  ModelActorOptions m =
      SharedModelOptions(eval_every, /*eval_subset=*/0, /*print=*/false,
                         /*metrics=*/{}, std::move(listener), std::move(eval));
  m.name = std::move(name);
  m.spec = *parsed;
  m.detached = false;
  m.input = std::move(input);
  return m;
}

// Two 2x2 patterns: class 0 lights the left column, class 1 the right one.
inline bus::Sample Pattern(uint64_t seq, int32_t cls, bool labelled = true) {
  bus::Sample s;
  s.seq = seq;
  s.source = "patterns";
  s.shape = {2, 2};
  s.pixels = bus::Bytes(cls == 0 ? std::vector<uint8_t>{255, 0, 255, 0}
                                 : std::vector<uint8_t>{0, 255, 0, 255});
  s.label = labelled ? cls : bus::kNoLabel;
  return s;
}

inline std::shared_ptr<const EvalSet> PatternEvalSet() {
  auto set = std::make_shared<EvalSet>();
  set->count = 4;
  set->input_size = 4;
  set->shape = {2, 2};
  for (int i = 0; i < 4; ++i) {
    bus::Sample s = Pattern(i, i % 2);
    for (size_t p = 0; p < 4; ++p) set->x.push_back(s.pixels.data()[p] / 255.f);
    set->labels.push_back(i % 2);
  }
  return set;
}

}  // namespace trainbus::actors::testing

#endif  // TRAINBUS_ACTORS_MODEL_MODEL_ACTOR_TESTING_H_
