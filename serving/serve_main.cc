#include "serving/serve_main.h"

#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/command_line.h"
#include "bus/node.h"
#include "bus/tls.h"
#include "registry/store.h"
#include "serving/continual.h"
#include "serving/serve_gateway.h"
#include "serving/server.h"

namespace trainbus::serving {
namespace {

constexpr char kUsage[] =
    R"(usage: trainbus serve --model=NAME|PROJECT/NAME [flags]
Serves every version of a registry model over TF Serving's REST API:
  GET  /v1/models/NAME[/versions/V|/labels/L][/metadata]
  POST /v1/models/NAME[/versions/V|/labels/L]:classify|:predict
  GET  /v2/health/live, /v2/health/ready
flags:
  --registry_dir DIR     the registry (default: $TRAINBUS_REGISTRY_DIR or
                         ~/.local/share/trainbus/registry)
  --model NAME           the model; labels are its registry aliases
  --host ADDR            address to listen on (default 127.0.0.1)
  --port N               port (default 8501; 0 picks a free one)
  --max_body_bytes N     larger request bodies get 413 (default 8 MiB)
  --http_threads N       connections served at once (default 128)
  --poll_interval_s S    how often the registry is polled for new versions
                         and moved aliases (default 1; 0: never)
  --replicas N           model workers per version (default 1), each with
                         its own model copy; a batch goes to the one with
                         the fewest batches in flight
  --replica_kind K       local (default) or actor: each replica a CAF actor
  --replica_nodes H:P,...  the replicas on `trainbus replica-node`s instead
                         (replica i on node i % nodes); a node that dies
                         leaves the rotation and its batch is retried once
                         elsewhere. Needs --tls_dir=DIR (DIR/hub.pem) or
                         --insecure, as placed runs do
dynamic batching (TF Serving's flags and meanings):
  --max_batch_size N     rows per batch (default 32)
  --batch_timeout_micros N  how long a batch that is not full waits for more
                         requests (default 0: until a thread is free)
  --num_batch_threads N  threads predicting batches (default 2)
  --max_enqueued_batches N  batches that may wait; beyond, 503 with
                         Retry-After (default 64)
  --auth_token T         every call then needs 'Authorization: Bearer T'
GET /metrics is Prometheus text; the gateway's endpoints (/v1/serving,
/v1/leaderboard, /v1/tasks, the dashboard at /; gateway/README.md) share the
port. Stops on SIGINT or SIGTERM.
)";

struct ServeFlags {
  std::string registry_dir;
  std::string auth_token;
  ServeOptions serve;
  ContinualOptions continual;
};

// --name=N for an integer flag in [min, max]; "" or the problem.
template <typename Int>
std::string ParseInt(absl::string_view name, const std::string& value,
                     int64_t min, int64_t max, Int& out) {
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < min || parsed > max) {
    return absl::StrCat("--", name, " wants ", min, "..", max, ", got '",
                        value, "'");
  }
  out = static_cast<Int>(parsed);
  return "";
}

std::string ParseServeFlags(const std::vector<std::string>& args,
                            ServeFlags& flags) {
  absl::StatusOr<std::vector<base::LongFlag>> split =
      base::SplitLongFlags(args, {"continual", "insecure"});
  if (!split.ok()) return std::string(split.status().message());
  ServeOptions& o = flags.serve;
  BatchingOptions& b = o.batching;
  constexpr int64_t kBig = int64_t{1} << 40;
  for (const auto& [name, value] : *split) {
    std::string problem;
    if (name == "registry_dir") {
      flags.registry_dir = value;
    } else if (name == "model") {
      o.model = value;
    } else if (name == "auth_token") {
      flags.auth_token = value;
    } else if (name == "host") {
      o.http.host = value;
    } else if (name == "port") {
      problem = ParseInt(name, value, 0, 65535, o.http.port);
    } else if (name == "max_body_bytes") {
      uint64_t bytes = 0;
      if (!absl::SimpleAtoi(value, &bytes) || bytes == 0) {
        return absl::StrCat("--max_body_bytes wants a number > 0, got '",
                            value, "'");
      }
      o.http.max_body_bytes = bytes;
    } else if (name == "http_threads") {
      problem = ParseInt(name, value, 1, 4096, o.http.threads);
    } else if (name == "replica_kind") {
      if (value != "local" && value != "actor") {
        return absl::StrCat("--replica_kind wants local or actor, got '",
                            value, "'");
      }
      o.replica_kind = value;
    } else if (name == "replicas") {
      problem = ParseInt(name, value, 1, 256, o.replicas);
    } else if (name == "replica_nodes") {
      for (absl::string_view node : absl::StrSplit(value, ',')) {
        absl::StatusOr<std::pair<std::string, uint16_t>> hp =
            bus::ParseHostPort(std::string(node));
        if (!hp.ok()) return absl::StrCat("--replica_nodes: ", hp.status().message());
        o.replica_nodes.push_back(*hp);
      }
    } else if (name == "insecure" && value.empty()) {
      o.tls.insecure = true;
    } else if (bus::ReadTlsFlag(name, value, &o.tls)) {
    } else if (name == "max_batch_size") {
      problem = ParseInt(name, value, 1, 1 << 20, b.max_batch_size);
    } else if (name == "batch_timeout_micros") {
      problem = ParseInt(name, value, 0, kBig, b.batch_timeout_micros);
    } else if (name == "num_batch_threads") {
      problem = ParseInt(name, value, 1, 1024, b.num_batch_threads);
    } else if (name == "max_enqueued_batches") {
      problem = ParseInt(name, value, 1, 1 << 30, b.max_enqueued_batches);
    } else if (name == "poll_interval_s") {
      double seconds = 0;
      if (!absl::SimpleAtod(value, &seconds) || !(seconds >= 0) ||
          seconds > 86400) {
        return absl::StrCat("--poll_interval_s wants seconds in 0..86400, got '",
                            value, "'");
      }
      o.poll_interval = absl::Seconds(seconds);
    } else if (ParseContinualFlag(name, value, flags.continual, problem)) {
      // problem is set for a bad value
    } else {
      return absl::StrCat("unknown flag --", name);
    }
    if (!problem.empty()) return problem;
  }
  if (o.model.empty()) return "--model is required";
  return "";
}

bool IsHelp(const std::string& arg) {
  return arg == "help" || arg == "--help" || arg == "-h";
}

}  // namespace

int ServeMain(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err) {
  for (const std::string& arg : args) {
    if (IsHelp(arg)) {
      out << kUsage << kContinualUsage;
      return 0;
    }
  }
  ServeFlags flags;
  if (std::string problem = ParseServeFlags(args, flags); !problem.empty()) {
    err << "trainbus serve: " << problem << "\n" << kUsage;
    return 2;
  }
  registry::StoreOptions store_options;
  store_options.root = flags.registry_dir;
  store_options.read_only = true;
  absl::StatusOr<std::unique_ptr<registry::Store>> store =
      registry::Store::Open(store_options);
  if (!store.ok()) {
    err << "trainbus serve: " << store.status().message() << "\n";
    return 1;
  }
  // Block the stop signals before the server's threads exist, so they
  // inherit the mask and only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
  // After the mask: the continual service's actor threads inherit it. It
  // starts once the server knows the model's project and name, and must
  // outlive the server (the API publishes through its Feedback).
  std::unique_ptr<ContinualService> continual;
  if (flags.continual.enabled) {
    flags.serve.feedback =
        [&](const ModelSet& models) -> absl::StatusOr<const Feedback*> {
      absl::StatusOr<std::unique_ptr<ContinualService>> started =
          ContinualService::Start(flags.registry_dir, models.project(),
                                  models.name(), flags.continual, out);
      if (!started.ok()) {
        return absl::Status(
            started.status().code(),
            absl::StrCat("--continual: ", started.status().message()));
      }
      continual = *std::move(started);
      return continual->feedback();
    };
  }
  flags.serve.log = [&err](absl::string_view line) {
    // One write per line: lines from the watcher's thread stay whole.
    err << absl::StrCat("trainbus serve: ", line, "\n") << std::flush;
  };
  ServeGateway gateway(store->get(), flags.auth_token);
  gateway.Attach(&flags.serve);
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(store->get(), flags.serve);
  if (!server.ok()) {
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    err << "trainbus serve: " << server.status().message() << "\n";
    return 1;
  }
  gateway.SetServer(server->get());
  const std::shared_ptr<const ModelSet> models = (*server)->watcher().Current();
  out << "serving " << models->project() << "/" << models->name()
      << " (versions " << models->VersionList() << "; labels "
      << (models->labels().empty() ? "none" : models->LabelList())
      << ") on http://" << flags.serve.http.host << ":" << (*server)->port()
      << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  (*server)->Stop();
  gateway.SetServer(nullptr);
  server->reset();    // the watcher and batcher, before the signal mask returns
  continual.reset();  // after the API that publishes to it
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  out << "stopped on signal " << signal << std::endl;
  return 0;
}

}  // namespace trainbus::serving
