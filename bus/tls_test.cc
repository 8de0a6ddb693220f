// TLS between two actor systems in one process, on 127.0.0.1: certificates
// from `MakeClusterCerts`, one CA joins, another CA (or a self-signed
// certificate, or plain TCP on one side) is refused with the reason.
#include "bus/tls.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/status_macros.h"
#include "base/test_dir.h"
#include "bus/bus.h"
#include "bus/cluster_certs.h"
#include "bus/internal/ssl_error_queue.h"
#include "bus/node.h"
#include "bus/test_node.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::bus {
namespace {

using ::testing::HasSubstr;

// A node whose links use `tls`.
struct Node : TestNode {
  explicit Node(const TlsOptions& tls)
      : TestNode([&](caf::actor_system_config& cfg) {
          ConfigureTls(cfg, tls);
        }) {}
};

TlsOptions Resolved(const std::string& dir, const std::string& name) {
  TlsSettings s;
  s.dir = dir;
  absl::StatusOr<TlsOptions> tls = ResolveTls(s, name);
  EXPECT_TRUE(tls.ok()) << tls.status();
  return tls.ok() ? *tls : TlsOptions{};
}

// Node `server` serves its directory with [mnist]; `client` connects.
absl::Status Join(const TlsOptions& server, const TlsOptions& client) {
  Node a(server), b(client);
  EXPECT_TRUE(a.bus->Declare({"mnist"}).ok());
  absl::StatusOr<uint16_t> port = ServeNode(*a.sys, a.bus->directory(), 0);
  if (!port.ok()) return port.status();
  absl::StatusOr<directory_actor> dir = ConnectNode(*b.sys, "127.0.0.1", *port);
  if (!dir.ok()) return dir.status();
  absl::Status imported = ImportResource(*b.bus, *dir, "mnist");
  UnserveNode(*a.sys, a.bus->directory(), *port);
  return imported;
}

// As a placed run connects: b connects to a, then a connects back to b,
// and each looks up the other's [mnist].
absl::Status BothWays(const TlsOptions& ta, const TlsOptions& tb) {
  Node a(ta), b(tb);
  EXPECT_TRUE(a.bus->Declare({"mnist"}).ok());
  EXPECT_TRUE(b.bus->Declare({"mnist"}).ok());
  TB_ASSIGN_OR_RETURN(uint16_t pa, ServeNode(*a.sys, a.bus->directory(), 0));
  TB_ASSIGN_OR_RETURN(uint16_t pb, ServeNode(*b.sys, b.bus->directory(), 0));
  TB_ASSIGN_OR_RETURN(directory_actor to_a,
                      ConnectNode(*b.sys, "127.0.0.1", pa));
  TB_ASSIGN_OR_RETURN(directory_actor to_b,
                      ConnectNode(*a.sys, "127.0.0.1", pb));
  Bus other_a(*a.sys), other_b(*b.sys);
  TB_RETURN_IF_ERROR(ImportResource(other_b, to_a, "mnist"));
  TB_RETURN_IF_ERROR(ImportResource(other_a, to_b, "mnist"));
  return absl::OkStatus();
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = base::NewTestDir("certs") + "/cluster";
    other_ = base::NewTestDir("other");
    ASSERT_TRUE(MakeClusterCerts(dir_, {"w1", "w2"}).ok());
    ASSERT_TRUE(MakeClusterCerts(other_, {"w2"}).ok());
  }
  std::string dir_, other_;
};

TEST_F(TlsTest, MakesACaAndAPairPerNameWithPrivateKeys) {
  for (const char* f : {"ca.pem", "ca.key", "hub.pem", "hub.key", "w1.pem",
                        "w1.key", "w2.pem", "w2.key"}) {
    EXPECT_TRUE(base::ReadFile(dir_ + "/" + f).ok()) << f;
  }
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/w1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700);
  for (const char* name : {"hub", "w1", "w2"}) {
    EXPECT_TRUE(CheckTls(Resolved(dir_, name)).ok()) << name;
  }
}

TEST_F(TlsTest, ASecondCallKeepsTheCaAndAddsNodes) {
  absl::StatusOr<std::string> ca = base::ReadFile(dir_ + "/ca.pem");
  ASSERT_TRUE(ca.ok());
  absl::StatusOr<std::vector<std::string>> written =
      MakeClusterCerts(dir_, {"w3"});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*base::ReadFile(dir_ + "/ca.pem"), *ca);
  EXPECT_TRUE(CheckTls(Resolved(dir_, "w3")).ok());
  EXPECT_TRUE(Join(Resolved(dir_, "w3"), Resolved(dir_, "w1")).ok());
}

TEST_F(TlsTest, BadNamesAndBrokenCasAreRefused) {
  for (const char* name : {"", "ca", "a/b", "w 1"}) {
    absl::StatusOr<std::vector<std::string>> r = MakeClusterCerts(dir_, {name});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
  ASSERT_EQ(::unlink((other_ + "/ca.key").c_str()), 0);
  absl::StatusOr<std::vector<std::string>> r = MakeClusterCerts(other_, {});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("a CA needs both"));
}

TEST_F(TlsTest, SettingsSayWhatIsMissingAndWhatToRun) {
  absl::StatusOr<TlsOptions> none = ResolveTls({}, "w1");
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("--tls_dir"));
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("--insecure"));
  EXPECT_THAT(std::string(none.status().message()),
              HasSubstr("trainbus cluster-certs"));
  TlsSettings s;
  s.dir = dir_;
  absl::StatusOr<TlsOptions> missing = ResolveTls(s, "w9");
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("--nodes=w9"));
  s.insecure = true;
  EXPECT_EQ(ResolveTls(s, "w1").status().code(),
            absl::StatusCode::kInvalidArgument);
  TlsSettings insecure;
  insecure.insecure = true;
  absl::StatusOr<TlsOptions> plain = ResolveTls(insecure, "w1");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->enabled());
}

TEST_F(TlsTest, MismatchedFilesAreErrorsBeforeAnyConnection) {
  TlsOptions wrong_key = Resolved(dir_, "w1");
  wrong_key.key = dir_ + "/w2.key";
  EXPECT_THAT(std::string(CheckTls(wrong_key).message()),
              HasSubstr("does not belong to the certificate"));
  TlsOptions other_ca = Resolved(dir_, "w1");
  other_ca.cafile = other_ + "/ca.pem";
  EXPECT_THAT(std::string(CheckTls(other_ca).message()),
              HasSubstr("is not signed by the CA"));
  TlsOptions not_pem = Resolved(dir_, "w1");
  not_pem.certificate = dir_ + "/w1.key";
  EXPECT_THAT(std::string(CheckTls(not_pem).message()),
              HasSubstr("is not a PEM certificate"));
}

TEST_F(TlsTest, NodesWithCertificatesFromOneCaJoin) {
  absl::Status joined = Join(Resolved(dir_, "w1"), Resolved(dir_, "hub"));
  EXPECT_TRUE(joined.ok()) << joined;
}

TEST_F(TlsTest, AServerFromAnotherCaIsRefusedNamingTheReason) {
  absl::Status joined = Join(Resolved(other_, "w2"), Resolved(dir_, "hub"));
  EXPECT_EQ(joined.code(), absl::StatusCode::kPermissionDenied) << joined;
  EXPECT_THAT(std::string(joined.message()),
              HasSubstr("not signed by this run's CA"));
  EXPECT_THAT(std::string(joined.message()),
              HasSubstr("trainbus cluster-certs"));
}

TEST_F(TlsTest, ASelfSignedCertificateIsRefused) {
  // The other CA's own certificate: self-signed, and its own trust anchor.
  TlsOptions self_signed{other_ + "/ca.pem", other_ + "/ca.key",
                         other_ + "/ca.pem"};
  ASSERT_TRUE(CheckTls(self_signed).ok());
  absl::Status joined = Join(self_signed, Resolved(dir_, "hub"));
  EXPECT_EQ(joined.code(), absl::StatusCode::kPermissionDenied) << joined;
  EXPECT_THAT(std::string(joined.message()), HasSubstr("self-signed"));
}

TEST_F(TlsTest, AClientFromAnotherCaIsRefusedByTheServer) {
  // The client trusts the server's CA but has a certificate of its own CA.
  TlsOptions client = Resolved(other_, "w2");
  client.cafile = dir_ + "/ca.pem";
  absl::Status joined = Join(Resolved(dir_, "w1"), client);
  EXPECT_EQ(joined.code(), absl::StatusCode::kPermissionDenied) << joined;
  EXPECT_THAT(std::string(joined.message()),
              HasSubstr("refused this process's certificate"));
}

// A stranger refused by a node must not cost that node its healthy peers.
// CAF 0.17.6's openssl session never empties the thread's OpenSSL error
// queue, and every connection of a system shares its multiplexer thread: the
// refused handshake's error stayed queued, the next SSL_read of a healthy
// session that would block was reported as that error, and the session was
// closed (bus/internal/ssl_error_queue.h).
TEST_F(TlsTest, ARefusedStrangerDoesNotCostANodeItsPeers) {
  ASSERT_TRUE(internal::SslErrorQueueGuarded());
  Node hub(Resolved(dir_, "hub")), w1(Resolved(dir_, "w1"));
  ASSERT_TRUE(hub.bus->Declare({"mnist"}).ok());
  absl::StatusOr<uint16_t> port = ServeNode(*hub.sys, hub.bus->directory(), 0);
  ASSERT_TRUE(port.ok()) << port.status();
  absl::StatusOr<directory_actor> dir =
      ConnectNode(*w1.sys, "127.0.0.1", *port);
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(ImportResource(*w1.bus, *dir, "mnist").ok());
  for (int stranger = 0; stranger < 3; ++stranger) {
    Node other(Resolved(other_, "w2"));
    absl::StatusOr<directory_actor> refused =
        ConnectNode(*other.sys, "127.0.0.1", *port);
    EXPECT_FALSE(refused.ok());
    Bus again(*w1.sys);
    absl::Status imported = ImportResource(again, *dir, "mnist");
    EXPECT_TRUE(imported.ok())
        << "after stranger " << stranger << ": " << imported;
  }
  UnserveNode(*hub.sys, hub.bus->directory(), *port);
}

TEST_F(TlsTest, PlainTcpOnOneSideIsNamed) {
  absl::Status tls_to_plain = Join(TlsOptions{}, Resolved(dir_, "hub"));
  EXPECT_EQ(tls_to_plain.code(), absl::StatusCode::kFailedPrecondition)
      << tls_to_plain;
  EXPECT_THAT(std::string(tls_to_plain.message()), HasSubstr("--insecure"));
  absl::Status plain_to_tls = Join(Resolved(dir_, "w1"), TlsOptions{});
  EXPECT_EQ(plain_to_tls.code(), absl::StatusCode::kFailedPrecondition)
      << plain_to_tls;
  EXPECT_THAT(std::string(plain_to_tls.message()), HasSubstr("speaks TLS"));
}

// As a placed run connects: a second TLS connection, back from the first
// system to the second, keeps the route. Before the error-queue guard it
// lost it (the duplicate connection's close poisoned the queue), which is
// why the placed runner still gets the hub's directory through the hub's
// own connection (topology/node.cc) instead of connecting back.
TEST_F(TlsTest, ASecondConnectionBackKeepsTheRoute) {
  absl::Status plain = BothWays(TlsOptions{}, TlsOptions{});
  EXPECT_TRUE(plain.ok()) << plain;
  absl::Status tls = BothWays(Resolved(dir_, "w1"), Resolved(dir_, "hub"));
  EXPECT_TRUE(tls.ok()) << tls;
}

TEST_F(TlsTest, PlainTcpStillWorksWhenBothSidesAskForIt) {
  EXPECT_TRUE(Join(TlsOptions{}, TlsOptions{}).ok());
}

}  // namespace
}  // namespace trainbus::bus
