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
#include "caf/actor_system_config.hpp"

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

// Printed by every process that runs with --insecure.
inline constexpr char kInsecureWarning[] =
    "WARNING: --insecure: plain TCP between the nodes; anyone who can reach "
    "these ports can join the run and read its data. Make certificates with "
    "`trainbus cluster-certs DIR --nodes=...` and pass --tls_dir=DIR instead.";

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_TLS_H_
