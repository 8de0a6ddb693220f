#include "registry/runner_main.h"

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bus/cluster_certs.h"
#include "bus/tls.h"
#include "registry/loopback_registry.h"
#include "registry/registry_actor.h"
#include "registry/store.h"
#include "registry/test_util.h"
#include "gtest/gtest.h"

namespace trainbus::registry {
namespace {

TaskFn Train() {
  return [](const Task& task,
            const HeartbeatFn&) -> absl::StatusOr<TaskResult> {
    TaskResult result;
    result.results = {{"test_accuracy", "0.8"}};
    result.model = TaskResult::Model{"", "mlp", "w-" + task.name, {}};
    return result;
  };
}

// nullptr (and a failed test) if the store cannot be opened.
std::shared_ptr<Store> StoreWithTasks(const std::string& root, int n) {
  StoreOptions options;
  options.root = root;
  std::shared_ptr<Store> store(OrFail(Store::Open(options)));
  for (int i = 0; store != nullptr && i < n; ++i) {
    TaskSpec spec;
    spec.name = absl::StrCat("t", i);
    spec.experiment = "parallel_models";
    EXPECT_TRUE(store->CreateTask(spec).ok());
  }
  return store;
}

TEST(RunnerMainTest, RunsAgainstARegistryDirectory) {
  std::string root = testing::NewTempDir("rm");
  std::shared_ptr<Store> store = StoreWithTasks(root, 3);
  ASSERT_NE(store, nullptr);
  std::ostringstream out, err;
  int rc = RunnerMain({"--registry_dir", root, "--runner_id=r1",
                       "--lease_ms=5000", "--max_tasks=2"},
                      Train(), out, err);
  ASSERT_EQ(rc, 0) << err.str();
  EXPECT_EQ(out.str(),
            "runner r1: claimed 2, finished 2, failed 0, lease lost 0\n");
  EXPECT_EQ(OrFail(store->CheckUnfinished()), 1);
}

// The registry's TLS files: `name` of the CA in `dir`.
bus::TlsOptions Tls(const std::string& dir, const std::string& name) {
  bus::TlsSettings settings;
  settings.dir = dir;
  absl::StatusOr<bus::TlsOptions> tls = bus::ResolveTls(settings, name);
  EXPECT_TRUE(tls.ok()) << tls.status();
  return tls.value_or(bus::TlsOptions{});
}

class RegistryNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    certs_ = testing::NewTempDir("certs") + "/cluster";
    other_ = testing::NewTempDir("other") + "/cluster";
    ASSERT_TRUE(bus::MakeClusterCerts(certs_, {"registry", "runner"}).ok());
    ASSERT_TRUE(bus::MakeClusterCerts(other_, {"runner"}).ok());
    store_ = StoreWithTasks(testing::NewTempDir("rm"), 2);
    ASSERT_NE(store_, nullptr);
  }
  std::string certs_, other_;
  std::shared_ptr<Store> store_;
};

TEST_F(RegistryNodeTest, ARunnerWithTheClustersCertificateRunsItsTasks) {
  testing::LoopbackRegistry node(store_, Tls(certs_, "registry"));
  ASSERT_TRUE(node.ok()) << node.error();
  std::ostringstream out, err;
  int rc = RunnerMain({"--registry_node",
                       absl::StrCat("127.0.0.1:", node.port()),
                       "--tls_dir=" + certs_, "--runner_id=n1"},
                      Train(), out, err);
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "finished 2")) << out.str();
  EXPECT_EQ(OrFail(store_->LoadModelBlob("", "t1")), "w-t1");
  EXPECT_EQ(err.str(), "");  // no warning over TLS
}

TEST_F(RegistryNodeTest, ARunnerFromAnotherCaIsRefusedAndClaimsNothing) {
  testing::LoopbackRegistry node(store_, Tls(certs_, "registry"));
  ASSERT_TRUE(node.ok()) << node.error();
  std::ostringstream out, err;
  int rc = RunnerMain({"--registry_node",
                       absl::StrCat("127.0.0.1:", node.port()),
                       "--tls_dir=" + other_, "--runner_id=n1"},
                      Train(), out, err);
  EXPECT_EQ(rc, 1);
  EXPECT_TRUE(absl::StrContains(err.str(), "refused the registry node at"))
      << err.str();
  EXPECT_EQ(OrFail(store_->CheckUnfinished()), 2);  // nothing was claimed
}

TEST_F(RegistryNodeTest, PlainTcpOnlyByNameAndWithAWarning) {
  testing::LoopbackRegistry node(store_);
  ASSERT_TRUE(node.ok()) << node.error();
  const std::string address = absl::StrCat("127.0.0.1:", node.port());
  std::ostringstream out, err;
  EXPECT_EQ(RunnerMain({"--registry_node", address}, Train(), out, err), 2);
  EXPECT_TRUE(absl::StrContains(err.str(), "--tls_dir=DIR")) << err.str();
  EXPECT_TRUE(absl::StrContains(err.str(), "--insecure")) << err.str();
  // A TLS runner against a plain registry is told, not left hanging.
  err.str("");
  EXPECT_EQ(RunnerMain({"--registry_node", address, "--tls_dir=" + certs_},
                       Train(), out, err),
            1);
  EXPECT_TRUE(absl::StrContains(err.str(), "refused the registry node"))
      << err.str();
  err.str("");
  int rc = RunnerMain({"--registry_node", address, "--insecure",
                       "--runner_id=n1"},
                      Train(), out, err);
  EXPECT_EQ(rc, 0) << err.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "finished 2")) << out.str();
  EXPECT_TRUE(absl::StrContains(err.str(), "WARNING: --insecure")) << err.str();
}

TEST(RunnerMainTest, BadFlags) {
  std::ostringstream out, err;
  EXPECT_EQ(RunnerMain({"--lease_ms=abc"}, Train(), out, err), 2);
  EXPECT_EQ(RunnerMain({"--nope=1"}, Train(), out, err), 2);
  EXPECT_EQ(RunnerMain({"--registry_node", "localhost"}, Train(), out, err), 2);
  EXPECT_TRUE(absl::StrContains(err.str(), "host:port"));
  EXPECT_EQ(RunnerMain({"--registry_dir=/tmp", "--insecure"}, Train(), out, err),
            2);
  EXPECT_TRUE(absl::StrContains(err.str(), "are for --registry_node"));
  EXPECT_TRUE(absl::StrContains(err.str(), "`trainbus runner help`"));
}

TEST(RunnerMainTest, HelpPrintsUsageInsteadOfAnError) {
  for (const char* help : {"help", "--help", "-h"}) {
    std::ostringstream out, err;
    EXPECT_EQ(RunnerMain({help}, Train(), out, err), 0) << help;
    EXPECT_TRUE(absl::StartsWith(out.str(), "usage: trainbus runner")) << help;
    EXPECT_TRUE(absl::StrContains(out.str(), "--registry_dir")) << help;
    EXPECT_EQ(err.str(), "") << help;
  }
}

}  // namespace
}  // namespace trainbus::registry
