// A spec's nodes and its hub as child processes on loopback, with their
// output interleaved: the one-command demo of a placed run
// (`bazel run //experiments:cluster`).
//
//   LocalClusterOptions o;
//   o.program = SelfExecutable();  // answers `node ...` and `run ...`
//   o.spec_path = "experiments/cluster.yaml";
//   return RunLocalCluster(o, std::cout);
//
// Each node the spec places a component on is started as
// `program node --name=N --listen=127.0.0.1:0 --tls_dir=DIR`; once all print
// LISTENING, the hub is `program run SPEC --nodes=N=127.0.0.1:PORT,...
// --tls_dir=DIR RUN_ARGS`.
#ifndef TRAINBUS_TOPOLOGY_LOCAL_CLUSTER_H_
#define TRAINBUS_TOPOLOGY_LOCAL_CLUSTER_H_

#include <ostream>
#include <string>
#include <vector>

namespace trainbus::topology {

struct LocalClusterOptions {
  std::string program;    // a binary with the `node` and `run` commands
  std::string spec_path;
  std::vector<std::string> run_args;  // for the hub (and so every node)
  double timeout_s = 600;             // for the whole demo
  // TLS between the children: `tls_dir` as `trainbus cluster-certs` makes
  // it; empty: a new CA and certificates for the hub and every node in a
  // fresh temporary directory. `insecure`: plain TCP (--insecure) instead.
  std::string tls_dir;
  bool insecure = false;
};

// Prints every process's lines as "[name]  line" and a summary line;
// returns 0 when every process exited 0, 1 otherwise, 2 for a bad spec.
int RunLocalCluster(const LocalClusterOptions& options, std::ostream& out);

// The path of the running executable (/proc/self/exe).
std::string SelfExecutable();

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_LOCAL_CLUSTER_H_
