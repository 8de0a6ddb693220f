// TLS between the processes of a placed run, through CAF 0.17's openssl
// module: every process has a certificate signed by the cluster's CA
// (`trainbus cluster-certs DIR` makes them), presents it and verifies its
// peer's, so a process without such a certificate cannot join. Plain TCP
// only when asked for by name (`insecure`).
//
//   bus::TlsSettings s;  s.dir = "certs";               // --tls_dir=certs
//   TB_ASSIGN_OR_RETURN(bus::TlsOptions tls, bus::ResolveTls(s, "worker1"));
//   caf::actor_system_config cfg;
//   cfg.load<caf::io::middleman>();
//   bus::ConfigureTls(cfg, tls);     // load<caf::openssl::manager>, keys
//   caf::actor_system sys{cfg};      // bus/node.h then serves and connects
//                                    // through openssl
#ifndef TRAINBUS_BUS_TLS_H_
#define TRAINBUS_BUS_TLS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/openssl/publish.hpp"
#include "caf/openssl/remote_actor.hpp"

namespace trainbus::bus {

// How a process was told to talk to its peers: from flags (--tls_dir,
// --tls_certificate, --tls_key, --tls_cafile, --insecure) or a spec's
// `tls:` section. Either a directory or the three files, or insecure.
struct TlsSettings {
  bool insecure = false;
  std::string dir;          // DIR/ca.pem, DIR/<name>.pem, DIR/<name>.key
  std::string certificate;  // PEM: this process's certificate
  std::string key;          // PEM: its private key (unencrypted)
  std::string cafile;       // PEM: the cluster CA, which signs every peer
  bool given() const {
    return insecure || !dir.empty() || !certificate.empty() || !key.empty() ||
           !cafile.empty();
  }
};

// --tls_dir, --tls_certificate, --tls_key, --tls_cafile into `tls` (the
// value as given); false if `name` is none of them. --insecure is a switch
// the caller reads.
bool ReadTlsFlag(const std::string& name, const std::string& value,
                 TlsSettings* tls);

// Those flags' help lines, for every command that has them.
inline constexpr char kTlsFlagsHelp[] =
    "  --tls_dir=DIR         TLS between the processes: DIR/ca.pem and this\n"
    "                        process's DIR/<name>.pem and .key (the hub's\n"
    "                        and serve's name is hub), as `trainbus\n"
    "                        cluster-certs DIR --nodes=...` makes them; or:\n"
    "  --tls_certificate=PEM --tls_key=PEM --tls_cafile=PEM\n"
    "  --insecure            plain TCP instead (anyone who can reach the\n"
    "                        ports can join): asked for by name, warned of\n";

// What a process runs with: the three files, or none (plain TCP).
struct TlsOptions {
  std::string certificate, key, cafile;
  bool enabled() const { return !certificate.empty(); }
};

// The settings of `name` (the hub is "hub"): loaded and checked
// (CheckTls). Nothing given is an error naming --tls_dir, `trainbus
// cluster-certs` and --insecure; `insecure` gives plain TCP (print
// kInsecureWarning).
absl::StatusOr<TlsOptions> ResolveTls(const TlsSettings& settings,
                                      const std::string& name);

// Reads the files, checks that the key is the certificate's and that the
// CA signed the certificate, so that a bad file is an error here rather
// than a failed handshake later (CAF's openssl module throws on a file it
// cannot load, which would end the process).
absl::Status CheckTls(const TlsOptions& tls);

// Loads caf::openssl::manager with the openssl.* settings (certificate,
// key, cafile: peers are verified). Call after load<caf::io::middleman>;
// a disabled `tls` leaves the config on plain TCP.
void ConfigureTls(caf::actor_system_config& cfg, const TlsOptions& tls);

// The files the system of `cfg` was configured with (none: plain TCP).
TlsOptions TlsOf(const caf::actor_system_config& cfg);

// Why a connection to host:port may have failed: makes one handshake of
// its own (at most `timeout`) and says whether the peer's certificate is
// not from this CA, the peer refused ours, the peer speaks plain TCP while
// we want TLS, or TLS while we are insecure. OK when it finds no such
// mismatch (including a peer that is not reachable yet).
absl::Status ProbeTls(const std::string& host, uint16_t port,
                      const TlsOptions& tls, absl::Duration timeout);

// Serves `handle` on host:port (0: any free port) through CAF's openssl
// module when the system loaded it, else over plain TCP; the bound port.
template <class Handle>
caf::expected<uint16_t> PublishActor(caf::actor_system& sys,
                                     const Handle& handle, uint16_t port,
                                     const std::string& host) {
  return sys.has_openssl_manager()
             ? caf::openssl::publish(handle, port, host.c_str(), true)
             : sys.middleman().publish(handle, port, host.c_str(), true);
}

// Stops serving `whom` on `port` (what PublishActor opened).
void UnpublishActor(caf::actor_system& sys, const caf::actor_addr& whom,
                    uint16_t port);

// The actor served on host:port, over TLS when the system loaded the
// openssl module. A failure is probed (ProbeTls): a TLS mismatch is
// PermissionDenied or FailedPrecondition naming `what` at host:port and
// the reason; anything else is Unavailable with what to check.
absl::Status ConnectFailed(caf::actor_system& sys, const std::string& what,
                           const std::string& host, uint16_t port,
                           const caf::error& error);
template <class Handle>
absl::StatusOr<Handle> ConnectActor(caf::actor_system& sys,
                                    const std::string& what,
                                    const std::string& host, uint16_t port) {
  caf::expected<Handle> remote =
      sys.has_openssl_manager()
          ? caf::openssl::remote_actor<Handle>(sys, host, port)
          : sys.middleman().remote_actor<Handle>(host, port);
  if (!remote) return ConnectFailed(sys, what, host, port, remote.error());
  return *std::move(remote);
}

// Printed by every process that runs with --insecure.
inline constexpr char kInsecureWarning[] =
    "WARNING: --insecure: plain TCP between the nodes; anyone who can reach "
    "these ports can join the run and read its data. Make certificates with "
    "`trainbus cluster-certs DIR --nodes=...` and pass --tls_dir=DIR instead.";

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_TLS_H_
