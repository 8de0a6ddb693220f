// trainbus: the command line.
//
//   trainbus registry ls models --sort 'test_accuracy desc'
//   trainbus registry best --sort test_accuracy
//   trainbus runner --registry_dir=DIR        (claims and trains sweep tasks)
//   trainbus validate experiments/parallel_models.yaml
//   trainbus describe experiments/parallel_models.yaml --format=dot
//   trainbus serve --registry_dir=DIR --model=NAME   (TF Serving REST API)
//   trainbus predict --model=NAME@production --input=DIR|IDX  (into the registry)
//
// `bazel run //tools:trainbus -- <command> ...`; the experiments are
// `bazel run //experiments:<name>`.
#include <iostream>
#include <utility>
#include <string>
#include <vector>

#include "registry/registry_cli.h"
#include "actors/topology/train_task.h"
#include "topology/cli.h"
#include "serving/batch_predict.h"
#include "serving/serve_main.h"

namespace {

constexpr char kUsage[] =
    "usage: trainbus <command> [args]\n"
    "commands:\n"
    "  registry ...   datasets, models, logs and tasks in the registry\n"
    "                 (ls|show|best|tasks|unfinished|alias|delete|verify;\n"
    "                  `trainbus registry help`)\n"
    "  runner ...     claim training tasks from a registry and run them\n"
    "                 (--registry_dir=DIR | --registry_node=HOST:PORT,\n"
    "                  --data_dir, --lease_ms, --max_tasks, --forever;\n"
    "                  `trainbus runner help`)\n"
    "  validate SPEC  check a topology spec; every error with line:column\n"
    "  describe SPEC  the topology as tables, or --format=dot for Graphviz\n"
    "  serve ...      serve a registry model over TF Serving's REST API\n"
    "                 (--registry_dir=DIR --model=NAME --port=8501;\n"
    "                  `trainbus serve help`)\n"
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
      {"validate", trainbus::topology::ValidateMain},
      {"describe", trainbus::topology::DescribeMain},
      {"serve", trainbus::serving::ServeMain},
      {"predict", trainbus::serving::PredictMain},
  };
  for (const auto& [name, main] : kCommands) {
    if (command == name) return main(args, std::cout, std::cerr);
  }
  std::cerr << "trainbus: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
