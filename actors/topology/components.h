// The pieces every topology runner builds from: model specs, the data
// splits, the actor system's types, the epoch count, and "a resource fed by
// bindings, with a model actor on it". One place for each, so that the
// runners (and the spec-driven runner that replaces them) share them.
//
//   TB_ASSIGN_OR_RETURN(std::vector<nn::ModelSpec> specs,
//                       ParseModelSpecs(config.models, config.seed));
//   TB_ASSIGN_OR_RETURN(StreamData data,
//                       LoadStreamData(dir, train_limit, test_limit));
//   FedModel m;
//   m.resource = "model1";
//   m.feeds = {LabelledFeed("mnist", bus::Policy::kBlock)};
//   m.actor.spec = specs[0];  ...
//   TB_ASSIGN_OR_RETURN(caf::actor actor, SpawnFedModel(bus, std::move(m)));
#ifndef TRAINBUS_ACTORS_TOPOLOGY_COMPONENTS_H_
#define TRAINBUS_ACTORS_TOPOLOGY_COMPONENTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "actors/model/eval_set.h"
#include "actors/model/model_actor.h"
#include "bus/bus.h"
#include "bus/options.h"
#include "caf/actor_system_config.hpp"
#include "data/idx.h"
#include "kernels/nn/model.h"

namespace trainbus::actors {

struct NamedModel {
  std::string name;  // e.g. "model1"
  std::string spec;  // nn::ParseModelSpec text, e.g. "mlp:hidden=256,lr=0.05"
};

// Parses "model1=softmax:lr=0.05;model2=mlp:hidden=128" or just
// "softmax:lr=0.05;mlp" (names default to model1, model2, ...).
absl::StatusOr<std::vector<NamedModel>> ParseModelList(absl::string_view text);

// Every model's spec, in order; `seed` shifts each model's initialisation
// (seed 1 keeps the spec's own).
absl::StatusOr<std::vector<nn::ModelSpec>> ParseModelSpecs(
    const std::vector<NamedModel>& models, uint64_t seed);

struct StreamData {
  std::shared_ptr<data::Dataset> train;  // the first train_limit samples
  data::Dataset test;                    // the first test_limit samples
};

// The MNIST-format splits in `dir`; a limit of 0 keeps the whole split.
absl::StatusOr<StreamData> LoadStreamData(const std::string& dir,
                                          size_t train_limit,
                                          size_t test_limit);

// `d` as held-out data for the model actors.
std::shared_ptr<const EvalSet> MakeEvalSet(const data::Dataset& d);

// Registers the bus's and the model actor's message types and silences
// CAF's logger. Call before building the actor_system.
void ConfigureActorSystem(caf::actor_system_config& cfg);

// Training passes: `epochs` >= 1, or `forever` (then epochs must be left
// at 0 or 1). 0 without `forever` is refused: it used to mean "forever"
// silently.
absl::Status CheckEpochs(uint64_t epochs, bool forever);
// What the generator takes (0 is its "forever").
uint64_t GeneratorEpochs(uint64_t epochs, bool forever);
// "x 2 epoch(s)" or "forever (until stopped)", for banners.
std::string EpochsText(uint64_t epochs, bool forever);

// One line per model, "<prefix><name> (<arch>): <nn::ModelCost::Summary>",
// each ending in '\n': what every runner prints before training, so that a
// model that will train at a few samples/s says so up front.
std::string ModelCostLines(const std::vector<NamedModel>& models,
                           const std::vector<nn::ModelSpec>& specs,
                           absl::string_view name_prefix = "");

// What a summary table prints under a model's row when it refused samples
// or warned (e.g. accuracy at chance); "" when it did neither.
std::string SummaryNotes(const std::string& name, uint64_t rejected_shape,
                         uint64_t rejected_label,
                         const std::vector<std::string>& warnings);

// `status` with "what: " in front of its message (same code).
absl::Status PrefixStatus(absl::string_view what, const absl::Status& status);

// A binding from `from` that lets labelled samples through, with the
// window every topology uses.
bus::BindingOptions LabelledFeed(const std::string& from, bus::Policy policy);

// A model's resource, the bindings that feed it and its model actor.
struct FedModel {
  std::string resource;
  uint32_t max_queue = 256;                // the resource's
  std::vector<bus::BindingOptions> feeds;  // `to` is set to `resource`
  ModelActorOptions actor;                 // `input` is set to the resource
};

// Declares the resource, binds the feeds into it and spawns the actor.
absl::StatusOr<caf::actor> SpawnFedModel(bus::Bus& bus, FedModel model);

// Writes samples [first, first + n) of `d` into `dir` (created if missing)
// as img_NNNN_L.{png,jpg,pgm} in turn, then `broken` files that cannot be
// decoded (a truncated PNG, a text file called .jpg, ...). Returns the true
// label of each file in name order (kNoLabel for the broken ones), which is
// the seq the image source gives it.
absl::StatusOr<std::vector<int32_t>> ExportImages(const data::Dataset& d,
                                                  size_t first, size_t n,
                                                  size_t broken,
                                                  const std::string& dir);

}  // namespace trainbus::actors

#endif  // TRAINBUS_ACTORS_TOPOLOGY_COMPONENTS_H_
