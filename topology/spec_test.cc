#include "topology/spec.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "bus/filter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::topology {
namespace {

using ::testing::HasSubstr;

std::vector<SpecError> Errors(const std::string& text) {
  TopologySpec spec;
  return ParseAndValidate(text, &spec);
}

// Passes when one of `errors` is at line:column and contains `text`; the
// failure message lists them all.
testing::AssertionResult HasError(const std::vector<SpecError>& errors,
                                  int line, int column,
                                  const std::string& text) {
  for (const SpecError& e : errors) {
    if (e.where.line == line && e.where.column == column &&
        absl::StrContains(e.message, text)) {
      return testing::AssertionSuccess();
    }
  }
  return testing::AssertionFailure()
         << "no error at " << line << ":" << column << " containing '" << text
         << "'; got:\n" << FormatErrors("spec", errors);
}

struct Expected {
  int line;
  int column;
  std::string text;
};

// Every one of `expected` is among `errors`.
void ExpectErrors(const std::vector<SpecError>& errors,
                  const std::vector<Expected>& expected) {
  for (const Expected& e : expected) {
    EXPECT_TRUE(HasError(errors, e.line, e.column, e.text));
  }
}

TopologySpec MustParse(const std::string& text) {
  absl::StatusOr<TopologySpec> spec = ParseSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  return spec.ok() ? *spec : TopologySpec{};
}

// The four default models of actors/topology/parallel_models.cc
// (DefaultModels()); the example spec must describe exactly these.
const std::vector<std::pair<std::string, std::string>> kParallelModels = {
    {"model1", "softmax:opt=sgd,lr=0.05,batch=1,avg=0.9999"},
    {"model2", "mlp:hidden=128,opt=momentum,lr=0.02,batch=16,avg=0.999"},
    {"model3", "mlp:hidden=256,opt=adam,lr=0.001,batch=64,avg=0.99"},
    {"model4", "cnn:conv=8x16,opt=momentum,lr=0.02,batch=32,avg=0.998"},
};

TEST(ExampleSpec, ParallelModelsIsTodaysTopology) {
  absl::StatusOr<TopologySpec> spec =
      LoadSpecFile("experiments/parallel_models.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  EXPECT_EQ(spec->name, "parallel_models");
  ASSERT_EQ(spec->sources.size(), 1u);
  EXPECT_EQ(spec->sources[0].kind, SourceKind::kIdxGenerator);
  EXPECT_EQ(spec->sources[0].output, "mnist");
  EXPECT_EQ(spec->sources[0].data_dir, "/usr/share/datasets/fashion-mnist");
  ASSERT_EQ(spec->resources.size(), 6u);
  ASSERT_EQ(spec->bindings.size(), 4u);
  ASSERT_EQ(spec->models.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const std::string& name = kParallelModels[i].first;
    EXPECT_EQ(spec->bindings[i].options.from, "mnist");
    EXPECT_EQ(spec->bindings[i].options.to, name);
    EXPECT_EQ(spec->bindings[i].options.filter, bus::Filter::Labelled());
    EXPECT_EQ(spec->bindings[i].options.policy, bus::Policy::kBlock);
    const ModelEntry& m = spec->models[i];
    EXPECT_EQ(m.name, name);
    EXPECT_EQ(m.spec_text, kParallelModels[i].second);
    EXPECT_EQ(nn::FormatModelSpec(m.spec),
              nn::FormatModelSpec(*nn::ParseModelSpec(m.spec_text)));
    EXPECT_EQ(m.input, name);
    EXPECT_EQ(m.output, "metrics");
    EXPECT_EQ(spec->bindings[i].options.window, 256u);  // LabelledFeed's
  }
  // The model actors print their own progress lines, as the C++ runner did.
  EXPECT_TRUE(spec->consumers.empty());
  ASSERT_TRUE(spec->evaluation.has_value());
  EXPECT_EQ(spec->evaluation->limit, 0u);
}

TEST(ExampleSpec, ProductionRoutingDeclaresItsProductionSources) {
  absl::StatusOr<TopologySpec> spec =
      LoadSpecFile("experiments/production_routing.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_EQ(spec->sources.size(), 3u);
  EXPECT_EQ(spec->sources[1].kind, SourceKind::kTestReplay);
  EXPECT_EQ(spec->sources[1].first, 2000u);
  EXPECT_EQ(spec->sources[2].kind, SourceKind::kImageDir);
  EXPECT_EQ(spec->sources[2].dead_letter, "dead_letter");
  EXPECT_EQ(spec->sources[2].export_images, 48u);
  EXPECT_EQ(spec->sources[2].export_broken, 2u);
  ASSERT_EQ(spec->models.size(), 4u);
  for (const ModelEntry& m : spec->models) {
    EXPECT_EQ(m.predictions, "predictions") << m.name;
  }
  ASSERT_EQ(spec->consumers.size(), 4u);
  EXPECT_EQ(spec->consumers[0].every, 500u);
  EXPECT_EQ(spec->consumers[3].kind, ConsumerKind::kDeadLetters);
  EXPECT_EQ(spec->evaluation->limit, 2000u);
}

constexpr char kEverything[] = R"(name: all
description: every section and key
nodes:
  - {name: hub, address: "127.0.0.1:4000"}
  - {name: w1}
registry: {dir: /tmp/reg}
resources:
  - name: in
    durable: true
    max_queue: 32
    log: {dir: /tmp/log, segment_bytes: 8192, fsync_every: 4, retention_bytes: 100000}
    node: hub
  - {name: out, node: w1}
  - {name: metrics}
bindings:
  - from: in
    to: out
    filter: {kind: labelled, labels: [0, 3], ratio: 0.5}
    policy: drop_oldest
    window: 8
    max_queue: 16
sources:
  - {name: gen, kind: idx, data_dir: /d, output: in, epochs: 3, rate: 250.5, seed: 7, limit: 100, labels: false, batch: 16, node: hub}
  - {name: replay, kind: test_replay, data_dir: /d, output: in, limit: 5}
  - {name: pics, kind: image_dir, dir: /pics, output: in, rate: 2}
models:
  - {name: m, spec: "mlp:hidden=64,lr=0.1", input: out, output: metrics, eval_every: 50, eval_subset: 0, node: w1}
consumers:
  - {name: con, kind: console, inputs: metrics, every: 10}
  - {name: file, kind: jsonl, inputs: [metrics, out], path: /tmp/m.jsonl}
  - {name: agg, kind: aggregator, inputs: [metrics]}
  - {name: reglog, kind: registry_logger, inputs: [metrics]}
)";

TEST(ParseSpec, EveryKeyRoundTripsIntoTheStructs) {
  TopologySpec spec = MustParse(kEverything);
  EXPECT_EQ(spec.name, "all");
  EXPECT_EQ(spec.description, "every section and key");
  ASSERT_EQ(spec.nodes.size(), 2u);
  EXPECT_EQ(spec.nodes[0].address, "127.0.0.1:4000");
  EXPECT_EQ(spec.nodes[1].address, "");
  ASSERT_TRUE(spec.registry.has_value());
  EXPECT_EQ(spec.registry->dir, "/tmp/reg");

  ASSERT_EQ(spec.resources.size(), 3u);
  const bus::ResourceOptions& in = spec.resources[0].options;
  EXPECT_EQ(in.name, "in");
  EXPECT_TRUE(in.durable());
  EXPECT_EQ(in.log_dir, "/tmp/log");
  EXPECT_EQ(in.max_queue, 32u);
  EXPECT_EQ(in.segment_bytes, 8192u);
  EXPECT_EQ(in.fsync_every, 4u);
  EXPECT_EQ(in.retention_bytes, 100000u);
  EXPECT_EQ(spec.resources[0].node, "hub");
  EXPECT_EQ(spec.resources[0].where.line, 8);
  EXPECT_EQ(spec.resources[0].where.column, 5);
  EXPECT_FALSE(spec.resources[1].options.durable());
  EXPECT_EQ(spec.resources[1].options.max_queue, 256u);  // the bus's default

  ASSERT_EQ(spec.bindings.size(), 1u);
  const bus::BindingOptions& b = spec.bindings[0].options;
  EXPECT_EQ(b.Name(), "in->out");
  EXPECT_EQ(b.filter, *bus::ParseFilter("labelled;labels=0,3;ratio=0.5"));
  EXPECT_EQ(b.policy, bus::Policy::kDropOldest);
  EXPECT_EQ(b.window, 8u);
  EXPECT_EQ(b.max_queue, 16u);

  ASSERT_EQ(spec.sources.size(), 3u);
  const SourceSpec& gen = spec.sources[0];
  EXPECT_EQ(gen.kind, SourceKind::kIdxGenerator);
  EXPECT_EQ(gen.epochs, 3u);
  EXPECT_DOUBLE_EQ(gen.rate, 250.5);
  EXPECT_EQ(gen.seed, 7u);
  EXPECT_EQ(gen.limit, 100u);
  EXPECT_FALSE(gen.labels);
  EXPECT_EQ(gen.batch, 16u);
  EXPECT_EQ(gen.node, "hub");
  EXPECT_EQ(spec.sources[1].batch, 64u);  // the default
  EXPECT_EQ(spec.sources[1].kind, SourceKind::kTestReplay);
  EXPECT_EQ(spec.sources[1].limit, 5u);
  EXPECT_EQ(spec.sources[2].kind, SourceKind::kImageDir);
  EXPECT_EQ(spec.sources[2].dir, "/pics");

  ASSERT_EQ(spec.models.size(), 1u);
  EXPECT_EQ(spec.models[0].spec.hidden, std::vector<uint32_t>{64});
  EXPECT_FLOAT_EQ(spec.models[0].spec.learning_rate, 0.1f);
  EXPECT_EQ(spec.models[0].eval_every, 50u);
  EXPECT_EQ(spec.models[0].eval_subset, 0u);
  EXPECT_EQ(spec.models[0].node, "w1");

  ASSERT_EQ(spec.consumers.size(), 4u);
  EXPECT_EQ(spec.consumers[0].inputs, std::vector<std::string>{"metrics"});
  EXPECT_EQ(spec.consumers[0].every, 10u);
  EXPECT_EQ(spec.consumers[1].kind, ConsumerKind::kJsonl);
  EXPECT_EQ(spec.consumers[1].path, "/tmp/m.jsonl");
  EXPECT_EQ(spec.consumers[1].inputs,
            (std::vector<std::string>{"metrics", "out"}));
  EXPECT_EQ(spec.consumers[2].kind, ConsumerKind::kAggregator);
  EXPECT_EQ(spec.consumers[3].kind, ConsumerKind::kRegistryLogger);
}

TEST(ParseSpec, FilterStringsUseTheBusGrammarAndDefaultsAreTheBusDefaults) {
  TopologySpec spec = MustParse(R"(resources: [{name: a}, {name: b}, {name: c}]
bindings:
  - {from: a, to: b, filter: "unlabelled;ratio=0.25", policy: catch_up}
  - {from: a, to: c}
)");
  ASSERT_EQ(spec.bindings.size(), 2u);
  EXPECT_EQ(spec.bindings[0].options.filter,
            *bus::ParseFilter("unlabelled;ratio=0.25"));
  EXPECT_EQ(spec.bindings[0].options.policy, bus::Policy::kCatchUp);
  const bus::BindingOptions defaults;
  EXPECT_EQ(spec.bindings[1].options.filter, bus::Filter::All());
  EXPECT_EQ(spec.bindings[1].options.policy, defaults.policy);
  EXPECT_EQ(spec.bindings[1].options.window, defaults.window);
}

TEST(ParseSpec, AcceptsJson) {
  TopologySpec spec = MustParse(R"({
  "name": "json",
  "resources": [{"name": "in"}, {"name": "metrics"}],
  "bindings": [],
  "models": [{"name": "m", "spec": "softmax:lr=0.5", "input": "in",
              "output": "metrics", "eval_every": 10}],
  "consumers": [{"name": "c", "kind": "console", "inputs": ["metrics"]}]
})");
  EXPECT_EQ(spec.name, "json");
  ASSERT_EQ(spec.models.size(), 1u);
  EXPECT_EQ(spec.models[0].eval_every, 10u);
  EXPECT_EQ(spec.models[0].spec.arch, nn::Arch::kSoftmax);
}

TEST(ParseSpec, JsonErrorsAreLocatedToo) {
  std::vector<SpecError> errors =
      Errors("{\"resources\": [{\"name\": \"in\", \"sizee\": 3}]}");
  EXPECT_TRUE(HasError(errors, 1, 31, "unknown key 'sizee'"));
}

// ---- each error class, with its location --------------------------------

TEST(Validate, UnknownKeyListsTheAcceptedOnes) {
  std::vector<SpecError> errors = Errors(R"(resources:
  - name: in
    durabel: true
)");
  ASSERT_EQ(errors.size(), 1u) << FormatErrors("spec", errors);
  EXPECT_TRUE(HasError(errors, 3, 5, "resource 'in': unknown key 'durabel'"));
  EXPECT_THAT(errors[0].message,
              HasSubstr("accepted keys: name, durable, log, max_queue, node"));
}

const char kTwoModels[] = R"(resources: [{name: in}, {name: m}]
models:
  - {name: a, spec: softmax, input: in, output: m}
  - {name: b, spec: mlp, input: in, output: m}
)";

TEST(ParseSpec, PopulationSection) {
  TopologySpec spec = MustParse(std::string(kTwoModels) + R"(population:
  asha: {grace: 2000, eta: 4}
  pbt: {interval: 5000, quantile: 0.5, seed: 9}
)");
  ASSERT_TRUE(spec.population.has_value());
  ASSERT_TRUE(spec.population->options.asha.has_value());
  EXPECT_EQ(spec.population->options.asha->grace, 2000u);
  EXPECT_EQ(spec.population->options.asha->eta, 4u);
  ASSERT_TRUE(spec.population->options.pbt.has_value());
  EXPECT_EQ(spec.population->options.pbt->interval, 5000u);
  EXPECT_DOUBLE_EQ(spec.population->options.pbt->quantile, 0.5);
  EXPECT_EQ(spec.population->options.pbt->seed, 9u);
  EXPECT_EQ(spec.population->where.line, 6);  // the mapping under the key
  // Defaults: eta 3; no pbt.
  spec = MustParse(std::string(kTwoModels) + "population: {asha: {grace: 10}}\n");
  EXPECT_EQ(spec.population->options.asha->eta, 3u);
  EXPECT_FALSE(spec.population->options.pbt.has_value());
  EXPECT_FALSE(MustParse(kTwoModels).population.has_value());
}

TEST(Validate, PopulationKeysAreChecked) {
  std::vector<SpecError> errors = Errors(std::string(kTwoModels) + R"(population:
  asha: {eta: 1, rungs: 3}
  pbt: {interval: 0, quantile: 0.7}
  hyperband: {}
)");
  ExpectErrors(errors, {
      {6, 9, "population asha: missing required key 'grace'"},
      {6, 15, "'eta' must be an integer in [2, 1000], not '1'"},
      {6, 18, "unknown key 'rungs'; accepted keys: grace, eta"},
      {7, 19, "'interval' must be an integer in [1, "},
      {7, 32, "'quantile' must be in (0, 0.5]"},
      {8, 3, "unknown key 'hyperband'; accepted keys: asha, pbt"},
  });
  EXPECT_EQ(errors.size(), 6u) << FormatErrors("spec", errors);
}

TEST(Validate, PopulationNeedsAMethodAndTwoModels) {
  std::vector<SpecError> errors =
      Errors(std::string(kTwoModels) + "population: {}\n");
  EXPECT_TRUE(HasError(errors, 5, 13, "population: name a method: asha, pbt"));
  errors = Errors(R"(resources: [{name: in}, {name: m}]
models: [{name: a, spec: softmax, input: in, output: m}]
population: {pbt: {interval: 100}}
)");
  EXPECT_TRUE(HasError(errors, 3, 13, "needs at least 2 models"));
  errors = Errors(R"(resources: [{name: in}, {name: m}, {name: n}]
models:
  - {name: a, spec: softmax, input: in, output: m}
  - {name: b, spec: mlp, input: in, output: n}
population: {pbt: {interval: 100}}
)");
  EXPECT_TRUE(HasError(errors, 4, 5, "model 'b' publishes to 'n' but 'a' to 'm'"));
  errors = Errors(std::string(kTwoModels) + "population: [asha]\n");
  EXPECT_TRUE(HasError(errors, 5, 13, "'population' must be a mapping"));
  errors = Errors(std::string(kTwoModels) + "population: {asha: 3}\n");
  EXPECT_TRUE(HasError(errors, 5, 20, "'asha' must be a mapping with the keys grace, eta"));
}

TEST(Validate, UnknownRootKeyListsTheSections) {
  std::vector<SpecError> errors = Errors("resources: []\nplacement: {}\n");
  EXPECT_TRUE(HasError(errors, 2, 1, "unknown key 'placement'"));
  EXPECT_THAT(errors[0].message, HasSubstr("resources, bindings, sources"));
}

TEST(Validate, MissingRequiredKeys) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: a}]
bindings:
  - from: a
models:
  - name: m
    input: a
    output: a
)");
  ExpectErrors(errors, {
      {3, 5, "binding 1: missing required key 'to'"},
      {5, 5, "model 'm': missing required key 'spec'"},
  });
  EXPECT_EQ(errors.size(), 2u) << FormatErrors("spec", errors);
  EXPECT_TRUE(HasError(Errors("name: x\n"), 1, 1,
                       "missing required key 'resources'"));
}

TEST(Validate, BindingToAnUnknownResource) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: a}]
bindings:
  - {from: a, to: nowhere}
)");
  ASSERT_EQ(errors.size(), 1u) << FormatErrors("spec", errors);
  EXPECT_TRUE(HasError(errors, 3, 19,
                       "binding 'a->nowhere': 'to' names resource 'nowhere', "
                       "which is not declared"));
}

TEST(Validate, EveryReferenceToAResourceIsChecked) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: a}]
sources: [{name: s, kind: idx, data_dir: /d, output: b}]
models: [{name: m, spec: softmax, input: c, output: a}]
consumers: [{name: k, kind: console, inputs: [a, d]}]
)");
  ExpectErrors(errors, {
      {2, 54, "source 's': 'output' names resource 'b'"},
      {3, 42, "model 'm': 'input' names resource 'c'"},
      {4, 46, "consumer 'k': 'inputs' names resource 'd'"},
  });
  EXPECT_EQ(errors.size(), 3u) << FormatErrors("spec", errors);
}

TEST(Validate, TheRunnersKeysAreCheckedToo) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: a}]
evaluation: [x]
sources: [{name: p, kind: image_dir, dir: /p, output: a, dead_letter: z, export_images: 3}]
models: [{name: m, spec: softmax, input: a, output: a, predictions: q}]
)");
  for (const char* text :
       {"'evaluation' must be a mapping", "'dead_letter' names resource 'z'",
        "missing required key 'data_dir'", "'predictions' names resource 'q'"}) {
    EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                            [&](const SpecError& e) {
                              return absl::StrContains(e.message, text);
                            }))
        << text << "\n" << FormatErrors("spec", errors);
  }
  EXPECT_EQ(errors.size(), 4u) << FormatErrors("spec", errors);
}

TEST(Validate, ARegistryDatasetNeedsTheRegistryAndNoDataDir) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: a}]
sources:
  - {name: s, kind: idx, dataset: "mnist@2", output: a}
  - {name: t, kind: test_replay, dataset: mnist, data_dir: /d, output: a}
)");
  ExpectErrors(errors, {
      {3, 35, "source 's': 'dataset' is read from the registry"},
      {4, 43, "give 'data_dir' or 'dataset'"},
  });
  EXPECT_EQ(errors.size(), 3u) << FormatErrors("spec", errors);
  TopologySpec spec;
  EXPECT_TRUE(ParseAndValidate(R"(registry: {dir: /r}
resources: [{name: a}]
sources: [{name: s, kind: idx, dataset: "mnist@2", output: a}]
)", &spec).empty());
  EXPECT_EQ(spec.sources[0].dataset, "mnist@2");
  EXPECT_EQ(spec.sources[0].data_dir, "");
}

TEST(Validate, BindingCycleNamesThePath) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: a}, {name: b}, {name: c}]
bindings:
  - {from: a, to: b}
  - {from: b, to: c}
  - {from: c, to: a}
)");
  ASSERT_EQ(errors.size(), 1u) << FormatErrors("spec", errors);
  EXPECT_TRUE(HasError(errors, 5, 5,
                       "binding 'c->a' closes a cycle: a -> b -> c -> a"));
}

TEST(Validate, BindingToItselfIsACycle) {
  EXPECT_TRUE(HasError(Errors("resources: [{name: a}]\n"
                              "bindings: [{from: a, to: a}]\n"),
                       2, 12, "closes a cycle: a -> a"));
}

TEST(Validate, DiamondIsNotACycle) {
  MustParse(R"(resources: [{name: a}, {name: b}, {name: c}, {name: d}]
bindings:
  - {from: a, to: b}
  - {from: a, to: c}
  - {from: b, to: d}
  - {from: c, to: d}
)");
}

TEST(Validate, DuplicateNames) {
  std::vector<SpecError> errors = Errors(R"(resources:
  - name: a
  - name: a
bindings: [{from: a, to: a2}, {from: a, to: a2}]
models:
  - {name: m, spec: softmax, input: a, output: a}
consumers:
  - {name: m, kind: console, inputs: a}
)");
  ExpectErrors(errors, {
      {3, 5, "duplicate name 'a': a resource with this name is declared at "
             "line 2"},
      {8, 5, "duplicate name 'm'"},
      {4, 31, "duplicate name 'a->a2'"},
  });
}

TEST(Validate, AModelMayShareItsResourcesName) {
  MustParse(R"(resources: [{name: m1}, {name: metrics}]
models: [{name: m1, spec: softmax, input: m1, output: metrics}]
)");
}

TEST(Validate, NodeNotListed) {
  std::vector<SpecError> errors = Errors(R"(nodes: [{name: w1}]
resources:
  - {name: a, node: w1}
  - {name: b, node: w2}
)");
  ASSERT_EQ(errors.size(), 1u) << FormatErrors("spec", errors);
  EXPECT_TRUE(HasError(errors, 4, 21,
                       "'node' is 'w2', which is not listed under 'nodes'"));
}

TEST(Validate, BadModelSpecCarriesTheParsersMessage) {
  const std::string bad = "mlp:hidden=64,lr=fast";
  absl::StatusOr<nn::ModelSpec> parsed = nn::ParseModelSpec(bad);
  ASSERT_FALSE(parsed.ok());
  std::vector<SpecError> errors = Errors(absl::StrCat(
      "resources: [{name: a}]\nmodels:\n  - name: m\n    spec: ", bad,
      "\n    input: a\n    output: a\n"));
  ASSERT_EQ(errors.size(), 1u) << FormatErrors("spec", errors);
  EXPECT_TRUE(HasError(errors, 4, 11, std::string(parsed.status().message())));
  EXPECT_THAT(errors[0].message, HasSubstr("model 'm'"));
}

TEST(Validate, BadFilterAndPolicyCarryTheBussMessages) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: a}, {name: b}, {name: c}]
bindings:
  - {from: a, to: b, filter: sometimes, policy: drop_newest}
  - {from: a, to: c, filter: {kind: labelled, labels: [x]}}
  - {from: b, to: c, filter: {kind: unlabelled, ratio: 2}}
  - {from: a, to: b, filter: [labelled]}
)");
  ExpectErrors(errors, {
      {3, 30, "unknown kind 'sometimes'"},
      {3, 49, "unknown backpressure policy 'drop_newest'; use block, "
              "drop_oldest or catch_up"},
      {4, 30, "label 'x' is not a non-negative"},
      {5, 30, "ratio '2' must be in (0, 1]"},
      {6, 30, "'filter' must be a string"},
  });
}

TEST(Validate, ReportsEveryErrorInFileOrder) {
  std::vector<SpecError> errors = Errors(R"(resources:
  - {name: a, colour: red}
bindings:
  - {from: a, to: b, policy: fast}
models:
  - {name: m, spec: "transformer", input: a, output: a}
consumers:
  - {name: c, kind: printer, inputs: a}
)");
  ASSERT_EQ(errors.size(), 5u) << FormatErrors("spec", errors);
  ExpectErrors(errors, {
      {2, 15, "unknown key 'colour'"},
      {4, 19, "names resource 'b'"},
      {4, 30, "unknown backpressure policy 'fast'"},
      {6, 21, "model 'm'"},
      {8, 21, "unknown kind 'printer'"},
  });
  for (size_t i = 1; i < errors.size(); ++i) {
    EXPECT_LE(errors[i - 1].where.line, errors[i].where.line);
  }
  absl::StatusOr<TopologySpec> spec = ParseSpec(R"(resources:
  - {name: a, colour: red}
bindings: [{from: a, to: b}]
)", "x.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "x.yaml:2:15: resource 'a': unknown key 'colour'; accepted keys: "
            "name, durable, log, max_queue, node\n"
            "x.yaml:3:26: binding 'a->b': 'to' names resource 'b', which is "
            "not declared; declare it under 'resources' or use a declared one");
}

TEST(Validate, ComponentRules) {
  std::vector<SpecError> errors = Errors(R"(nodes: [{name: w, address: "host"}]
resources:
  - {name: a, durable: true}
  - {name: b, log: {dir: /x}}
  - {name: "has space"}
sources:
  - {name: s, kind: image_dir, dir: /d, output: a, epochs: 2}
consumers:
  - {name: r, kind: registry_logger, inputs: a}
  - {name: j, kind: jsonl, inputs: []}
)");
  ExpectErrors(errors, {
      {1, 28, "expected HOST:PORT"},
      {3, 24, "a durable resource needs 'log"},
      {4, 20, "add 'durable: true'"},
      {5, 12, "a name is letters, digits and _-./"},
    // image_dir has no epochs: its accepted keys depend on the kind.
      {7, 52, "unknown key 'epochs'"},
      {9, 5, "a registry_logger needs a 'registry"},
      {10, 5, "missing required key 'path'"},
      {10, 36, "non-empty list of names"},
  });
}

// ---- hostile input: never a crash, always a located, clear error ---------

TEST(Hostile, EmptyAndCommentOnlyFiles) {
  for (const char* text : {"", "   \n\n", "# only a comment\n", "~\n"}) {
    std::vector<SpecError> errors = Errors(text);
    ASSERT_EQ(errors.size(), 1u) << "'" << text << "'";
    EXPECT_THAT(errors[0].message, HasSubstr("the spec is empty"));
  }
}

TEST(Hostile, RootThatIsNotAMapping) {
  EXPECT_TRUE(HasError(Errors("- a\n- b\n"), 1, 1, "must be a mapping"));
  EXPECT_TRUE(HasError(Errors("just words"), 1, 1, "must be a mapping"));
  EXPECT_TRUE(HasError(Errors("resources: 5\n"), 1, 12,
                       "'resources' must be a list"));
  EXPECT_TRUE(HasError(Errors("resources: [a, b]\n"), 1, 13,
                       "resource 1: must be a mapping"));
}

TEST(Hostile, HugeNegativeAndNonNumbers) {
  std::vector<SpecError> errors = Errors(R"(resources:
  - {name: a, max_queue: 99999999999999999999999999}
  - {name: b, max_queue: -1}
  - {name: c, max_queue: 0}
bindings:
  - {from: a, to: b, window: 1e3}
sources:
  - {name: s, kind: idx, data_dir: /d, output: a, rate: 1e999}
  - {name: t, kind: idx, data_dir: /d, output: a, rate: nan, seed: [1]}
)");
  ExpectErrors(errors, {
      {2, 26, "'max_queue' must be an integer in [1, 16777216], not '999999"},
      {3, 26, "not '-1'"},
      {4, 26, "not '0'"},
      {6, 30, "'window' must be an integer"},
      {8, 57, "'rate' must be a finite number"},
      {9, 57, "'rate' must be a finite number"},
      {9, 68, "'seed' must be an integer"},
  });
}

TEST(Hostile, TabsAndBrokenSyntaxAreYamlErrors) {
  std::vector<SpecError> tabs = Errors("resources:\n\t- name: a\n");
  ASSERT_EQ(tabs.size(), 1u);
  EXPECT_THAT(tabs[0].message, HasSubstr("not valid YAML"));
  EXPECT_EQ(tabs[0].where.line, 2);
  EXPECT_TRUE(HasError(Errors("resources: [{name: a}\n"), 2, 1,
                       "not valid YAML"));
  EXPECT_FALSE(Errors("a: 'unterminated\n").empty());
  EXPECT_FALSE(Errors("{\"resources\": [}").empty());
}

TEST(Hostile, DuplicateKeysAndDocuments) {
  EXPECT_TRUE(HasError(Errors("resources: []\nresources: []\n"), 2, 1,
                       "key 'resources' is given twice"));
  EXPECT_TRUE(HasError(Errors("resources: []\n---\nresources: []\n"), 3, 1,
                       "more than one YAML document"));
  EXPECT_TRUE(HasError(Errors("resources: []\n[a]: 1\n"), 2, 1,
                       "a key must be a plain string"));
}

// yaml-cpp 0.7's LoadAll never returns on these (found by
// //fuzz:topology_spec_fuzzer; fuzz/corpus/topology_spec/timeout-stray-comma).
TEST(Hostile, AStrayCommaIsAnErrorNotAHang) {
  EXPECT_TRUE(HasError(Errors(","), 1, 1, "no value can start here"));
  EXPECT_TRUE(HasError(Errors(",a: !!binary |\n R0lGODfro"), 1, 1,
                       "no value can start here"));
  // After a whole document ('...' ends it) the comma starts the next one.
  EXPECT_TRUE(HasError(Errors("resources: []\n...\n,\n"), 3, 1,
                       "no value can start here"));
}

TEST(Hostile, DeepNestingAndBinaryGarbage) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(Errors(deep).empty());
  EXPECT_FALSE(Errors(absl::StrCat("resources: ", deep)).empty());
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 131) & 0xff);
  EXPECT_FALSE(Errors(garbage).empty());
  EXPECT_FALSE(Errors(std::string("resources:\0[]", 13)).empty());
}

TEST(Hostile, WrongTypesWhereStringsAndListsBelong) {
  std::vector<SpecError> errors = Errors(R"(name: [x]
resources: [{name: {a: 1}}]
registry: [dir]
models: [{name: m, spec: [softmax], input: a, output: a}]
)");
  ExpectErrors(errors, {
      {1, 7, "'name' must be a string"},
      {2, 20, "'name' must be a string"},
      {3, 11, "'registry' must be a mapping"},
      {4, 26, "'spec' must be a string"},
  });
}

TEST(LoadSpecFile, MissingFileIsNotInvalidArgument) {
  absl::StatusOr<TopologySpec> spec = LoadSpecFile("/nonexistent/x.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace trainbus::topology

namespace trainbus::topology {
namespace {

TEST(Validate, LogOptionsAreCheckedUnderTheirResourcesName) {
  std::vector<SpecError> errors = Errors(R"(resources:
  - name: a
    durable: true
    log: {dir: /x, segment_bytes: 10, flush: 1}
)");
  ExpectErrors(errors, {
      {4, 35, "resource 'a' log: 'segment_bytes' must be an integer"},
      {4, 39, "resource 'a' log: unknown key 'flush'; accepted keys: dir, "
              "segment_bytes, fsync_every, retention_bytes"},
  });
  EXPECT_EQ(errors.size(), 2u) << FormatErrors("spec", errors);
}


TEST(Delivery, DefaultsAndTheSection) {
  TopologySpec plain = MustParse("resources: [{name: a}]\n");
  EXPECT_EQ(plain.delivery.heartbeat_s, 1);
  EXPECT_EQ(plain.delivery.connection_timeout_s, 10);
  EXPECT_EQ(plain.delivery.checkpoint_every, 0u);
  TopologySpec set = MustParse(R"(resources: [{name: a}]
delivery: {heartbeat_s: 0.5, connection_timeout_s: 3, checkpoint_every: 200}
)");
  EXPECT_EQ(set.delivery.heartbeat_s, 0.5);
  EXPECT_EQ(set.delivery.connection_timeout_s, 3);
  EXPECT_EQ(set.delivery.checkpoint_every, 200u);
}

TEST(Delivery, ATimeoutUnderTwoHeartbeatsAndUnknownKeysAreRefused) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: a}]
delivery: {heartbeat_s: 2, connection_timeout_s: 3, every: 1}
)");
  ExpectErrors(errors, {
      {2, 11, "connection_timeout_s (3) at least twice it"},
      {2, 53, "delivery: unknown key 'every'"},
  });
  EXPECT_EQ(errors.size(), 2u) << FormatErrors("spec", errors);
}

TEST(Tls, ADirectoryTheFilesOrInsecure) {
  EXPECT_FALSE(MustParse("resources: [{name: a}]\n").tls.has_value());
  TopologySpec dir = MustParse("resources: [{name: a}]\ntls: {dir: certs}\n");
  ASSERT_TRUE(dir.tls.has_value());
  EXPECT_EQ(dir.tls->settings.dir, "certs");
  TopologySpec files = MustParse(R"(resources: [{name: a}]
tls: {certificate: h.pem, key: h.key, cafile: ca.pem}
)");
  EXPECT_EQ(files.tls->settings.cafile, "ca.pem");
  TopologySpec plain =
      MustParse("resources: [{name: a}]\ntls: {insecure: true}\n");
  EXPECT_TRUE(plain.tls->settings.insecure);
}

TEST(Tls, TwoWaysAtOnceHalfTheFilesAndUnknownKeysAreRefused) {
  for (const char* section :
       {"tls: {dir: certs, insecure: true}\n", "tls: {certificate: h.pem}\n",
        "tls: {dir: certs, key: h.key}\n", "tls: {}\n", "tls: certs\n"}) {
    std::vector<SpecError> errors =
        Errors(absl::StrCat("resources: [{name: a}]\n", section));
    ASSERT_EQ(errors.size(), 1u) << section << FormatErrors("spec", errors);
    EXPECT_THAT(errors[0].message, HasSubstr("cluster-certs")) << section;
  }
  std::vector<SpecError> errors =
      Errors("resources: [{name: a}]\ntls: {dir: c, ca: x}\n");
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(errors[0].message, HasSubstr("tls: unknown key 'ca'"));
}

}  // namespace
}  // namespace trainbus::topology

namespace trainbus::topology {
namespace {

TEST(AmqpSection, ExampleSpecHasTwoInboundAndOneOutboundBridge) {
  absl::StatusOr<TopologySpec> spec =
      LoadSpecFile("experiments/amqp_routing.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  ASSERT_TRUE(spec->amqp.has_value());
  EXPECT_EQ(spec->amqp->broker.host, "127.0.0.1");
  ASSERT_EQ(spec->amqp->inbound.size(), 2u);
  const AmqpInboundSpec& train = spec->amqp->inbound[0];
  EXPECT_EQ(train.settings.queue, "trainbus.train");
  EXPECT_EQ(train.resource, "mnist");
  EXPECT_TRUE(train.settings.durable);
  EXPECT_EQ(train.settings.prefetch, 64u);
  EXPECT_EQ(spec->amqp->backoff.max.count(), 5000);
  ASSERT_EQ(spec->amqp->outbound.size(), 1u);
  EXPECT_EQ(spec->amqp->outbound[0].settings.exchange, "trainbus.predictions");
  EXPECT_EQ(spec->amqp->outbound[0].settings.give_up.count(), 30000);
  // The bridges are also the spec's sources and consumers of kind amqp.
  ASSERT_EQ(spec->sources.size(), 2u);
  EXPECT_EQ(spec->sources[1].kind, SourceKind::kAmqp);
  EXPECT_EQ(spec->sources[1].output, "live");
  EXPECT_EQ(spec->sources[1].amqp_bridge, 1u);
  EXPECT_STREQ(SourceKindName(SourceKind::kAmqp), "amqp");
  const ConsumerSpec& out = spec->consumers.back();
  EXPECT_EQ(out.kind, ConsumerKind::kAmqp);
  EXPECT_EQ(out.inputs, std::vector<std::string>{"predictions"});
}

TEST(AmqpSection, ErrorsAreLocatedAndSayWhatToDo) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: r}]
amqp:
  url: http://broker/
  retry: 3
  reconnect_min_ms: 500
  reconnect_max_ms: 100
  inbound:
    - {name: in, resource: nowhere, prefetch: 0}
    - {name: in2, queue: q, resource: r, durable: true, declare: false}
  outbound:
    - {name: out, resource: r, exchange: "", exchange_type: weird}
)");
  ExpectErrors(errors, {
      {3, 8, "amqp: broker URL 'http://broker/' must start with amqp://"},
      {4, 3, "amqp: unknown key 'retry'; accepted keys: url, inbound, "
             "outbound, reconnect_min_ms, reconnect_max_ms, give_up_ms"},
      {6, 21, "'reconnect_max_ms' must be >= 'reconnect_min_ms'"},
      {8, 7, "amqp inbound 'in': missing required key 'queue'"},
      {8, 28, "names resource 'nowhere', which is not declared"},
      {8, 47, "amqp inbound 'in': 'prefetch' must be an integer in [1, 65535]"},
      {9, 51, "'durable' applies to a queue the bridge declares"},
      {11, 42, "the default exchange (\"\") routes by queue name"},
      {11, 61, "'exchange_type' is 'weird'; use direct, fanout, topic"},
  });
  EXPECT_EQ(errors.size(), 9u) << FormatErrors("spec", errors);
}

TEST(AmqpSection, BridgeNamesShareTheComponentNamespace) {
  std::vector<SpecError> errors = Errors(R"(resources: [{name: r}]
consumers:
  - {name: out, kind: aggregator, inputs: [r]}
amqp:
  url: amqp://guest:guest@localhost:5672/
  outbound:
    - {name: out, resource: r, exchange: x}
)");
  ExpectErrors(errors, {{7, 7, "duplicate name 'out'"}});
  EXPECT_FALSE(Errors("resources: [{name: r}]\namp: {}\n").empty());
  EXPECT_TRUE(HasError(Errors("resources: [{name: r}]\namqp: {url: "
                              "'amqp://h/'}\n"),
                       2, 7, "add 'inbound' or 'outbound'"));
}

}  // namespace
}  // namespace trainbus::topology
