// trainbus: the command line.
//
//   trainbus registry ls models --sort 'test_accuracy desc'
//   trainbus registry best --sort test_accuracy
//   trainbus runner --registry_dir=DIR        (claims and trains sweep tasks)
//   trainbus registry-node --registry_dir=DIR --listen=0.0.0.0:4200 --tls_dir=certs
//   trainbus runner --registry_node=HOST:4200 --tls_dir=certs   (elsewhere)
//   trainbus run experiments/parallel_models.yaml --epochs=2
//   trainbus reproduce 3 --registry_dir=DIR  (re-runs run 3, compares weights)
//   trainbus validate experiments/parallel_models.yaml
//   trainbus describe experiments/parallel_models.yaml --format=dot
//   trainbus serve --registry_dir=DIR --model=NAME   (TF Serving REST API)
//   trainbus cluster-certs certs --nodes=worker1,worker2
//   trainbus node --name=worker1 --listen=127.0.0.1:4101 --tls_dir=certs
//   trainbus run experiments/cluster.yaml --nodes=worker1=127.0.0.1:4101,...
//       --tls_dir=certs
//   trainbus predict --model=NAME@production --input=DIR|IDX  (into the registry)
//
// `bazel run //tools:trainbus -- <command> ...`; the experiments are
// `bazel run //experiments:<name>`.
#include <iostream>
#include <utility>
#include <string>
#include <vector>

#include "bus/cluster_certs.h"
#include "registry/registry_cli.h"
#include "registry/registry_node.h"
#include "actors/topology/train_task.h"
#include "topology/cli.h"
#include "topology/node.h"
#include "topology/reproduce.h"
#include "serving/batch_predict.h"
#include "serving/replica_node.h"
#include "serving/serve_main.h"

namespace {

constexpr char kUsage[] =
    "usage: trainbus <command> [args]\n"
    "commands:\n"
    "  registry ...   datasets, models, logs and tasks in the registry\n"
    "                 (ls|show|best|tasks|unfinished|alias|delete|verify;\n"
    "                  `trainbus registry help`)\n"
    "  runner ...     claim training tasks from a registry and run them\n"
    "                 (--registry_dir=DIR | --registry_node=HOST:PORT\n"
    "                  --tls_dir=DIR, --data_dir, --lease_ms, --max_tasks,\n"
    "                  --forever; `trainbus runner help`)\n"
    "  registry-node ...  serves a registry to other machines' runners\n"
    "                 (--registry_dir=DIR --listen=HOST:PORT --tls_dir=DIR;\n"
    "                  `trainbus registry-node help`)\n"
    "  run SPEC ...   run a topology spec in this process (--epochs,\n"
    "                 --models, --train_limit, ...; `trainbus run --help`);\n"
    "                 with --nodes=n1=HOST:PORT,... its `node:` parts run\n"
    "                 on those nodes\n"
    "  reproduce ID   re-run recorded run ID from its manifest and compare\n"
    "                 the final checkpoints (--registry_dir, --out_dir;\n"
    "                  `trainbus reproduce --help`)\n"
    "  validate SPEC  check a topology spec; every error with line:column\n"
    "  describe SPEC  the topology as tables, or --format=dot for Graphviz\n"
    "  node ...       a worker node for `run --nodes` (--name=N\n"
    "                 --listen=HOST:PORT --tls_dir=DIR; `trainbus node --help`)\n"
    "  cluster-certs DIR [--nodes=a,b]  a CA and TLS certificates for the\n"
    "                 hub and each node of a placed run\n"
    "  serve ...      serve a registry model over TF Serving's REST API\n"
    "                 (--registry_dir=DIR --model=NAME --port=8501;\n"
    "                  `trainbus serve help`)\n"
    "  replica-node ...  hosts serving replicas for `serve --replica_nodes`\n"
    "                 (--name=N --listen=HOST:PORT --tls_dir=DIR)\n"
    "  predict ...    batch inference into the registry's predictions table\n"
    "                 (--model=NAME@ALIAS --input=DIR|IDX --batch_size=1000;\n"
    "                  `trainbus predict help`)\n"
    "experiments: bazel run //experiments:parallel_models | "
    "production_routing | sweep | cluster\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "help" ||
      std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  // Every subcommand's main has one shape: (args, out, err) -> exit code.
  using Main = int (*)(const std::vector<std::string>&, std::ostream&,
                       std::ostream&);
  static constexpr std::pair<const char*, Main> kCommands[] = {
      {"registry", trainbus::registry::RunRegistryCli},
      {"runner", trainbus::actors::TrainRunnerMain},
      {"registry-node", trainbus::registry::RegistryNodeMain},
      {"run",
       [](const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err) {
         if (trainbus::topology::HasNodesFlag(args)) {
           return trainbus::topology::PlacedRunMain(
               args, out, err, trainbus::topology::ApplyRunFlags);
         }
         return trainbus::topology::RunMain(args, out, err);
       }},
      {"reproduce",
       [](const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err) {
         // The replay is `trainbus run` in a child process of this binary.
         return trainbus::topology::ReproduceMain(
             args, out, err,
             trainbus::topology::SubprocessReplay("/proc/self/exe"));
       }},
      {"validate", trainbus::topology::ValidateMain},
      {"describe", trainbus::topology::DescribeMain},
      {"node",
       [](const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err) {
         return trainbus::topology::NodeMain(args, out, err,
                                             trainbus::topology::ApplyRunFlags);
       }},
      {"cluster-certs", trainbus::bus::ClusterCertsMain},
      {"serve", trainbus::serving::ServeMain},
      {"replica-node", trainbus::serving::ReplicaNodeMain},
      {"predict", trainbus::serving::PredictMain},
  };
  for (const auto& [name, main] : kCommands) {
    if (command == name) return main(args, std::cout, std::cerr);
  }
  std::cerr << "trainbus: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
