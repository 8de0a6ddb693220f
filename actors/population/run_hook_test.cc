// `trainbus run` with population: a real run (real actors on their own
// threads, the real Fashion-MNIST files) whose ASHA decisions are the same
// every time: each rung waits for every live model.
#include "actors/population/run_hook.h"

#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus::actors {
namespace {

constexpr char kSpec[] = R"(name: population_test
sources:
  - {name: train, kind: idx, data_dir: /usr/share/datasets/fashion-mnist,
     output: mnist, epochs: 1, seed: 1, limit: 2048, batch: 1}
evaluation: {data_dir: /usr/share/datasets/fashion-mnist, limit: 500}
population:
  asha: {grace: 512, eta: 2}
resources:
  - {name: mnist}
  - {name: metrics, max_queue: 4096}
  - {name: a}
  - {name: b}
  - {name: c}
  - {name: d}
bindings:
  - {from: mnist, to: a, filter: labelled}
  - {from: mnist, to: b, filter: labelled}
  - {from: mnist, to: c, filter: labelled}
  - {from: mnist, to: d, filter: labelled}
models:
  - {name: a, spec: 'softmax:lr=0.00001', input: a, output: metrics, eval_every: 256, eval_subset: 0}
  - {name: b, spec: 'softmax:lr=0.02', input: b, output: metrics, eval_every: 256, eval_subset: 0}
  - {name: c, spec: 'softmax:lr=0.0001', input: c, output: metrics, eval_every: 256, eval_subset: 0}
  - {name: d, spec: 'softmax:lr=0.005', input: d, output: metrics, eval_every: 256, eval_subset: 0}
)";

TEST(PopulationRunTest, PrunedModelsAreUnboundStoppedAndReported) {
  absl::StatusOr<topology::TopologySpec> spec = topology::ParseSpec(kSpec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto result = std::make_shared<PopulationResult>();
  topology::RunOptions options;
  options.print = false;
  options.timeout_s = 300;
  options.hooks.after_build = PopulationHook(*spec, false, result);
  absl::StatusOr<topology::RunReport> report = topology::RunSpec(*spec, options);
  ASSERT_TRUE(report.ok()) << report.status();

  // The tiny learning rates fall behind: a and c go at 512, then d at 1024.
  std::map<std::string, uint64_t> pruned_at;
  for (const topology::Fate& f : result->fates) pruned_at[f.model] = f.pruned_at;
  EXPECT_EQ(pruned_at, (std::map<std::string, uint64_t>{
                           {"a", 512}, {"b", 0}, {"c", 512}, {"d", 1024}}));
  for (const PopulationEvent& e : result->events) EXPECT_EQ(e.error, "");

  ASSERT_EQ(report->models.size(), 4u);
  for (const ModelSummary& m : report->models) {
    if (m.name == "b") {
      EXPECT_EQ(m.stopped, "");
      EXPECT_EQ(m.samples, 2048u);  // the survivor saw the whole stream
    } else {
      EXPECT_NE(m.stopped.find("pruned by ASHA at rung"), std::string::npos)
          << m.name << ": " << m.stopped;
      EXPECT_LT(m.samples, 2048u) << m.name;
    }
  }
  // Only the survivor's binding still subscribes to the stream.
  bool saw_mnist = false;
  for (const bus::ResourceMetrics& r : report->bus) {
    if (r.name != "mnist") continue;
    saw_mnist = true;
    ASSERT_EQ(r.subscriptions.size(), 1u);
    EXPECT_EQ(r.subscriptions[0].name, "mnist->b");
  }
  EXPECT_TRUE(saw_mnist);
}

}  // namespace
}  // namespace trainbus::actors
