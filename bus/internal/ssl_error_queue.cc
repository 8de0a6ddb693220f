#include "bus/internal/ssl_error_queue.h"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

// libssl's definition of `name`: the next one after this executable's.
template <class Fn>
Fn Next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

using ReadFn = int (*)(SSL*, void*, int);
using WriteFn = int (*)(SSL*, const void*, int);
using HandshakeFn = int (*)(SSL*);

// libssl's four functions, looked up at the first call of any of them.
struct LibSsl {
  ReadFn read = Next<ReadFn>("SSL_read");
  WriteFn write = Next<WriteFn>("SSL_write");
  HandshakeFn connect = Next<HandshakeFn>("SSL_connect");
  HandshakeFn accept = Next<HandshakeFn>("SSL_accept");
};

const LibSsl& Libssl() {
  static const LibSsl lib;
  return lib;
}

// Without libssl's function (which SslErrorQueueGuarded reports), a call
// fails as an I/O error would: SSL_get_error then says SSL_ERROR_SSL.
int Unavailable() {
  ERR_raise(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR);
  return -1;
}

}  // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  ERR_clear_error();
  const ReadFn read = Libssl().read;
  return read != nullptr ? read(ssl, buf, num) : Unavailable();
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  ERR_clear_error();
  const WriteFn write = Libssl().write;
  return write != nullptr ? write(ssl, buf, num) : Unavailable();
}

int SSL_connect(SSL* ssl) {
  ERR_clear_error();
  const HandshakeFn connect = Libssl().connect;
  return connect != nullptr ? connect(ssl) : Unavailable();
}

int SSL_accept(SSL* ssl) {
  ERR_clear_error();
  const HandshakeFn accept = Libssl().accept;
  return accept != nullptr ? accept(ssl) : Unavailable();
}

}  // extern "C"

namespace trainbus::bus::internal {

bool SslErrorQueueGuarded() {
  return dlsym(RTLD_DEFAULT, "SSL_read") == reinterpret_cast<void*>(&SSL_read) &&
         dlsym(RTLD_DEFAULT, "SSL_write") ==
             reinterpret_cast<void*>(&SSL_write) &&
         dlsym(RTLD_DEFAULT, "SSL_connect") ==
             reinterpret_cast<void*>(&SSL_connect) &&
         dlsym(RTLD_DEFAULT, "SSL_accept") ==
             reinterpret_cast<void*>(&SSL_accept) &&
         Libssl().read != nullptr && Libssl().write != nullptr &&
         Libssl().connect != nullptr && Libssl().accept != nullptr;
}

}  // namespace trainbus::bus::internal
