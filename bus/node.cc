#include "bus/node.h"

#include <chrono>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_error.h"
#include "base/status_macros.h"
#include "bus/protocol.h"
#include "bus/tls.h"
#include "caf/all.hpp"
#include "caf/io/all.hpp"

namespace trainbus::bus {
namespace {

constexpr std::chrono::seconds kRemoteTimeout{30};

bool HasMiddleman(caf::actor_system& sys) { return sys.has_middleman(); }

absl::Status NoMiddleman() {
  return absl::FailedPreconditionError(
      "this actor system has no network layer; call "
      "cfg.load<caf::io::middleman>() before building the actor_system");
}

}  // namespace

absl::StatusOr<uint16_t> ServeNode(caf::actor_system& sys,
                                   const directory_actor& directory,
                                   uint16_t port,
                                   const std::string& host) {
  if (!HasMiddleman(sys)) return NoMiddleman();
  if (!directory) {
    return absl::InvalidArgumentError("ServeNode needs a live directory");
  }
  caf::expected<uint16_t> bound = PublishActor(sys, directory, port, host);
  if (!bound) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve the bus directory on ", host, ":", port, ": ",
        sys.render(bound.error()),
        "; is the port in use (try port 0 for any free one) and is ", host,
        " an address of this machine?"));
  }
  return *bound;
}

void UnserveNode(caf::actor_system& sys, const directory_actor& directory,
                 uint16_t port) {
  UnpublishActor(sys, directory.address(), port);
}

absl::StatusOr<directory_actor> ConnectNode(caf::actor_system& sys,
                                            const std::string& host,
                                            uint16_t port) {
  if (!HasMiddleman(sys)) return NoMiddleman();
  if (sys.has_openssl_manager()) {
    // CAF's TLS connect waits without a limit for a peer that accepts but
    // never answers the handshake (a frozen node); our own handshake first
    // has a deadline, and names a refused peer before CAF is involved.
    absl::Status probe = ProbeTls(host, port, TlsOf(sys.config()),
                                  absl::Seconds(3));
    if (probe.code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::UnavailableError(absl::StrCat(
          "the bus node at ", host, ":", port,
          " accepted the connection but did not answer the TLS handshake "
          "within 3 s; is it frozen or overloaded?"));
    }
    if (!probe.ok()) {
      return absl::Status(probe.code(),
                          absl::StrCat("refused the bus node at ", host, ":",
                                       port, ": ", probe.message()));
    }
  }
  TB_ASSIGN_OR_RETURN(directory_actor remote,
                      ConnectActor<directory_actor>(sys, "bus node", host, port));
  if (!remote) {
    return absl::UnavailableError(
        absl::StrCat("the node at ", host, ":", port, " serves no directory"));
  }
  return remote;
}

absl::StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(
    const std::string& text) {
  const size_t colon = text.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(absl::string_view(text).substr(colon + 1), &port) ||
      port == 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not host:port; e.g. 127.0.0.1:4242"));
  }
  return std::make_pair(text.substr(0, colon), static_cast<uint16_t>(port));
}

absl::Status ImportResource(Bus& local,
                            const directory_actor& remote_directory,
                            const std::string& name) {
  if (!remote_directory) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot import '", name, "': no remote directory"));
  }
  caf::scoped_actor self{local.system()};
  absl::StatusOr<resource_actor> found = absl::UnavailableError("no reply");
  self->request(remote_directory, kRemoteTimeout, lookup_atom::value, name)
      .receive(
          [&](resource_actor& actor) { found = std::move(actor); },
          [&](caf::error& err) {
            found = absl::UnavailableError(
                absl::StrCat("cannot import '", name, "' from the remote node: ",
                             base::ErrorToString(err)));
          });
  TB_RETURN_IF_ERROR(found.status());
  absl::StatusOr<resource_actor> attached = local.Attach(name, *found);
  if (!attached.ok()) {
    return absl::Status(attached.status().code(),
                        absl::StrCat("cannot import '", name,
                                     "': ", attached.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace trainbus::bus
