// bazel run //experiments:cluster                       (local demo)
// bazel run //experiments:cluster -- --role=hub --port=4242 --workers=2
// bazel run //experiments:cluster -- --role=worker --hub=127.0.0.1:4242
//     --name=worker1 --models='softmax:lr=0.01;mlp:hidden=128,batch=16'
//
// The parallel-models topology across processes (actors/topology/cluster.h):
// the hub streams Fashion-MNIST from [mnist] and prints what arrives on
// [metrics]; each worker trains its models on the hub's stream and reports
// back. --role=local_demo starts a hub and two workers on loopback (this same
// binary, /proc/self/exe), prints their interleaved output and a summary.
#include "actors/topology/cluster.h"

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "actors/topology/flags.h"
#include "base/file.h"

ABSL_FLAG(std::string, role, "local_demo", "hub, worker or local_demo");
ABSL_FLAG(std::string, host, "127.0.0.1", "hub: address to listen on");
ABSL_FLAG(uint16_t, port, 0, "hub: TCP port (0: any free one; printed)");
ABSL_FLAG(std::string, hub, "", "worker: the hub's host:port");
ABSL_FLAG(std::string, name, "worker1", "worker: its name (unique per hub)");
ABSL_FLAG(std::optional<uint64_t>, workers, std::nullopt,
          "hub: start streaming once this many joined, at least 1 (hub: 1 "
          "unless set, local_demo: 2)");
ABSL_FLAG(uint64_t, epochs, 1,
          "hub: passes over the training split (at least 1; see --forever)");
ABSL_FLAG(bool, forever, false,
          "hub: stream the training split again and again until the hub is "
          "stopped (no run timeout, no summary)");
ABSL_FLAG(uint64_t, train_limit, 0,
          "hub: use only the first N training samples (local_demo: 6000 "
          "unless set)");
ABSL_FLAG(uint64_t, test_limit, 2000, "worker: held-out samples to use");
ABSL_FLAG(uint32_t, eval_every, 100, "worker: steps between reports");
ABSL_FLAG(uint32_t, eval_subset, 500, "worker: held-out samples per report");
ABSL_FLAG(double, rate, 0, "hub: samples/s (0: as fast as the models take)");
ABSL_FLAG(double, timeout_s, 300,
          "give up after this many seconds (hub: for the workers to join, "
          "then for the run)");
ABSL_FLAG(bool, print_models, false,
          "worker: also print the model actors' own progress lines");
ABSL_FLAG(std::string, report_json, "",
          "hub: write the JSON report here (its directory is created; "
          "checked before the hub starts)");

namespace {

namespace ta = trainbus::actors;

constexpr char kForeverReport[] =
    "--report_json needs a run that ends; drop --forever or --report_json";

int RunHubRole() {
  constexpr char kProgram[] = "hub";
  ta::HubConfig config;
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  config.host = absl::GetFlag(FLAGS_host);
  config.port = absl::GetFlag(FLAGS_port);
  config.workers = absl::GetFlag(FLAGS_workers).value_or(1);
  config.epochs = absl::GetFlag(FLAGS_epochs);
  config.forever = absl::GetFlag(FLAGS_forever);
  config.seed = absl::GetFlag(FLAGS_seed);
  config.train_limit = absl::GetFlag(FLAGS_train_limit);
  config.rate = absl::GetFlag(FLAGS_rate);
  config.join_timeout_s = absl::GetFlag(FLAGS_timeout_s);
  config.run_timeout_s = absl::GetFlag(FLAGS_timeout_s);
  config.on_listening = [&](uint16_t port) {
    std::cout << "LISTENING " << config.host << ":" << port << std::endl;
  };
  const std::string report_path = absl::GetFlag(FLAGS_report_json);
  if (config.forever && !report_path.empty()) {
    return ta::ReportFailure(kProgram,
                             absl::InvalidArgumentError(kForeverReport));
  }
  if (!report_path.empty()) {
    if (absl::Status s = trainbus::base::CheckFileWritable(report_path);
        !s.ok()) {
      return ta::ReportFailure(kProgram, ta::PrefixStatus("--report_json", s));
    }
  }
  absl::StatusOr<ta::HubReport> report = ta::RunHub(config);
  if (!report.ok()) return ta::ReportFailure(kProgram, report.status());
  for (const ta::ClusterModelResult& r : report->models) {
    std::cout << ta::FormatResultLine(r) << "\n";
  }
  std::cout << "\n" << ta::FormatHubSummary(*report) << std::flush;
  if (!report_path.empty()) {
    if (absl::Status s = trainbus::base::WriteFileAtomically(
            report_path, ta::HubReportToJson(*report));
        !s.ok()) {
      return ta::ReportFailure(kProgram, s);
    }
  }
  return 0;
}

int RunWorkerRole() {
  ta::WorkerConfig config;
  config.name = absl::GetFlag(FLAGS_name);
  config.hub = absl::GetFlag(FLAGS_hub);
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  config.test_limit = absl::GetFlag(FLAGS_test_limit);
  config.eval_every = absl::GetFlag(FLAGS_eval_every);
  config.eval_subset = absl::GetFlag(FLAGS_eval_subset);
  config.seed = absl::GetFlag(FLAGS_seed);
  config.print = absl::GetFlag(FLAGS_print_models);
  config.run_timeout_s = absl::GetFlag(FLAGS_timeout_s);
  if (absl::Status s = ta::ReadModelsFlag(&config.models); !s.ok()) {
    return ta::ReportFailure(config.name.c_str(), s);
  }
  auto summaries = ta::RunWorker(config);
  if (!summaries.ok()) {
    std::cout << config.name << " exits: " << summaries.status().message()
              << std::endl;
    return 1;
  }
  for (const ta::ModelSummary& s : *summaries) {
    std::cout << config.name << ": " << s.name << " done, " << s.steps
              << " steps, test_acc " << s.test_accuracy << std::endl;
  }
  return 0;
}

int RunLocalDemoRole() {
  ta::LocalDemoConfig config;
  config.program = ta::SelfExecutable();
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  config.workers = absl::GetFlag(FLAGS_workers).value_or(2);
  if (absl::GetFlag(FLAGS_train_limit) > 0) {
    config.train_limit = absl::GetFlag(FLAGS_train_limit);
  }
  config.epochs = absl::GetFlag(FLAGS_epochs);
  config.forever = absl::GetFlag(FLAGS_forever);
  config.rate = absl::GetFlag(FLAGS_rate);
  config.seed = absl::GetFlag(FLAGS_seed);
  config.models = absl::GetFlag(FLAGS_models);
  config.test_limit = absl::GetFlag(FLAGS_test_limit);
  config.eval_every = absl::GetFlag(FLAGS_eval_every);
  config.eval_subset = absl::GetFlag(FLAGS_eval_subset);
  config.print_models = absl::GetFlag(FLAGS_print_models);
  config.report_json = absl::GetFlag(FLAGS_report_json);
  config.timeout_s = absl::GetFlag(FLAGS_timeout_s);
  // Refused here, with the flag's name, rather than by a child process.
  constexpr char kProgram[] = "local_demo";
  if (config.workers == 0) {
    return ta::ReportFailure(
        kProgram, absl::InvalidArgumentError("--workers must be at least 1"));
  }
  if (absl::Status s = ta::CheckEpochs(config.epochs, config.forever);
      !s.ok()) {
    return ta::ReportFailure(kProgram, s);
  }
  if (!config.models.empty()) {
    if (auto models = ta::ParseModelList(config.models); !models.ok()) {
      return ta::ReportFailure(
          kProgram, ta::PrefixStatus("--models", models.status()));
    }
  }
  if (config.forever && !config.report_json.empty()) {
    return ta::ReportFailure(kProgram,
                             absl::InvalidArgumentError(kForeverReport));
  }
  if (!config.report_json.empty()) {
    if (absl::Status s = trainbus::base::CheckFileWritable(config.report_json);
        !s.ok()) {
      return ta::ReportFailure(kProgram, ta::PrefixStatus("--report_json", s));
    }
  }
  return ta::RunLocalDemo(config, std::cout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "The parallel-models topology across processes: a hub and workers.\n"
      "  bazel run //experiments:cluster                 # local demo\n"
      "  cluster --role=hub --port=4242 --workers=2\n"
      "  cluster --role=worker --hub=127.0.0.1:4242 --name=worker1");
  absl::ParseCommandLine(argc, argv);
  // Lines, not blocks, even into a pipe: the demo and tests read them live.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::cout << std::unitbuf;
  const std::string role = absl::GetFlag(FLAGS_role);
  if (role == "hub") return RunHubRole();
  if (role == "worker") return RunWorkerRole();
  if (role == "local_demo") return RunLocalDemoRole();
  std::cerr << "--role must be hub, worker or local_demo, not '" << role
            << "'\n";
  return 2;
}
