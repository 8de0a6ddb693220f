// OpenSSL objects owned by unique_ptr, and PEM files read into them with
// errors that name the file (internal to bus/tls and bus/cluster_certs).
#ifndef TRAINBUS_BUS_INTERNAL_PEM_H_
#define TRAINBUS_BUS_INTERNAL_PEM_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace trainbus::bus::internal {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;

// The command that makes the files, for error messages.
inline constexpr char kMakeCerts[] = "trainbus cluster-certs DIR --nodes=...";

// OpenSSL's queued errors as one line (the queue is cleared).
std::string SslErrors();

// A PEM certificate; `what` names it in errors ("CA certificate").
absl::StatusOr<Cert> ReadCert(const std::string& path, const char* what);

// An unencrypted PEM private key (an encrypted one is an error, never a
// terminal prompt).
absl::StatusOr<Key> ReadKey(const std::string& path);

// No passphrase: OpenSSL's callback that makes an encrypted key fail.
int NoPassphrase(char*, int, int, void*);

}  // namespace trainbus::bus::internal

#endif  // TRAINBUS_BUS_INTERNAL_PEM_H_
