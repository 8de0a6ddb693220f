// Multi-process cluster tests: real hub and worker processes of
// //experiments:cluster on 127.0.0.1, talking over TCP.
//
//   bazel test //tests:cluster_test
//
// The binary's path comes in as argv[1] ($(rootpath //experiments:cluster)).
// Every wait is bounded by a deadline that only matters when something is
// broken; the tests themselves react to the processes' output lines.
#include "actors/topology/cluster.h"

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace trainbus {
namespace {

std::string* g_binary = nullptr;
constexpr char kData[] = "/usr/share/datasets/fashion-mnist";
constexpr double kDeadlineS = 25;

struct Proc {
  std::string name;
  std::unique_ptr<actors::Subprocess> process;
  std::vector<std::string> lines;
  bool open = true;
  int code = -1;
};

std::unique_ptr<Proc> Start(const std::string& name,
                            std::vector<std::string> args) {
  args.insert(args.begin(), *g_binary);
  absl::StatusOr<actors::Subprocess> p = actors::Subprocess::Spawn(args);
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return nullptr;
  auto proc = std::make_unique<Proc>();
  proc->name = name;
  proc->process = std::make_unique<actors::Subprocess>(std::move(*p));
  return proc;
}

// Starts a hub and returns its "host:port" once it listens.
std::string StartHub(std::unique_ptr<Proc>& hub,
                     std::vector<std::string> args) {
  args.insert(args.begin(),
              {"--role=hub", "--port=0", absl::StrCat("--data_dir=", kData),
               "--timeout_s=60"});
  hub = Start("hub", args);
  if (!hub) return "";
  std::string line;
  while (hub->process->ReadLine(&line, kDeadlineS)) {
    hub->lines.push_back(line);
    if (absl::StartsWith(line, "LISTENING ")) return line.substr(10);
  }
  ADD_FAILURE() << "the hub did not announce its port";
  return "";
}

std::unique_ptr<Proc> StartWorker(const std::string& name,
                                  const std::string& hub,
                                  const std::string& models,
                                  const std::string& eval_every) {
  return Start(name, {"--role=worker", "--name=" + name, "--hub=" + hub,
                      "--models=" + models, absl::StrCat("--data_dir=", kData),
                      "--test_limit=1000", "--eval_subset=200",
                      "--eval_every=" + eval_every, "--timeout_s=60"});
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
      std::string line;
      // Short waits per process keep every pipe drained.
      while (p->process->ReadLine(&line, 0.02)) {
        p->lines.push_back(line);
        if (on_line) on_line(*p, line);
      }
      std::vector<std::string> rest;
      if (!p->process->ReadAvailable(&rest)) {
        for (const std::string& l : rest) {
          p->lines.push_back(l);
          if (on_line) on_line(*p, l);
        }
        p->open = false;
        --open;
      }
    }
  }
  for (Proc* p : procs) {
    EXPECT_FALSE(p->open) << p->name << " still running after " << kDeadlineS
                          << " s";
    if (p->open) p->process->Kill(SIGKILL);
    p->code = p->process->Wait();
  }
}

std::string Dump(const Proc& p) {
  std::string out = "--- " + p.name + " output:\n";
  for (const std::string& l : p.lines) absl::StrAppend(&out, l, "\n");
  return out;
}

bool Contains(const Proc& p, absl::string_view text) {
  for (const std::string& l : p.lines) {
    if (absl::StrContains(l, text)) return true;
  }
  return false;
}

// RESULT lines of the hub, by model: key -> value.
std::map<std::string, std::map<std::string, std::string>> Results(
    const Proc& hub) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const std::string& l : hub.lines) {
    if (!absl::StartsWith(l, "RESULT ")) continue;
    std::map<std::string, std::string> kv;
    for (absl::string_view part : absl::StrSplit(absl::string_view(l).substr(7),
                                                 ' ', absl::SkipEmpty())) {
      std::pair<std::string, std::string> p =
          absl::StrSplit(part, absl::MaxSplits('=', 1));
      kv[p.first] = p.second;
    }
    out[kv["model"]] = kv;
  }
  return out;
}

double Accuracy(const std::map<std::string, std::string>& result) {
  double acc = -1;
  auto it = result.find("test_accuracy");
  if (it == result.end() || !absl::SimpleAtod(it->second, &acc)) return -1;
  return acc;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (::stat(kData, &st) != 0) GTEST_SKIP() << kData << " is not installed";
    ASSERT_NE(g_binary, nullptr);
  }
};

constexpr char kSoftmax[] = "model1=softmax:opt=sgd,lr=0.01,batch=1";
constexpr char kMlp[] = "model1=mlp:hidden=32,opt=adam,lr=0.002,batch=8";

TEST_F(ClusterTest, HubAndTwoWorkersTrainAboveChance) {
  std::unique_ptr<Proc> hub;
  const std::string address =
      StartHub(hub, {"--workers=2", "--train_limit=2000"});
  ASSERT_FALSE(address.empty());
  std::unique_ptr<Proc> w1 = StartWorker("worker1", address, kSoftmax, "200");
  std::unique_ptr<Proc> w2 = StartWorker("worker2", address, kMlp, "50");
  ASSERT_TRUE(w1 && w2);
  RunToEnd({hub.get(), w1.get(), w2.get()}, nullptr);

  const std::string all = Dump(*hub) + Dump(*w1) + Dump(*w2);
  EXPECT_EQ(hub->code, 0) << all;
  EXPECT_EQ(w1->code, 0) << all;
  EXPECT_EQ(w2->code, 0) << all;
  auto results = Results(*hub);
  ASSERT_EQ(results.size(), 2u) << all;
  for (const char* model : {"worker1/model1", "worker2/model1"}) {
    ASSERT_EQ(results.count(model), 1u) << model << "\n" << all;
    EXPECT_EQ(results[model]["status"], "done") << all;
    EXPECT_EQ(results[model]["samples"], "2000") << all;
    // Ten classes: chance is 0.1.
    EXPECT_GT(Accuracy(results[model]), 0.3) << model << "\n" << all;
  }
  // Metrics travelled back to the hub while training.
  EXPECT_TRUE(Contains(*hub, "hub: worker2/model1 test step")) << all;
}

TEST_F(ClusterTest, AWorkerKilledMidRunIsLostAndTheOthersFinish) {
  std::unique_ptr<Proc> hub;
  // A paced stream (about 2 s) so that the kill lands mid-run.
  const std::string address =
      StartHub(hub, {"--workers=2", "--train_limit=4000", "--rate=2000"});
  ASSERT_FALSE(address.empty());
  std::unique_ptr<Proc> w1 = StartWorker("worker1", address, kSoftmax, "200");
  std::unique_ptr<Proc> w2 = StartWorker("worker2", address, kSoftmax, "20");
  ASSERT_TRUE(w1 && w2);
  bool killed = false;
  RunToEnd({hub.get(), w1.get(), w2.get()},
           [&](Proc& p, const std::string& line) {
             // worker2 is training (its metrics reach the hub): kill it.
             if (!killed && &p == hub.get() &&
                 absl::StartsWith(line, "hub: worker2/model1 test step")) {
               w2->process->Kill(SIGKILL);
               killed = true;
             }
           });
  const std::string all = Dump(*hub) + Dump(*w1) + Dump(*w2);
  ASSERT_TRUE(killed) << all;
  EXPECT_EQ(w2->code, 128 + SIGKILL) << all;
  EXPECT_EQ(hub->code, 0) << all;
  EXPECT_EQ(w1->code, 0) << all;
  EXPECT_TRUE(Contains(*hub, "lost worker worker2")) << all;
  auto results = Results(*hub);
  EXPECT_EQ(results["worker2/model1"]["status"], "lost") << all;
  EXPECT_EQ(results["worker1/model1"]["status"], "done") << all;
  EXPECT_EQ(results["worker1/model1"]["samples"], "4000") << all;
  EXPECT_GT(Accuracy(results["worker1/model1"]), 0.3) << all;
  EXPECT_TRUE(Contains(*hub, "1 lost (worker2)")) << all;
}

TEST_F(ClusterTest, AWorkerWhoseHubDiesSaysSoAndExits) {
  std::unique_ptr<Proc> hub;
  const std::string address =
      StartHub(hub, {"--workers=1", "--train_limit=20000", "--rate=1000"});
  ASSERT_FALSE(address.empty());
  std::unique_ptr<Proc> w1 = StartWorker("worker1", address, kSoftmax, "20");
  ASSERT_TRUE(w1);
  bool killed = false;
  RunToEnd({hub.get(), w1.get()}, [&](Proc& p, const std::string& line) {
    if (!killed && &p == hub.get() &&
        absl::StartsWith(line, "hub: worker1/model1 test step")) {
      hub->process->Kill(SIGKILL);
      killed = true;
    }
  });
  const std::string all = Dump(*hub) + Dump(*w1);
  ASSERT_TRUE(killed) << all;
  EXPECT_EQ(hub->code, 128 + SIGKILL) << all;
  EXPECT_EQ(w1->code, 1) << all;
  EXPECT_TRUE(Contains(*w1, "lost the hub at " + address)) << all;
}

TEST_F(ClusterTest, AWorkerWithoutAHubNamesTheAddress) {
  std::unique_ptr<Proc> w1 =
      StartWorker("worker1", "127.0.0.1:1", kSoftmax, "20");
  ASSERT_TRUE(w1);
  RunToEnd({w1.get()}, nullptr);
  EXPECT_EQ(w1->code, 1) << Dump(*w1);
  EXPECT_TRUE(Contains(*w1, "cannot reach the bus node at 127.0.0.1:1"))
      << Dump(*w1);
}

}  // namespace
}  // namespace trainbus

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) trainbus::g_binary = new std::string(argv[1]);
  return RUN_ALL_TESTS();
}
