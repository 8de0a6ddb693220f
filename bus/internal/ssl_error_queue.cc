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

ReadFn NextRead() {
  static const ReadFn next = Next<ReadFn>("SSL_read");
  return next;
}
WriteFn NextWrite() {
  static const WriteFn next = Next<WriteFn>("SSL_write");
  return next;
}
HandshakeFn NextConnect() {
  static const HandshakeFn next = Next<HandshakeFn>("SSL_connect");
  return next;
}
HandshakeFn NextAccept() {
  static const HandshakeFn next = Next<HandshakeFn>("SSL_accept");
  return next;
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
  const ReadFn next = NextRead();
  return next != nullptr ? next(ssl, buf, num) : Unavailable();
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  ERR_clear_error();
  const WriteFn next = NextWrite();
  return next != nullptr ? next(ssl, buf, num) : Unavailable();
}

int SSL_connect(SSL* ssl) {
  ERR_clear_error();
  const HandshakeFn next = NextConnect();
  return next != nullptr ? next(ssl) : Unavailable();
}

int SSL_accept(SSL* ssl) {
  ERR_clear_error();
  const HandshakeFn next = NextAccept();
  return next != nullptr ? next(ssl) : Unavailable();
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
         NextRead() != nullptr && NextWrite() != nullptr &&
         NextConnect() != nullptr && NextAccept() != nullptr;
}

}  // namespace trainbus::bus::internal
