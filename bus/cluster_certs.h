// `trainbus cluster-certs DIR [--nodes=a,b,c]`: a CA and one certificate
// per process of a placed run, made with libcrypto (no `openssl` program),
// in the layout bus/tls.h's --tls_dir reads:
//   DIR/ca.pem, DIR/ca.key          the cluster CA (kept: a second call adds
//                                   certificates signed by the same CA)
//   DIR/hub.pem, DIR/hub.key        the hub (`trainbus run --nodes`)
//   DIR/<node>.pem, DIR/<node>.key  each node (`trainbus node --name=<node>`)
// Keys are EC P-256, unencrypted, mode 0600 in a 0700 directory; the
// certificates are X.509 v3 with SHA-256 signatures.
//
//   absl::StatusOr<std::vector<std::string>> written =
//       bus::MakeClusterCerts("certs", {"worker1", "worker2"});
#ifndef TRAINBUS_BUS_CLUSTER_CERTS_H_
#define TRAINBUS_BUS_CLUSTER_CERTS_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace trainbus::bus {

// Makes DIR (0700) and its CA unless DIR has one, then a certificate and
// key for "hub" and each of `nodes`, replacing any of those names had.
// Returns the files written. Names are letters, digits, '.', '_', '-'.
absl::StatusOr<std::vector<std::string>> MakeClusterCerts(
    const std::string& dir, const std::vector<std::string>& nodes);

// The command line: `DIR [--nodes=a,b,c]`; prints what it wrote.
int ClusterCertsMain(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err);

}  // namespace trainbus::bus

#endif  // TRAINBUS_BUS_CLUSTER_CERTS_H_
