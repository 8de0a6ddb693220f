#include "registry/runner_main.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/command_line.h"
#include "bus/tls.h"
#include "registry/registry_actor.h"
#include "registry/registry_node.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"

namespace trainbus::registry {
namespace {

constexpr char kRunnerUsage[] = R"(usage: trainbus runner [flags]

Claims tasks from a registry's queue (with a lease), runs them and records
the results, until no task is open.

flags:
  --registry_dir DIR    open the registry directly (default: as
                        `trainbus registry`: $TRAINBUS_REGISTRY_DIR, ...)
  --registry_node H:P   use a registry served by `trainbus registry-node`
                        instead; over TLS (--tls_dir=DIR with DIR/ca.pem and
                        DIR/<tls_name>.pem and .key, as `trainbus
                        cluster-certs DIR --nodes=registry,runner` makes
                        them; or --tls_certificate, --tls_key, --tls_cafile)
                        or, by name, --insecure plain TCP
  --tls_name N          the certificate's name under --tls_dir (default
                        runner)
  --runner_id ID        name in the task queue (default: host-pid-random)
  --lease_ms N          lease per claim, renewed by heartbeats (default 30000)
  --heartbeat_ms N      how often to renew (default: lease / 3)
  --max_tasks N         stop after N tasks (default: no limit)
  --forever             keep waiting for new tasks
  --data_dir DIR        training tasks: the MNIST-format data directory
  --verbose             training tasks: print progress
)";

bool IsHelp(const std::string& arg) {
  return arg == "help" || arg == "--help" || arg == "-h";
}

struct RunnerFlags {
  std::string registry_dir;
  std::string registry_node;
  std::string runner_id;
  int64_t lease_ms = 30000;
  int64_t heartbeat_ms = 0;
  int64_t max_tasks = 0;
  bool forever = false;
  bus::TlsSettings tls;
  std::string tls_name = "runner";
};

std::string ParseRunnerFlags(const std::vector<std::string>& args,
                             RunnerFlags& flags) {
  absl::StatusOr<std::vector<base::LongFlag>> split =
      base::SplitLongFlags(args, /*switches=*/{"forever", "insecure"});
  if (!split.ok()) return std::string(split.status().message());
  for (const auto& [name, value] : *split) {
    if (name == "forever" || name == "insecure") {
      (name == "forever" ? flags.forever : flags.tls.insecure) = true;
      continue;
    }
    if (bus::ReadTlsFlag(name, value, &flags.tls)) continue;
    int64_t* number = name == "lease_ms"       ? &flags.lease_ms
                      : name == "heartbeat_ms" ? &flags.heartbeat_ms
                      : name == "max_tasks"    ? &flags.max_tasks
                                               : nullptr;
    if (number != nullptr) {
      if (!absl::SimpleAtoi(value, number) || *number < 0) {
        return absl::StrCat("--", name, " wants a number >= 0, got '", value,
                            "'");
      }
    } else if (name == "registry_dir") {
      flags.registry_dir = value;
    } else if (name == "registry_node") {
      flags.registry_node = value;
    } else if (name == "runner_id") {
      flags.runner_id = value;
    } else if (name == "tls_name" && !value.empty()) {
      flags.tls_name = value;
    } else {
      return absl::StrCat("unknown flag --", name);
    }
  }
  if (flags.lease_ms == 0) return "--lease_ms must be > 0";
  if (flags.registry_node.empty() && flags.tls.given()) {
    return "the TLS flags and --insecure are for --registry_node; a registry "
           "opened with --registry_dir is local files";
  }
  return "";
}

int Report(const absl::StatusOr<RunnerStats>& stats, const std::string& id,
           std::ostream& out, std::ostream& err) {
  if (!stats.ok()) {
    err << "trainbus runner " << id << ": " << stats.status().message() << "\n";
    return 1;
  }
  out << "runner " << id << ": claimed " << stats->claimed << ", finished "
      << stats->finished << ", failed " << stats->failed << ", lease lost "
      << stats->lease_lost << "\n";
  return 0;
}

}  // namespace

int RunnerMain(const std::vector<std::string>& args, const TaskFn& fn,
               std::ostream& out, std::ostream& err) {
  if (std::find_if(args.begin(), args.end(), IsHelp) != args.end()) {
    out << kRunnerUsage;
    return 0;
  }
  RunnerFlags flags;
  if (std::string problem = ParseRunnerFlags(args, flags); !problem.empty()) {
    err << "trainbus runner: " << problem
        << "; run `trainbus runner help` for usage\n";
    return 2;
  }
  std::string id = flags.runner_id.empty() ? MakeRunnerId() : flags.runner_id;
  RunnerOptions options;
  options.lease = absl::Milliseconds(flags.lease_ms);
  options.heartbeat_interval = absl::Milliseconds(flags.heartbeat_ms);
  options.max_tasks = flags.max_tasks;
  options.forever = flags.forever;
  if (flags.registry_node.empty()) {
    StoreOptions store_options;
    store_options.root = flags.registry_dir;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(store_options);
    if (!store.ok()) {
      err << "trainbus runner: " << store.status().message() << "\n";
      return 1;
    }
    return Report(RunTasks(**store, id, fn, options), id, out, err);
  }
  size_t colon = flags.registry_node.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(flags.registry_node.substr(colon + 1), &port) ||
      port == 0 || port > 65535) {
    err << "trainbus runner: --registry_node wants host:port, got '"
        << flags.registry_node << "'\n";
    return 2;
  }
  absl::StatusOr<bus::TlsOptions> tls =
      bus::ResolveTls(flags.tls, flags.tls_name);
  if (!tls.ok()) {
    err << "trainbus runner: " << tls.status().message() << "\n";
    return tls.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (!tls->enabled()) err << bus::kInsecureWarning << "\n";
  caf::actor_system_config cfg;
  ConfigureRegistrySystem(cfg, *tls);
  caf::actor_system system{cfg};
  absl::StatusOr<registry_actor> remote = bus::ConnectActor<registry_actor>(
      system, "registry node", flags.registry_node.substr(0, colon),
      static_cast<uint16_t>(port));
  if (!remote.ok()) {
    err << "trainbus runner: " << remote.status().message() << "\n";
    return 1;
  }
  RemoteTaskQueue queue(system, *remote);
  return Report(RunTasks(queue, id, fn, options), id, out, err);
}

}  // namespace trainbus::registry
