#include "serving/serve_main.h"

#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/command_line.h"
#include "registry/store.h"
#include "serving/continual.h"
#include "serving/http_server.h"
#include "serving/model_set.h"
#include "serving/rest_api.h"

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
Stops on SIGINT or SIGTERM.
)";

struct ServeFlags {
  std::string registry_dir;
  std::string model;
  ServerOptions server;
  ContinualOptions continual;
};

std::string ParseServeFlags(const std::vector<std::string>& args,
                            ServeFlags& flags) {
  absl::StatusOr<std::vector<base::LongFlag>> split =
      base::SplitLongFlags(args, {"continual"});
  if (!split.ok()) return std::string(split.status().message());
  for (const auto& [name, value] : *split) {
    if (name == "registry_dir") {
      flags.registry_dir = value;
    } else if (name == "model") {
      flags.model = value;
    } else if (name == "host") {
      flags.server.host = value;
    } else if (name == "port") {
      if (!absl::SimpleAtoi(value, &flags.server.port) ||
          flags.server.port < 0 || flags.server.port > 65535) {
        return absl::StrCat("--port wants 0..65535, got '", value, "'");
      }
    } else if (name == "max_body_bytes") {
      uint64_t bytes = 0;
      if (!absl::SimpleAtoi(value, &bytes) || bytes == 0) {
        return absl::StrCat("--max_body_bytes wants a number > 0, got '",
                            value, "'");
      }
      flags.server.max_body_bytes = bytes;
    } else if (std::string problem;
               ParseContinualFlag(name, value, flags.continual, problem)) {
      if (!problem.empty()) return problem;
    } else {
      return absl::StrCat("unknown flag --", name);
    }
  }
  if (flags.model.empty()) return "--model is required";
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
  absl::StatusOr<std::unique_ptr<ModelSet>> models =
      ModelSet::Load(**store, flags.model);
  if (!models.ok()) {
    err << "trainbus serve: " << models.status().message() << "\n";
    return 1;
  }
  for (const auto& v : (*models)->versions()) {
    if (!v->available()) {
      err << "trainbus serve: version " << v->version() << " of "
          << (*models)->name() << " not loaded: " << v->status().message()
          << "\n";
    }
  }
  // Block the stop signals before the server's threads exist, so they
  // inherit the mask and only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
  // After the mask: the continual service's actor threads inherit it.
  std::unique_ptr<ContinualService> continual;
  if (flags.continual.enabled) {
    absl::StatusOr<std::unique_ptr<ContinualService>> started =
        ContinualService::Start(flags.registry_dir, (*models)->project(),
                                (*models)->name(), flags.continual, out);
    if (!started.ok()) {
      pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
      err << "trainbus serve: --continual: " << started.status().message()
          << "\n";
      return 1;
    }
    continual = *std::move(started);
  }
  RestApi api(models->get(), continual ? continual->feedback() : nullptr);
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(&api, flags.server);
  if (!server.ok()) {
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    err << "trainbus serve: " << server.status().message() << "\n";
    return 1;
  }
  out << "serving " << (*models)->project() << "/" << (*models)->name()
      << " (versions " << (*models)->VersionList() << "; labels "
      << ((*models)->labels().empty() ? "none" : (*models)->LabelList())
      << ") on http://" << flags.server.host << ":" << (*server)->port()
      << std::endl;
  int signal = 0;
  sigwait(&stop_signals, &signal);
  (*server)->Stop();
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  out << "stopped on signal " << signal << std::endl;
  return 0;
}

}  // namespace trainbus::serving
