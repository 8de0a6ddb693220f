// CAF 0.17.6's openssl session (libcaf_openssl) calls SSL_read, SSL_write,
// SSL_connect and SSL_accept without emptying the thread's OpenSSL error
// queue first, and never empties it after a failure. OpenSSL requires an
// empty queue before each of these calls: SSL_get_error() reads it first.
// All of an actor system's connections share its multiplexer thread, so one
// peer's failure (a refused handshake, a killed process's unexpected EOF)
// stayed queued and was charged to the next healthy session whose read would
// block, which CAF then closed: a stranger refused, or one node killed, cost
// a node its other peers.
//
// This library defines those four functions in the executable, where the
// dynamic linker finds them before libssl's (ELF interposition): each
// empties the queue and calls libssl's own (dlsym RTLD_NEXT). Emptying the
// queue first is what OpenSSL documents for every caller, so the other
// users in the process (cpp-httplib, libpq, ...) are unaffected. Linked
// statically (alwayslink) by :tls, so every binary with CAF's openssl
// module has it.
#ifndef TRAINBUS_BUS_INTERNAL_SSL_ERROR_QUEUE_H_
#define TRAINBUS_BUS_INTERNAL_SSL_ERROR_QUEUE_H_

namespace trainbus::bus::internal {

// True when the process's SSL_read, SSL_write, SSL_connect and SSL_accept
// are the ones above and each found libssl's. A false is a link problem
// (libssl linked statically, or this library in a shared object).
bool SslErrorQueueGuarded();

}  // namespace trainbus::bus::internal

#endif  // TRAINBUS_BUS_INTERNAL_SSL_ERROR_QUEUE_H_
