// bazel run //experiments:cluster [-- RUN FLAGS]   (local demo)
// cluster node --name=worker1 --listen=127.0.0.1:4101
// cluster run experiments/cluster.yaml --nodes=worker1=127.0.0.1:4101,...
// cluster run experiments/cluster.yaml          (the same spec in-process)
// cluster cluster-certs DIR --nodes=worker1,worker2   (trainbus cluster-certs)
//
// experiments/cluster.yaml across processes: the demo starts a `node` child
// for each of the spec's nodes and a hub child (`run --nodes=...`) on
// loopback, all this same binary, and prints their interleaved output and a
// summary. `node` and `run` are `trainbus node` and `trainbus run --nodes`.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "bus/cluster_certs.h"
#include "topology/cli.h"
#include "topology/local_cluster.h"
#include "topology/node.h"

int main(int argc, char** argv) {
  namespace tt = trainbus::topology;
  // Lines, not blocks, even into a pipe: the demo and tests read them live.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::cout << std::unitbuf;
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string command = args.empty() ? "" : args[0];
  if (command == "cluster-certs") {
    args.erase(args.begin());
    return trainbus::bus::ClusterCertsMain(args, std::cout, std::cerr);
  }
  if (command == "node" || command == "run") {
    args.erase(args.begin());
    if (command == "node") {
      return tt::NodeMain(args, std::cout, std::cerr, tt::ApplyRunFlags);
    }
    return tt::HasNodesFlag(args)
               ? tt::PlacedRunMain(args, std::cout, std::cerr,
                                   tt::ApplyRunFlags)
               : tt::RunMain(args, std::cout, std::cerr);
  }
  tt::LocalClusterOptions options;
  options.program = tt::SelfExecutable();
  // In bazel's runfiles; absolute, for the children.
  options.spec_path = std::filesystem::absolute("experiments/cluster.yaml");
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      std::cout << "usage: cluster [--spec=SPEC] [--timeout_s=S] "
                   "[--tls_dir=DIR | --insecure] [RUN FLAGS]\n"
                   "  TLS between the children, with certificates made for\n"
                   "  them in a new temporary directory unless --tls_dir\n"
                   "  names one (`cluster cluster-certs DIR --nodes=...`)\n"
                   "       cluster node --help | cluster run SPEC --nodes=..."
                   " | cluster cluster-certs --help\n";
      return 0;
    }
    if (a == "--insecure") {
      options.insecure = true;
    } else if (absl::StartsWith(a, "--tls_dir=")) {
      options.tls_dir = tt::UserPath(a.substr(10));
    } else if (absl::StartsWith(a, "--spec=")) {
      options.spec_path = tt::UserPath(a.substr(7));
    } else if (absl::StartsWith(a, "--timeout_s=")) {
      if (!absl::SimpleAtod(a.substr(12), &options.timeout_s) ||
          options.timeout_s <= 0) {
        std::cerr << "cluster: " << a << ": give a number of seconds above 0\n";
        return 2;
      }
    } else {
      options.run_args.push_back(a);
    }
  }
  return tt::RunLocalCluster(options, std::cout);
}
