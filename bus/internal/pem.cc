#include "bus/internal/pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace trainbus::bus::internal {
namespace {

absl::StatusOr<Bio> OpenPem(const std::string& path, const char* what) {
  Bio bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    return absl::NotFoundError(absl::StrCat("cannot read the ", what, " ",
                                            path, "; make the cluster's files "
                                            "with `", kMakeCerts, "`"));
  }
  return bio;
}

}  // namespace

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

int NoPassphrase(char*, int, int, void*) { return -1; }

absl::StatusOr<Cert> ReadCert(const std::string& path, const char* what) {
  TB_ASSIGN_OR_RETURN(Bio bio, OpenPem(path, what));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not a PEM certificate (", SslErrors(), ")"));
  }
  return cert;
}

absl::StatusOr<Key> ReadKey(const std::string& path) {
  TB_ASSIGN_OR_RETURN(Bio bio, OpenPem(path, "private key"));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not an unencrypted PEM private key (", SslErrors(),
        "); keys with a passphrase are not supported: `", kMakeCerts,
        "` writes plain ones that only their owner can read"));
  }
  return key;
}

}  // namespace trainbus::bus::internal
