#include "bus/tls.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "bus/internal/pem.h"
#include "caf/all.hpp"
#include "caf/openssl/manager.hpp"

namespace trainbus::bus {
namespace {

using internal::Cert;
using internal::kMakeCerts;
using internal::Key;
using internal::NoPassphrase;
using internal::ReadCert;
using internal::ReadKey;
using internal::SslErrors;
template <class T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, internal::Deleter<T, Free>>;
using Store = Owned<X509_STORE, X509_STORE_free>;
using StoreCtx = Owned<X509_STORE_CTX, X509_STORE_CTX_free>;
using Ctx = Owned<SSL_CTX, SSL_CTX_free>;
using Ssl = Owned<SSL, SSL_free>;

// Whether `cafile` signed `cert` (the chain a peer will check).
absl::Status VerifyAgainst(X509* cert, const TlsOptions& tls) {
  Store store(X509_STORE_new());
  if (!store || X509_STORE_load_file(store.get(), tls.cafile.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot load the CA certificates of ", tls.cafile, " (", SslErrors(),
        ")"));
  }
  StoreCtx ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    return absl::InternalError("cannot set up a certificate check");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        tls.certificate, " is not signed by the CA of ", tls.cafile, " (",
        X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())),
        "); make both with one `", kMakeCerts, "`"));
  }
  return absl::OkStatus();
}

// A blocking TCP connection whose connect, reads and writes give up after
// `timeout`; -1 if none could be made.
int Dial(const std::string& host, uint16_t port, absl::Duration timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints,
                    &found) != 0) {
    return -1;
  }
  const timeval tv = absl::ToTimeval(timeout);
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

Ctx ClientContext(const TlsOptions& tls) {
  Ctx ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return ctx;
  if (!tls.enabled()) {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    return ctx;
  }
  SSL_CTX_set_default_passwd_cb(ctx.get(), NoPassphrase);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.certificate.c_str()) !=
          1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_load_verify_locations(ctx.get(), tls.cafile.c_str(), nullptr) !=
          1) {
    return nullptr;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

// Whether the call that returned `rc` gave up on SO_RCVTIMEO/SO_SNDTIMEO.
bool TimedOut(SSL* ssl, int rc) {
  const int saved = errno;
  // OpenSSL 3's socket BIO turns EAGAIN into a retry: WANT_READ/WRITE.
  const int e = SSL_get_error(ssl, rc);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
         (e == SSL_ERROR_SYSCALL && (saved == EAGAIN || saved == EWOULDBLOCK));
}

// What one handshake (and, with TLS, the first byte after it) says about
// the peer on `fd`.
absl::Status Handshake(int fd, const TlsOptions& tls) {
  Ctx ctx = ClientContext(tls);
  Ssl ssl(ctx ? SSL_new(ctx.get()) : nullptr);
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot set up a TLS probe: ", SslErrors()));
  }
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_connect(ssl.get());
  // A peer that sends nothing within the timeout (frozen, or busy) gives
  // no verdict: the caller's own deadline decides.
  if (rc != 1 && TimedOut(ssl.get(), rc)) {
    return absl::DeadlineExceededError("no TLS answer");
  }
  const bool connected = rc == 1;
  const long verify = SSL_get_verify_result(ssl.get());
  std::string why = SslErrors();
  if (!tls.enabled()) {
    if (!connected && !absl::StrContains(why, "alert")) {
      return absl::OkStatus();  // not TLS: as insecure wants
    }
    return absl::FailedPreconditionError(
        "it speaks TLS and this process runs with --insecure; give every "
        "process of the run the same --tls_dir, or every one --insecure");
  }
  if (verify != X509_V_OK) {
    return absl::PermissionDeniedError(absl::StrCat(
        "its certificate is not signed by this run's CA, ", tls.cafile, " (",
        X509_verify_cert_error_string(verify),
        "); give every process a certificate from one `",
        kMakeCerts, "`"));
  }
  char byte = 0;
  if (connected) {
    errno = 0;
    const int n = SSL_read(ssl.get(), &byte, 1);
    if (n <= 0 && TimedOut(ssl.get(), n)) return absl::OkStatus();
    if (n <= 0) why = SslErrors();
  }
  if (absl::StrContains(why, "alert")) {
    return absl::PermissionDeniedError(absl::StrCat(
        "it refused this process's certificate, ", tls.certificate, " (", why,
        "): it trusts another CA; give every process a certificate from one `",
        kMakeCerts, "`"));
  }
  if (!connected) {
    return absl::FailedPreconditionError(absl::StrCat(
        "it does not answer in TLS (", why,
        "): was it started with --insecure? Give every process of the run "
        "the same --tls_dir, or every one --insecure"));
  }
  return absl::OkStatus();
}

}  // namespace

bool ReadTlsFlag(const std::string& name, const std::string& value,
                 TlsSettings* tls) {
  std::string* field = name == "tls_dir"           ? &tls->dir
                       : name == "tls_certificate" ? &tls->certificate
                       : name == "tls_key"         ? &tls->key
                       : name == "tls_cafile"      ? &tls->cafile
                                                   : nullptr;
  if (field != nullptr) *field = value;
  return field != nullptr;
}

absl::StatusOr<TlsOptions> ResolveTls(const TlsSettings& s,
                                      const std::string& name) {
  if (!s.given()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trainbus processes talk to each other over TLS unless told otherwise: "
        "give --tls_dir=DIR (make it with `trainbus cluster-certs DIR "
        "--nodes=...`; ", name, " uses DIR/ca.pem, DIR/", name, ".pem and DIR/",
        name, ".key), or --insecure for plain TCP on a network you trust"));
  }
  const bool files = !s.certificate.empty() || !s.key.empty() ||
                     !s.cafile.empty();
  if (s.insecure) {
    if (files || !s.dir.empty()) {
      return absl::InvalidArgumentError(
          "--insecure (plain TCP) and TLS files together: give one of them");
    }
    return TlsOptions{};
  }
  TlsOptions tls{s.certificate, s.key, s.cafile};
  if (!s.dir.empty()) {
    if (files) {
      return absl::InvalidArgumentError(
          "give a TLS directory or the certificate, key and cafile, not both");
    }
    tls = {absl::StrCat(s.dir, "/", name, ".pem"),
           absl::StrCat(s.dir, "/", name, ".key"),
           absl::StrCat(s.dir, "/ca.pem")};
    if (::access(tls.certificate.c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(
          "no certificate for '", name, "' in ", s.dir, " (", tls.certificate,
          "): make one with `trainbus cluster-certs ", s.dir, " --nodes=", name,
          "` (it keeps the directory's CA)"));
    }
  } else if (tls.certificate.empty() || tls.key.empty() || tls.cafile.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs all three of the certificate, key and cafile (or a "
        "directory from `trainbus cluster-certs`)");
  }
  TB_RETURN_IF_ERROR(CheckTls(tls));
  return tls;
}

absl::Status CheckTls(const TlsOptions& tls) {
  TB_ASSIGN_OR_RETURN(Cert cert, ReadCert(tls.certificate, "certificate"));
  TB_ASSIGN_OR_RETURN(Key key, ReadKey(tls.key));
  TB_RETURN_IF_ERROR(ReadCert(tls.cafile, "CA certificate").status());
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "the key ", tls.key, " does not belong to the certificate ",
        tls.certificate, "; give the pair `trainbus cluster-certs` wrote"));
  }
  return VerifyAgainst(cert.get(), tls);
}

void ConfigureTls(caf::actor_system_config& cfg, const TlsOptions& tls) {
  if (!tls.enabled()) return;
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = tls.certificate;
  cfg.openssl_key = tls.key;
  cfg.openssl_cafile = tls.cafile;
}

TlsOptions TlsOf(const caf::actor_system_config& cfg) {
  return {cfg.openssl_certificate, cfg.openssl_key, cfg.openssl_cafile};
}

void UnpublishActor(caf::actor_system& sys, const caf::actor_addr& whom,
                    uint16_t port) {
  if (!sys.has_middleman()) return;
  // caf::openssl::unpublish does not compile in 0.17.6 (it sends the
  // middleman actor a message it has no handler for): this is the request
  // both modules' actors answer.
  caf::scoped_actor self{sys};
  self->request(sys.has_openssl_manager()
                    ? sys.openssl_manager().actor_handle()
                    : sys.middleman().actor_handle(),
                std::chrono::seconds(30), caf::unpublish_atom::value, whom,
                port)
      .receive([] {}, [](const caf::error&) {});
}

absl::Status ConnectFailed(caf::actor_system& sys, const std::string& what,
                           const std::string& host, uint16_t port,
                           const caf::error& error) {
  // A TLS mismatch (a peer from another CA, plain TCP on one side) looks
  // like any lost connection to CAF; one handshake of our own tells.
  absl::Status tls =
      ProbeTls(host, port, TlsOf(sys.config()), absl::Seconds(3));
  if (!tls.ok() && tls.code() != absl::StatusCode::kDeadlineExceeded) {
    return absl::Status(tls.code(), absl::StrCat("refused the ", what, " at ",
                                                 host, ":", port, ": ",
                                                 tls.message()));
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot reach the ", what, " at ", host, ":", port, ": ",
      sys.render(error),
      "; check that it is running (it prints the port it serves on), that "
      "host and port are right, and that no firewall is in the way"));
}

absl::Status ProbeTls(const std::string& host, uint16_t port,
                      const TlsOptions& tls, absl::Duration timeout) {
  const int fd = Dial(host, port, timeout);
  if (fd < 0) return absl::OkStatus();  // not reachable (yet): no verdict
  absl::Status s = Handshake(fd, tls);
  ::close(fd);
  return s;
}

}  // namespace trainbus::bus
