// One spec across processes: real `node` and hub (`run --nodes`) processes
// of //experiments:cluster on 127.0.0.1, talking over TCP, against the same
// spec run in this process.
//
//   bazel test //tests:cluster_test
//
// The binary's path comes in as argv[1] ($(rootpath //experiments:cluster)).
// Every wait is bounded by a deadline that only matters when something is
// broken; the tests themselves react to the processes' output lines.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/substitute.h"
#include "base/file.h"
#include "base/subprocess.h"
#include "bus/cluster_certs.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "registry/blob_store.h"
#include "report/json_text.h"
#include "tests/tcp_proxy.h"
#include "tests/test_topology.h"
#include "topology/runner.h"
#include "topology/spec.h"

namespace trainbus {
namespace {

constexpr char kData[] = "/usr/share/datasets/fashion-mnist";
constexpr char kClusterSpec[] = "experiments/cluster.yaml";
// Per wait; with 5 s more per process to exit, the sum over the tests stays
// inside the test's size (large: 900 s), so these messages come first.
constexpr double kDeadlineS = 60;
// Accuracy that shows a model learned: chance is 0.1 on ten classes.
constexpr double kLearned = 0.65;

struct Proc {
  std::string name;
  std::unique_ptr<base::Subprocess> process;
  std::vector<std::string> lines;
  bool open = true;
  int code = -1;
};

std::string TmpPath(const std::string& name);

// The cluster's CA and certificates (hub, worker1, worker2, worker9), made
// once per test binary.
const std::string& CertsDir() {
  static const std::string* dir = [] {
    auto* d = new std::string(TmpPath("certs"));
    absl::StatusOr<std::vector<std::string>> made =
        bus::MakeClusterCerts(*d, {"worker1", "worker2", "worker9"});
    EXPECT_TRUE(made.ok()) << made.status();
    return d;
  }();
  return *dir;
}

// `run`/`node` args with --tls_dir=CertsDir() unless they say how to talk
// (--insecure or a --tls_ flag): every process of the cluster uses TLS.
std::vector<std::string> WithTls(std::vector<std::string> args) {
  const bool said = std::any_of(args.begin(), args.end(), [](auto& a) {
    return a == "--insecure" || absl::StartsWith(a, "--tls_");
  });
  if (!said && !args.empty() && (args[0] == "run" || args[0] == "node")) {
    args.push_back("--tls_dir=" + CertsDir());
  }
  return args;
}

std::unique_ptr<Proc> Start(const std::string& name,
                            std::vector<std::string> args) {
  args.insert(args.begin(), testing::ProgramUnderTest());
  absl::StatusOr<base::Subprocess> p =
      base::Subprocess::Spawn(args, base::OutputPiped());
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return nullptr;
  auto proc = std::make_unique<Proc>();
  proc->name = name;
  proc->process = std::make_unique<base::Subprocess>(*std::move(p));
  return proc;
}

// Starts `trainbus node --name=<name>` and returns "host:port" once it
// listens ("" and a failure if it does not).
std::string StartNode(std::unique_ptr<Proc>& node, const std::string& name,
                      std::vector<std::string> args = {}) {
  args.insert(args.begin(), {"node", "--name=" + name, "--listen=127.0.0.1:0",
                             "--timeout_s=120"});
  node = Start(name, WithTls(args));
  if (!node) return "";
  absl::StatusOr<std::string> line;
  while ((line = node->process->ReadLine(absl::Seconds(kDeadlineS))).ok()) {
    node->lines.push_back(*line);
    if (absl::StartsWith(*line, "LISTENING ")) return line->substr(10);
  }
  ADD_FAILURE() << name << " did not announce its port";
  return "";
}

std::unique_ptr<Proc> StartHub(const std::string& spec,
                               const std::string& nodes,
                               std::vector<std::string> args = {}) {
  args.insert(args.begin(),
              {"run", spec, "--nodes=" + nodes, "--timeout_s=120"});
  return Start("hub", WithTls(args));
}

// worker1 and worker2 as nodes, and a hub that runs a spec on them.
struct Cluster {
  std::unique_ptr<Proc> w1, w2, hub;
  std::string report;  // the hub's --report_json, if any
};

std::string TmpPath(const std::string& name);

// Starts the nodes, then the hub (writing TmpPath(report + ".json") unless
// `report` is empty); false (and a failure) if a node did not listen.
// `flags` go to every process (e.g. --insecure; default: --tls_dir), and
// `hub_args` to the hub alone.
bool StartCluster(Cluster* c, const std::string& spec,
                  const std::string& report = "",
                  const std::vector<std::string>& flags = {},
                  const std::vector<std::string>& hub_args = {}) {
  const std::string a1 = StartNode(c->w1, "worker1", flags);
  const std::string a2 = StartNode(c->w2, "worker2", flags);
  if (a1.empty() || a2.empty()) return false;
  std::vector<std::string> args = flags;
  args.insert(args.end(), hub_args.begin(), hub_args.end());
  if (!report.empty()) {
    c->report = TmpPath(report + ".json");
    args.push_back("--report_json=" + c->report);
  }
  c->hub = StartHub(spec, absl::StrCat("worker1=", a1, ",worker2=", a2), args);
  return c->hub != nullptr;
}

// Reads everyone's output until all have ended; `on_line` sees each line
// as it arrives. Then reaps them.
void RunToEnd(const std::vector<Proc*>& procs,
              const std::function<void(Proc&, const std::string&)>& on_line) {
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(kDeadlineS * 1000));
  size_t open = 0;
  for (Proc* p : procs) open += p->open;
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    for (Proc* p : procs) {
      if (!p->open) continue;
      // Short waits per process keep every pipe drained.
      absl::StatusOr<std::string> line;
      while ((line = p->process->ReadLine(absl::Milliseconds(20))).ok()) {
        p->lines.push_back(*line);
        if (on_line) on_line(*p, *line);
      }
      std::vector<std::string> rest;
      const bool still_open = p->process->ReadAvailable(&rest);
      for (const std::string& l : rest) {
        p->lines.push_back(l);
        if (on_line) on_line(*p, l);
      }
      if (!still_open) {
        p->open = false;
        --open;
      }
    }
  }
  for (Proc* p : procs) {
    EXPECT_FALSE(p->open) << p->name << " still running after " << kDeadlineS
                          << " s";
    if (p->open) p->process->Kill();
    // Its output has ended; it must exit soon after (a hang in shutdown
    // would otherwise hang the test).
    absl::StatusOr<base::ExitStatus> exit =
        p->process->WaitOrKill(absl::Seconds(5));
    EXPECT_TRUE(exit.ok()) << p->name << ": " << exit.status();
    p->code = exit.ok() ? exit->ShellCode() : -1;
  }
}

// An on_line callback: when `watched` prints a line containing `text`,
// sends `signal` to `victim` (once) and sets *sent.
std::function<void(Proc&, const std::string&)> SignalWhen(
    const Proc* watched, const std::string& text, Proc* victim, int signal,
    bool* sent) {
  return [=](Proc& p, const std::string& line) {
    if (!*sent && &p == watched && absl::StrContains(line, text)) {
      EXPECT_TRUE(victim->process->Signal(signal).ok());
      *sent = true;
    }
  };
}

std::string Dump(const Proc& p) {
  std::string out = "--- " + p.name + " output:\n";
  for (const std::string& l : p.lines) absl::StrAppend(&out, l, "\n");
  return out;
}

// Runs `procs` to their end, sending `signal` to `victim` once the hub
// prints worker2's first test report (worker2 is training); returns
// everyone's output.
std::string SignalMidRun(const Cluster& c, std::vector<Proc*> procs,
                         Proc* victim, int signal) {
  bool sent = false;
  RunToEnd(procs, SignalWhen(c.hub.get(), "metric worker2/model1 test step",
                             victim, signal, &sent));
  std::string all;
  for (const Proc* p : procs) all += Dump(*p);
  EXPECT_TRUE(sent) << all;
  return all;
}

bool Contains(const Proc& p, absl::string_view text) {
  for (const std::string& l : p.lines) {
    if (absl::StrContains(l, text)) return true;
  }
  return false;
}

std::string TmpPath(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return std::string(tmp != nullptr ? tmp : ".") + "/" + name;
}

// The hub's JSON report (--report_json), its models by name.
std::map<std::string, report::Json> Results(const std::string& report_path,
                                            const std::string& context) {
  const std::string text = base::ReadFile(report_path).value_or("");
  const report::Json doc =
      report::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::map<std::string, report::Json> out;
  if (doc.is_discarded() || !doc.contains("models")) {
    ADD_FAILURE() << "no JSON report at " << report_path << ":\n"
                  << text << "\n" << context;
    return out;
  }
  for (const report::Json& m : doc["models"]) {
    out[m.value("name", "")] = m;
  }
  return out;
}

double Accuracy(const report::Json& result) {
  return result.value("test_accuracy", -1.0);
}

// A hub stream of `limit` samples at `rate`/s; worker1 trains a softmax
// (reports every 200 steps) and an MLP wrecked by lr=100, worker2 a softmax
// (reports every 20 steps). Written to a file; returns its path.
//
// With `delivery` (the spec's delivery: section, e.g. "{checkpoint_every:
// 200}") [mnist] is durable, in a log of its own.
std::string PacedSpec(const std::string& name, uint64_t limit, double rate,
                      const std::string& delivery = "") {
  const std::string durable =
      delivery.empty()
          ? ""
          : absl::StrCat(", durable: true, log: {dir: ",
                         TmpPath(name + "_log"), "}");
  const std::string text = absl::Substitute(R"(
name: $0
nodes: [{name: worker1}, {name: worker2}]
evaluation: {data_dir: $1, limit: 1000}
$4
sources:
  - {name: gen, kind: idx, data_dir: $1, output: mnist, limit: $2, rate: $3}
resources:
  - {name: mnist$5}
  - {name: metrics, max_queue: 4096}
  - {name: worker1/model1, node: worker1}
  - {name: worker1/wrecked, node: worker1}
  - {name: worker2/model1, node: worker2}
bindings:
  - {from: mnist, to: worker1/model1, filter: labelled}
  - {from: mnist, to: worker1/wrecked, filter: labelled}
  - {from: mnist, to: worker2/model1, filter: labelled}
models:
  - {name: worker1/model1, spec: "softmax:opt=sgd,lr=0.01,batch=1",
     input: worker1/model1, output: metrics, eval_every: 200,
     eval_subset: 200, node: worker1}
  - {name: worker1/wrecked, spec: "mlp:lr=100", input: worker1/wrecked,
     output: metrics, eval_every: 500, eval_subset: 200, node: worker1}
  - {name: worker2/model1, spec: "softmax:opt=sgd,lr=0.01,batch=1",
     input: worker2/model1, output: metrics, eval_every: 20,
     eval_subset: 200, node: worker2}
consumers:
  - {name: console, kind: console, inputs: [metrics]}
)",
      name, kData, limit, rate,
      delivery.empty() ? "" : "delivery: " + delivery, durable);
  const std::string path = TmpPath(name + ".yaml");
  EXPECT_TRUE(base::WriteFileAtomically(path, text).ok());
  return path;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    // A missing dataset is a broken machine, not a reason to pass.
    ASSERT_EQ(::stat(kData, &st), 0)
        << kData << " is missing: run tools/setup.sh";
    ASSERT_FALSE(testing::ProgramUnderTest().empty())
        << "pass the cluster binary as argv[1]";
  }
};

// The acceptance test of placement: the same spec, in this process and on
// a hub plus two nodes, trains the same models to the same bits.
TEST_F(ClusterTest, ThreeProcessesMatchTheInProcessRunBitForBit) {
  absl::StatusOr<topology::TopologySpec> spec =
      topology::LoadSpecFile(kClusterSpec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  topology::RunOptions options;
  options.print = false;
  options.timeout_s = kDeadlineS;
  absl::StatusOr<topology::RunReport> local = topology::RunSpec(*spec, options);
  ASSERT_TRUE(local.ok()) << local.status();
  ASSERT_EQ(local->models.size(), 3u);

  Cluster c;
  ASSERT_TRUE(StartCluster(&c, kClusterSpec, "bit_for_bit"));
  Proc *hub = c.hub.get(), *w1 = c.w1.get(), *w2 = c.w2.get();
  RunToEnd({hub, w1, w2}, nullptr);
  const std::string all = Dump(*hub) + Dump(*w1) + Dump(*w2);
  EXPECT_EQ(hub->code, 0) << all;
  EXPECT_EQ(w1->code, 0) << all;
  EXPECT_EQ(w2->code, 0) << all;
  EXPECT_TRUE(Contains(*w1, "worker1: built 2 model(s), 0 consumer(s), 0 "
                            "source(s); imported metrics, mnist from the hub"))
      << all;
  EXPECT_TRUE(Contains(*w2, "worker2: built 1 model(s)")) << all;

  auto placed = Results(c.report, all);
  ASSERT_EQ(placed.size(), 3u) << all;
  for (const actors::ModelSummary& m : local->models) {
    SCOPED_TRACE(m.name);
    ASSERT_EQ(placed.count(m.name), 1u) << all;
    const report::Json& p = placed[m.name];
    EXPECT_EQ(p["node"], m.name.substr(0, m.name.find('/'))) << all;
    EXPECT_EQ(p["status"], "done") << all;
    EXPECT_EQ(p["samples"], m.samples) << all;
    EXPECT_EQ(p["samples"], 6000) << all;
    EXPECT_EQ(p["steps"], m.steps) << all;
    // Bit-identical weights give the very same accuracies.
    EXPECT_EQ(p.value("test_accuracy", -1.0), m.test_accuracy) << all;
    EXPECT_EQ(p.value("prequential_accuracy", -1.0), m.prequential_accuracy)
        << all;
    EXPECT_GT(m.test_accuracy, kLearned);
    ASSERT_FALSE(m.checkpoint.empty());
    EXPECT_EQ(p.value("checkpoint_sha256", ""),
              registry::BlobStore::Sha256Hex(m.checkpoint))
        << all;
  }
}

TEST_F(ClusterTest, ANodeKilledMidRunIsLostAndTheOthersFinish) {
  Cluster c;
  // A paced stream (about 2 s) so that the kill lands mid-run.
  ASSERT_TRUE(StartCluster(&c, PacedSpec("killed", 4000, 2000), "killed"));
  Proc *hub = c.hub.get(), *w1 = c.w1.get(), *w2 = c.w2.get();
  const std::string all = SignalMidRun(c, {hub, w1, w2}, w2, SIGKILL);
  EXPECT_EQ(w2->code, 128 + SIGKILL) << all;
  EXPECT_EQ(hub->code, 0) << all;
  EXPECT_EQ(w1->code, 0) << all;
  EXPECT_TRUE(Contains(*hub, "lost node worker2")) << all;
  auto results = Results(c.report, all);
  report::Json& lost = results["worker2/model1"];
  EXPECT_EQ(lost["status"], "lost") << all;
  // Its row keeps what it had reported before it died (>= one report of 20
  // steps), not zeros.
  EXPECT_GE(lost.value("steps", 0), 20) << all;
  EXPECT_GE(lost.value("samples", 0), 20) << all;
  EXPECT_GT(Accuracy(lost), 0) << all;
  EXPECT_NE(lost.value("error", "").find("last report"), std::string::npos)
      << all;
  EXPECT_EQ(lost.value("checkpoint_sha256", "x"), "") << all;
  EXPECT_EQ(results["worker1/model1"]["status"], "done") << all;
  EXPECT_EQ(results["worker1/model1"]["samples"], 4000) << all;
  EXPECT_GT(Accuracy(results["worker1/model1"]), kLearned) << all;
  EXPECT_TRUE(Contains(*hub, "1 lost (worker2)")) << all;
  // Nothing was refused; only the wrecked model warned, once.
  EXPECT_EQ(results["worker1/model1"]["rejected_shape"], 0) << all;
  EXPECT_EQ(results["worker1/model1"]["warnings"], report::Json::array());
  const report::Json& warnings = results["worker1/wrecked"]["warnings"];
  ASSERT_EQ(warnings.size(), 1u) << all;
  EXPECT_NE(warnings[0].get<std::string>().find("no better than chance"),
            std::string::npos)
      << all;
  EXPECT_TRUE(Contains(*hub, "worker1/wrecked warning: training accuracy"))
      << all;
}

// What a test reads from the hub's gateway while the run goes.
struct DashboardPoll {
  std::string url;           // "http://127.0.0.1:PORT/", from the hub
  std::string connected;     // /metrics once both nodes are in and training
  report::Json topology;     // /v1/topology then
  std::string after_kill;    // /metrics once worker2 is counted lost
  report::Json topology_after_kill;
};

// GET `path` from the gateway at `url`; "" when it does not answer 200.
std::string Get(const std::string& url, const std::string& path) {
  int port = 0;
  const size_t colon = url.rfind(':');
  if (!absl::SimpleAtoi(url.substr(colon + 1, url.size() - colon - 2),
                        &port)) {
    return "";
  }
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  httplib::Result r = client.Get(path.c_str());
  return r && r->status == 200 ? r->body : "";
}

// Polls /metrics until every one of `lines` is in it (or the deadline).
std::string PollMetrics(const std::string& url,
                        const std::vector<std::string>& lines) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(static_cast<int>(kDeadlineS));
  std::string text;
  while (std::chrono::steady_clock::now() < deadline) {
    text = Get(url, "/metrics");
    bool all = true;
    for (const std::string& l : lines) all = all && absl::StrContains(text, l);
    if (all) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a poll
  }
  ADD_FAILURE() << "the hub's /metrics never had "
                << absl::StrJoin(lines, " and ") << ":\n" << text;
  return text;
}

// The hub's gateway while the run goes: both nodes connected and worker2
// training; then worker2 killed and counted lost; then the hub (which holds
// its dashboard) is told to stop.
void WatchDashboard(DashboardPoll* poll, Proc* w2, Proc* hub) {
  poll->connected = PollMetrics(
      poll->url, {"trainbus_nodes_connected 2",
                  "trainbus_model_steps_total{model=\"worker2/model1\"}"});
  poll->topology = report::Json::parse(Get(poll->url, "/v1/topology"),
                                       nullptr, false);
  EXPECT_TRUE(w2->process->Signal(SIGKILL).ok());
  poll->after_kill = PollMetrics(
      poll->url, {"trainbus_nodes_lost_total 1", "trainbus_nodes_connected"});
  poll->topology_after_kill = report::Json::parse(
      Get(poll->url, "/v1/topology"), nullptr, false);
  EXPECT_TRUE(hub->process->Signal(SIGTERM).ok());
}

// The node's state in /v1/topology's "nodes", or "".
std::string NodeState(const report::Json& topology, const std::string& name) {
  if (!topology.is_object() || !topology.contains("nodes")) return "";
  for (const report::Json& n : topology["nodes"]) {
    if (n.value("name", "") == name) return n.value("state", "");
  }
  return "";
}

TEST_F(ClusterTest, TheHubsDashboardCountsTheNodesAndShowsThem) {
  Cluster c;
  // A paced stream (about 8 s): the kill lands mid-run.
  ASSERT_TRUE(StartCluster(&c, PacedSpec("dashboard", 8000, 1000), "", {},
                           {"--dashboard=127.0.0.1:0", "--dashboard_hold"}));
  Proc *hub = c.hub.get(), *w1 = c.w1.get(), *w2 = c.w2.get();
  DashboardPoll poll;
  std::thread watcher;
  RunToEnd({hub, w1, w2}, [&](Proc& p, const std::string& line) {
    if (&p != hub || watcher.joinable() ||
        !absl::StartsWith(line, "dashboard: http://")) {
      return;
    }
    poll.url = line.substr(std::string("dashboard: ").size());
    watcher = std::thread(WatchDashboard, &poll, w2, hub);
  });
  if (watcher.joinable()) watcher.join();
  const std::string all = Dump(*hub) + Dump(*w1) + Dump(*w2);
  ASSERT_FALSE(poll.url.empty()) << all;
  // Held until the test's SIGTERM, which ends it.
  EXPECT_EQ(hub->code, 128 + SIGTERM) << all;
  EXPECT_EQ(w2->code, 128 + SIGKILL) << all;
  EXPECT_TRUE(absl::StrContains(poll.connected, "trainbus_nodes_lost_total 0"))
      << poll.connected;
  EXPECT_EQ(NodeState(poll.topology, "worker1"), "connected") << poll.topology;
  EXPECT_EQ(NodeState(poll.topology, "worker2"), "connected") << poll.topology;
  // The graph groups each node's components.
  ASSERT_TRUE(poll.topology.contains("graph")) << poll.topology;
  std::set<std::string> groups, in_worker2;
  for (const report::Json& g : poll.topology["graph"]["groups"]) {
    groups.insert(g.value("id", ""));
  }
  for (const report::Json& n : poll.topology["graph"]["nodes"]) {
    if (n.value("group", "") == "worker2") in_worker2.insert(n.value("id", ""));
  }
  EXPECT_EQ(groups, (std::set<std::string>{"worker1", "worker2"}));
  EXPECT_TRUE(in_worker2.count("model:worker2/model1")) << poll.topology;
  EXPECT_TRUE(absl::StrContains(poll.after_kill, "trainbus_nodes_connected 1"))
      << poll.after_kill;
  EXPECT_EQ(NodeState(poll.topology_after_kill, "worker2"), "lost")
      << poll.topology_after_kill;
  EXPECT_TRUE(Contains(*hub, "lost node worker2")) << all;
}

TEST_F(ClusterTest, AFrozenNodeIsLostAfterTheConnectionTimeoutNotAHang) {
  Cluster c;
  ASSERT_TRUE(StartCluster(&c, PacedSpec("frozen", 8000, 1000), "frozen"));
  // SIGSTOP: the node's sockets stay open but it sends nothing, not even a
  // heartbeat; the hub's connection to it times out.
  Proc *hub = c.hub.get(), *w1 = c.w1.get(), *w2 = c.w2.get();
  const std::string all = SignalMidRun(c, {hub, w1}, w2, SIGSTOP);
  w2->process->Kill();
  EXPECT_EQ(hub->code, 0) << all;
  EXPECT_EQ(w1->code, 0) << all;
  EXPECT_TRUE(Contains(*hub, "lost node worker2")) << all;
  auto results = Results(c.report, all);
  EXPECT_EQ(results["worker2/model1"]["status"], "lost") << all;
  EXPECT_EQ(results["worker1/model1"]["samples"], 8000) << all;
}

TEST_F(ClusterTest, ANodeWhoseHubDiesSaysSoAndExits) {
  Cluster c;
  ASSERT_TRUE(StartCluster(&c, PacedSpec("hub_dies", 20000, 1000)));
  Proc *hub = c.hub.get(), *w1 = c.w1.get(), *w2 = c.w2.get();
  const std::string all = SignalMidRun(c, {hub, w1, w2}, hub, SIGKILL);
  // Both nodes notice, say so and exit non-zero.
  EXPECT_TRUE(Contains(*w1, "lost the hub at 127.0.0.1:")) << all;
  EXPECT_TRUE(Contains(*w2, "lost the hub at 127.0.0.1:")) << all;
  EXPECT_EQ(hub->code, 128 + SIGKILL) << all;
  EXPECT_EQ(w1->code, 1) << all;
  EXPECT_EQ(w2->code, 1) << all;
}

// Runs the binary with `args` to its end (at most kDeadlineS).
std::unique_ptr<Proc> RunAlone(const std::string& name,
                               std::vector<std::string> args) {
  std::unique_ptr<Proc> p = Start(name, WithTls(std::move(args)));
  if (p) RunToEnd({p.get()}, nullptr);
  return p;
}

TEST_F(ClusterTest, AnUnreachableNodeIsNamedWithItsAddress) {
  std::unique_ptr<Proc> hub =
      RunAlone("hub", {"run", kClusterSpec, "--connect_timeout_s=2",
                       "--nodes=worker1=127.0.0.1:1,worker2=127.0.0.1:1"});
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->code, 1) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "node 'worker1' at 127.0.0.1:1: cannot reach"))
      << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "(for 2 s)")) << Dump(*hub);
}

TEST_F(ClusterTest, AFrozenNodeIsAnErrorAtConnectNotAHang) {
  std::unique_ptr<Proc> w1, w2;
  const std::string a1 = StartNode(w1, "worker1");
  const std::string a2 = StartNode(w2, "worker2");
  ASSERT_FALSE(a1.empty() || a2.empty());
  ASSERT_TRUE(w2->process->Signal(SIGSTOP).ok());
  // The connect is retried for --connect_timeout_s, then given up.
  std::unique_ptr<Proc> hub = RunAlone(
      "hub", {"run", kClusterSpec, "--connect_timeout_s=3",
              absl::StrCat("--nodes=worker1=", a1, ",worker2=", a2)});
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->code, 1) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "node 'worker2' at " + a2)) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "(for 3 s)")) << Dump(*hub);
  w1->process->Kill();
  w2->process->Kill();
}

TEST_F(ClusterTest, ANodeUnderAnotherNameIsTold) {
  std::unique_ptr<Proc> w;
  const std::string a = StartNode(w, "worker9");
  ASSERT_FALSE(a.empty());
  std::unique_ptr<Proc> hub = RunAlone(
      "hub", {"run", kClusterSpec,
              absl::StrCat("--nodes=worker1=", a, ",worker2=", a)});
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->code, 1) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "start it with `trainbus node --name=worker1"))
      << Dump(*hub);
  w->process->Kill();
}

TEST_F(ClusterTest, ANodeTheSpecDoesNotListIsRefusedBeforeConnecting) {
  std::unique_ptr<Proc> hub = RunAlone(
      "hub", {"run", kClusterSpec, "--nodes=worker7=127.0.0.1:1"});
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->code, 2) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "--nodes names node 'worker7', which the spec "
                             "does not list"))
      << Dump(*hub);
}

TEST_F(ClusterTest, ANodeWithoutAHubGivesUpAtTimeoutS) {
  // Nobody comes; the node must give up after --timeout_s (2 s), well
  // before kDeadlineS.
  std::unique_ptr<Proc> node =
      RunAlone("node", {"node", "--name=worker1", "--timeout_s=2"});
  ASSERT_TRUE(node);
  EXPECT_EQ(node->code, 1) << Dump(*node);
  EXPECT_TRUE(Contains(*node, "LISTENING 127.0.0.1:")) << Dump(*node);
  EXPECT_TRUE(Contains(*node, "no run came within --timeout_s=2"))
      << Dump(*node);
}

TEST_F(ClusterTest, TheLocalDemoRunsTheSpecOnChildProcesses) {
  const std::string spec = PacedSpec("demo", 400, 0);
  // --train_limit reaches the hub and, through it, the nodes.
  std::unique_ptr<Proc> demo = RunAlone(
      "local_demo", {"--spec=" + spec, "--timeout_s=60", "--train_limit=200"});
  ASSERT_TRUE(demo);
  const std::string all = Dump(*demo);
  EXPECT_EQ(demo->code, 0) << all;
  EXPECT_TRUE(Contains(*demo, "[worker1] LISTENING 127.0.0.1:")) << all;
  EXPECT_TRUE(Contains(*demo, "[worker2] LISTENING 127.0.0.1:")) << all;
  EXPECT_TRUE(Contains(*demo, "[hub] RESULT node=worker2 model=worker2/model1 "
                              "status=done"))
      << all;
  EXPECT_TRUE(Contains(*demo, "steps=200 samples=200")) << all;
  EXPECT_TRUE(Contains(*demo, "all processes finished cleanly")) << all;
}


// ---- Issue 15: at-least-once across nodes, recovery from a dead node ------

// A frozen node is noticed within 5 s (a loaded machine can delay a
// heartbeat by a second or two, which must not kill a live node), and
// every model on a node checkpoints to the hub every 200 samples.
constexpr char kRecovery[] =
    "{heartbeat_s: 0.5, connection_timeout_s: 5, checkpoint_every: 200}";
constexpr double kConnectionTimeoutS = 5;
constexpr uint64_t kStream = 4000;
// The hub prints worker2/model1's report at this step: it has checkpointed
// at least once (at 200, 400, 600).
constexpr char kMidStream[] = "metric worker2/model1 test step 600";

// The sha256 of worker2/model1's final checkpoint when the recovery spec
// runs in this process, nobody killed: what a recovered model must match.
std::string UninterruptedSha(const std::string& name) {
  absl::StatusOr<topology::TopologySpec> spec =
      topology::LoadSpecFile(PacedSpec(name, kStream, 0, kRecovery));
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return "";
  topology::RunOptions options;
  options.print = false;
  options.timeout_s = kDeadlineS;
  absl::StatusOr<topology::RunReport> run = topology::RunSpec(*spec, options);
  EXPECT_TRUE(run.ok()) << run.status();
  if (!run.ok()) return "";
  for (const actors::ModelSummary& m : run->models) {
    if (m.name == "worker2/model1") {
      return registry::BlobStore::Sha256Hex(m.checkpoint);
    }
  }
  ADD_FAILURE() << "no worker2/model1 in the reference run";
  return "";
}

report::Json ReportDoc(const std::string& path) {
  return report::Json::parse(base::ReadFile(path).value_or(""), nullptr,
                             /*allow_exceptions=*/false);
}

// What every recovery test expects of the hub's report: worker2/model1
// moved to the hub, resumed from a checkpoint, and ended having trained on
// every published sample once, to the same bits as the uninterrupted run.
void ExpectRecovered(const std::string& report_path,
                     const std::string& reference, const std::string& all) {
  auto results = Results(report_path, all);
  const report::Json& moved = results["worker2/model1"];
  EXPECT_EQ(moved["status"], "done") << all;
  EXPECT_EQ(moved["node"], "") << all;
  EXPECT_EQ(moved["moved_from"], "worker2") << all;
  const uint64_t resumed_at = moved.value("resumed_at", uint64_t{0});
  EXPECT_GE(resumed_at, 200u) << all;
  EXPECT_EQ(resumed_at % 200, 0u) << all;
  EXPECT_EQ(moved["samples"], kStream) << all;
  EXPECT_EQ(moved["steps"], kStream) << all;
  EXPECT_EQ(moved["duplicates"], 0) << all;
  EXPECT_EQ(moved.value("checkpoint_sha256", ""), reference) << all;
  EXPECT_EQ(results["worker1/model1"]["status"], "done") << all;
  EXPECT_EQ(results["worker1/model1"]["samples"], kStream) << all;
  const report::Json doc = ReportDoc(report_path);
  ASSERT_TRUE(doc.contains("recovery")) << all;
  const report::Json& r = doc["recovery"];
  EXPECT_EQ(r["nodes_lost"], 1) << all;
  EXPECT_EQ(r["models_moved"], report::Json::array({"worker2/model1"}))
      << all;
  EXPECT_EQ(r["samples_replayed"], kStream - resumed_at) << all;
  EXPECT_GE(r.value("checkpoints_received", 0), 1) << all;
  EXPECT_EQ(doc["lost_nodes"], report::Json::array({"worker2"})) << all;
}

TEST_F(ClusterTest, AKilledNodesModelResumesOnTheHubAndMissesNoSample) {
  const std::string reference = UninterruptedSha("kill9_reference");
  Cluster c;
  ASSERT_TRUE(
      StartCluster(&c, PacedSpec("kill9", kStream, 2000, kRecovery), "kill9"));
  Proc *hub = c.hub.get(), *w1 = c.w1.get(), *w2 = c.w2.get();
  bool sent = false;
  RunToEnd({hub, w1, w2}, SignalWhen(hub, kMidStream, w2, SIGKILL, &sent));
  const std::string all = Dump(*hub) + Dump(*w1) + Dump(*w2);
  ASSERT_TRUE(sent) << all;
  EXPECT_EQ(w2->code, 128 + SIGKILL) << all;
  EXPECT_EQ(hub->code, 0) << all;
  EXPECT_EQ(w1->code, 0) << all;
  EXPECT_TRUE(Contains(*hub, "lost node worker2")) << all;
  EXPECT_TRUE(Contains(*hub, "hub: moved worker2/model1 off node worker2 to "
                             "the hub: resumes from its checkpoint at "))
      << all;
  EXPECT_TRUE(Contains(*hub, "moved worker2/model1 off worker2: resumed at "))
      << all;
  // The hub kept each checkpoint beside the log and resumed from the file
  // (the recovered model's bits below say it read back exactly).
  absl::StatusOr<std::string> kept = base::ReadFile(
      TmpPath("kill9_log") + "/checkpoints/worker2__model1.ckpt");
  ASSERT_TRUE(kept.ok()) << kept.status() << all;
  EXPECT_EQ(kept->rfind("TBCKPT1\n", 0), 0u);
  ExpectRecovered(c.report, reference, all);
}

TEST_F(ClusterTest, AFrozenNodeIsDeclaredDeadWithinTheConnectionTimeout) {
  Cluster c;
  ASSERT_TRUE(StartCluster(&c, PacedSpec("sigstop", kStream, 2000, kRecovery),
                           "sigstop"));
  Proc *hub = c.hub.get(), *w1 = c.w1.get(), *w2 = c.w2.get();
  using Clock = std::chrono::steady_clock;
  Clock::time_point stopped, lost;
  bool sent = false, declared = false;
  RunToEnd({hub, w1}, [&](Proc& p, const std::string& line) {
    if (&p != hub) return;
    if (!sent && absl::StrContains(line, kMidStream)) {
      EXPECT_TRUE(w2->process->Signal(SIGSTOP).ok());
      stopped = Clock::now();
      sent = true;
    } else if (sent && !declared &&
               absl::StrContains(line, "lost node worker2")) {
      lost = Clock::now();
      declared = true;
    }
  });
  w2->process->Kill();
  const std::string all = Dump(*hub) + Dump(*w1);
  ASSERT_TRUE(sent && declared) << all;
  const double after_s = std::chrono::duration<double>(lost - stopped).count();
  // Not before a heartbeat could have been missed, and within the timeout
  // plus a heartbeat (and slack for a loaded machine).
  EXPECT_GE(after_s, kConnectionTimeoutS - 1) << all;
  EXPECT_LE(after_s, kConnectionTimeoutS + 3) << all;
  EXPECT_EQ(hub->code, 0) << all;
  EXPECT_EQ(w1->code, 0) << all;
  auto results = Results(c.report, all);
  EXPECT_EQ(results["worker2/model1"]["moved_from"], "worker2") << all;
  EXPECT_EQ(results["worker2/model1"]["samples"], kStream) << all;
}

// The hub reaches worker2 through a relay, which cuts the link mid-stream:
// both processes live on, CAF 0.17 does not reconnect, the hub declares
// the node dead and the model resumes on the hub from its checkpoint.
// Over TLS: the cut session's error used to cost the hub worker1 as well
// (bus/internal/ssl_error_queue.h).
TEST_F(ClusterTest, ADroppedLinkMovesTheModelAndNoDuplicateReachesIt) {
  const std::string reference = UninterruptedSha("link_reference");
  Cluster c;
  const std::string a1 = StartNode(c.w1, "worker1");
  const std::string a2 = StartNode(c.w2, "worker2");
  ASSERT_FALSE(a1.empty() || a2.empty());
  uint32_t port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(a2.substr(a2.rfind(':') + 1), &port)) << a2;
  auto relay = testing::TcpProxy::Start(static_cast<uint16_t>(port));
  ASSERT_TRUE(relay.ok()) << relay.status();
  c.report = TmpPath("link.json");
  c.hub = StartHub(PacedSpec("link", kStream, 2000, kRecovery),
                   absl::StrCat("worker1=", a1, ",worker2=127.0.0.1:",
                                (*relay)->port()),
                   {"--report_json=" + c.report});
  ASSERT_TRUE(c.hub);
  Proc *hub = c.hub.get(), *w1 = c.w1.get(), *w2 = c.w2.get();
  bool dropped = false;
  RunToEnd({hub, w1, w2}, [&](Proc& p, const std::string& line) {
    if (!dropped && &p == hub && absl::StrContains(line, kMidStream)) {
      (*relay)->DropAll();
      dropped = true;
    }
  });
  const std::string all = Dump(*hub) + Dump(*w1) + Dump(*w2);
  ASSERT_TRUE(dropped) << all;
  EXPECT_GE((*relay)->accepted(), 1) << all;
  EXPECT_EQ(hub->code, 0) << all;
  EXPECT_EQ(w1->code, 0) << all;
  // worker2 lived on and said it lost the hub.
  EXPECT_EQ(w2->code, 1) << all;
  EXPECT_TRUE(Contains(*w2, "lost the hub at 127.0.0.1:")) << all;
  EXPECT_TRUE(Contains(*hub, "lost node worker2")) << all;
  ExpectRecovered(c.report, reference, all);
}

// ---- TLS between the processes (issue 15 item 3) --------------------------
// Every test above runs its processes with certificates from one CA
// (CertsDir), so those nodes join over TLS; these are the refusals.

// worker1 has a certificate from the cluster's CA; worker2 `worker2_flags`.
std::unique_ptr<Proc> HubAgainst(const std::vector<std::string>& worker2_flags,
                                 std::unique_ptr<Proc>& w1,
                                 std::unique_ptr<Proc>& w2) {
  const std::string a1 = StartNode(w1, "worker1");
  const std::string a2 = StartNode(w2, "worker2", worker2_flags);
  if (a1.empty() || a2.empty()) return nullptr;
  return RunAlone("hub", {"run", kClusterSpec,
                          absl::StrCat("--nodes=worker1=", a1, ",worker2=", a2)});
}

TEST_F(ClusterTest, ANodeWithASelfSignedCertificateIsRefusedNamingTheFix) {
  // Another CA's own certificate: self-signed, and the node trusts it.
  const std::string other = TmpPath("other_ca");
  ASSERT_TRUE(bus::MakeClusterCerts(other, {}).ok());
  std::unique_ptr<Proc> w1, w2;
  std::unique_ptr<Proc> hub = HubAgainst(
      {"--tls_certificate=" + other + "/ca.pem",
       "--tls_key=" + other + "/ca.key", "--tls_cafile=" + other + "/ca.pem"},
      w1, w2);
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->code, 1) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "node 'worker2': refused the bus node at"))
      << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "self-signed certificate")) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "trainbus cluster-certs")) << Dump(*hub);
  w1->process->Kill();
  w2->process->Kill();
}

TEST_F(ClusterTest, ANodeFromAnotherCaIsRefused) {
  const std::string other = TmpPath("other_cluster");
  ASSERT_TRUE(bus::MakeClusterCerts(other, {"worker2"}).ok());
  std::unique_ptr<Proc> w1, w2;
  std::unique_ptr<Proc> hub = HubAgainst({"--tls_dir=" + other}, w1, w2);
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->code, 1) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "its certificate is not signed by this run's CA"))
      << Dump(*hub);
  w1->process->Kill();
  w2->process->Kill();
}

TEST_F(ClusterTest, ANodeWithoutACertificateIsRefused) {
  std::unique_ptr<Proc> w1, w2;
  std::unique_ptr<Proc> hub = HubAgainst({"--insecure"}, w1, w2);
  ASSERT_TRUE(hub);
  EXPECT_EQ(hub->code, 1) << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "node 'worker2': refused the bus node at"))
      << Dump(*hub);
  EXPECT_TRUE(Contains(*hub, "does not answer in TLS")) << Dump(*hub);
  w1->process->Kill();
  w2->process->Kill();
}

TEST_F(ClusterTest, APlacedRunNeedsTlsOrInsecureByName) {
  std::unique_ptr<Proc> hub = Start(
      "hub", {"run", kClusterSpec,
              "--nodes=worker1=127.0.0.1:1,worker2=127.0.0.1:1"});
  std::unique_ptr<Proc> node = Start("node", {"node", "--name=worker1"});
  ASSERT_TRUE(hub && node);
  RunToEnd({hub.get(), node.get()}, nullptr);
  for (const Proc* p : {hub.get(), node.get()}) {
    EXPECT_EQ(p->code, 2) << Dump(*p);
    EXPECT_TRUE(Contains(*p, "give --tls_dir=DIR")) << Dump(*p);
    EXPECT_TRUE(Contains(*p, "or --insecure for plain TCP")) << Dump(*p);
    EXPECT_FALSE(Contains(*p, "LISTENING")) << Dump(*p);
  }
}

TEST_F(ClusterTest, InsecureRunsOnPlainTcpAndEveryProcessWarns) {
  Cluster c;
  ASSERT_TRUE(StartCluster(&c, PacedSpec("insecure", 400, 0), "insecure",
                           {"--insecure"}));
  RunToEnd({c.hub.get(), c.w1.get(), c.w2.get()}, nullptr);
  const std::string all = Dump(*c.hub) + Dump(*c.w1) + Dump(*c.w2);
  for (const Proc* p : {c.hub.get(), c.w1.get(), c.w2.get()}) {
    EXPECT_EQ(p->code, 0) << all;
    EXPECT_TRUE(Contains(*p, "WARNING: --insecure: plain TCP")) << all;
  }
  EXPECT_EQ(Results(c.report, all)["worker2/model1"]["samples"], 400) << all;
}

}  // namespace
}  // namespace trainbus

int main(int argc, char** argv) {
  return trainbus::testing::RunTestsWithProgram(argc, argv);
}
