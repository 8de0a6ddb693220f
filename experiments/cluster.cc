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

#include <poll.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(std::string, role, "local_demo", "hub, worker or local_demo");
ABSL_FLAG(std::string, host, "127.0.0.1", "hub: address to listen on");
ABSL_FLAG(uint16_t, port, 0, "hub: TCP port (0: any free one; printed)");
ABSL_FLAG(std::string, hub, "", "worker: the hub's host:port");
ABSL_FLAG(std::string, name, "worker1", "worker: its name (unique per hub)");
ABSL_FLAG(uint64_t, workers, 1, "hub: start streaming once this many joined");
ABSL_FLAG(std::string, models, "",
          "worker: ';'-separated model specs (default: one softmax model)");
ABSL_FLAG(std::string, data_dir, "/usr/share/datasets/fashion-mnist",
          "MNIST-format IDX files (hub: training split, worker: test split)");
ABSL_FLAG(uint64_t, epochs, 1, "hub: passes over the training split");
ABSL_FLAG(uint64_t, seed, 1, "shuffling and initialisation seed");
ABSL_FLAG(uint64_t, train_limit, 0,
          "hub: use only the first N training samples (local_demo: 6000 "
          "unless set)");
ABSL_FLAG(uint64_t, test_limit, 2000, "worker: held-out samples to use");
ABSL_FLAG(uint32_t, eval_every, 100, "worker: steps between reports");
ABSL_FLAG(uint32_t, eval_subset, 500, "worker: held-out samples per report");
ABSL_FLAG(double, rate, 0, "hub: samples/s (0: as fast as the models take)");
ABSL_FLAG(double, timeout_s, 300, "give up after this many seconds");
ABSL_FLAG(bool, print_models, false,
          "worker: also print the model actors' own progress lines");
ABSL_FLAG(std::string, report_json, "", "hub: write the JSON report here");

namespace {

namespace ta = trainbus::actors;

int RunHubRole() {
  ta::HubConfig config;
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  config.host = absl::GetFlag(FLAGS_host);
  config.port = absl::GetFlag(FLAGS_port);
  config.workers = absl::GetFlag(FLAGS_workers);
  config.epochs = absl::GetFlag(FLAGS_epochs);
  config.seed = absl::GetFlag(FLAGS_seed);
  config.train_limit = absl::GetFlag(FLAGS_train_limit);
  config.rate = absl::GetFlag(FLAGS_rate);
  config.run_timeout_s = absl::GetFlag(FLAGS_timeout_s);
  config.on_listening = [&](uint16_t port) {
    std::cout << "LISTENING " << config.host << ":" << port << std::endl;
  };
  absl::StatusOr<ta::HubReport> report = ta::RunHub(config);
  if (!report.ok()) {
    std::cout << "hub: " << report.status().message() << std::endl;
    return 1;
  }
  for (const ta::ClusterModelResult& r : report->models) {
    std::cout << ta::FormatResultLine(r) << "\n";
  }
  std::cout << "\n" << ta::FormatHubSummary(*report) << std::flush;
  if (const std::string path = absl::GetFlag(FLAGS_report_json);
      !path.empty()) {
    std::ofstream(path) << ta::HubReportToJson(*report);
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
  if (!absl::GetFlag(FLAGS_models).empty()) {
    auto models = ta::ParseModelList(absl::GetFlag(FLAGS_models));
    if (!models.ok()) {
      std::cout << "--models: " << models.status().message() << std::endl;
      return 2;
    }
    config.models = *models;
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

// The local demo: a hub and two workers, each a child process of this one.
int RunLocalDemo() {
  const std::string self = ta::SelfExecutable();
  const uint64_t limit = absl::GetFlag(FLAGS_train_limit) > 0
                             ? absl::GetFlag(FLAGS_train_limit)
                             : 6000;
  const std::string data = "--data_dir=" + absl::GetFlag(FLAGS_data_dir);
  const std::string eval_every =
      absl::StrCat("--eval_every=", absl::GetFlag(FLAGS_eval_every));
  const std::string timeout =
      absl::StrCat("--timeout_s=", absl::GetFlag(FLAGS_timeout_s));
  std::cout << "local_demo: hub + 2 workers on 127.0.0.1, " << limit
            << " training samples (" << self << ")" << std::endl;

  struct Child {
    std::string name;
    ta::Subprocess process;
    bool open = true;
  };
  std::vector<Child> children;
  absl::StatusOr<ta::Subprocess> hub = ta::Subprocess::Spawn(
      {self, "--role=hub", "--host=127.0.0.1", "--port=0", "--workers=2",
       absl::StrCat("--train_limit=", limit), data, timeout,
       absl::StrCat("--seed=", absl::GetFlag(FLAGS_seed))});
  if (!hub.ok()) {
    std::cout << "local_demo: " << hub.status().message() << std::endl;
    return 1;
  }
  children.push_back({"hub", std::move(*hub)});
  std::string address;
  std::string line;
  while (address.empty() && children[0].process.ReadLine(&line, 120)) {
    std::cout << "[hub]     " << line << std::endl;
    if (absl::StartsWith(line, "LISTENING ")) address = line.substr(10);
  }
  if (address.empty()) {
    std::cout << "local_demo: the hub did not start; see its output above"
              << std::endl;
    return 1;
  }
  const std::vector<std::pair<std::string, std::string>> workers = {
      {"worker1",
       "model1=softmax:opt=sgd,lr=0.01,batch=1;"
       "model2=mlp:hidden=64,opt=momentum,lr=0.02,batch=16"},
      {"worker2", "model1=mlp:hidden=128,opt=adam,lr=0.001,batch=32"},
  };
  for (const auto& [name, models] : workers) {
    absl::StatusOr<ta::Subprocess> w = ta::Subprocess::Spawn(
        {self, "--role=worker", "--name=" + name, "--hub=" + address,
         "--models=" + models, data, eval_every, timeout,
         absl::StrCat("--seed=", absl::GetFlag(FLAGS_seed))});
    if (!w.ok()) {
      std::cout << "local_demo: " << w.status().message() << std::endl;
      return 1;
    }
    children.push_back({name, std::move(*w)});
  }

  // Interleave everyone's output, line by line, until all have ended.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(static_cast<int64_t>(
                            absl::GetFlag(FLAGS_timeout_s)));
  size_t open = children.size();
  while (open > 0 && std::chrono::steady_clock::now() < deadline) {
    std::vector<pollfd> fds;
    for (const Child& c : children) {
      if (c.open) fds.push_back({c.process.stdout_fd(), POLLIN, 0});
    }
    ::poll(fds.data(), fds.size(), 1000);
    for (Child& c : children) {
      if (!c.open) continue;
      std::vector<std::string> lines;
      c.open = c.process.ReadAvailable(&lines);
      for (const std::string& l : lines) {
        std::cout << "[" << c.name << "]" << std::string(8 - c.name.size(), ' ')
                  << l << "\n";
      }
      if (!c.open) --open;
    }
    std::cout << std::flush;
  }
  int failures = 0;
  std::cout << "\nlocal_demo summary:";
  for (Child& c : children) {
    if (c.open) c.process.Kill(SIGKILL);
    const int code = c.process.Wait();
    failures += code != 0;
    std::cout << " " << c.name << " exit " << code
              << (c.open ? " (killed after the timeout)" : "") << ";";
  }
  std::cout << (failures == 0 ? " all nodes finished cleanly"
                              : " some nodes failed")
            << std::endl;
  return failures == 0 ? 0 : 1;
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
  if (role == "local_demo") return RunLocalDemo();
  std::cerr << "--role must be hub, worker or local_demo, not '" << role
            << "'\n";
  return 2;
}
