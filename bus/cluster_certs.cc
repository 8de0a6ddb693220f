#include "bus/cluster_certs.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/command_line.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "bus/internal/pem.h"

namespace trainbus::bus {
namespace {

using internal::Cert;
using internal::Key;
using internal::SslErrors;

constexpr long kCaDays = 3650;
constexpr long kNodeDays = 825;
constexpr long kDay = 24 * 3600;

absl::Status Failed(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", SslErrors()));
}

absl::Status CheckName(const std::string& name) {
  const bool ok = !name.empty() && name != "ca" &&
                  std::all_of(name.begin(), name.end(), [](char c) {
                    return absl::ascii_isalnum(c) || c == '.' || c == '_' ||
                           c == '-';
                  });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "'", name, "' cannot name a node's certificate: use letters, digits, "
      "'.', '_' and '-' (and not 'ca'), as the spec's `nodes:` does"));
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return Failed(absl::StrCat("extension ", value));
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return added == 1 ? absl::OkStatus() : Failed("X509_add_ext");
}

// A random positive 127-bit serial, as RFC 5280 asks (unique per CA).
absl::Status SetSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Failed("RAND_bytes");
  bytes[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(bytes, sizeof(bytes), nullptr);
  const bool ok =
      bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  return ok ? absl::OkStatus() : Failed("serial number");
}

// A certificate for `key` named `cn`, signed by `issuer` (null: itself,
// the CA) with `issuer_key`.
absl::StatusOr<Cert> Issue(const std::string& cn, EVP_PKEY* key,
                           X509* issuer, EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return Failed("X509_new");
  TB_RETURN_IF_ERROR(SetSerial(cert.get()));
  const bool ca = issuer == nullptr;
  // An hour back: a peer whose clock is a little behind still accepts it.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  (ca ? kCaDays : kNodeDays) * kDay);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto text = [](const std::string& s) {
    return reinterpret_cast<const unsigned char*>(s.c_str());
  };
  if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 text("trainbus cluster"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, text(cn), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), ca ? name
                                          : X509_get_subject_name(issuer)) !=
          1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return Failed("certificate fields");
  }
  X509* signer = ca ? cert.get() : issuer;
  TB_RETURN_IF_ERROR(AddExtension(cert.get(), signer,
                                  NID_subject_key_identifier, "hash"));
  if (ca) {
    TB_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_basic_constraints,
                                    "critical,CA:TRUE,pathlen:0"));
    TB_RETURN_IF_ERROR(AddExtension(cert.get(), signer, NID_key_usage,
                                    "critical,keyCertSign,cRLSign"));
  } else {
    for (const auto& [nid, value] : std::vector<std::pair<int, std::string>>{
             {NID_authority_key_identifier, "keyid:always"},
             {NID_basic_constraints, "critical,CA:FALSE"},
             {NID_key_usage, "critical,digitalSignature,keyAgreement"},
             {NID_ext_key_usage, "serverAuth,clientAuth"},
             {NID_subject_alt_name,
              absl::StrCat("DNS:", cn, ",DNS:localhost,IP:127.0.0.1")}}) {
      TB_RETURN_IF_ERROR(AddExtension(cert.get(), signer, nid, value));
    }
  }
  if (X509_sign(cert.get(), ca ? key : issuer_key, EVP_sha256()) == 0) {
    return Failed("X509_sign");
  }
  return cert;
}

absl::StatusOr<std::string> Pem(X509* cert, EVP_PKEY* key) {
  internal::Bio bio(BIO_new(BIO_s_mem()));
  const bool ok =
      bio && (cert != nullptr ? PEM_write_bio_X509(bio.get(), cert)
                              : PEM_write_bio_PrivateKey(bio.get(), key,
                                                         nullptr, nullptr, 0,
                                                         nullptr, nullptr));
  if (!ok) return Failed("PEM");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// Writes `name`.pem and `name`.key (0600) into `dir`; appends their paths.
absl::Status WritePair(const std::string& dir, const std::string& name,
                       X509* cert, EVP_PKEY* key,
                       std::vector<std::string>* written) {
  const std::string pem = absl::StrCat(dir, "/", name, ".pem");
  const std::string key_path = absl::StrCat(dir, "/", name, ".key");
  TB_ASSIGN_OR_RETURN(std::string key_text, Pem(nullptr, key));
  TB_RETURN_IF_ERROR(base::WriteFileAtomically(key_path, key_text));
  if (::chmod(key_path.c_str(), 0600) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot make ", key_path, " readable by its owner only"));
  }
  TB_ASSIGN_OR_RETURN(std::string cert_text, Pem(cert, nullptr));
  TB_RETURN_IF_ERROR(base::WriteFileAtomically(pem, cert_text));
  written->push_back(pem);
  written->push_back(key_path);
  return absl::OkStatus();
}

absl::StatusOr<Key> NewKey() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return Failed("EC P-256 key");
  return key;
}

struct Ca {
  Cert cert;
  Key key;
};

// DIR's CA, or a new one written there.
absl::StatusOr<Ca> LoadOrMakeCa(const std::string& dir,
                                std::vector<std::string>* written) {
  const std::string pem = dir + "/ca.pem", key = dir + "/ca.key";
  const bool has_pem = ::access(pem.c_str(), F_OK) == 0;
  const bool has_key = ::access(key.c_str(), F_OK) == 0;
  if (has_pem != has_key) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " has ", has_pem ? pem : key, " but not ", has_pem ? key : pem,
        ": a CA needs both; restore it or use a new directory"));
  }
  Ca ca;
  if (has_pem) {
    TB_ASSIGN_OR_RETURN(ca.cert, internal::ReadCert(pem, "CA certificate"));
    TB_ASSIGN_OR_RETURN(ca.key, internal::ReadKey(key));
    if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
      return Failed(absl::StrCat(key, " is not the key of ", pem));
    }
    return ca;
  }
  TB_ASSIGN_OR_RETURN(ca.key, NewKey());
  TB_ASSIGN_OR_RETURN(ca.cert, Issue("trainbus cluster CA", ca.key.get(),
                                     nullptr, nullptr));
  TB_RETURN_IF_ERROR(WritePair(dir, "ca", ca.cert.get(), ca.key.get(),
                               written));
  return ca;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> MakeClusterCerts(
    const std::string& dir, const std::vector<std::string>& nodes) {
  std::vector<std::string> names = {"hub"};
  for (const std::string& n : nodes) {
    TB_RETURN_IF_ERROR(CheckName(n));
    if (n != "hub") names.push_back(n);
  }
  const bool existed = ::access(dir.c_str(), F_OK) == 0;
  TB_RETURN_IF_ERROR(base::CreateDirectories(dir));
  if (!existed && ::chmod(dir.c_str(), 0700) != 0) {
    return absl::InternalError(absl::StrCat("cannot chmod 0700 ", dir));
  }
  std::vector<std::string> written;
  TB_ASSIGN_OR_RETURN(Ca ca, LoadOrMakeCa(dir, &written));
  for (const std::string& name : names) {
    TB_ASSIGN_OR_RETURN(Key key, NewKey());
    TB_ASSIGN_OR_RETURN(Cert cert,
                        Issue(name, key.get(), ca.cert.get(), ca.key.get()));
    TB_RETURN_IF_ERROR(WritePair(dir, name, cert.get(), key.get(), &written));
  }
  return written;
}

int ClusterCertsMain(const std::vector<std::string>& args, std::ostream& out,
                     std::ostream& err) {
  constexpr char kUsage[] =
      "usage: trainbus cluster-certs DIR [--nodes=worker1,worker2,...]\n"
      "  Makes a CA in DIR (or keeps the one DIR has) and a certificate and\n"
      "  key for the hub and each node: DIR/ca.pem, DIR/hub.pem,\n"
      "  DIR/hub.key, DIR/<node>.pem, DIR/<node>.key. Then start each node\n"
      "  with `trainbus node --name=<node> --tls_dir=DIR` and the hub with\n"
      "  `trainbus run SPEC --nodes=... --tls_dir=DIR` (copy DIR/ca.pem and\n"
      "  each process's own pair to its machine; DIR/ca.key stays here).\n";
  std::string dir;
  std::vector<std::string> rest;
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h" || a == "help") {
      out << kUsage;
      return 0;
    }
    if (dir.empty() && !absl::StartsWith(a, "--")) {
      dir = a;
    } else {
      rest.push_back(a);  // SplitLongFlags names a second directory
    }
  }
  absl::StatusOr<std::vector<base::LongFlag>> flags =
      base::SplitLongFlags(rest);
  std::vector<std::string> nodes;
  if (flags.ok()) {
    for (const base::LongFlag& f : *flags) {
      if (f.name != "nodes") {
        flags = absl::InvalidArgumentError(
            absl::StrCat("unknown flag --", f.name));
        break;
      }
      nodes = absl::StrSplit(f.value, ',', absl::SkipEmpty());
    }
  }
  if (!flags.ok() || dir.empty()) {
    err << "trainbus cluster-certs: "
        << (flags.ok() ? "give the directory to write" : flags.status().message())
        << "\n" << kUsage;
    return 2;
  }
  absl::StatusOr<std::vector<std::string>> written =
      MakeClusterCerts(dir, nodes);
  if (!written.ok()) {
    err << "trainbus cluster-certs: " << written.status().message() << "\n";
    return written.status().code() == absl::StatusCode::kInvalidArgument ? 2
                                                                          : 1;
  }
  out << "wrote " << absl::StrJoin(*written, " ") << "\n";
  return 0;
}

}  // namespace trainbus::bus
