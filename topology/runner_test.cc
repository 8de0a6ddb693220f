// The generic runner on small synthetic data: flags onto a spec, end
// markers, placement errors, the controller hook stopping a model, and the
// registry section (models and logs in a real SQLite registry).
#include "topology/runner.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "base/file.h"
#include "base/file_size_limit.h"
#include "base/test_dir.h"
#include "data/idx.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/store.h"
#include "topology/spec.h"

namespace trainbus::topology {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// `n` 28x28 images; image i is all grey level 3i, label i % 10.
data::Dataset Images(size_t n) {
  data::Dataset d;
  d.rows = d.cols = 28;
  d.count = n;
  d.pixels.resize(n * d.image_size());
  for (size_t i = 0; i < n; ++i) {
    d.labels.push_back(static_cast<uint8_t>(i % 10));
    std::fill_n(d.pixels.begin() + i * d.image_size(), d.image_size(),
                static_cast<uint8_t>(3 * i));
  }
  return d;
}

// An MNIST-layout directory: 64 training and 32 test images.
std::string DataDir() {
  const std::string dir = base::NewTestDir("runner_data");
  EXPECT_TRUE(data::WriteMnistDir(dir, Images(64), Images(32)).ok());
  return dir;
}

// Two models on one stream; DATA, REGISTRY and LINES are filled in.
constexpr char kTwoModels[] = R"(
name: tiny
registry: {dir: REGISTRY}
sources:
  - {name: train, kind: idx, data_dir: DATA, output: mnist}
resources:
  - {name: mnist}
  - {name: a}
  - {name: b}
  - {name: metrics}
bindings:
  - {from: mnist, to: a, filter: labelled, window: 16}
  - {from: mnist, to: b, filter: labelled, window: 16}
models:
  - {name: a, spec: softmax, input: a, output: metrics, eval_every: 16}
  - {name: b, spec: "mlp:hidden=8", input: b, output: metrics, eval_every: 16}
consumers:
  - {name: logs, kind: registry_logger, inputs: [metrics]}
  - {name: lines, kind: jsonl, inputs: [metrics], path: LINES}
)";

struct Tiny {
  std::string registry = base::NewTestDir("runner_registry");
  std::string lines = base::NewTestDir("runner_out") + "/lines.jsonl";
  TopologySpec spec;
};

Tiny TinySpec() {
  Tiny t;
  const std::string text = absl::StrReplaceAll(
      kTwoModels,
      {{"DATA", DataDir()}, {"REGISTRY", t.registry}, {"LINES", t.lines}});
  absl::StatusOr<TopologySpec> spec = ParseSpec(text, "tiny.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (spec.ok()) t.spec = *spec;
  return t;
}

RunOptions Quiet() {
  RunOptions o;
  o.print = false;
  o.timeout_s = 60;
  return o;
}

// One of the experiments' specs.
TopologySpec Experiment(const std::string& name) {
  absl::StatusOr<TopologySpec> spec =
      LoadSpecFile("experiments/" + name + ".yaml");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.value_or(TopologySpec{});
}

TEST(ApplyOverrides, NewModelsAreFedAndPublishedLikeTheFirst) {
  std::optional<TopologySpec> spec = Experiment("parallel_models");
  RunOverrides flags;
  flags.models = "x=softmax:lr=0.1;mlp:hidden=32";
  flags.seed = 3;
  flags.policy = "drop_oldest";
  ASSERT_TRUE(ApplyOverrides(flags, &*spec).ok());
  ASSERT_EQ(spec->models.size(), 2u);
  EXPECT_EQ(spec->models[0].name, "x");
  EXPECT_EQ(spec->models[1].name, "model2");
  EXPECT_EQ(spec->models[1].input, "model2");
  EXPECT_EQ(spec->models[1].output, "metrics");
  EXPECT_EQ(spec->models[0].spec.seed, 1u + 2);  // shifted by seed - 1
  std::set<std::string> resources;
  for (const ResourceSpec& r : spec->resources)
    resources.insert(r.options.name);
  EXPECT_EQ(resources,
            (std::set<std::string>{"mnist", "metrics", "x", "model2"}));
  std::vector<std::string> bindings;
  for (const BindingSpec& b : spec->bindings) {
    bindings.push_back(b.options.Name());
    EXPECT_EQ(b.options.window, 256u);
    EXPECT_EQ(b.options.policy, bus::Policy::kDropOldest);
  }
  EXPECT_THAT(bindings, ElementsAre("mnist->x", "mnist->model2"));
  EXPECT_EQ(spec->sources[0].seed, 3u);
}

TEST(ApplyOverrides, TrainAndLivePoliciesPickBindingsByFilter) {
  std::optional<TopologySpec> spec = Experiment("production_routing");
  RunOverrides flags;
  flags.live_policy = "drop_oldest";
  ASSERT_TRUE(ApplyOverrides(flags, &*spec).ok());
  for (const BindingSpec& b : spec->bindings) {
    EXPECT_EQ(b.options.policy, b.options.from == "live"
                                    ? bus::Policy::kDropOldest
                                    : bus::Policy::kBlock)
        << b.options.Name();
  }
  flags = {};
  flags.train_policy = "often";
  absl::Status s = ApplyOverrides(flags, &*spec);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--train_policy"));
}

TEST(ApplyOverrides, BadValuesNameTheirFlag) {
  struct Case {
    RunOverrides flags;
    std::string expect;
  };
  std::vector<Case> cases(4);
  cases[0].flags.epochs = 0;
  cases[0].expect = "--forever";
  cases[1].flags.policy = "sometimes";
  cases[1].expect = "--policy";
  cases[2].flags.models = "transformer";
  cases[2].expect = "--models";
  cases[3].flags.max_queue = 0;
  cases[3].expect = "--max_queue";
  for (const Case& c : cases) {
    TopologySpec spec = TinySpec().spec;
    absl::Status s = ApplyOverrides(c.flags, &spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.expect;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.expect));
  }
}

TEST(EndMarkersFor, OnePerPathFromASource) {
  std::optional<TopologySpec> spec = Experiment("production_routing");
  // The training stream, and two production sources through [live].
  for (const ModelEntry& m : spec->models)
    EXPECT_EQ(EndMarkersFor(*spec, m), 3u);
  const TopologySpec tiny = TinySpec().spec;
  EXPECT_EQ(EndMarkersFor(tiny, tiny.models[0]), 1u);
}

TEST(RunSpec, SavesModelsAndLogsInTheRegistry) {
  Tiny t = TinySpec();
  absl::StatusOr<RunReport> report = RunSpec(t.spec, Quiet());
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->models.size(), 2u);
  for (const actors::ModelSummary& m : report->models) {
    EXPECT_EQ(m.samples, 64u) << m.name;
    EXPECT_TRUE(m.error.empty()) << m.error;
  }
  EXPECT_EQ(report->train_samples, 64u);
  EXPECT_EQ(report->test_samples, 32u);
  ASSERT_EQ(report->sources.size(), 1u);
  EXPECT_EQ(report->sources[0].published, 64u);
  registry::StoreOptions options;
  options.root = t.registry;
  auto store = registry::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto models = (*store)->FindModels({});
  ASSERT_TRUE(models.ok()) << models.status();
  std::set<std::string> names;
  for (const registry::ModelRecord& m : *models) {
    names.insert(m.name);
    EXPECT_EQ(m.project, "tiny");
  }
  EXPECT_EQ(names, (std::set<std::string>{"a", "b"}));
  auto logs = (*store)->QueryLogs({});
  ASSERT_TRUE(logs.ok()) << logs.status();
  std::set<std::string> logged;
  for (const registry::LogEntry& e : *logs) logged.insert(e.model);
  EXPECT_EQ(logged, (std::set<std::string>{"a", "b"}));
  // Every metric the models published reached the JSON-lines file too.
  ASSERT_EQ(report->consumers.size(), 2u);
  EXPECT_EQ(report->consumers[1].name, "lines");
  EXPECT_EQ(report->consumers[1].metrics, report->consumers[0].metrics);
  EXPECT_GE(report->consumers[1].metrics,
            report->models[0].curve.size() + report->models[1].curve.size());
}

TEST(RunSpec, AnIdxSourceReadsARegistryDataset) {
  Tiny t = TinySpec();
  registry::StoreOptions options;
  options.root = t.registry;
  {
    auto store = registry::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    std::vector<std::string> paths;
    for (const auto& e :
         std::filesystem::directory_iterator(t.spec.sources[0].data_dir)) {
      paths.push_back(e.path().string());
    }
    ASSERT_TRUE((*store)->SaveDatasetFromPaths("data", "tiny", paths, {}).ok());
  }
  t.spec.sources[0].data_dir.clear();
  t.spec.sources[0].dataset = "data:tiny@1";
  absl::StatusOr<RunReport> report = RunSpec(t.spec, Quiet());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->train_samples, 64u);
  EXPECT_EQ(report->test_samples, 32u);
  EXPECT_EQ(report->data_dir, "registry dataset data:tiny@1");
  t.spec.sources[0].dataset = "data:tiny@7";
  report = RunSpec(t.spec, Quiet());
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()),
              HasSubstr("dataset 'data:tiny@7'"));
}

TEST(RunSpec, AControllerThatStopsAModelEndsTheRunWithoutIt) {
  Tiny t = TinySpec();
  t.spec.registry.reset();
  t.spec.consumers.clear();
  RunOptions options = Quiet();
  std::vector<std::string> seen_models, seen_bindings;
  options.hooks.after_build = [&](PartContext& ctx) {
    for (const auto& [name, m] : ctx.models()) seen_models.push_back(name);
    for (const auto& [name, b] : ctx.bindings()) seen_bindings.push_back(name);
    EXPECT_THAT(ctx.models().at("b").feeds, ElementsAre("mnist->b"));
    EXPECT_TRUE(ctx.Resource("metrics").ok());
    EXPECT_EQ(ctx.eval_samples(), 32u);
    EXPECT_NE(ctx.eval(), nullptr);
    return ctx.StopModel("b");
  };
  absl::StatusOr<RunReport> report = RunSpec(t.spec, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(seen_models, ElementsAre("a", "b"));
  EXPECT_THAT(seen_bindings, ElementsAre("mnist->a", "mnist->b"));
  ASSERT_EQ(report->models.size(), 1u);
  EXPECT_EQ(report->models[0].name, "a");
  EXPECT_EQ(report->models[0].samples, 64u);
  EXPECT_THAT(report->stopped_models, ElementsAre("b"));
}

TEST(RunSpec, AHookErrorStopsTheRunWithIt) {
  Tiny t = TinySpec();
  t.spec.registry.reset();
  t.spec.consumers.clear();
  RunOptions options = Quiet();
  options.hooks.after_build = [](PartContext&) {
    return absl::FailedPreconditionError("controller could not start");
  };
  absl::StatusOr<RunReport> report = RunSpec(t.spec, options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
}

// A durable [mnist] whose log cannot grow past its first record (a full
// disk, simulated by the file size limit: EFBIG, SIGXFSZ ignored). The
// source stops with the log's error; the run ends with it instead of
// waiting for an end marker that never comes.
constexpr char kDurableOneModel[] = R"(
name: full
sources:
  - {name: train, kind: idx, data_dir: DATA, output: mnist, epochs: 3}
resources:
  - {name: mnist, durable: true, log: {dir: LOG}}
  - {name: a}
  - {name: metrics}
bindings:
  - {from: mnist, to: a, filter: labelled, window: 16}
models:
  - {name: a, spec: softmax, input: a, output: metrics, eval_every: 16}
consumers: []
)";

TEST(RunSpec, ASourceWhoseLogFillsTheDiskEndsTheRunWithTheError) {
  const std::string log_dir = base::NewTestDir("runner_full") + "/log";
  absl::StatusOr<TopologySpec> spec = ParseSpec(
      absl::StrReplaceAll(kDurableOneModel, {{"DATA", DataDir()}, {"LOG", log_dir}}),
      "full.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<RunReport> report;
  {
    base::FileSizeLimit full(64 * 784 * 3 / 2);  // one 64-sample record, not two
    ASSERT_TRUE(full.ok());
    report = RunSpec(*spec, Quiet());
  }
  EXPECT_EQ(report.status().code(), absl::StatusCode::kAborted) << report.status();
  EXPECT_THAT(std::string(report.status().message()),
              ::testing::AllOf(HasSubstr("source 'train' failed"), HasSubstr(log_dir),
                               HasSubstr("ulimit -f"),
                               HasSubstr("records up to offset 0 are stored")));
}

// The tiny spec with [a] and model a on node worker1, no registry and no
// consumers.
Tiny ModelAOnWorker1() {
  Tiny t = TinySpec();
  t.spec.registry.reset();
  t.spec.consumers.clear();
  t.spec.nodes.push_back({"worker1", "", {}});
  t.spec.resources[1].node = "worker1";  // [a]
  t.spec.models[0].node = "worker1";
  return t;
}

TEST(RunSpec, PlacedOnANodeWithoutNodesIsAnErrorNamingIt) {
  Tiny t = ModelAOnWorker1();
  caf::actor_system_config cfg;
  ConfigureRunSystem(cfg);
  caf::actor_system sys{cfg};
  bus::Bus bus{sys};
  PartContext ctx(sys, bus);
  ctx.print = false;
  // This process's share: [a] lives on worker1, so binding into it is not
  // built here, and model a is not spawned here.
  ASSERT_TRUE(BuildPart(t.spec, "", ctx).ok());
  EXPECT_EQ(ctx.models().count("a"), 0u);
  EXPECT_EQ(ctx.models().count("b"), 1u);
  EXPECT_EQ(ctx.bindings().count("mnist->a"), 0u);
  absl::StatusOr<bus::resource_actor> a = ctx.Resource("a");
  EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("'worker1'"));
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("--nodes"));
  ctx.StopAll();
  caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
}

TEST(RunSpec, ATestReplayPastTheSplitIsRefusedWithItsNumbers) {
  Tiny t = TinySpec();
  t.spec.registry.reset();
  t.spec.consumers.clear();
  SourceSpec replay;
  replay.name = "replay";
  replay.kind = SourceKind::kTestReplay;
  replay.data_dir = t.spec.sources[0].data_dir;
  replay.output = "mnist";
  replay.first = 30;
  replay.limit = 10;
  t.spec.sources.push_back(replay);
  absl::StatusOr<RunReport> report = RunSpec(t.spec, Quiet());
  ASSERT_FALSE(report.ok());
  EXPECT_THAT(std::string(report.status().message()),
              HasSubstr("first (30) + limit (10) exceed the 32 test samples"));
}


// A dead node's model, built again here: it needs a durable source, and
// then trains on the whole stream (no checkpoint: from the earliest offset).
TEST(ResumeModel, NeedsADurableSourceThenTrainsOnTheReplay) {
  for (bool durable : {false, true}) {
    SCOPED_TRACE(durable ? "durable" : "not durable");
    Tiny t = ModelAOnWorker1();
    if (durable) {
      t.spec.resources[0].options.log_dir = base::NewTestDir("resume_log");
    }
    caf::actor_system_config cfg;
    ConfigureRunSystem(cfg);
    caf::actor_system sys{cfg};
    bus::Bus bus{sys};
    caf::scoped_actor self{sys};
    PartContext ctx(sys, bus);
    ctx.print = false;
    ctx.listener = caf::actor{self};
    ASSERT_TRUE(BuildPart(t.spec, "", ctx).ok());
    const absl::Status resumed = ResumeModel(t.spec, "a", nullptr, ctx);
    if (!durable) {
      EXPECT_EQ(resumed.code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_THAT(std::string(resumed.message()),
                  HasSubstr("source 'mnist' is not durable; give it `log: "));
    } else {
      ASSERT_TRUE(resumed.ok()) << resumed;
      EXPECT_EQ(ctx.bindings().count("mnist->a"), 1u);
      ASSERT_TRUE(ctx.StartSources().ok());
      std::map<std::string, uint64_t> samples;
      bool timed_out = false;
      while (samples.size() < 2 && !timed_out) {
        self->receive(
            [&](actors::ModelSummary& m) { samples[m.name] = m.samples; },
            [&](bus::done_atom, const std::string&, uint64_t) {},
            caf::after(std::chrono::seconds(60)) >> [&] { timed_out = true; });
      }
      EXPECT_EQ(samples,
                (std::map<std::string, uint64_t>{{"a", 64}, {"b", 64}}));
    }
    ctx.StopAll();
    caf::anon_send_exit(bus.directory(), caf::exit_reason::user_shutdown);
  }
}

}  // namespace
}  // namespace trainbus::topology
