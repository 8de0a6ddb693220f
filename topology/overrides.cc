// ApplyOverrides (topology/runner.h): what `trainbus run` flags change in a
// spec, each checked and named by its flag.
#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "actors/topology/components.h"
#include "base/status_macros.h"
#include "topology/runner.h"

namespace trainbus::topology {
namespace {

// Resources that some model trains from.
std::set<std::string> ModelInputs(const TopologySpec& spec) {
  std::set<std::string> inputs;
  for (const ModelEntry& m : spec.models) inputs.insert(m.input);
  return inputs;
}

// Replaces the models by `text`'s; each new model gets a resource of its
// own name, fed by copies of the bindings that fed the first model, and
// publishes where the first model did.
absl::Status ReplaceModels(const std::string& text, TopologySpec* spec) {
  absl::StatusOr<std::vector<actors::NamedModel>> parsed =
      actors::ParseModelList(text);
  if (!parsed.ok()) return actors::PrefixStatus("--models", parsed.status());
  if (spec->models.empty()) {
    return absl::InvalidArgumentError(
        "--models: the spec has no model to take the inputs and outputs "
        "from; add one under 'models'");
  }
  const ModelEntry templ = spec->models.front();
  const std::set<std::string> old_inputs = ModelInputs(*spec);
  ResourceSpec input;
  std::vector<BindingSpec> feeds;
  for (const ResourceSpec& r : spec->resources) {
    if (r.options.name == templ.input) input = r;
  }
  for (const BindingSpec& b : spec->bindings) {
    if (b.options.to == templ.input) feeds.push_back(b);
  }
  // Old model inputs go, with the bindings into them.
  std::vector<ResourceSpec> resources;
  for (ResourceSpec& r : spec->resources) {
    if (!old_inputs.count(r.options.name)) resources.push_back(std::move(r));
  }
  std::vector<BindingSpec> bindings;
  for (BindingSpec& b : spec->bindings) {
    if (!old_inputs.count(b.options.to)) bindings.push_back(std::move(b));
  }
  std::vector<ModelEntry> models;
  for (const actors::NamedModel& named : *parsed) {
    ModelEntry m = templ;
    m.name = named.name;
    m.spec_text = named.spec;
    TB_ASSIGN_OR_RETURN(m.spec, nn::ParseModelSpec(named.spec));
    m.input = named.name;
    ResourceSpec r = input;
    r.options.name = named.name;
    resources.push_back(std::move(r));
    for (BindingSpec b : feeds) {
      b.options.to = named.name;
      bindings.push_back(std::move(b));
    }
    models.push_back(std::move(m));
  }
  spec->resources = std::move(resources);
  spec->bindings = std::move(bindings);
  spec->models = std::move(models);
  return absl::OkStatus();
}

void ApplyToSources(const RunOverrides& f, TopologySpec* spec) {
  for (SourceSpec& s : spec->sources) {
    if (f.data_dir && !s.data_dir.empty()) s.data_dir = *f.data_dir;
    switch (s.kind) {
      case SourceKind::kIdxGenerator:
        if (f.epochs) s.epochs = *f.epochs;
        if (f.forever) s.epochs = 0;  // the generator's "forever"
        if (f.train_limit) s.limit = *f.train_limit;
        if (f.seed) s.seed = *f.seed;
        break;
      case SourceKind::kTestReplay:
        if (f.replay_rate) s.rate = *f.replay_rate;
        if (f.replay_limit) s.limit = *f.replay_limit;
        break;
      case SourceKind::kImageDir:
        if (f.image_rate) s.rate = *f.image_rate;
        if (f.export_dir) s.dir = *f.export_dir;
        if (f.export_images) s.export_images = *f.export_images;
        if (f.export_broken) s.export_broken = *f.export_broken;
        if (f.image_dir) {
          s.dir = *f.image_dir;
          s.export_images = s.export_broken = 0;  // read it as it is
        }
        break;
    }
  }
}

}  // namespace

absl::Status ApplyOverrides(const RunOverrides& f, TopologySpec* spec) {
  TB_RETURN_IF_ERROR(actors::CheckEpochs(f.epochs.value_or(1), f.forever));
  if (f.models) TB_RETURN_IF_ERROR(ReplaceModels(*f.models, spec));
  ApplyToSources(f, spec);
  if (f.data_dir || f.test_limit) {
    if (!spec->evaluation) spec->evaluation = EvaluationSpec{};
    // A replay that started right after the held-out samples still does.
    for (SourceSpec& s : spec->sources) {
      if (f.test_limit && s.kind == SourceKind::kTestReplay &&
          s.first == spec->evaluation->limit) {
        s.first = *f.test_limit;
      }
    }
    if (f.data_dir) spec->evaluation->data_dir = *f.data_dir;
    if (f.test_limit) spec->evaluation->limit = *f.test_limit;
  }
  for (ModelEntry& m : spec->models) {
    if (f.eval_every) m.eval_every = *f.eval_every;
    if (f.eval_subset) m.eval_subset = *f.eval_subset;
    if (f.seed) m.spec.seed += *f.seed - 1;
  }
  using Kind = bus::Filter::Kind;
  for (const auto& [flag, value, only] :
       {std::tuple{"--policy", &f.policy, std::optional<Kind>()},
        std::tuple{"--train_policy", &f.train_policy,
                   std::optional<Kind>(Kind::kLabelled)},
        std::tuple{"--live_policy", &f.live_policy,
                   std::optional<Kind>(Kind::kUnlabelled)}}) {
    if (!*value) continue;
    absl::StatusOr<bus::Policy> policy = bus::ParsePolicy(**value);
    if (!policy.ok()) return actors::PrefixStatus(flag, policy.status());
    const std::set<std::string> inputs = ModelInputs(*spec);
    for (BindingSpec& b : spec->bindings) {
      if (!inputs.count(b.options.to)) continue;
      if (only && b.options.filter.kind != *only) continue;
      b.options.policy = *policy;
    }
  }
  if (f.max_queue) {
    if (*f.max_queue == 0) {
      return absl::InvalidArgumentError("--max_queue must be at least 1");
    }
    for (ResourceSpec& r : spec->resources) r.options.max_queue = *f.max_queue;
    for (BindingSpec& b : spec->bindings) {
      b.options.max_queue = *f.max_queue;
      b.options.window = std::min(b.options.window, *f.max_queue);
    }
  }
  if (f.jsonl || f.print_every) {
    std::vector<ConsumerSpec> kept;  // --jsonl='' drops the JSON-lines sinks
    for (ConsumerSpec& c : spec->consumers) {
      if (c.kind == ConsumerKind::kConsole && f.print_every) {
        c.every = *f.print_every;
      }
      if (c.kind == ConsumerKind::kJsonl && f.jsonl) {
        if (f.jsonl->empty()) continue;
        c.path = *f.jsonl;
      }
      kept.push_back(std::move(c));
    }
    spec->consumers = std::move(kept);
  }
  return absl::OkStatus();
}

}  // namespace trainbus::topology
