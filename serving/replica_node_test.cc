// Serving replicas on other processes: two real `trainbus replica-node`
// processes on 127.0.0.1 (TLS from one CA), a Server in this process with
// --replica_nodes, steady load from client threads, and one node killed
// with SIGKILL mid-load: every request is answered 200, the dead node's
// replica leaves the rotation, and /metrics counts what was retried.
//
// The binary's path comes in as argv[1] ($(rootpath //tools:trainbus)).
#include "serving/replica_node.h"

#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "base/program_testing.h"
#include "base/subprocess.h"
#include "base/test_dir.h"
#include "bus/cluster_certs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "serving/server.h"
#include "serving/serving_testing.h"

namespace trainbus::serving {
namespace {

using ::testing::HasSubstr;

constexpr int kClients = 4;
constexpr int kPerClient = 60;

struct ReplicaNode {
  std::unique_ptr<base::Subprocess> process;
  std::pair<std::string, uint16_t> address;
};

// Starts `trainbus replica-node --name=<name>` with `tls` and waits (60 s at
// most) for its LISTENING line.
ReplicaNode StartNode(const std::string& name, const std::string& tls) {
  ReplicaNode n;
  absl::StatusOr<base::Subprocess> p = base::Subprocess::Spawn(
      {base::ProgramUnderTest(), "replica-node", "--name=" + name,
       "--listen=127.0.0.1:0", tls},
      base::OutputPiped());
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return n;
  n.process = std::make_unique<base::Subprocess>(*std::move(p));
  absl::StatusOr<std::string> line;
  while ((line = n.process->ReadLine(absl::Seconds(60))).ok()) {
    if (!absl::StartsWith(*line, "LISTENING 127.0.0.1:")) continue;
    uint32_t port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(line->substr(20), &port)) << *line;
    n.address = {"127.0.0.1", static_cast<uint16_t>(port)};
    return n;
  }
  ADD_FAILURE() << name << " did not announce its port";
  return n;
}

// The value of the Prometheus sample `name` in `text` (-1 if absent).
double Sample(const std::string& text, const std::string& name) {
  const size_t at = text.find(name + " ");
  double v = -1;
  if (at == std::string::npos) return v;
  const size_t end = text.find('\n', at);
  EXPECT_TRUE(absl::SimpleAtod(
      text.substr(at + name.size() + 1, end - at - name.size() - 1), &v));
  return v;
}

class ReplicaNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(base::ProgramUnderTest().empty())
        << "pass the trainbus binary as argv[1]";
    certs_ = base::NewTestDir("replica_certs") + "/certs";
    ASSERT_TRUE(bus::MakeClusterCerts(certs_, {"r1", "r2"}).ok());
    store_ = testing::NewStore("replica_node");
    ASSERT_GT(testing::SaveTrainedSoftmax(*store_, "", "shirts", 5), 0);
  }
  std::string certs_;
  std::unique_ptr<registry::Store> store_;
};

TEST_F(ReplicaNodeTest, AKilledNodeLeavesTheRotationAndNoRequestIsLost) {
  ReplicaNode r1 = StartNode("r1", "--tls_dir=" + certs_);
  ReplicaNode r2 = StartNode("r2", "--tls_dir=" + certs_);
  ASSERT_TRUE(r1.process && r2.process);
  absl::Mutex log_mu;
  std::vector<std::string> logs;
  ServeOptions o;
  o.model = "shirts";
  o.http.port = 0;
  o.replicas = 2;
  o.replica_nodes = {r1.address, r2.address};
  o.tls.dir = certs_;
  o.poll_interval = absl::ZeroDuration();
  o.batching.max_batch_size = 4;
  o.batching.num_batch_threads = 2;
  o.log = [&](absl::string_view line) {
    absl::MutexLock lock(&log_mu);
    logs.emplace_back(line);
  };
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(store_.get(), o);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  const std::string png = testing::Png(3);
  std::atomic<int> answered{0};
  std::mutex statuses_mu;
  std::map<int, int> statuses;  // HTTP status -> count (-1: no response)
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(60, 0);
      for (int i = 0; i < kPerClient; ++i) {
        httplib::Result r =
            client.Post("/v1/models/shirts:classify", png, "image/png");
        std::lock_guard<std::mutex> lock(statuses_mu);
        ++statuses[r ? r->status : -1];
        ++answered;
      }
    });
  }
  // Mid-load: once a third of the requests are answered.
  const bool midway = testing::WaitFor(
      [&] { return answered.load() >= kClients * kPerClient / 3; },
      "a third of the requests answered", 120);
  ASSERT_TRUE(r2.process->Signal(SIGKILL).ok());
  for (std::thread& t : clients) t.join();
  EXPECT_TRUE(midway);
  EXPECT_EQ(statuses[200], kClients * kPerClient)
      << "statuses: " << ::testing::PrintToString(statuses);

  httplib::Client client("127.0.0.1", port);
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(Sample(metrics->body,
                   "trainbus_serving_replicas_out{model=\"shirts\"}"),
            1)
      << metrics->body;
  const double retries = Sample(
      metrics->body, "trainbus_serving_replica_retries_total{model=\"shirts\"}");
  EXPECT_GE(retries, 0) << metrics->body;
  std::printf("retried batches after the kill: %.0f\n", retries);
  if (retries > 0) {
    absl::MutexLock lock(&log_mu);
    bool said = false;
    for (const std::string& l : logs) said |= absl::StrContains(l, "left the rotation");
    EXPECT_TRUE(said) << ::testing::PrintToString(logs);
  }
  server->reset();
  ASSERT_TRUE(r1.process->Signal(SIGTERM).ok());
  absl::StatusOr<base::ExitStatus> exit =
      r1.process->WaitOrKill(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->Describe();
  (void)r2.process->WaitOrKill(absl::Seconds(10));
}

// SIGTERM ends a node whose replicas still serve a gateway (one that lost
// the node could never stop them): the host ends them with itself.
TEST_F(ReplicaNodeTest, SigtermStopsANodeWhoseReplicasStillServe) {
  ReplicaNode r1 = StartNode("r1", "--tls_dir=" + certs_);
  ASSERT_TRUE(r1.process);
  ServeOptions o;
  o.model = "shirts";
  o.http.port = 0;
  o.replicas = 2;
  o.replica_nodes = {r1.address};
  o.tls.dir = certs_;
  o.poll_interval = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(store_.get(), o);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Result r = client.Post("/v1/models/shirts:classify",
                                  testing::Png(3), "image/png");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(r1.process->Signal(SIGTERM).ok());
  absl::StatusOr<base::ExitStatus> exit =
      r1.process->WaitOrKill(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success()) << exit->Describe();
}

TEST_F(ReplicaNodeTest, ReplicaNodesNeedTlsOrInsecureByName) {
  ServeOptions o;
  o.model = "shirts";
  o.http.port = 0;
  o.replica_nodes = {{"127.0.0.1", 1}};
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(store_.get(), o);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()),
              HasSubstr("--insecure"));
}

TEST_F(ReplicaNodeTest, ANodeFromAnotherCaIsRefused) {
  const std::string other = base::NewTestDir("other_ca") + "/certs";
  ASSERT_TRUE(bus::MakeClusterCerts(other, {"r1"}).ok());
  ReplicaNode r1 = StartNode("r1", "--tls_dir=" + other);
  ASSERT_TRUE(r1.process);
  ServeOptions o;
  o.model = "shirts";
  o.http.port = 0;
  o.replica_nodes = {r1.address};
  o.tls.dir = certs_;
  o.poll_interval = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(store_.get(), o);
  // The version is loaded but not available: its replica was refused.
  if (server.ok()) {
    httplib::Client client("127.0.0.1", (*server)->port());
    httplib::Result status = client.Get("/v1/models/shirts");
    ASSERT_TRUE(status);
    EXPECT_THAT(status->body, HasSubstr("not signed by this run's CA"));
  } else {
    EXPECT_THAT(std::string(server.status().message()),
                HasSubstr("not signed by this run's CA"));
  }
  r1.process->Kill();
}

}  // namespace
}  // namespace trainbus::serving

int main(int argc, char** argv) {
  return trainbus::base::RunTestsWithProgram(argc, argv);
}
