#include "topology/runner.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "actors/consumer/console_printer.h"
#include "actors/consumer/hook_sink.h"
#include "actors/consumer/jsonl_sink.h"
#include "actors/generator/generator.h"
#include "actors/production/image_dir_source.h"
#include "actors/production/test_replay.h"
#include "actors/topology/components.h"
#include "amqp/inbound.h"
#include "amqp/outbound.h"
#include "base/file.h"
#include "base/malloc_tuning.h"
#include "base/status_macros.h"
#include "caf/all.hpp"
#include "registry/metric_logger.h"
#include "registry/store.h"

namespace trainbus::topology {

// What a part shares between its components: loaded datasets, the held-out
// set, the true labels of production sources, dead letters, the registry.
struct PartContext::Impl {
  const TopologySpec* spec = nullptr;  // set by BuildPart
  std::map<std::string, bus::resource_actor> resources;
  std::map<std::string, std::shared_ptr<const data::MnistSplits>> splits;
  std::shared_ptr<const actors::EvalSet> eval;
  size_t eval_samples = 0;
  // Source name -> true label of its seq (production sources only).
  std::map<std::string, actors::TruthFn> truth;
  std::vector<caf::actor> owned;  // consumers, sinks: stopped at the end
  // Written by dead_letters consumers (which may outlive the part).
  struct DeadLetterLog {
    std::mutex mu;
    std::vector<DeadLetter> letters;
  };
  std::shared_ptr<DeadLetterLog> dead = std::make_shared<DeadLetterLog>();
  std::shared_ptr<registry::Store> registry;
  std::map<std::string, std::string> checkouts;  // dataset ref -> directory
  bool stopped = false;
};

namespace {

bool Here(absl::string_view node, const std::string& placed) {
  return node == kEveryNode || node == placed;
}

absl::StatusOr<std::shared_ptr<const data::MnistSplits>> Splits(
    PartContext::Impl& impl, const std::string& dir) {
  auto it = impl.splits.find(dir);
  if (it != impl.splits.end()) return it->second;
  TB_ASSIGN_OR_RETURN(data::MnistSplits splits, data::LoadMnistDir(dir));
  auto shared = std::make_shared<const data::MnistSplits>(std::move(splits));
  impl.splits[dir] = shared;
  return shared;
}

absl::Status OpenRegistry(const TopologySpec& spec, PartContext::Impl& impl) {
  if (impl.registry || !spec.registry) return absl::OkStatus();
  registry::StoreOptions options;
  options.root = spec.registry->dir;
  absl::StatusOr<std::unique_ptr<registry::Store>> store =
      registry::Store::Open(options);
  if (!store.ok()) return actors::PrefixStatus("registry", store.status());
  impl.registry = std::move(*store);
  return absl::OkStatus();
}

// A registry dataset's files, written out once per run into a directory
// of their own (under the system's temporary directory).
absl::StatusOr<std::string> CheckOut(const TopologySpec& spec,
                                     const std::string& ref,
                                     PartContext::Impl& impl) {
  TB_RETURN_IF_ERROR(OpenRegistry(spec, impl));
  // [project:]name[@version]
  std::pair<std::string, std::string> pn =
      absl::StrSplit(ref, absl::MaxSplits(':', 1));
  if (pn.second.empty()) pn = {"", pn.first};
  std::pair<std::string, std::string> nv =
      absl::StrSplit(pn.second, absl::MaxSplits('@', 1));
  int64_t version = 0;
  if (!nv.second.empty() && !absl::SimpleAtoi(nv.second, &version)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dataset '", ref, "': the version after '@' must be a number"));
  }
  TB_ASSIGN_OR_RETURN(registry::DatasetRecord d,
                      impl.registry->FindDataset(pn.first, nv.first, version));
  const std::string dir = absl::StrCat(
      std::filesystem::temp_directory_path().string(), "/trainbus-datasets/",
      d.project, "/", d.name, "/v", d.version);
  TB_RETURN_IF_ERROR(base::CreateDirectories(dir));
  for (const registry::BlobRef& f : d.files) {
    TB_ASSIGN_OR_RETURN(std::string bytes, impl.registry->LoadBlob(f.sha256));
    TB_RETURN_IF_ERROR(
        base::WriteFileAtomically(absl::StrCat(dir, "/", f.name), bytes));
  }
  return dir;
}

// Where a source's IDX files are: its data_dir, or its registry dataset
// checked out (once per run).
absl::StatusOr<std::string> DataDirOf(const SourceSpec& s,
                                      PartContext::Impl& impl) {
  if (s.dataset.empty()) return s.data_dir;
  auto it = impl.checkouts.find(s.dataset);
  if (it != impl.checkouts.end()) return it->second;
  absl::StatusOr<std::string> dir = CheckOut(*impl.spec, s.dataset, impl);
  if (!dir.ok()) {
    return actors::PrefixStatus(absl::StrCat("dataset '", s.dataset, "'"),
                                dir.status());
  }
  impl.checkouts[s.dataset] = *dir;
  return *dir;
}

absl::StatusOr<std::shared_ptr<const data::MnistSplits>> SplitsOf(
    const SourceSpec& s, PartContext::Impl& impl) {
  TB_ASSIGN_OR_RETURN(std::string dir, DataDirOf(s, impl));
  return Splits(impl, dir);
}

absl::Status LoadEvaluation(const TopologySpec& spec, PartContext::Impl& impl) {
  std::string dir;  // the first idx source's, unless the section says
  for (const SourceSpec& s : spec.sources) {
    if (s.kind != SourceKind::kIdxGenerator) continue;
    TB_ASSIGN_OR_RETURN(dir, DataDirOf(s, impl));
    break;
  }
  uint64_t limit = 0;
  if (spec.evaluation) {
    if (!spec.evaluation->data_dir.empty()) dir = spec.evaluation->data_dir;
    limit = spec.evaluation->limit;
  }
  if (dir.empty()) {
    return absl::InvalidArgumentError(
        "the models have no held-out data: add 'evaluation: {data_dir: ...}' "
        "or an idx source");
  }
  TB_ASSIGN_OR_RETURN(auto splits, Splits(impl, dir));
  const data::Dataset eval =
      limit > 0 ? data::Slice(splits->test, limit) : splits->test;
  impl.eval = actors::MakeEvalSet(eval);
  impl.eval_samples = eval.count;
  return absl::OkStatus();
}

// ---- Sources: data loaded and options filled now, spawned at start.

using StartFn = std::function<absl::StatusOr<caf::actor>()>;

absl::StatusOr<StartFn> PrepareIdx(const SourceSpec& s, PartContext& ctx,
                                   uint64_t* samples) {
  TB_ASSIGN_OR_RETURN(auto splits, SplitsOf(s, ctx.impl()));
  auto train = std::make_shared<const data::Dataset>(
      s.limit > 0 ? data::Slice(splits->train, s.limit) : splits->train);
  *samples = train->count;
  actors::GeneratorOptions g;
  TB_ASSIGN_OR_RETURN(g.output, ctx.Resource(s.output));
  g.source = s.name;
  g.data = train;
  g.epochs = s.epochs;  // 0: forever
  g.seed = s.seed;
  g.labels = s.labels;
  g.rate = s.rate;
  g.batch = s.batch;
  g.listener = ctx.listener;
  caf::actor_system* sys = &ctx.system();
  return [sys, g]() -> absl::StatusOr<caf::actor> {
    return actors::SpawnGenerator(*sys, g);
  };
}

absl::StatusOr<StartFn> PrepareReplay(const SourceSpec& s, PartContext& ctx,
                                      uint64_t* samples) {
  TB_ASSIGN_OR_RETURN(auto splits, SplitsOf(s, ctx.impl()));
  const data::Dataset& test = splits->test;
  const uint64_t n = s.limit > 0
                         ? s.limit
                         : test.count - std::min<uint64_t>(s.first, test.count);
  if (s.first + n > test.count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "source '%s': first (%d) + limit (%d) exceed the %d test samples in "
        "%s; lower one of them",
        s.name, s.first, n, test.count,
        s.dataset.empty() ? s.data_dir : s.dataset));
  }
  auto replay =
      std::make_shared<const data::Dataset>(data::SliceRange(test, s.first, n));
  *samples = replay->count;
  ctx.impl().truth[s.name] = [replay](const std::string&, uint64_t seq) {
    return actors::TestReplayTruth(*replay, seq);
  };
  TB_ASSIGN_OR_RETURN(bus::resource_actor out, ctx.Resource(s.output));
  actors::TestReplayOptions r;
  r.source = s.name;
  r.data = replay;
  r.first_index = s.first;  // origins name the test sample
  r.output = out;
  r.rate = s.rate;
  r.listener = ctx.listener;
  caf::actor_system* sys = &ctx.system();
  return [sys, r]() -> absl::StatusOr<caf::actor> {
    return actors::SpawnTestReplay(*sys, r);
  };
}

// Replaces an earlier export (only the files an export writes) with a new
// one of the split's last images; returns their labels in name order.
absl::StatusOr<std::vector<int32_t>> Export(const SourceSpec& s,
                                            PartContext& ctx) {
  TB_ASSIGN_OR_RETURN(auto splits, SplitsOf(s, ctx.impl()));
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(s.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, "img_") ||
        absl::StartsWith(name, "zz_broken_")) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  const data::Dataset& test = splits->test;
  const size_t first =
      test.count - std::min<size_t>(s.export_images, test.count);
  return actors::ExportImages(test, first, s.export_images, s.export_broken,
                              s.dir);
}

absl::StatusOr<StartFn> PrepareImages(const SourceSpec& s, PartContext& ctx) {
  if (s.export_images + s.export_broken > 0) {
    TB_ASSIGN_OR_RETURN(std::vector<int32_t> labels, Export(s, ctx));
    auto truth =
        std::make_shared<const std::vector<int32_t>>(std::move(labels));
    ctx.impl().truth[s.name] = [truth](const std::string&, uint64_t seq) {
      return seq < truth->size() ? (*truth)[seq] : bus::kNoLabel;
    };
  }
  actors::ImageDirSourceOptions o;
  o.dir = s.dir;
  o.source = s.name;
  TB_ASSIGN_OR_RETURN(o.output, ctx.Resource(s.output));
  if (!s.dead_letter.empty()) {
    TB_ASSIGN_OR_RETURN(o.dead_letter, ctx.Resource(s.dead_letter));
  }
  o.rate = s.rate;
  o.listener = ctx.listener;
  caf::actor_system* sys = &ctx.system();
  return [sys, o]() { return actors::SpawnImageDirSource(*sys, o); };
}

// ---- AMQP bridges: the broker is asked once now (URL, login, queues,
// exchanges), so a mistake stops the run before it starts; after that a
// broker that goes away is reconnected to.

// A bridge's options from the spec: its name, the section's broker and
// backoff, its settings and resource, and counters the part keeps.
template <class Options, class Bridge>
absl::StatusOr<Options> BridgeOptions(const AmqpSpec& a, const Bridge& b,
                                      PartContext& ctx,
                                      std::string Options::*name,
                                      bus::resource_actor Options::*resource) {
  Options o;
  o.*name = b.name;
  o.url = a.broker;
  o.backoff = a.backoff;
  o.settings = b.settings;
  o.counters = std::make_shared<amqp::BridgeCounters>();
  TB_ASSIGN_OR_RETURN(o.*resource, ctx.Resource(b.resource));
  ctx.AddAmqpCounters(b.name, o.counters);
  return o;
}

absl::StatusOr<StartFn> PrepareAmqp(const TopologySpec& spec,
                                    const SourceSpec& s, PartContext& ctx) {
  using Options = amqp::InboundOptions;
  TB_ASSIGN_OR_RETURN(
      Options o, BridgeOptions(*spec.amqp, spec.amqp->inbound[s.amqp_bridge],
                               ctx, &Options::source, &Options::output));
  o.listener = ctx.listener;
  TB_RETURN_IF_ERROR(amqp::PrepareInbound(o));
  caf::actor_system* sys = &ctx.system();
  return [sys, o]() -> absl::StatusOr<caf::actor> {
    return amqp::SpawnInboundBridge(*sys, o);
  };
}

absl::StatusOr<caf::actor> SpawnAmqpOutbound(const TopologySpec& spec,
                                             const ConsumerSpec& c,
                                             PartContext& ctx) {
  using Options = amqp::OutboundOptions;
  TB_ASSIGN_OR_RETURN(
      Options o, BridgeOptions(*spec.amqp, spec.amqp->outbound[c.amqp_bridge],
                               ctx, &Options::name, &Options::input));
  TB_RETURN_IF_ERROR(amqp::PrepareOutbound(o));
  return amqp::SpawnOutboundBridge(ctx.system(), o);
}

absl::Status PrepareSources(const TopologySpec& spec, absl::string_view node,
                            PartContext& ctx,
                            std::vector<PreparedSource>* out) {
  for (const SourceSpec& s : spec.sources) {
    if (!Here(node, s.node)) continue;
    PreparedSource p;
    p.entry = &s;
    absl::StatusOr<StartFn> start;
    switch (s.kind) {
      case SourceKind::kIdxGenerator:
        start = PrepareIdx(s, ctx, &p.samples);
        break;
      case SourceKind::kTestReplay:
        start = PrepareReplay(s, ctx, &p.samples);
        break;
      case SourceKind::kImageDir:
        start = PrepareImages(s, ctx);
        break;
      case SourceKind::kAmqp:
        start = PrepareAmqp(spec, s, ctx);
        break;
    }
    if (!start.ok()) {
      return actors::PrefixStatus(absl::StrCat("source '", s.name, "'"),
                                  start.status());
    }
    p.start = *std::move(start);
    out->push_back(std::move(p));
  }
  return absl::OkStatus();
}

// ---- Consumers.

absl::StatusOr<actors::ConsumerOptions> ConsumerInputs(const ConsumerSpec& c,
                                                       PartContext& ctx) {
  actors::ConsumerOptions o;
  o.name = c.name;
  for (const std::string& input : c.inputs) {
    TB_ASSIGN_OR_RETURN(bus::resource_actor r, ctx.Resource(input));
    o.inputs.push_back(std::move(r));
  }
  return o;
}

// Knows the true label of every production source's samples. The table is
// complete before any source starts, and never changes.
actors::TruthFn TruthOf(const PartContext::Impl& impl) {
  auto truth = std::make_shared<const std::map<std::string, actors::TruthFn>>(
      impl.truth);
  return [truth](const std::string& source, uint64_t seq) -> int32_t {
    auto it = truth->find(source);
    return it == truth->end() ? bus::kNoLabel : it->second(source, seq);
  };
}

// Appends each train/test Metric to the registry as a log entry.
std::function<absl::Status(const bus::Metric&)> LogToRegistry(
    const TopologySpec& spec, std::shared_ptr<registry::Store> store) {
  const std::string project = spec.name.empty() ? "trainbus" : spec.name;
  return [store, project](const bus::Metric& m) -> absl::Status {
    absl::StatusOr<registry::LogEntry> entry =
        registry::MetricToLogEntry(m, project, /*model_version=*/0);
    if (!entry.ok()) return absl::OkStatus();  // e.g. a warning
    return store->AppendLog(*entry);
  };
}

// Records (and prints) each dead letter for the run's report.
std::function<absl::Status(const bus::Sample&)> RecordDeadLetters(
    std::shared_ptr<PartContext::Impl::DeadLetterLog> log, bool print) {
  return [log, print](const bus::Sample& s) -> absl::Status {
    if (s.end_of_stream()) return absl::OkStatus();
    DeadLetter d;
    d.seq = s.seq;
    if (auto it = s.meta.find("path"); it != s.meta.end()) d.path = it->second;
    if (auto it = s.meta.find("error"); it != s.meta.end())
      d.error = it->second;
    if (print) {
      std::cout << "[dead_letters] " << actors::FormatSampleLine(s) << "\n";
    }
    std::lock_guard<std::mutex> lock(log->mu);
    log->letters.push_back(std::move(d));
    return absl::OkStatus();
  };
}

absl::StatusOr<caf::actor> SpawnConsumerOf(const TopologySpec& spec,
                                           const ConsumerSpec& c,
                                           PartContext& ctx) {
  TB_ASSIGN_OR_RETURN(actors::ConsumerOptions inputs, ConsumerInputs(c, ctx));
  caf::actor_system& sys = ctx.system();
  PartContext::Impl& impl = ctx.impl();
  switch (c.kind) {
    case ConsumerKind::kConsole: {
      actors::ConsolePrinterOptions o;
      o.consumer = std::move(inputs);
      o.prediction_every = ctx.print ? c.every : 0;
      o.metric_every = o.sample_every = ctx.print ? 1 : 0;
      for (absl::string_view name : data::kFashionMnistClassNames) {
        o.class_names.emplace_back(name);
      }
      return actors::SpawnConsolePrinter(sys, o);
    }
    case ConsumerKind::kJsonl: {
      actors::JsonlSinkOptions o;
      o.consumer = std::move(inputs);
      o.path = c.path;
      return actors::SpawnJsonlSink(sys, o);
    }
    case ConsumerKind::kAggregator: {
      actors::AggregatorOptions o;
      o.consumer = std::move(inputs);
      o.truth = TruthOf(impl);
      return actors::SpawnAggregator(sys, o);
    }
    case ConsumerKind::kRegistryLogger: {
      TB_RETURN_IF_ERROR(OpenRegistry(spec, impl));
      actors::HookSinkOptions o;
      o.consumer = std::move(inputs);
      o.on_metric = LogToRegistry(spec, impl.registry);
      return actors::SpawnHookSink(sys, o);
    }
    case ConsumerKind::kDeadLetters: {
      actors::HookSinkOptions o;
      o.consumer = std::move(inputs);
      o.on_sample = RecordDeadLetters(impl.dead, ctx.print);
      return actors::SpawnHookSink(sys, o);
    }
    case ConsumerKind::kAmqp:
      return SpawnAmqpOutbound(spec, c, ctx);
  }
  return absl::InternalError("unknown consumer kind");
}

// ---- Models.

// Whether a console consumer prints what the model publishes (then the
// model does not print its own progress lines).
bool ConsolePrints(const TopologySpec& spec, const ModelEntry& m) {
  for (const ConsumerSpec& c : spec.consumers) {
    if (c.kind != ConsumerKind::kConsole) continue;
    if (std::count(c.inputs.begin(), c.inputs.end(), m.output)) return true;
  }
  return false;
}

absl::Status SpawnModel(
    const TopologySpec& spec, const ModelEntry& m, PartContext& ctx,
    SpawnedModel* out,
    std::shared_ptr<const actors::ModelCheckpoint> resume = nullptr) {
  TB_ASSIGN_OR_RETURN(bus::resource_actor metrics, ctx.Resource(m.output));
  actors::ModelActorOptions o = actors::SharedModelOptions(
      m.eval_every, m.eval_subset, ctx.print && !ConsolePrints(spec, m),
      metrics, ctx.listener, ctx.impl().eval);
  o.name = m.name;
  o.spec = m.spec;
  o.detached = ctx.detached_models;
  o.end_markers = EndMarkersFor(spec, m);
  o.checkpoint_every = ctx.checkpoint_every;
  o.resume = std::move(resume);
  TB_ASSIGN_OR_RETURN(o.input, ctx.Resource(m.input));
  if (!m.predictions.empty()) {
    TB_ASSIGN_OR_RETURN(o.predictions, ctx.Resource(m.predictions));
  }
  TB_ASSIGN_OR_RETURN(out->actor, actors::SpawnModelActor(ctx.system(), o));
  out->entry = &m;
  return absl::OkStatus();
}

}  // namespace

// ---- PartContext.

PartContext::PartContext(caf::actor_system& sys, bus::Bus& bus)
    : sys_(sys), bus_(bus), impl_(std::make_unique<Impl>()) {}

PartContext::~PartContext() = default;

absl::StatusOr<bus::resource_actor> PartContext::Resource(
    const std::string& name) {
  auto it = impl_->resources.find(name);
  if (it != impl_->resources.end()) return it->second;
  const ResourceSpec* declared = nullptr;
  if (impl_->spec != nullptr) {
    for (const ResourceSpec& r : impl_->spec->resources) {
      if (r.options.name == name) declared = &r;
    }
  }
  if (declared == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("resource '", name, "' is not declared in the spec"));
  }
  if (!resolve_remote) {
    return absl::FailedPreconditionError(absl::StrCat(
        "resource '", name, "' is placed on node '", declared->node,
        "', and this run has no nodes; run it with --nodes, or remove the "
        "placement"));
  }
  TB_ASSIGN_OR_RETURN(bus::resource_actor remote, resolve_remote(*declared));
  TB_ASSIGN_OR_RETURN(bus::resource_actor attached, bus_.Attach(name, remote));
  impl_->resources[name] = attached;
  return attached;
}

absl::Status PartContext::StartSources() {
  for (PreparedSource& s : sources_) {
    if (s.actor) continue;
    absl::StatusOr<caf::actor> actor = s.start();
    if (!actor.ok()) {
      return actors::PrefixStatus(absl::StrCat("source '", s.entry->name, "'"),
                                  actor.status());
    }
    s.actor = *actor;
  }
  return absl::OkStatus();
}

void PartContext::StopAll() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  auto stop = [](const auto& actor) {
    if (actor) caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  };
  for (const PreparedSource& s : sources_) stop(s.actor);
  for (const auto& [name, m] : models_) stop(m.actor);
  for (const auto& [name, b] : bindings_) stop(b);
  for (const caf::actor& a : impl_->owned) stop(a);
}

absl::Status PartContext::StopModel(const std::string& name) {
  auto it = models_.find(name);
  if (it == models_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no model '", name, "' in this part"));
  }
  for (const std::string& feed : it->second.feeds) {
    if (auto b = bindings_.find(feed); b != bindings_.end()) {
      caf::anon_send_exit(b->second, caf::exit_reason::user_shutdown);
    }
  }
  caf::anon_send_exit(it->second.actor, caf::exit_reason::user_shutdown);
  stopped_.push_back(name);
  return absl::OkStatus();
}

std::shared_ptr<const actors::EvalSet> PartContext::eval() const {
  return impl_->eval;
}

size_t PartContext::eval_samples() const { return impl_->eval_samples; }

void PartContext::AddAmqpCounters(
    const std::string& name, std::shared_ptr<const amqp::BridgeCounters> c) {
  amqp_counters_[name] = std::move(c);
}

std::vector<DeadLetter> PartContext::DeadLetters() const {
  std::lock_guard<std::mutex> lock(impl_->dead->mu);
  return impl_->dead->letters;
}

// ---- BuildPart.

uint32_t EndMarkersFor(const TopologySpec& spec, const ModelEntry& model) {
  // Paths from sources, counted per resource (the bindings form a DAG).
  std::map<std::string, uint32_t> memo;
  std::function<uint32_t(const std::string&)> paths =
      [&](const std::string& r) -> uint32_t {
    if (auto it = memo.find(r); it != memo.end()) return it->second;
    uint32_t n = 0;
    for (const SourceSpec& s : spec.sources) n += s.output == r;
    for (const BindingSpec& b : spec.bindings) {
      if (b.options.to == r) n += paths(b.options.from);
    }
    return memo[r] = n;
  };
  return std::max<uint32_t>(1, paths(model.input));
}

absl::Status BuildPart(const TopologySpec& spec, absl::string_view node,
                       PartContext& ctx) {
  PartContext::Impl& impl = ctx.impl();
  impl.spec = &spec;
  // A stream frees its message buffers on other threads than the source's.
  base::ReturnLargeBlocksToTheSystem();
  // Data first, and every model checked against it, before anything runs.
  bool has_models = false;
  for (const ModelEntry& m : spec.models) has_models |= Here(node, m.node);
  if (has_models) {
    TB_RETURN_IF_ERROR(LoadEvaluation(spec, impl));
    for (const ModelEntry& m : spec.models) {
      if (!Here(node, m.node)) continue;
      TB_RETURN_IF_ERROR(actors::CheckModelInput(m.name, m.spec, *impl.eval));
    }
  }
  for (const ResourceSpec& r : spec.resources) {
    if (!Here(node, r.node)) continue;
    TB_ASSIGN_OR_RETURN(impl.resources[r.options.name],
                        ctx.bus().Declare(r.options));
  }
  TB_RETURN_IF_ERROR(PrepareSources(spec, node, ctx, &ctx.sources_));
  std::map<std::string, const ResourceSpec*> placed;
  for (const ResourceSpec& r : spec.resources) placed[r.options.name] = &r;
  for (const BindingSpec& b : spec.bindings) {
    if (!Here(node, placed[b.options.to]->node)) continue;
    TB_RETURN_IF_ERROR(ctx.Resource(b.options.from).status());  // attached
    bus::BindingOptions options = b.options;
    options.sequenced = ctx.sequenced_bindings;
    TB_ASSIGN_OR_RETURN(ctx.bindings_[b.options.Name()],
                        ctx.bus().Bind(options));
  }
  for (const ConsumerSpec& c : spec.consumers) {
    if (!Here(node, c.node)) continue;
    absl::StatusOr<caf::actor> actor = SpawnConsumerOf(spec, c, ctx);
    if (!actor.ok()) {
      return actors::PrefixStatus(absl::StrCat("consumer '", c.name, "'"),
                                  actor.status());
    }
    ctx.consumers_[c.name] = *actor;
    impl.owned.push_back(*actor);
  }
  for (const ModelEntry& m : spec.models) {
    if (!Here(node, m.node)) continue;
    SpawnedModel spawned;
    TB_RETURN_IF_ERROR(SpawnModel(spec, m, ctx, &spawned));
    for (const BindingSpec& b : spec.bindings) {
      if (b.options.to == m.input) spawned.feeds.push_back(b.options.Name());
    }
    ctx.models_[m.name] = std::move(spawned);
  }
  return absl::OkStatus();
}

namespace {

const ResourceSpec* FindResource(const TopologySpec& spec,
                                 const std::string& name) {
  for (const ResourceSpec& r : spec.resources) {
    if (r.options.name == name) return &r;
  }
  return nullptr;
}

// The binding `b` again, resuming after `checkpoint`'s offset of its source.
absl::StatusOr<bus::BindingOptions> Rebinding(
    const TopologySpec& spec, const BindingSpec& b,
    const actors::ModelCheckpoint* checkpoint) {
  const ResourceSpec* from = FindResource(spec, b.options.from);
  if (from == nullptr || !from->options.durable()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "binding '", b.options.Name(), "' cannot be replayed: its source '",
        b.options.from,
        "' is not durable; give it `log: {dir: ...}` so that a dead node's "
        "models can resume from their checkpoints"));
  }
  bus::BindingOptions o = b.options;
  o.sequenced = true;
  o.start = bus::StartFrom::kEarliest;
  if (checkpoint != nullptr) {
    if (auto it = checkpoint->offsets.find(o.from);
        it != checkpoint->offsets.end()) {
      o.start = bus::StartFrom::kOffset;
      o.offset = it->second + 1;
    }
  }
  return o;
}

}  // namespace

absl::Status ResumeModel(
    const TopologySpec& spec, const std::string& name,
    std::shared_ptr<const actors::ModelCheckpoint> checkpoint,
    PartContext& ctx) {
  PartContext::Impl& impl = ctx.impl();
  const ModelEntry* m = nullptr;
  for (const ModelEntry& e : spec.models) {
    if (e.name == name) m = &e;
  }
  const ResourceSpec* input = m ? FindResource(spec, m->input) : nullptr;
  if (input == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no model '", name, "' with a declared input"));
  }
  if (!impl.eval) TB_RETURN_IF_ERROR(LoadEvaluation(spec, impl));
  TB_ASSIGN_OR_RETURN(impl.resources[m->input],
                      ctx.bus().Declare(input->options));
  SpawnedModel spawned;
  std::vector<bus::BindingOptions> feeds;
  for (const BindingSpec& b : spec.bindings) {
    if (b.options.to != m->input) continue;
    TB_ASSIGN_OR_RETURN(feeds.emplace_back(),
                        Rebinding(spec, b, checkpoint.get()));
    TB_RETURN_IF_ERROR(ctx.Resource(b.options.from).status());
  }
  // The model subscribes first, so nothing replayed waits in its input.
  TB_RETURN_IF_ERROR(SpawnModel(spec, *m, ctx, &spawned, checkpoint));
  for (const bus::BindingOptions& o : feeds) {
    TB_ASSIGN_OR_RETURN(ctx.bindings_[o.Name()], ctx.bus().Bind(o));
    spawned.feeds.push_back(o.Name());
  }
  ctx.models_[name] = std::move(spawned);
  return absl::OkStatus();
}

void ConfigureRunSystem(caf::actor_system_config& cfg) {
  actors::ConfigureActorSystem(cfg);
  actors::AddConsumerTypes(cfg);
  actors::AddAggregatorTypes(cfg);
}

}  // namespace trainbus::topology
