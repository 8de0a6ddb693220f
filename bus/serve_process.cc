#include "bus/serve_process.h"

#include <pthread.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace trainbus::bus {

absl::StatusOr<ServeFlags> ParseServeFlags(
    const std::vector<std::string>& args, const std::string& default_name,
    const std::function<bool(const base::LongFlag&)>& extra,
    std::ostream& err) {
  absl::StatusOr<std::vector<base::LongFlag>> split =
      base::SplitLongFlags(args, /*switches=*/{"insecure"});
  if (!split.ok()) return split.status();
  ServeFlags flags;
  flags.name = default_name;
  std::string listen = "127.0.0.1:0";
  TlsSettings settings;
  for (const base::LongFlag& f : *split) {
    if (f.name == "name") {
      flags.name = f.value;
    } else if (f.name == "listen") {
      listen = f.value;
    } else if (f.name == "insecure" && f.value.empty()) {
      settings.insecure = true;
    } else if (!ReadTlsFlag(f.name, f.value, &settings) && !extra(f)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown or bad flag --", f.name, "=", f.value));
    }
  }
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  if (flags.name.empty() || colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "give --name=N and --listen=HOST:PORT (port 0: any free one), got "
        "--name=", flags.name, " --listen=", listen));
  }
  flags.host = listen.substr(0, colon);
  flags.port = static_cast<uint16_t>(port);
  absl::StatusOr<TlsOptions> tls = ResolveTls(settings, flags.name);
  if (!tls.ok()) return tls.status();
  flags.tls = *std::move(tls);
  if (!flags.tls.enabled()) err << kInsecureWarning << std::endl;
  return flags;
}

StopSignals::StopSignals() {
  sigemptyset(&stop_);
  sigaddset(&stop_, SIGINT);
  sigaddset(&stop_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_, &old_);
}

StopSignals::~StopSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

void StopSignals::Wait() const {
  int signal = 0;
  sigwait(&stop_, &signal);
}

}  // namespace trainbus::bus
