// A helper process for registry_multiprocess_test: a task runner, a runner
// that claims one task and then hangs (to be killed with SIGKILL), a log
// writer that never stops, or a registry node serving the actor on loopback.
//
//   # waits for EOF on stdin, then runs tasks:
//   registry_test_helper --mode=run --registry_dir=D --claims_file=F
//   registry_test_helper --mode=hang --registry_dir=D --lease_ms=200
//   registry_test_helper --mode=logs --registry_dir=D
//   registry_test_helper --mode=serve --registry_dir=D  # prints "port N"
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "registry/loopback_registry.h"
#include "registry/registry_actor.h"
#include "registry/runner.h"
#include "registry/store.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"

ABSL_FLAG(std::string, mode, "run", "run, hang, logs or serve");
ABSL_FLAG(std::string, registry_dir, "", "registry directory");
ABSL_FLAG(std::string, runner_id, "helper", "runner id");
ABSL_FLAG(int64_t, lease_ms, 30000, "lease length");
ABSL_FLAG(int64_t, clock_offset_ms, 0,
          "act as if the time were this much later (to outlive leases)");
ABSL_FLAG(std::string, claims_file, "", "run: append 'task runner' lines here");

namespace {

namespace reg = ::trainbus::registry;

void Say(const std::string& line) {
  std::string text = line + "\n";
  (void)!::write(STDOUT_FILENO, text.data(), text.size());
}

// Blocks until stdin reaches EOF (the parent closes its end).
void WaitForStdinEof() {
  char buf[64];
  while (::read(STDIN_FILENO, buf, sizeof(buf)) > 0) {
  }
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "registry_test_helper: %s\n", s.ToString().c_str());
  return 1;
}

int Run(reg::Store& store) {
  WaitForStdinEof();  // start all runners at once
  std::string claims = absl::GetFlag(FLAGS_claims_file);
  std::string runner = absl::GetFlag(FLAGS_runner_id);
  reg::TaskFn fn = [&](const reg::Task& task, const reg::HeartbeatFn&)
      -> absl::StatusOr<reg::TaskResult> {
    if (!claims.empty()) {
      int fd = ::open(claims.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
      if (fd < 0) return absl::InternalError("cannot open claims file");
      std::string line = absl::StrCat(task.id, " ", runner, "\n");
      (void)!::write(fd, line.data(), line.size());  // O_APPEND: atomic line
      ::close(fd);
    }
    reg::TaskResult result;
    result.results = {{"test_accuracy", "0.5"}};
    return result;
  };
  reg::RunnerOptions options;
  options.lease = absl::Milliseconds(absl::GetFlag(FLAGS_lease_ms));
  options.idle_wait = absl::Milliseconds(5);
  absl::StatusOr<reg::RunnerStats> stats =
      reg::RunTasks(store, runner, fn, options);
  if (!stats.ok()) return Fail(stats.status());
  Say(absl::StrCat("finished ", stats->finished));
  return 0;
}

int Hang(reg::Store& store) {
  absl::StatusOr<std::optional<reg::Task>> task = store.ClaimTask(
      absl::GetFlag(FLAGS_runner_id),
      absl::Milliseconds(absl::GetFlag(FLAGS_lease_ms)));
  if (!task.ok()) return Fail(task.status());
  if (!task->has_value()) return Fail(absl::NotFoundError("nothing to claim"));
  Say(absl::StrCat("claimed ", (*task)->id));
  while (true) ::pause();  // "training" until SIGKILL
}

int Logs(reg::Store& store) {
  std::vector<reg::LogEntry> batch(100);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].model = "mlp";
    batch[i].step = static_cast<int64_t>(i);
    batch[i].metrics = {{"loss", "0.5"}, {"accuracy", "0.9"}};
  }
  bool announced = false;
  while (true) {
    absl::Status s = store.AppendLogs(batch);
    if (!s.ok()) return Fail(s);
    if (!announced) {
      Say("appending");
      announced = true;
    }
  }
}

int Serve(std::shared_ptr<reg::Store> store) {
  reg::testing::LoopbackRegistry node(std::move(store));
  if (!node.ok()) return Fail(absl::UnavailableError(node.error()));
  Say(absl::StrCat("port ", node.port()));
  WaitForStdinEof();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::unique_ptr<trainbus::base::OffsetClock> clock;
  reg::StoreOptions options;
  options.root = absl::GetFlag(FLAGS_registry_dir);
  if (int64_t offset = absl::GetFlag(FLAGS_clock_offset_ms); offset != 0) {
    clock = std::make_unique<trainbus::base::OffsetClock>(offset * 1'000'000);
    options.clock = clock.get();
  }
  absl::StatusOr<std::unique_ptr<reg::Store>> store = reg::Store::Open(options);
  if (!store.ok()) return Fail(store.status());
  std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "run") return Run(**store);
  if (mode == "hang") return Hang(**store);
  if (mode == "logs") return Logs(**store);
  if (mode == "serve") return Serve(std::shared_ptr<reg::Store>(std::move(*store)));
  return Fail(absl::InvalidArgumentError("unknown --mode " + mode));
}
